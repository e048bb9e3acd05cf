// Package devtls keeps a development certificate authority and a server
// certificate it signs in graphconn's data directory, so that `graphconn
// serve --tls` speaks HTTPS to clients that trust one file, the CA's.
// (Microsoft's Graph JavaScript client sends its bearer token to https://
// URLs only.)
package devtls

import (
	"bytes"
	"cmp"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The files in the data directory. The keys are readable by their owner
// only; the certificates by anyone.
const (
	CAFile      = "dev-ca.pem"      // the certificate that clients trust
	CAKeyFile   = "dev-ca-key.pem"  // its private key
	CertFile    = "dev-tls.pem"     // the server's certificate, signed by the CA
	CertKeyFile = "dev-tls-key.pem" // its private key
)

const (
	// CALifetime is how long the CA's certificate is valid: a developer
	// trusts it once.
	CALifetime = 10 * 365 * 24 * time.Hour
	// CertLifetime is how long a server certificate is valid: under the
	// 825 days that Apple's platforms (and so Safari and Chrome on them)
	// accept for any server certificate, whoever issued it.
	CertLifetime = 820 * 24 * time.Hour
	// renewBefore is how long before its end a certificate is replaced,
	// so that a server started today does not see it expire.
	renewBefore = 30 * 24 * time.Hour
	// backdate covers clocks that are a little behind.
	backdate = time.Hour
)

// DefaultHosts are the names of every server certificate: how a client on
// the same machine reaches graphconn.
var DefaultHosts = []string{"localhost", "127.0.0.1", "::1"}

// CA is the development certificate authority.
type CA struct {
	Cert *x509.Certificate
	key  crypto.Signer
}

// Pool is a certificate pool that holds the CA only, for Go clients.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Server is what `graphconn serve --tls` needs.
type Server struct {
	Certificate tls.Certificate // the server's, with its Leaf
	CA          *CA
	// The absolute paths of the CA's certificate and of the server's.
	CAFile, CertFile string
	// Issued is true when the server certificate was made by this call,
	// false when one in the directory was reused.
	Issued bool
}

// LoadOrCreate returns the development CA of dir (created on first use)
// and a server certificate it signed for hosts and DefaultHosts, valid at
// now. The certificate in dir is reused while it has those names exactly,
// is signed by the CA and is valid for more than 30 days; otherwise a new
// one replaces it. Hosts may be DNS names or IP addresses; empty ones and
// the unspecified addresses (0.0.0.0, ::) are left out.
//
// Two servers that start together on one dir share one CA key, whichever
// creates it; each serves the certificate it loaded or made.
func LoadOrCreate(dir string, hosts []string, now time.Time) (*Server, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	ca, err := loadOrCreateCA(dir, now)
	if err != nil {
		return nil, err
	}
	dns, ips := names(hosts)
	s := &Server{CA: ca, CAFile: filepath.Join(dir, CAFile), CertFile: filepath.Join(dir, CertFile)}
	keyFile := filepath.Join(dir, CertKeyFile)
	if c, err := tls.LoadX509KeyPair(s.CertFile, keyFile); err == nil {
		if c.Leaf == nil { // GODEBUG=x509keypairleaf=0
			c.Leaf, _ = x509.ParseCertificate(c.Certificate[0])
		}
		if reusable(c.Leaf, ca, dns, ips, now) {
			s.Certificate = c
			return s, nil
		}
	}
	if s.Certificate, err = issue(ca, dns, ips, now); err != nil {
		return nil, fmt.Errorf("issue the development TLS certificate: %w", err)
	}
	s.Issued = true
	// The key first: a certificate on disk never names a key that is not
	// there yet. (Two servers issuing at once may leave the key of one
	// beside the certificate of the other; the next start replaces them.)
	if err := writePEM(dir, keyFile, 0o600, keyBlock(s.Certificate.PrivateKey.(crypto.Signer))); err != nil {
		return nil, err
	}
	if err := writePEM(dir, s.CertFile, 0o644, certBlock(s.Certificate.Leaf)); err != nil {
		return nil, err
	}
	return s, nil
}

// loadOrCreateCA reads the CA of dir. Its key is created once and never
// replaced (a client trusts it); its certificate is issued again, for the
// same key and name, when it is missing, unreadable, not the key's, or
// near its end; a client that trusted the old one trusts what the new one
// signs.
func loadOrCreateCA(dir string, now time.Time) (*CA, error) {
	keyPath := filepath.Join(dir, CAKeyFile)
	key, err := loadKey(keyPath)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createKey(dir, keyPath)
	}
	if err != nil {
		return nil, fmt.Errorf("development CA key: %w", err)
	}
	certPath := filepath.Join(dir, CAFile)
	// Renewed while it still outlives any certificate it signs.
	if cert, err := loadCert(certPath); err == nil && cert.IsCA && samePublicKey(cert.PublicKey, key.Public()) &&
		now.Before(cert.NotAfter.Add(-CertLifetime)) {
		return &CA{Cert: cert, key: key}, nil
	}
	cert, err := issueCA(key, now)
	if err != nil {
		return nil, fmt.Errorf("issue the development CA certificate: %w", err)
	}
	if err := writePEM(dir, certPath, 0o644, certBlock(cert)); err != nil {
		return nil, err
	}
	return &CA{Cert: cert, key: key}, nil
}

