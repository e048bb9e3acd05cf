package jsonvalue

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// intern is what a contract would give Decode: names and enum values.
var intern = map[string]any{"status": "status", "inprogress": "inprogress", "error": "error", "message": "message"}

// Decode parses bodies itself for speed: it must give what encoding/json
// gives (kin-openapi's decoder), value and error alike; DecodeStrict must
// refuse what Check or encoding/json refuses.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"status":"inprogress"}`, `{"status":"unspecified","error":null}`,
		`{"@odata.type":"#microsoft.graph.connectionOperation","status":"inprogress","error":{"errorCode":"E","message":"m","details":[{"source":"s"}]}}`,
		`{}`, `[]`, `[1,-0,0.5,1e10,-2.5E-3,1E+2]`, `"x"`, `true`, `false`, `null`, `0`, `-`, `01`, `1.`, `1e`, `.5`,
		`{"a":1,"a":2}`, `{"a":[{"b":{"c":[[],{}]}}]}`, ` {"a" : [ 1 , 2 ] } `, `{"a":1} x`, `{"a":1}{}`, ``, ` `,
		`"\"\\\/\b\f\n\r\t\u0041\u00e9\u20ac\ud83d\ude00"`, `"\ud83d"`, `"\ude00"`, `"\ud83dx"`, `"\ud83d\u0041"`,
		`"\u12"`, `"\x"`, "\"a\tb\"", "\"\xff\"", "\"\xed\xa0\x80\"", `"é€😀"`, `{"a":"\u0000"}`, `[1,]`, `{"a":1,}`,
		`{"a"}`, `{"a":}`, `{1:2}`, `tru`, `nul`, `[`, `{`, `"abc`, strings.Repeat("[", 70) + strings.Repeat("]", 70),
		strings.Repeat("[", 32) + strings.Repeat("]", 32), strings.Repeat("[", 33) + strings.Repeat("]", 33),
		`{"a":{"b":1,"b":2}}`, `[{"a":1},{"a":2}]`, `{"a\u0000":1}`, `"\u0000"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, gotErr := Decode(data, intern)
		var want any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		wantErr := dec.Decode(&want)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("Decode(%q) error = %v, want %v", data, gotErr, wantErr)
		}
		if wantErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("Decode(%q) = %#v, want %#v", data, got, want)
		}
		strict, strictErr := DecodeStrict(data, intern, nil)
		if checkErr := Check(data, nil); checkErr != nil || wantErr != nil {
			if strictErr == nil {
				t.Fatalf("DecodeStrict(%q) = %#v, want an error (Check: %v, encoding/json: %v)", data, strict, checkErr, wantErr)
			}
			if checkErr != nil && strictErr.Error() != checkErr.Error() {
				t.Fatalf("DecodeStrict(%q) error = %v, want Check's %v", data, strictErr, checkErr)
			}
			return
		}
		if strictErr != nil || !reflect.DeepEqual(strict, want) {
			t.Fatalf("DecodeStrict(%q) = %#v, %v; want %#v", data, strict, strictErr, want)
		}
		// Within a shape: the parser gives up on what lies outside it, and
		// Check says what.
		shaped, shapedErr := DecodeStrict(data, intern, testShape)
		if boundErr := Check(data, testShape); boundErr != nil {
			if fmt.Sprint(shapedErr) != fmt.Sprint(boundErr) {
				t.Fatalf("DecodeStrict(%q, shape) error = %v, want Check's %v", data, shapedErr, boundErr)
			}
			return
		}
		if shapedErr != nil || !reflect.DeepEqual(shaped, want) {
			t.Fatalf("DecodeStrict(%q, shape) = %#v, %v; want %#v", data, shaped, shapedErr, want)
		}
	})
}

// testShape is a closed object {a: string ≤ 3, b: [≤ 2 × {c: string ≤ 1}],
// d: open object}.
var testShape = &Shape{Name: "T", Closed: true, MaxItems: -1, MaxLength: -1, Properties: map[string]*Shape{
	"a": {MaxItems: -1, MaxLength: 3},
	"b": {MaxItems: 2, MaxLength: -1, Items: &Shape{Closed: true, MaxItems: -1, MaxLength: -1,
		Properties: map[string]*Shape{"c": {MaxItems: -1, MaxLength: 1}}}},
	"d": {MaxItems: -1, MaxLength: -1},
}}

func TestBounds(t *testing.T) {
	tests := []struct {
		body     string
		wantKind BoundKind
		wantPath string
	}{
		{`{"a":"abc","b":[{"c":"x"},{}],"d":{"any":[1,2,3]}}`, 0, ""},
		{`{"a":"😀x"}`, 0, ""}, // 3 UTF-16 code units
		{`{"a":"😀xy"}`, TooLong, "a"},
		{`{"a":"abcd"}`, TooLong, "a"},
		{`{"a":"ab\u0063d"}`, TooLong, "a"},
		{`{"x":[0,0,0]}`, UnknownProperty, "x"},
		{`{"a":"a","b":[{"c":"x"},{"e":1}]}`, UnknownProperty, "b/1/e"},
		{`{"b":[{},{},{}]}`, TooManyItems, "b"},
		{`{"b":[{"c":"xy"}]}`, TooLong, "b/0/c"},
		{`"abcd"`, 0, ""}, // the root is an object's shape: no MaxLength
		{`{"d":{"a":"abcdef"}}`, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			for name, decode := range map[string]func() error{
				"DecodeStrict": func() error { _, err := DecodeStrict([]byte(tt.body), intern, testShape); return err },
				"Check":        func() error { return Check([]byte(tt.body), testShape) },
			} {
				err := decode()
				var be *BoundError
				switch {
				case tt.wantKind == 0 && err != nil:
					t.Errorf("%s(%s) = %v, want nil", name, tt.body, err)
				case tt.wantKind != 0 && (!errors.As(err, &be) || be.Kind != tt.wantKind || strings.Join(be.Path, "/") != tt.wantPath):
					t.Errorf("%s(%s) = %v, want a BoundError of kind %d at %s", name, tt.body, err, tt.wantKind, tt.wantPath)
				}
			}
		})
	}
}

var benchBodies = []struct{ name, body string }{
	{"seed", `{"@odata.type":"#microsoft.graph.connectionOperation","status":"inprogress","error":{"errorCode":"E","message":"m","details":[{"source":"s"}]}}`},
	{"schema", `{"baseType":"microsoft.graph.externalItem","properties":[` +
		strings.Repeat(`{"name":"title","type":"string","isSearchable":true,"isRetrievable":true,"labels":["title"]},`, 20) +
		`{"name":"x","type":"int64"}]}`},
}

// BenchmarkDecodeStrict measures DecodeStrict beside the strict decoder
// that go-json-experiment/json (encoding/json/v2) makes possible: its
// jsontext.Decoder refuses duplicate names and invalid UTF-8 by itself,
// and building the same values on its tokens is decodeJSONText below. The
// faster of the two is kept (BENCHMARKS.md).
func BenchmarkDecodeStrict(b *testing.B) {
	for _, bb := range benchBodies {
		data := []byte(bb.body)
		b.Run(bb.name+"/jsonvalue", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DecodeStrict(data, intern, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bb.name+"/jsontext", func(b *testing.B) {
			b.ReportAllocs()
			dec := jsontext.NewDecoder(bytes.NewReader(nil))
			for b.Loop() {
				if _, err := decodeJSONText(dec, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestDecodeJSONText keeps the benchmark's rival honest: it decodes what
// DecodeStrict decodes.
func TestDecodeJSONText(t *testing.T) {
	dec := jsontext.NewDecoder(bytes.NewReader(nil))
	for _, bb := range benchBodies {
		want, err := DecodeStrict([]byte(bb.body), intern, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeJSONText(dec, []byte(bb.body))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("decodeJSONText(%s) = %v, %v; want %v", bb.name, got, err, want)
		}
	}
}

func decodeJSONText(dec *jsontext.Decoder, data []byte) (any, error) {
	dec.Reset(bytes.NewReader(data))
	v, err := jsonTextValue(dec)
	if err != nil {
		return nil, err
	}
	if err := dec.SkipValue(); err != io.EOF {
		return nil, fmt.Errorf("data after the value: %v", err)
	}
	return v, nil
}

func jsonTextString(dec *jsontext.Decoder) (string, error) {
	raw, err := dec.ReadValue()
	if err != nil {
		return "", err
	}
	if in := raw[1 : len(raw)-1]; bytes.IndexByte(in, '\\') < 0 {
		if v, ok := intern[string(in)]; ok {
			return v.(string), nil
		}
		return string(in), nil
	}
	b, err := jsontext.AppendUnquote(nil, raw)
	return string(b), err
}

func jsonTextValue(dec *jsontext.Decoder) (any, error) {
	switch dec.PeekKind() {
	case '"':
		return jsonTextString(dec)
	case '{':
		if _, err := dec.ReadToken(); err != nil {
			return nil, err
		}
		m := map[string]any{}
		for dec.PeekKind() != '}' {
			k, err := jsonTextString(dec)
			if err != nil {
				return nil, err
			}
			if m[k], err = jsonTextValue(dec); err != nil {
				return nil, err
			}
		}
		_, err := dec.ReadToken()
		return m, err
	case '[':
		if _, err := dec.ReadToken(); err != nil {
			return nil, err
		}
		a := make([]any, 0)
		for dec.PeekKind() != ']' {
			v, err := jsonTextValue(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := dec.ReadToken()
		return a, err
	}
	tok, err := dec.ReadToken()
	switch {
	case err != nil:
		return nil, err
	case tok.Kind() == '0':
		return json.Number(tok.String()), nil
	case tok.Kind() == 't' || tok.Kind() == 'f':
		return tok.Bool(), nil
	}
	return nil, nil
}
