package tests

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/graphconn/graphconn/server"
)

// wideBody is the amplification attack: a connection with an
// unknown property holding 2.1 million zeros, 4 MiB inflated.
func wideBody() []byte {
	return []byte(`{"id":"widecon","name":"n","description":"d","x":[` + strings.Repeat("0,", 2_100_000) + `0]}`)
}

// paddedBody is a valid connection inside whitespace, n bytes in all.
func paddedBody(id string, n int) []byte {
	body := `{"id":"` + id + `","name":"n"}`
	pad := n - len(body)
	return []byte(strings.Repeat(" ", pad-pad/4) + body + strings.Repeat(" ", pad/4))
}

func TestBoundedBodies(t *testing.T) {
	e := newEnv(t)
	wide := wideBody()
	gz := map[string]string{"Content-Encoding": "gzip"}
	tests := []struct {
		name       string
		c          call
		wantStatus int
		wantInMsg  string
	}{
		{"unknown property with a huge array, gzip", call{method: "POST", path: "/external/connections", body: gzipped(t, wide), header: gz},
			http.StatusBadRequest, "inflates more than 100 times"},
		{"unknown property with a huge array", call{method: "POST", path: "/external/connections", body: wide},
			http.StatusRequestEntityTooLarge, "larger than the limit"},
		{"unknown property with a large array", call{method: "POST", path: "/external/connections",
			body: []byte(`{"id":"widecon","name":"n","x":[` + strings.Repeat("0,", 100_000) + `0]}`)},
			http.StatusBadRequest, "The property 'x' does not exist on type 'microsoft.graph.externalConnection'."},
		{"too many schema properties", call{method: "PATCH", path: "/external/connections/bounded/schema",
			body: []byte(`{"baseType":"microsoft.graph.externalItem","properties":[` + strings.Repeat(`{"name":"a","type":"string"},`, 200) + `{"name":"b","type":"string"}]}`)},
			http.StatusBadRequest, "Invalid value for property 'properties': maximum number of items is 128"},
		{"a description past its maxLength", call{method: "POST", path: "/external/connections",
			body: []byte(`{"id":"longdesc","name":"n","description":"` + strings.Repeat("é", 2049) + `"}`)},
			http.StatusBadRequest, "Invalid value for property 'description': maximum string length is 2048"},
		{"4 MiB + 1 byte", call{method: "POST", path: "/external/connections", body: paddedBody("plusone", 4<<20+1)},
			http.StatusRequestEntityTooLarge, "larger than the limit of 4194304 bytes"},
		{"4 MiB + 1 byte, inflated", call{method: "POST", path: "/external/connections", body: gzipped(t, noisyBody(4<<20+1)), header: gz},
			http.StatusRequestEntityTooLarge, "larger than the limit"},
		{"4 MiB of whitespace around a valid body", call{method: "POST", path: "/external/connections", body: paddedBody("padded", 4<<20)},
			http.StatusCreated, ""},
		{"a semicolon in the query string", call{method: "GET", path: "/external/connections?$top=1;$top=-1"},
			http.StatusBadRequest, "The query string is malformed"},
		{"a broken escape in the query string", call{method: "GET", path: "/external/connections?$skiptoken=%%%"},
			http.StatusBadRequest, "The query string is malformed"},
	}
	if r := e.do(call{method: "POST", path: "/external/connections", body: map[string]any{"id": "bounded", "name": "n"}}); r.status != http.StatusCreated {
		t.Fatalf("POST = %d %s", r.status, r.body)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.with(t)
			r := e.do(tt.c)
			if r.status != tt.wantStatus {
				t.Fatalf("%s %s = %d %s, want %d", tt.c.method, tt.c.path, r.status, truncateBody(r.body), tt.wantStatus)
			}
			if tt.wantInMsg != "" && !strings.Contains(r.errorMessage(t), tt.wantInMsg) {
				t.Errorf("message = %q, want it to contain %q", r.errorMessage(t), tt.wantInMsg)
			}
		})
	}
	// Nothing refused was stored.
	r := e.do(call{method: "GET", path: "/external/connections?$select=id"})
	for _, id := range []string{"widecon", "longdesc", "plusone"} {
		if bytes.Contains(r.body, []byte(`"`+id+`"`)) {
			t.Errorf("connection %s was stored: %s", id, r.body)
		}
	}
}

