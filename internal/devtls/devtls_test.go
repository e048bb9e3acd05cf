package devtls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// readCA reads the CA certificate as a client would: from the file.
func readCA(t *testing.T, dir string) *x509.Certificate {
	t.Helper()
	c, err := loadCert(filepath.Join(dir, CAFile))
	if err != nil {
		t.Fatalf("read %s: %v", CAFile, err)
	}
	return c
}

// verify checks that the server certificate in dir chains, at now, to the
// CA in dir for host.
func verify(t *testing.T, dir, host string, now time.Time) error {
	t.Helper()
	leaf, err := loadCert(filepath.Join(dir, CertFile))
	if err != nil {
		t.Fatalf("read %s: %v", CertFile, err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(readCA(t, dir))
	_, err = leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots, CurrentTime: now})
	return err
}

// The first call makes the CA and a certificate for the local names, each
// key readable by its owner only.
func TestLoadOrCreateFirstStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // made if missing
	s, err := LoadOrCreate(dir, []string{"graphconn.test", "192.0.2.7", "0.0.0.0", ""}, t0)
	if err != nil {
		t.Fatalf("LoadOrCreate() = %v", err)
	}
	if !s.Issued {
		t.Errorf("LoadOrCreate() on an empty dir: Issued = false, want true")
	}
	if want := filepath.Join(dir, CAFile); s.CAFile != want || !filepath.IsAbs(s.CAFile) {
		t.Errorf("CAFile = %q, want %q", s.CAFile, want)
	}
	for name, want := range map[string]fs.FileMode{CAFile: 0o644, CAKeyFile: 0o600, CertFile: 0o644, CertKeyFile: 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("mode of %s = %v, want %v", name, got, want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 {
		t.Errorf("dir holds %d files, want the 4 of devtls (no temporary one left)", len(entries))
	}

	ca := readCA(t, dir)
	if !ca.IsCA || ca.Subject.CommonName != "graphconn development CA" || ca.NotAfter.Sub(t0) < 9*365*24*time.Hour {
		t.Errorf("CA: IsCA %v, CN %q, NotAfter %v; want a CA named graphconn development CA valid for years", ca.IsCA, ca.Subject.CommonName, ca.NotAfter)
	}
	leaf := s.Certificate.Leaf
	if d := leaf.NotAfter.Sub(leaf.NotBefore); d > 825*24*time.Hour {
		t.Errorf("server certificate valid for %v, want at most 825 days", d)
	}
	if diff := cmp.Diff([]string{"graphconn.test", "localhost"}, leaf.DNSNames); diff != "" {
		t.Errorf("DNSNames mismatch (-want +got):\n%s", diff)
	}
	var ips []string
	for _, ip := range leaf.IPAddresses {
		ips = append(ips, ip.String())
	}
	if diff := cmp.Diff([]string{"127.0.0.1", "192.0.2.7", "::1"}, ips); diff != "" {
		t.Errorf("IPAddresses mismatch (-want +got):\n%s", diff)
	}

	tests := []struct {
		host string
		ok   bool
	}{
		{"localhost", true},
		{"127.0.0.1", true},
		{"::1", true},
		{"graphconn.test", true},
		{"192.0.2.7", true},
		{"example.com", false},
		{"0.0.0.0", false},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			if err := verify(t, dir, tt.host, t0); (err == nil) != tt.ok {
				t.Errorf("Verify(%s) = %v, want ok %v", tt.host, err, tt.ok)
			}
		})
	}
}

