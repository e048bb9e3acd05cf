package tests

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSoak drives mixed traffic at the real binary for GRAPHCONN_SOAK (a
// duration, e.g. 2m; skipped when unset) over loopback, and checks that no
// answer is a 5xx and that memory stays flat.
func TestSoak(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("GRAPHCONN_SOAK"))
	if err != nil || d <= 0 {
		t.Skip("GRAPHCONN_SOAK is not set to a duration (e.g. 2m): the soak test is skipped")
	}
	dir := t.TempDir()
	p := startBinary(t, dir, nil, "--addr", "127.0.0.1:0", "--data-dir", dir, "--operation-delay", "100ms")
	pid := p.cmd.Process.Pid

	var requests, errors5xx atomic.Int64
	statuses := sync.Map{}
	// send runs on the workers' goroutines: it reports what fails with
	// t.Errorf (t.Fatal may be called only from the test's goroutine), and
	// the workers stop once the test has failed.
	send := func(c call) result {
		r, err := tryDo(t, p.url, p.token, c)
		if err != nil {
			t.Error(err)
			return r
		}
		requests.Add(1)
		if r.status >= 500 {
			errors5xx.Add(1)
			t.Errorf("%s %s = %d %s", c.method, c.path, r.status, r.body)
		}
		n, _ := statuses.LoadOrStore(r.status, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		return r
	}

	deadline := time.Now().Add(d)
	var rss []int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for time.Now().Before(deadline) {
			rss = append(rss, vmRSS(t, pid))
			time.Sleep(time.Second)
		}
	}()

	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline) && !t.Failed(); i++ {
				conn := fmt.Sprintf("soak%dx%d", w, i)
				send(call{method: "POST", path: "/external/connections", body: map[string]any{"id": conn, "name": conn}})
				r := send(call{method: "POST", path: "/connections/" + conn + "/operations", body: map[string]any{"status": "inprogress"}})
				created, _ := r.object()
				op, _ := created["id"].(string)
				opPath := "/external/connections/" + conn + "/operations/" + op
				for j := range 20 {
					send(call{method: "PATCH", path: opPath, body: map[string]any{"error": map[string]any{"errorCode": strconv.Itoa(j)}}})
					g := send(call{method: "GET", path: opPath})
					send(call{method: "PATCH", path: opPath, header: map[string]string{"If-Match": g.header.Get("ETag")}, body: map[string]any{"status": "unspecified"}})
					send(call{method: "PATCH", path: opPath, body: map[string]any{"status": "String"}}) // 400
					send(call{method: "GET", path: "/connections/" + conn + "/operations?$top=5"})
				}
				send(call{method: "PATCH", path: "/external/connections/" + conn + "/schema", body: goodSchema})
				send(call{method: "GET", path: "/external/connections?$top=10"})
				if i%2 == 0 {
					send(call{method: "DELETE", path: "/external/connections/" + conn})
				}
			}
		})
	}
	wg.Wait()
	<-done
	p.stop(t)

	var counts []string
	statuses.Range(func(k, v any) bool {
		counts = append(counts, fmt.Sprintf("%v:%d", k, v.(*atomic.Int64).Load()))
		return true
	})
	slices.Sort(counts)
	t.Logf("%d requests in %v (%.0f/s), statuses %s, 5xx %d", requests.Load(), d, float64(requests.Load())/d.Seconds(), strings.Join(counts, " "), errors5xx.Load())
	t.Logf("RSS samples (MiB): %v", mib(rss))
	if len(rss) < 8 {
		t.Fatalf("only %d RSS samples: run the soak longer", len(rss))
	}
	// Flat: the peak of the last quarter stays within 25% (and 8 MiB) of
	// the peak of the second quarter, after the warm-up.
	q := len(rss) / 4
	early, late := slices.Max(rss[q:2*q]), slices.Max(rss[3*q:])
	if late > early*5/4+8<<20 {
		t.Errorf("memory grew from %d MiB to %d MiB during the soak", early>>20, late>>20)
	}
}

func vmRSS(t *testing.T, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func mib(b []int64) []int64 {
	out := make([]int64, len(b))
	for i, x := range b {
		out[i] = x >> 20
	}
	return out
}