// noisyBody is a valid connection inside n bytes of whitespace that
// compresses no better than 5 to 1.
func noisyBody(n int) []byte {
	body := []byte(`{"id":"noisy","name":"n"}`)
	ws := []byte(" \t\r\n")
	x := uint32(1)
	for len(body) < n {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		body = append(body, ws[x%4])
	}
	return body
}

func truncateBody(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

// The sizes of a compressed body are bounded as sent too: a stream of empty
// deflate blocks is cut off at --max-body-bytes, and a Content-Length past
// it is refused before the body is read.
func TestCompressedSizeBounded(t *testing.T) {
	e := newEnv(t)
	t.Run("empty deflate blocks", func(t *testing.T) {
		// A gzip stream of 300 MiB of empty blocks, made as it is sent.
		pr, pw := io.Pipe()
		sent := &countingWriter{}
		go func() {
			var chunk bytes.Buffer
			zw := gzip.NewWriter(&chunk)
			_, _ = zw.Write([]byte(`{"id":"emptyblocks","name":"n"}`))
			for sent.n.Load() < 300<<20 {
				for range 10_000 {
					_ = zw.Flush() // an empty stored block each time
				}
				if _, err := io.MultiWriter(pw, sent).Write(chunk.Bytes()); err != nil {
					return
				}
				chunk.Reset()
			}
			_ = zw.Close()
			_, _ = pw.Write(chunk.Bytes())
			_ = pw.Close()
		}()
		req, err := http.NewRequest("POST", e.srv.URL+"/external/connections", pr)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+e.token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Encoding", "gzip")
		res, err := http.DefaultClient.Do(req)
		_ = pr.CloseWithError(io.ErrClosedPipe)
		if err == nil {
			res.Body.Close()
			if res.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("status = %d, want 413", res.StatusCode)
			}
		}
		if n := sent.n.Load(); n > 16<<20 {
			t.Errorf("the server read %d bytes of the stream, want it cut off near 4 MiB", n)
		}
	})
	t.Run("Content-Length past the limit, gzip", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /external/connections HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: 100000000000\r\n\r\n", e.token)
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("no answer before the body: %v", err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("status = %d, want 413 at once", res.StatusCode)
		}
	})
}

type countingWriter struct{ n atomic.Int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return len(p), nil
}

// Past the budget of body bytes held at once, a request waits, then gets
// 503 with Retry-After.
func TestBodyBudget(t *testing.T) {
	// The budget is never less than one body of the largest size.
	e := newEnv(t, func(c *server.Config) { c.BodyBudgetBytes = 1 })
	// One body holds the budget: 4 MiB announced, sent in part, then stalled.
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /external/connections HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", e.token, 4<<20-10, strings.Repeat(" ", 1000))
	time.Sleep(200 * time.Millisecond) // the stalled body is being read
	start := time.Now()
	r := e.do(call{method: "POST", path: "/external/connections", body: paddedBody("waiting", 300_000)})
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("POST beside a stalled body = %d (Retry-After %q) %s, want 503 with Retry-After", r.status, r.header.Get("Retry-After"), truncateBody(r.body))
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("answered after %v, want a wait first", d)
	}
	// Small bodies do not count against it.
	if r := e.do(call{method: "POST", path: "/external/connections", body: map[string]any{"id": "small", "name": "n"}}); r.status != http.StatusCreated {
		t.Errorf("small POST beside a stalled body = %d %s, want 201", r.status, r.body)
	}
	conn.Close()
	// Once it is released, the same request goes through.
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := e.do(call{method: "POST", path: "/external/connections", body: paddedBody("waiting", 300_000)})
		if r.status == http.StatusCreated {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("POST after the stalled body left = %d %s, want 201", r.status, truncateBody(r.body))
		}
	}
}

