package tests

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/graphconn/graphconn/internal/devtls"
)

// httpsClient trusts the certificates in the PEM file caFile only (none
// when caFile is ""), and speaks HTTP/2 when the server offers it.
func httpsClient(t *testing.T, caFile string) *http.Client {
	t.Helper()
	roots := x509.NewCertPool()
	if caFile != "" {
		data, err := os.ReadFile(caFile)
		if err != nil {
			t.Fatal(err)
		}
		if !roots.AppendCertsFromPEM(data) {
			t.Fatalf("%s holds no PEM certificate", caFile)
		}
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// httpsURL is the https:// URL of p.
func httpsURL(p *process) string { return "https://" + strings.TrimPrefix(p.url, "http://") }

// tlsResult is a response over TLS: checked as do checks one, with its
// protocol and the certificate the server presented.
type tlsResult struct {
	result
	proto string
	peer  *x509.Certificate
}

// doTLS is do with client.
func doTLS(t *testing.T, client *http.Client, base, token string, c call) tlsResult {
	t.Helper()
	var body io.Reader
	if c.body != nil {
		data, err := json.Marshal(c.body)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequest(c.method, base+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, req.URL, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := tlsResult{result: result{status: res.StatusCode, header: res.Header, body: data}, proto: res.Proto}
	if res.TLS == nil || len(res.TLS.PeerCertificates) == 0 {
		t.Fatalf("%s %s: answered without TLS", c.method, req.URL)
	}
	r.peer = res.TLS.PeerCertificates[0]
	checkResponse(t, req, r.result)
	return r
}

// serve --tls (here GRAPHCONN_TLS=true) answers HTTPS over HTTP/2 with a
// certificate that a client trusting the development CA of its data
// directory accepts, under each local name, and that no other client does;
// the absolute URLs it writes are https://; a restart serves the same
// certificate.
func TestBinaryServesTLS(t *testing.T) {
	dir := t.TempDir()
	p := startBinary(t, dir, []string{"GRAPHCONN_TLS=true"}, "--addr", "127.0.0.1:0", "--data-dir", dir)
	caFile := filepath.Join(dir, devtls.CAFile)
	base := httpsURL(p)
	client := httpsClient(t, caFile)

	// The log line that tells what to trust.
	var logged struct {
		NodeExtraCACerts string `json:"NODE_EXTRA_CA_CERTS"`
	}
	for _, line := range strings.Split(p.logs.String(), "\n") {
		if strings.Contains(line, `"msg":"tls"`) {
			if err := json.Unmarshal([]byte(line), &logged); err != nil {
				t.Fatal(err)
			}
		}
	}
	if logged.NodeExtraCACerts != caFile {
		t.Errorf("tls log line: NODE_EXTRA_CA_CERTS = %q, want %q\n%s", logged.NodeExtraCACerts, caFile, p.logs)
	}

	_, port, _ := net.SplitHostPort(strings.TrimPrefix(p.url, "http://"))
	var serial *big.Int
	for _, host := range []string{"127.0.0.1", "localhost"} {
		t.Run(host, func(t *testing.T) {
			r := doTLS(t, client, "https://"+net.JoinHostPort(host, port), p.token, call{method: "GET", path: "/external/connections"})
			if r.status != http.StatusOK || r.proto != "HTTP/2.0" {
				t.Errorf("GET /external/connections = %d over %s, want 200 over HTTP/2.0: %s", r.status, r.proto, r.body)
			}
			serial = r.peer.SerialNumber
		})
	}

	t.Run("schema registration", func(t *testing.T) {
		if r := doTLS(t, client, base, p.token, call{method: "POST", path: "/external/connections",
			body: map[string]any{"id": "contosohr", "name": "Contoso HR"}}); r.status != http.StatusCreated {
			t.Fatalf("POST connection = %d %s", r.status, r.body)
		}
		r := doTLS(t, client, base, p.token, call{method: "PATCH", path: "/external/connections/contosohr/schema", body: goodSchema})
		loc := r.header.Get("Location")
		if want := base + "/external/connections/contosohr/operations/"; r.status != http.StatusAccepted || !strings.HasPrefix(loc, want) {
			t.Fatalf("PATCH schema = %d, Location %q; want 202 and a Location under %s", r.status, loc, want)
		}
		// The client polls it as given.
		if r := doTLS(t, client, loc, p.token, call{method: "GET"}); r.status != http.StatusOK {
			t.Errorf("GET %s = %d %s, want 200", loc, r.status, r.body)
		}
	})

	t.Run("client without the CA", func(t *testing.T) {
		for name, c := range map[string]*http.Client{"no roots": httpsClient(t, ""), "system roots": {Timeout: 10 * time.Second}} {
			res, err := c.Get(base + "/healthz")
			if err == nil {
				res.Body.Close()
			}
			var unknown x509.UnknownAuthorityError
			if !errors.As(err, &unknown) {
				t.Errorf("%s: GET /healthz = %v, want x509.UnknownAuthorityError", name, err)
			}
		}
	})

	t.Run("plain HTTP", func(t *testing.T) {
		res, err := http.Get(p.url + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("GET http:// of the HTTPS port = %d, want 400", res.StatusCode)
		}
	})

	p.stop(t)
	p = startBinary(t, dir, nil, "--tls", "--addr", "127.0.0.1:0", "--data-dir", dir)
	r := doTLS(t, httpsClient(t, caFile), httpsURL(p), p.token, call{method: "GET", path: "/external/connections/contosohr"})
	if r.status != http.StatusOK {
		t.Errorf("GET after restart = %d %s, want 200", r.status, r.body)
	}
	if serial == nil || r.peer.SerialNumber.Cmp(serial) != 0 {
		t.Errorf("after a restart the certificate's serial is %v, want %v, the one before", r.peer.SerialNumber, serial)
	}
	p.stop(t)
}

// writeOwnPair writes a self-signed RSA certificate for 127.0.0.1 and its
// PKCS #1 key, as openssl makes them, to dir.
func writeOwnPair(t *testing.T, dir string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(4242),
		Subject:               pkix.Name{CommonName: "my own certificate"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "my.crt"), filepath.Join(dir, "my.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

// --tls-cert and --tls-key (or their environment variables) serve the
// given pair, and no development CA is made.
func TestBinaryServesOwnCertificate(t *testing.T) {
	certFile, keyFile, cert := writeOwnPair(t, t.TempDir())
	tests := []struct {
		name string
		env  []string
		args []string
	}{
		{"flags", nil, []string{"--tls-cert", certFile, "--tls-key", keyFile}},
		{"environment", []string{"GRAPHCONN_TLS_CERT=" + certFile, "GRAPHCONN_TLS_KEY=" + keyFile}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := startBinary(t, dir, tt.env, append([]string{"--addr", "127.0.0.1:0", "--data-dir", dir}, tt.args...)...)
			r := doTLS(t, httpsClient(t, certFile), httpsURL(p), p.token, call{method: "GET", path: "/external/connections"})
			if r.status != http.StatusOK || r.proto != "HTTP/2.0" {
				t.Errorf("GET /external/connections = %d over %s, want 200 over HTTP/2.0", r.status, r.proto)
			}
			if !r.peer.Equal(cert) {
				t.Errorf("the server presented %q (serial %v), want %q (serial %v)", r.peer.Subject, r.peer.SerialNumber, cert.Subject, cert.SerialNumber)
			}
			if _, err := os.Stat(filepath.Join(dir, devtls.CAFile)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Stat(%s) = %v, want no development CA beside one's own certificate", devtls.CAFile, err)
			}
			p.stop(t)
		})
	}
}
