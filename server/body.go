package server

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/graphconn/graphconn/internal/contract"
)

const (
	// DefaultBodyBudgetBytes is the default of Config.BodyBudgetBytes.
	DefaultBodyBudgetBytes = 64 << 20
	// bodyBudgetWait is how long a request waits for its share of the
	// budget before it gets 503.
	bodyBudgetWait = 2 * time.Second
	// maxInflation bounds how many bytes a compressed body may inflate to
	// for each byte sent, past inflationSlack: JSON compresses ten to
	// thirty times, a gzip bomb a thousand.
	maxInflation   = 100
	inflationSlack = 64 << 10
	// bodyChunk is the step in which a body's buffer grows, each step
	// taken from the budget first.
	bodyChunk = 64 << 10
)

// bodyReader reads request bodies within their limits: --max-body-bytes on
// the bytes sent and on the bytes inflated, maxInflation, and a budget of
// body bytes held at once across the server, past which requests wait and
// then get 503. A body that fits the exchange's buffer (the usual one) is
// read there, outside the budget: its memory is pooled.
type bodyReader struct {
	max    int64
	budget *semaphore.Weighted
	wait   time.Duration
}

func newBodyReader(maxBody, budget int64) *bodyReader {
	return &bodyReader{max: maxBody, budget: semaphore.NewWeighted(max(budget, maxBody+1)), wait: bodyBudgetWait}
}

// read reads the request's body, gunzipped when Content-Encoding says so
// (Graph's SDKs compress their bodies). It returns the bytes, and a release
// to call once nothing holds them any more (after the handler).
func (br *bodyReader) read(req *http.Request, op *contract.Operation, buf []byte) (data []byte, release func(), err error) {
	release = func() {}
	ct := req.Header.Get("Content-Type")
	if ct == "" && req.ContentLength == 0 {
		return nil, release, nil // no body at all: the contract says whether one is required
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || !op.Consumes(mt) {
		return nil, release, newError(http.StatusUnsupportedMediaType, "unsupportedMediaType",
			"Content-Type '%s' is not supported; send application/json.", truncate(ct, 100))
	}
	if req.ContentLength > br.max {
		return nil, release, br.tooLarge() // whatever the encoding: sent bytes count too
	}
	wire := &countingReader{r: http.MaxBytesReader(nil, req.Body, br.max)}
	var r io.Reader = wire
	enc := strings.ToLower(strings.TrimSpace(req.Header.Get("Content-Encoding")))
	switch enc {
	case "", "identity":
		// net/http ends the body where Content-Length says: a small one
		// goes into the exchange's buffer.
		if n := req.ContentLength; n >= 0 && n <= int64(cap(buf)) {
			data = buf[:n]
			if _, err := io.ReadFull(req.Body, data); err != nil {
				return nil, release, badRequest("The request body could not be read.")
			}
			return data, release, nil
		}
	case "gzip":
		zr, err := gzip.NewReader(wire)
		if err != nil {
			if errors.As(err, new(*http.MaxBytesError)) {
				return nil, release, br.tooLarge()
			}
			return nil, release, badRequest("The request body is not valid gzip data.")
		}
		defer zr.Close()
		r = &inflationLimit{r: zr, wire: wire}
	default:
		return nil, release, newError(http.StatusUnsupportedMediaType, "unsupportedMediaType",
			"Content-Encoding '%s' is not supported; send gzip or an uncompressed body.", truncate(enc, 100))
	}
	var held int64
	release = func() { br.budget.Release(held) }
	data, err = br.readAll(req.Context(), r, &held, req.ContentLength, enc == "" || enc == "identity")
	switch {
	case err == nil:
		return data, release, nil
	case errors.Is(err, errBudget):
		// The rest of the body is read (not kept: within the limit), so that
		// the client, still sending it, gets the answer rather than a broken
		// connection.
		_, _ = io.Copy(io.Discard, wire)
		return nil, release, newError(http.StatusServiceUnavailable, "serviceNotAvailable",
			"The server is reading too many request bodies at once; retry after %s second.", retryAfter).with("Retry-After", retryAfter)
	case errors.Is(err, errInflation):
		return nil, release, badRequest("The request body inflates more than %d times its compressed size, which is not accepted.", maxInflation)
	case errors.As(err, new(*http.MaxBytesError)), errors.Is(err, errTooLarge):
		return nil, release, br.tooLarge()
	case enc == "gzip" && (errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) || errors.Is(err, io.ErrUnexpectedEOF)):
		return nil, release, badRequest("The request body is not valid gzip data.")
	}
	return nil, release, badRequest("The request body could not be read.")
}

var (
	errBudget    = errors.New("body budget exhausted")
	errInflation = errors.New("body inflates too much")
	errTooLarge  = errors.New("body too large")
)

// readAll reads r to its end, into a buffer that grows by bodyChunk (or is
// sized once when the length is known), each growth taken from the budget
// first; *held is what it took.
func (br *bodyReader) readAll(ctx context.Context, r io.Reader, held *int64, length int64, known bool) ([]byte, error) {
	grow := func(n int64) error {
		ctx, cancel := context.WithTimeout(ctx, br.wait)
		defer cancel()
		if br.budget.Acquire(ctx, n) != nil {
			return errBudget
		}
		*held += n
		return nil
	}
	size := int64(bodyChunk)
	if known && length >= 0 {
		size = length + 1 // +1 to see the end without growing
	}
	size = min(size, br.max+1)
	if err := grow(size); err != nil {
		return nil, err
	}
	data := make([]byte, 0, size)
	for {
		if len(data) == cap(data) {
			if int64(len(data)) > br.max {
				return nil, errTooLarge
			}
			step := min(int64(cap(data)), br.max+1-int64(cap(data))) // doubling, up to the limit
			if step <= 0 {
				return nil, errTooLarge
			}
			if err := grow(step); err != nil {
				return nil, err
			}
			grown := make([]byte, len(data), int64(cap(data))+step)
			copy(grown, data)
			data = grown
		}
		n, err := r.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if errors.Is(err, io.EOF) {
			if int64(len(data)) > br.max {
				return nil, errTooLarge
			}
			return data, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (br *bodyReader) tooLarge() error {
	return newError(http.StatusRequestEntityTooLarge, "requestEntityTooLarge",
		"The request body is larger than the limit of %d bytes.", br.max).with("Connection", "close")
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// inflationLimit fails a decompressed body that outgrows maxInflation times
// the bytes read from the wire.
type inflationLimit struct {
	r    io.Reader
	wire *countingReader
	n    int64
}

func (l *inflationLimit) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > inflationSlack && l.n > maxInflation*l.wire.n {
		return n, errInflation
	}
	return n, err
}