// The attacks at the real binary: 40 gzip bombs at once, then 200
// whitespace-padded bodies of 4 MiB at once, each answered (not left
// hanging, as before: the slowest answer is logged; speed is for make
// bench, and the race detector slows this client down), the server's peak
// RSS under 300 MiB.
func TestHostileBodiesAtTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the binary under attack takes seconds")
	}
	if backend() != "sqlite" {
		t.Skip("the binary under attack keeps its data in SQLite: once is enough")
	}
	dir := t.TempDir()
	p := startBinary(t, dir, nil, "--addr", "127.0.0.1:0", "--data-dir", dir)
	bomb := gzipped(t, wideBody())
	pad := strings.Repeat(" ", 1<<20)
	var slowest struct {
		sync.Mutex
		d time.Duration
	}
	attack := func(n int, body func(i int) (io.Reader, int64), gzip bool, want int) (got map[int]int) {
		t.Helper()
		slowest.d = 0
		got = map[int]int{}
		defer func() { t.Logf("%d requests at once: the slowest answered in %v; statuses %v", n, slowest.d, got) }()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, size := body(i)
				req, err := http.NewRequest("POST", p.url+"/external/connections", r)
				if err != nil {
					errs <- err
					return
				}
				req.ContentLength = size
				req.Header.Set("Authorization", "Bearer "+p.token)
				req.Header.Set("Content-Type", "application/json")
				if gzip {
					req.Header.Set("Content-Encoding", "gzip")
				}
				start := time.Now()
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- fmt.Errorf("request %d: %w", i, err)
					return
				}
				data, _ := io.ReadAll(res.Body)
				res.Body.Close()
				slowest.Lock()
				got[res.StatusCode]++
				slowest.Unlock()
				switch {
				case res.StatusCode == http.StatusServiceUnavailable && res.Header.Get("Retry-After") != "":
					// Past the body budget, after a wait: an answer too.
				case res.StatusCode != want:
					errs <- fmt.Errorf("request %d = %d %s, want %d", i, res.StatusCode, truncateBody(data), want)
				case time.Since(start) > 30*time.Second:
					errs <- fmt.Errorf("request %d answered after %v, want it answered, not left hanging", i, time.Since(start))
				}
				slowest.Lock()
				slowest.d = max(slowest.d, time.Since(start))
				slowest.Unlock()
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if got[want] == 0 {
			t.Errorf("no request got %d", want)
		}
		return got
	}
	attack(40, func(int) (io.Reader, int64) { return bytes.NewReader(bomb), int64(len(bomb)) }, true, http.StatusBadRequest)
	attack(200, func(i int) (io.Reader, int64) {
		// 4 MiB, whitespace around a valid body, made as it is sent.
		body := fmt.Sprintf(`{"id":"padded%d","name":"n"}`, i)
		rest := strings.Repeat(" ", 4<<20-2*len(pad)-len(body))
		return io.MultiReader(strings.NewReader(pad), strings.NewReader(body), strings.NewReader(rest), strings.NewReader(pad)), 4 << 20
	}, false, http.StatusCreated)
	if rss := peakRSS(t, p.cmd.Process.Pid); rss > 300<<20 {
		t.Errorf("peak RSS = %d MiB, want under 300 MiB", rss>>20)
	} else {
		t.Logf("peak RSS = %d MiB", rss>>20)
	}
}

// peakRSS reads the process's peak resident set size (VmHWM).
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// A page never holds more entities than fit in the server's page bound at
// their largest (16 MiB: 633 connections), whatever $top asks for; the rest
// comes through @odata.nextLink.
func TestPageBytesBounded(t *testing.T) {
	e := newEnv(t)
	const n = 640
	for i := range n {
		id := fmt.Sprintf("page%04d", i)
		if r := e.do(call{method: "POST", path: "/external/connections", body: map[string]any{"id": id, "name": "n",
			"description": strings.Repeat("<", 2048)}}); r.status != http.StatusCreated {
			t.Fatalf("POST %s = %d %s", id, r.status, r.body)
		}
	}
	r := e.do(call{method: "GET", path: "/external/connections?$top=999"})
	var page struct {
		Value    []map[string]any `json:"value"`
		NextLink string           `json:"@odata.nextLink"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Value) >= n || page.NextLink == "" {
		t.Fatalf("GET $top=999 = %d connections, nextLink %q; want fewer than %d and a nextLink", len(page.Value), page.NextLink, n)
	}
	if len(r.body) > 16<<20 {
		t.Errorf("page = %d bytes, want at most 16 MiB", len(r.body))
	}
	u, err := url.Parse(page.NextLink)
	if err != nil {
		t.Fatal(err)
	}
	r = e.do(call{method: "GET", path: u.RequestURI()})
	var rest struct {
		Value []map[string]any `json:"value"`
	}
	if err := json.Unmarshal(r.body, &rest); err != nil {
		t.Fatal(err)
	}
	if got := len(page.Value) + len(rest.Value); got != n {
		t.Errorf("both pages = %d connections, want %d", got, n)
	}
}