// A later call reuses the certificate while it fits, and replaces it (the
// CA staying) when it does not.
func TestLoadOrCreateReusesOrRenews(t *testing.T) {
	otherKey := func(t *testing.T, dir string) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, CertKeyFile), pem.EncodeToMemory(keyBlock(k)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name       string
		change     func(t *testing.T, dir string) // between the two calls
		hosts      []string                       // of the second call
		now        time.Time                      // of the second call
		wantIssued bool
	}{
		{"same names, a day later", nil, nil, t0.Add(24 * time.Hour), false},
		{"same names in another order and case", nil, []string{"LOCALHOST", "::1", "127.0.0.1"}, t0, false},
		{"expired", nil, nil, t0.Add(CertLifetime), true},
		{"expiring within 30 days", nil, nil, t0.Add(CertLifetime - 20*24*time.Hour), true},
		{"a name more", nil, []string{"graphconn.test"}, t0, true},
		{"an address more", nil, []string{"192.0.2.7"}, t0, true},
		{"certificate removed", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, CertFile)) }, nil, t0, true},
		{"certificate garbled", func(t *testing.T, dir string) { os.WriteFile(filepath.Join(dir, CertFile), []byte("x"), 0o644) }, nil, t0, true},
		{"key of another certificate", otherKey, nil, t0, true},
		// The CA's certificate is made again for the same key, and so still
		// vouches for the server's.
		{"CA certificate removed", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, CAFile)) }, nil, t0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			first, err := LoadOrCreate(dir, nil, t0)
			if err != nil {
				t.Fatalf("LoadOrCreate() = %v", err)
			}
			if tt.change != nil {
				tt.change(t, dir)
			}
			second, err := LoadOrCreate(dir, tt.hosts, tt.now)
			if err != nil {
				t.Fatalf("LoadOrCreate() again = %v", err)
			}
			if second.Issued != tt.wantIssued {
				t.Errorf("LoadOrCreate() again: Issued = %v, want %v", second.Issued, tt.wantIssued)
			}
			sameSerial := second.Certificate.Leaf.SerialNumber.Cmp(first.Certificate.Leaf.SerialNumber) == 0
			if sameSerial == tt.wantIssued {
				t.Errorf("serial %v then %v; want a new one %v", first.Certificate.Leaf.SerialNumber, second.Certificate.Leaf.SerialNumber, tt.wantIssued)
			}
			if !second.CA.Cert.PublicKey.(*ecdsa.PublicKey).Equal(first.CA.Cert.PublicKey) {
				t.Errorf("the CA's key changed")
			}
			// What is on disk is what is served, and a client that
			// trusts the CA file accepts it.
			onDisk, err := loadCert(filepath.Join(dir, CertFile))
			if err != nil {
				t.Fatal(err)
			}
			if onDisk.SerialNumber.Cmp(second.Certificate.Leaf.SerialNumber) != 0 {
				t.Errorf("%s has serial %v, served %v", CertFile, onDisk.SerialNumber, second.Certificate.Leaf.SerialNumber)
			}
			if err := verify(t, dir, "localhost", tt.now); err != nil {
				t.Errorf("Verify(localhost) at %v = %v", tt.now, err)
			}
			for _, h := range tt.hosts {
				if err := verify(t, dir, h, tt.now); err != nil {
					t.Errorf("Verify(%s) = %v", h, err)
				}
			}
		})
	}
}

// The CA's key is never replaced: a garbled one is an error, not a new CA
// that the clients do not trust.
func TestLoadOrCreateGarbledCAKey(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, CAKeyFile), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(dir, nil, t0); err == nil {
		t.Fatalf("LoadOrCreate() with a garbled CA key = nil, want an error")
	}
	if got, _ := os.ReadFile(filepath.Join(dir, CAKeyFile)); string(got) != "not a key" {
		t.Errorf("the garbled CA key was replaced by %q", got)
	}
}

// Servers starting together on one data directory share one CA.
func TestLoadOrCreateConcurrent(t *testing.T) {
	dir := t.TempDir()
	const n = 4
	servers := make([]*Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { servers[i], errs[i] = LoadOrCreate(dir, nil, t0) })
	}
	wg.Wait()
	ca := readCA(t, dir)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for i, s := range servers {
		if errs[i] != nil {
			t.Fatalf("LoadOrCreate() #%d = %v", i, errs[i])
		}
		if _, err := s.Certificate.Leaf.Verify(x509.VerifyOptions{DNSName: "localhost", Roots: roots, CurrentTime: t0}); err != nil {
			t.Errorf("server #%d's certificate does not verify against %s: %v", i, CAFile, err)
		}
	}
	if _, err := LoadOrCreate(dir, nil, t0); err != nil {
		t.Errorf("LoadOrCreate() after them = %v", err)
	}
}
