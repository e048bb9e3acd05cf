// Package jsonvalue decodes JSON documents into the values that
// kin-openapi's schema visitor checks (map[string]any, []any, string,
// json.Number, bool and nil), as encoding/json's Decoder with UseNumber
// does, value for value and error for error, only faster: the usual
// document is parsed here, and anything unusual goes to encoding/json.
// DecodeStrict also refuses what a Graph API should not accept silently.
//
// It is held to encoding/json by FuzzDecode, which `make fuzz` runs.
package jsonvalue

import (
	"bytes"
	"encoding/json"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Decode decodes a body as kin-openapi's JSON body decoder does
// (encoding/json's Decoder with UseNumber): into map[string]any, []any,
// string, json.Number, bool and nil. It parses the usual document itself,
// several times faster than encoding/json and with a third of its
// allocations; anything unusual (invalid UTF-8, an escaped lone surrogate,
// deep nesting, data after the value, a syntax error) goes to
// encoding/json, so that the value or the error is always encoding/json's.
//
// Strings found in intern (for example a contract's property names and
// enum values, each boxed once) are shared rather than allocated.
func Decode(data []byte, intern map[string]any) (any, error) {
	p := jsonParser{data: data, intern: intern}
	if v, ok := p.document(nil); ok {
		return v, nil
	}
	var value any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&value); err != nil {
		return nil, err
	}
	return value, nil
}

// DecodeStrict decodes a request body as Decode does, and refuses with an
// *Error what Check refuses, and a document that is not JSON. Past shape it
// refuses with a *BoundError, before it decodes what lies outside: an
// unknown property, an array's item past its maximum, a string past its
// maximum length.
//
// One pass does all that for the usual body: the parser gives up on
// anything Check might refuse (a property given twice, a NUL, nesting deeper
// than MaxDepth, invalid UTF-8, a value outside shape), and only then do
// Check and encoding/json read the body.
func DecodeStrict(data []byte, intern map[string]any, shape *Shape) (any, error) {
	p := jsonParser{data: data, intern: intern, strict: true}
	if v, ok := p.document(shape); ok {
		return v, nil
	}
	if err := Check(data, shape); err != nil {
		return nil, err
	}
	value, err := Decode(data, intern)
	if err != nil {
		return nil, &Error{Message: "The request body is not valid JSON."}
	}
	return value, nil
}

// jsonParser is Decode's parser: each method returns false, and the
// document goes to encoding/json, at the first thing it does not handle.
type jsonParser struct {
	data   []byte
	pos    int
	intern map[string]any // string → the same string, boxed
	// strict gives up, in addition, on what Check refuses: a property
	// given twice, an escaped NUL and nesting deeper than MaxDepth.
	// (A raw NUL and invalid UTF-8 make every parse give up.)
	strict bool
}

// document parses the whole of the data as one value.
func (p *jsonParser) document(shape *Shape) (any, bool) {
	v, ok := p.value(0, shape)
	if !ok {
		return nil, false
	}
	p.space()
	return v, p.pos == len(p.data)
}

// maxParseDepth bounds the recursion; deeper documents go to encoding/json.
const maxParseDepth = 64

func (p *jsonParser) space() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int, shape *Shape) (any, bool) {
	p.space()
	if p.pos >= len(p.data) || depth > maxParseDepth {
		return nil, false
	}
	switch c := p.data[p.pos]; {
	case c == '{' || c == '[':
		if p.strict && depth >= MaxDepth {
			return nil, false
		}
		if c == '{' {
			return p.object(depth, shape)
		}
		return p.array(depth, shape)
	case c == '"':
		s, boxed, ok := p.quoted()
		if shape != nil && shape.tooLong(s) {
			return nil, false
		}
		if boxed == nil {
			boxed = s
		}
		return boxed, ok
	case c == 't':
		return p.literal("true", true)
	case c == 'f':
		return p.literal("false", false)
	case c == 'n':
		return p.literal("null", nil)
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	}
	return nil, false
}

func (p *jsonParser) literal(word string, v any) (any, bool) {
	if len(p.data)-p.pos < len(word) || string(p.data[p.pos:p.pos+len(word)]) != word {
		return nil, false
	}
	p.pos += len(word)
	return v, true
}

