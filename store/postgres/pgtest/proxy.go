package pgtest

import (
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// serverAddr returns where the PostgreSQL server of dsn listens.
func serverAddr(t testing.TB, dsn string) (network, addr string) {
	t.Helper()
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("pgconn.ParseConfig() = %v", err)
	}
	if strings.HasPrefix(cfg.Host, "/") {
		return "unix", filepath.Join(cfg.Host, ".s.PGSQL."+strconv.Itoa(int(cfg.Port)))
	}
	return "tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
}

// viaProxy returns dsn with its host and port replaced by addr's.
func viaProxy(t testing.TB, dsn, addr string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("url.Parse(dsn) = %v", err)
		}
		u.Host = addr
		q := u.Query()
		q.Del("host") // a host parameter would win over the URL's
		q.Del("port")
		u.RawQuery = q.Encode()
		return u.String()
	}
	host, port, _ := net.SplitHostPort(addr)
	return dsn + " host=" + host + " port=" + port
}

// Mode is what a Proxy does with connections.
type Mode int

// The modes of a Proxy.
const (
	Up     Mode = iota // forward them to the server
	Refuse             // close them at once: a server that is down
	Stall              // accept them and never answer: a server that hangs
)

func (m Mode) String() string { return [...]string{"up", "refuse", "stall"}[m] }

// Proxy is a TCP proxy on the loopback interface in front of the PostgreSQL
// server, whose mode simulates an outage.
type Proxy struct {
	ln              net.Listener
	network, target string

	mu    sync.Mutex
	mode  Mode
	conns map[net.Conn]bool // every open connection, both sides
	wg    sync.WaitGroup
}

// StartProxy starts a Proxy in front of the server of dsn, stopped when t
// ends, and returns it with a DSN that connects through it.
func StartProxy(t testing.TB, dsn string) (*Proxy, string) {
	t.Helper()
	network, target := serverAddr(t, dsn)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen() = %v", err)
	}
	p := &Proxy{ln: ln, network: network, target: target, conns: map[net.Conn]bool{}}
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		ln.Close()
		p.Set(Refuse)
		p.wg.Wait()
	})
	return p, viaProxy(t, dsn, ln.Addr().String())
}

// Set switches the proxy to m; it closes every live connection.
func (p *Proxy) Set(m Mode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// track records c as open, or closes it and returns false when the proxy
// has left mode want meanwhile.
func (p *Proxy) track(c net.Conn, want Mode) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode != want {
		c.Close()
		return false
	}
	p.conns[c] = true
	return true
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // the listener is closed
		}
		p.mu.Lock()
		m := p.mode
		p.mu.Unlock()
		switch m {
		case Refuse:
			c.Close()
		case Stall:
			p.track(c, Stall) // held open, unanswered, until the mode changes
		case Up:
			p.wg.Go(func() { p.forward(c) })
		}
	}
}

func (p *Proxy) forward(c net.Conn) {
	if !p.track(c, Up) {
		return
	}
	s, err := net.DialTimeout(p.network, p.target, 2*time.Second)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(s, Up) {
		c.Close()
		return
	}
	p.wg.Go(func() {
		io.Copy(s, c)
		s.Close()
	})
	io.Copy(c, s)
	c.Close()
}