// caSubject is the CA's name; a new certificate of the same key keeps it,
// so that what the CA signed still chains to a copy of the old one.
var caSubject = pkix.Name{Organization: []string{"graphconn"}, CommonName: "graphconn development CA"}

func issueCA(key crypto.Signer, now time.Time) (*x509.Certificate, error) {
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               caSubject,
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(CALifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func issue(ca *CA, dns []string, ips []net.IP, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := serialNumber()
	if err != nil {
		return tls.Certificate{}, err
	}
	notBefore := now.Add(-backdate)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"graphconn"}, CommonName: "graphconn development server"},
		NotBefore:    notBefore,
		NotAfter:     notBefore.Add(CertLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// reusable reports whether leaf, read from the directory, may be served
// for dns and ips.
func reusable(leaf *x509.Certificate, ca *CA, dns []string, ips []net.IP, now time.Time) bool {
	if leaf == nil || !now.Before(leaf.NotAfter.Add(-renewBefore)) || !slices.Equal(leaf.DNSNames, dns) ||
		!slices.EqualFunc(leaf.IPAddresses, ips, net.IP.Equal) {
		return false
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err == nil
}

// names splits hosts and DefaultHosts into sorted, distinct DNS names and
// IP addresses, as a certificate lists them.
func names(hosts []string) (dns []string, ips []net.IP) {
	for _, h := range append(slices.Clone(DefaultHosts), hosts...) {
		h = strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
		if ip := net.ParseIP(h); ip != nil {
			if !ip.IsUnspecified() {
				if v4 := ip.To4(); v4 != nil {
					ip = v4
				}
				ips = append(ips, ip)
			}
		} else if h != "" {
			dns = append(dns, h)
		}
	}
	slices.Sort(dns)
	// IPv4 (4 bytes) first.
	slices.SortFunc(ips, func(a, b net.IP) int { return cmp.Or(cmp.Compare(len(a), len(b)), bytes.Compare(a, b)) })
	return slices.Compact(dns), slices.CompactFunc(ips, net.IP.Equal)
}

func serialNumber() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
}

func samePublicKey(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

func loadCert(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return x509.ParseCertificate(block.Bytes)
}

func loadKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s is not PEM", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%s is not an ECDSA P-256 key", path)
	}
	return ec, nil
}

// createKey makes the CA's key at path, unless another process has just
// made it: then it reads that one. The file appears whole or not at all.
func createKey(dir, path string) (crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmp, err := writeTemp(dir, 0o600, keyBlock(key))
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	// A link, not a rename, which would replace a key made meanwhile.
	if err := os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
		return loadKey(path)
	} else if err != nil {
		return nil, err
	}
	return key, nil
}

func keyBlock(k crypto.Signer) *pem.Block {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		// An ECDSA P-256 key, made here, always marshals.
		panic(err)
	}
	return &pem.Block{Type: "PRIVATE KEY", Bytes: der}
}

func certBlock(c *x509.Certificate) *pem.Block {
	return &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}
}

// writePEM replaces path with block, atomically: a reader sees the old
// file or the new one, never a part.
func writePEM(dir, path string, mode fs.FileMode, block *pem.Block) error {
	tmp, err := writeTemp(dir, mode, block)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// writeTemp writes block to a new file of dir with mode (whatever the
// umask), synced, and returns its path.
func writeTemp(dir string, mode fs.FileMode, block *pem.Block) (string, error) {
	f, err := os.CreateTemp(dir, ".devtls-*.tmp")
	if err != nil {
		return "", err
	}
	err = f.Chmod(mode)
	if err == nil {
		err = pem.Encode(f, block)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}