func (p *jsonParser) object(depth int, shape *Shape) (any, bool) {
	p.pos++ // {
	m := map[string]any{}
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return m, true
	}
	for {
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, false
		}
		k, _, ok := p.quoted()
		if !ok {
			return nil, false
		}
		var inner *Shape
		if shape != nil {
			if inner, ok = shape.Properties[k]; !ok && shape.Closed {
				return nil, false
			}
		}
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, false
		}
		p.pos++
		v, ok := p.value(depth+1, inner)
		if !ok {
			return nil, false
		}
		if p.strict {
			if _, dup := m[k]; dup {
				return nil, false
			}
		}
		m[k] = v // as encoding/json, the last of duplicate keys wins
		if more, ok := p.more('}'); !more {
			return m, ok
		}
	}
}

// more steps over what follows a member of an object or an array: true
// after a comma, false (and ok) after the closing byte, and not ok on
// anything else.
func (p *jsonParser) more(closing byte) (more, ok bool) {
	p.space()
	if p.pos >= len(p.data) {
		return false, false
	}
	switch p.data[p.pos] {
	case ',':
		p.pos++
		return true, true
	case closing:
		p.pos++
		return false, true
	}
	return false, false
}

func (p *jsonParser) array(depth int, shape *Shape) (any, bool) {
	p.pos++
	// As encoding/json, [] is an empty slice, not nil.
	a := make([]any, 0)
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return a, true
	}
	var items *Shape
	maxItems := -1
	if shape != nil {
		items, maxItems = shape.Items, shape.MaxItems
	}
	for {
		if len(a) == maxItems {
			return nil, false
		}
		v, ok := p.value(depth+1, items)
		if !ok {
			return nil, false
		}
		a = append(a, v)
		if more, ok := p.more(']'); !more {
			return a, ok
		}
	}
}

// quoted parses a string at the opening quote; boxed is the string as an
// interface when it was interned, nil otherwise.
func (p *jsonParser) quoted() (s string, boxed any, ok bool) {
	p.pos++ // "
	start := p.pos
	for p.pos < len(p.data) {
		switch c := p.data[p.pos]; {
		case c == '"':
			raw := p.data[start:p.pos]
			p.pos++
			if v, ok := p.intern[string(raw)]; ok {
				return v.(string), v, true
			}
			return string(raw), nil, true
		case c == '\\':
			s, ok := p.escaped(start)
			return s, nil, ok
		case c < 0x20:
			return "", nil, false
		case c >= utf8.RuneSelf:
			if !p.validRune() {
				return "", nil, false
			}
		default:
			p.pos++
		}
	}
	return "", nil, false
}

// escaped parses the rest of a string that holds escapes.
func (p *jsonParser) escaped(start int) (string, bool) {
	buf := make([]byte, 0, p.pos-start+32)
	buf = append(buf, p.data[start:p.pos]...)
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			return string(buf), true
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			from := p.pos
			if !p.validRune() {
				return "", false
			}
			buf = append(buf, p.data[from:p.pos]...)
		case c != '\\':
			buf = append(buf, c)
			p.pos++
		case p.pos+1 >= len(p.data):
			return "", false
		default:
			e := p.data[p.pos+1]
			p.pos += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := p.hex4()
				if !ok || r == 0 && p.strict {
					return "", false
				}
				if utf16.IsSurrogate(r) {
					// Only a pair: encoding/json knows what to make of the rest.
					if len(p.data)-p.pos < 2 || p.data[p.pos] != '\\' || p.data[p.pos+1] != 'u' {
						return "", false
					}
					p.pos += 2
					low, ok := p.hex4()
					if r = utf16.DecodeRune(r, low); !ok || r == unicode.ReplacementChar {
						return "", false
					}
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", false
			}
		}
	}
	return "", false
}

func (p *jsonParser) hex4() (rune, bool) {
	if len(p.data)-p.pos < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p.data[p.pos : p.pos+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	p.pos += 4
	return r, true
}

// validRune steps over one multi-byte UTF-8 character; false when it is
// invalid (encoding/json would replace it with U+FFFD).
func (p *jsonParser) validRune() bool {
	r, size := utf8.DecodeRune(p.data[p.pos:])
	if r == utf8.RuneError && size <= 1 {
		return false
	}
	p.pos += size
	return true
}

func (p *jsonParser) number() (any, bool) {
	start := p.pos
	if p.data[p.pos] == '-' {
		p.pos++
	}
	switch {
	case p.pos < len(p.data) && p.data[p.pos] == '0':
		p.pos++
	case p.digits() == 0:
		return nil, false
	}
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		p.pos++
		if p.digits() == 0 {
			return nil, false
		}
	}
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
			p.pos++
		}
		if p.digits() == 0 {
			return nil, false
		}
	}
	return json.Number(p.data[start:p.pos]), true
}

func (p *jsonParser) digits() int {
	n := 0
	for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
		p.pos++
		n++
	}
	return n
}
