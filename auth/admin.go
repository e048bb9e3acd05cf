package auth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// AdminTokenFile is the file of the admin token in the data directory: the
// secret that opens graphconn's admin endpoint, which no Graph token opens.
const AdminTokenFile = "admin-token"

// LoadOrCreateAdminToken reads the admin token from dir, creating it (and
// dir) on first use: 32 random bytes in hex, readable by the owner only.
func LoadOrCreateAdminToken(dir string) (string, error) {
	path := filepath.Join(dir, AdminTokenFile)
	data, err := os.ReadFile(path)
	if err == nil {
		tok := strings.TrimSpace(string(data))
		if tok == "" {
			return "", fmt.Errorf("admin token %s is empty", path)
		}
		return tok, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read admin token: %w", err)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(b[:])
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	// Written whole under another name, then linked: when two processes
	// start at once, one token wins, and neither reads half a file.
	tmp, err := os.CreateTemp(dir, AdminTokenFile+".*")
	if err != nil {
		return "", fmt.Errorf("create admin token: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(tok + "\n"); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return LoadOrCreateAdminToken(dir)
	} else if err != nil {
		return "", fmt.Errorf("create admin token: %w", err)
	}
	return tok, nil
}
