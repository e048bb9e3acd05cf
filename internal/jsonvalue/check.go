package jsonvalue

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxDepth bounds the nesting of a strict document: no document of the
// contract nests deeper than a handful of levels.
const MaxDepth = 32

// Error is a document that DecodeStrict refuses; its Message says why, in
// words fit for the client that sent it.
type Error struct {
	Message string
}

func (e *Error) Error() string { return e.Message }

func refuse(format string, args ...any) error {
	return &Error{Message: fmt.Sprintf(format, args...)}
}

// Check refuses what encoding/json would silently accept: invalid UTF-8
// (replaced by U+FFFD), a property given twice (the last one wins, so two
// readers of one body could disagree), NUL characters, and absurd nesting;
// and, with a *BoundError, what lies outside shape (see DecodeStrict). It
// decodes no value of the document.
func Check(data []byte, shape *Shape) error {
	if !utf8.Valid(data) {
		return refuse("The request body is not valid UTF-8.")
	}
	err := check(data, shape)
	var be *BoundError
	if errors.As(err, &be) && !json.Valid(data) {
		// A document that is not JSON is that first, wherever it breaks.
		return refuse("The request body is not valid JSON.")
	}
	return err
}

func check(data []byte, shape *Shape) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		object bool
		keys   map[string]bool
		key    bool   // the next token of an object is a key
		name   string // the property whose value comes next, in an object
		items  int    // the items so far, in an array
		shape  *Shape
	}
	var stack []frame
	path := func(last ...string) []string {
		var p []string
		for _, f := range stack {
			if f.object {
				p = append(p, f.name)
			} else {
				p = append(p, strconv.Itoa(f.items-1))
			}
		}
		return append(p, last...)
	}
	values := 0 // complete top-level values
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) && len(stack) == 0 && values == 1 {
			return nil
		}
		if err != nil || values > 0 {
			return refuse("The request body is not valid JSON.")
		}
		top := len(stack) - 1
		if str, ok := tok.(string); ok && strings.ContainsRune(str, 0) {
			// Valid JSON, but no store keeps it faithfully (PostgreSQL
			// refuses it in text): refuse it alike everywhere.
			return refuse("The request body holds a NUL character (\\u0000), which is not accepted.")
		}
		if name, ok := tok.(string); ok && top >= 0 && stack[top].object && stack[top].key {
			f := &stack[top]
			if f.keys[name] {
				return refuse("The property '%s' appears more than once in an object of the request body.", truncate(name, 100))
			}
			if sh := f.shape; sh != nil && sh.Closed {
				if _, known := sh.Properties[name]; !known {
					return &BoundError{Kind: UnknownProperty, Path: append(path()[:top], name), Shape: sh}
				}
			}
			f.keys[name], f.key, f.name = true, false, name
			continue
		}
		// A value starts (or an object or array ends): its shape.
		var sh *Shape
		switch {
		case tok == json.Delim('}') || tok == json.Delim(']'):
		case top < 0:
			sh = shape
		case stack[top].shape == nil:
		case stack[top].object:
			sh = stack[top].shape.Properties[stack[top].name]
		default:
			f := &stack[top]
			if f.items == f.shape.MaxItems {
				return &BoundError{Kind: TooManyItems, Path: path()[:top], Shape: f.shape}
			}
			sh = f.shape.Items
		}
		if top >= 0 && !stack[top].object && tok != json.Delim(']') {
			stack[top].items++
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack) == MaxDepth {
				return refuse("The request body nests deeper than %d levels.", MaxDepth)
			}
			stack = append(stack, frame{object: tok == json.Delim('{'), keys: map[string]bool{}, key: tok == json.Delim('{'), shape: sh})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:top]
		}
		if str, ok := tok.(string); ok && sh != nil && sh.tooLong(str) {
			return &BoundError{Kind: TooLong, Path: path(), Shape: sh}
		}
		if len(stack) == 0 {
			values++
		}
		// A value ended: in an object, a key comes next.
		if n := len(stack) - 1; n >= 0 && stack[n].object {
			stack[n].key = true
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
