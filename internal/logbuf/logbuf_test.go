package logbuf

import (
	"strings"
	"testing"
	"time"

	"github.com/graphconn/graphconn/internal/graphconntest"
)

func TestWriter(t *testing.T) {
	tests := []struct {
		name        string
		interval    time.Duration
		maxBuffered int
		lines       []string
		// what the output holds right after the writes, before any
		// interval passed
		wantAtOnce string
	}{
		{"lines wait for the interval", time.Hour, 1 << 10, []string{"a\n", "b\n"}, ""},
		{"a full buffer goes out at once", time.Hour, 4, []string{"a\n", "b\n", "c\n"}, "a\nb\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out graphconntest.LogBuffer
			w := New(&out, tt.interval, tt.maxBuffered)
			for _, l := range tt.lines {
				if n, err := w.Write([]byte(l)); n != len(l) || err != nil {
					t.Fatalf("Write(%q) = %d, %v; want %d, nil", l, n, err, len(l))
				}
			}
			if got := out.String(); got != tt.wantAtOnce {
				t.Errorf("output before the interval = %q, want %q", got, tt.wantAtOnce)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("Close() = %v", err)
			}
			if got, want := out.String(), strings.Join(tt.lines, ""); got != want {
				t.Errorf("output after Close = %q, want %q", got, want)
			}
			if _, err := w.Write([]byte("late\n")); err != nil {
				t.Fatal(err)
			}
			if got := out.String(); !strings.HasSuffix(got, "late\n") {
				t.Errorf("a write after Close is not written through: %q", got)
			}
		})
	}
}

// Buffered lines go out by themselves once the interval has passed.
func TestWriterFlushesAfterTheInterval(t *testing.T) {
	var out graphconntest.LogBuffer
	w := New(&out, time.Millisecond, 1<<10)
	defer w.Close()
	w.Write([]byte("a\n"))
	deadline := time.Now().Add(10 * time.Second)
	for out.String() != "a\n" {
		if time.Now().After(deadline) {
			t.Fatalf("output = %q long after the interval, want %q", out.String(), "a\n")
		}
		time.Sleep(time.Millisecond)
	}
}
