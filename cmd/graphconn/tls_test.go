package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graphconn/graphconn/internal/devtls"
	"github.com/graphconn/graphconn/internal/graphconntest"
)

// TLS settings that could never work are usage errors (2); files that
// cannot be used are failures at run time (1); each says which.
func TestServeTLSErrors(t *testing.T) {
	pair := func() (cert, key string) {
		dir := t.TempDir()
		if _, err := devtls.LoadOrCreate(dir, nil, time.Now()); err != nil {
			t.Fatal(err)
		}
		return filepath.Join(dir, devtls.CertFile), filepath.Join(dir, devtls.CertKeyFile)
	}
	cert, key := pair()
	_, otherKey := pair()
	garbled := filepath.Join(t.TempDir(), "garbled.pem")
	if err := os.WriteFile(garbled, []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	badCADir := t.TempDir()
	if err := os.WriteFile(filepath.Join(badCADir, devtls.CAKeyFile), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		dataDir string // a new temp dir when ""
		want    int
		wantErr string
	}{
		{"certificate without key", []string{"--tls-cert", cert}, nil, "", 2, "serve: --tls-cert and --tls-key go together"},
		{"key without certificate", []string{"--tls", "--tls-key", key}, nil, "", 2, "serve: --tls-cert and --tls-key go together"},
		{"certificate without key, by the environment", nil, map[string]string{"GRAPHCONN_TLS_CERT": cert}, "", 2, "serve: --tls-cert and --tls-key go together"},
		{"bad GRAPHCONN_TLS", nil, map[string]string{"GRAPHCONN_TLS": "maybe"}, "", 2, `GRAPHCONN_TLS: strconv.ParseBool: parsing "maybe": invalid syntax`},
		{"bad --tls", []string{"--tls=maybe"}, nil, "", 2, `serve: invalid boolean value "maybe" for -tls`},

		{"missing certificate", []string{"--tls-cert", missing, "--tls-key", key}, nil, "", 1, "--tls-cert " + missing + ", --tls-key " + key + ": open " + missing + ": no such file or directory"},
		{"missing key", []string{"--tls-cert", cert, "--tls-key", missing}, nil, "", 1, "open " + missing + ": no such file or directory"},
		{"garbled certificate", []string{"--tls-cert", garbled, "--tls-key", key}, nil, "", 1, "tls: failed to find any PEM data in certificate input"},
		{"key of another certificate", []string{"--tls-cert", cert, "--tls-key", otherKey}, nil, "", 1, "tls: private key does not match public key"},
		{"garbled development CA key", []string{"--tls"}, nil, badCADir, 1, "development TLS certificate in " + badCADir + ": development CA key: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dataDir := tt.dataDir
			if dataDir == "" {
				dataDir = t.TempDir()
			}
			args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir}, tt.args...)
			var out, stderr strings.Builder
			err := run(context.Background(), args, func(k string) string { return tt.env[k] }, &out, &out)
			if got := exitCode(err, &stderr); got != tt.want {
				t.Errorf("serve %q: exit status = %d (%v), want %d", tt.args, got, err, tt.want)
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("serve %q: stderr = %q, want it to say %q", tt.args, stderr.String(), tt.wantErr)
			}
		})
	}
}

// Under TLS the default public URL is https://, and the certificate names
// the local names and the hosts of the listen address and public URL.
func TestServeTLSPublicURLAndNames(t *testing.T) {
	local := []string{"localhost", "127.0.0.1", "::1"}
	tests := []struct {
		addr, publicURL string
		wantURL         string // with PORT for the port listened on
		wantNames       []string
	}{
		{"127.0.0.1:0", "", "https://127.0.0.1:PORT", local},
		{"0.0.0.0:0", "", "https://localhost:PORT", local},
		{"127.0.0.1:0", "https://graphconn.test:8443/base", "https://graphconn.test:8443/base", append([]string{"graphconn.test"}, local...)},
		// As given, whatever its scheme: a proxy may stand in front.
		{"127.0.0.1:0", "http://192.0.2.7", "http://192.0.2.7", []string{"localhost", "127.0.0.1", "192.0.2.7", "::1"}},
	}
	for _, tt := range tests {
		t.Run(tt.addr+" "+tt.publicURL, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			dataDir := t.TempDir()
			var logs graphconntest.LogBuffer
			done := make(chan error, 1)
			go func() {
				args := []string{"serve", "--tls", "--addr", tt.addr, "--data-dir", dataDir}
				if tt.publicURL != "" {
					args = append(args, "--public-url", tt.publicURL)
				}
				done <- run(ctx, args, func(string) string { return "" }, &logs, &logs)
			}()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("serve = %v", err)
				}
			}()
			var listening struct {
				Addr      string
				PublicURL string `json:"public-url"`
			}
			for deadline := time.Now().Add(10 * time.Second); listening.Addr == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				for _, line := range strings.Split(logs.String(), "\n") {
					if strings.Contains(line, `"msg":"listening"`) {
						if err := json.Unmarshal([]byte(line), &listening); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			if listening.Addr == "" {
				t.Fatalf("serve did not log where it listens:\n%s", logs.String())
			}
			_, port, _ := net.SplitHostPort(listening.Addr)
			if want := strings.ReplaceAll(tt.wantURL, "PORT", port); listening.PublicURL != want {
				t.Errorf("public-url = %q, want %q", listening.PublicURL, want)
			}
			c, err := tls.LoadX509KeyPair(filepath.Join(dataDir, devtls.CertFile), filepath.Join(dataDir, devtls.CertKeyFile))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantNames, certNames(c.Leaf)); diff != "" {
				t.Errorf("names of %s mismatch (-want +got):\n%s", devtls.CertFile, diff)
			}
		})
	}
}
