package store

import (
	"bytes"
	"encoding/json"
	"html"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// IndexOf is what the search index holds of item it under schema s: the
// text of its searchable properties and of its content, and the values of
// its queryable and refinable properties. Both stores call it in the
// transaction that writes the item, so that they index alike. Properties
// the schema does not have, or values not of their type, are left out
// (the server checks items before it stores them).
func IndexOf(s *Schema, it *Item) ItemIndex {
	var idx ItemIndex
	byName := make(map[string]*Property, len(s.Properties))
	for i, p := range s.Properties {
		if p.IsSearchable || p.IsQueryable || p.IsRefinable {
			byName[strings.ToLower(p.Name)] = &s.Properties[i]
		}
	}
	// Only the values of the properties indexed are decoded: the others
	// are skipped, or not even read when the schema indexes none.
	var props map[string][]any
	if len(byName) > 0 {
		props = decodeProperties(it.Properties, func(name string) bool { return byName[strings.ToLower(name)] != nil })
	}
	// In the order of the names, so that an item indexes the same every
	// time (a map's order changes from one range to the next).
	names := make([]string, 0, len(props))
	for name := range props {
		names = append(names, name)
	}
	sort.Strings(names)
	var text []string
	seen := map[[3]string]bool{}
	for _, name := range names {
		p := byName[strings.ToLower(name)]
		values := props[name]
		if p.IsSearchable {
			for _, x := range values {
				if s, ok := x.(string); ok {
					text = append(text, s)
				}
			}
		}
		if !p.IsQueryable && !p.IsRefinable {
			continue
		}
		lower := strings.ToLower(p.Name)
		for _, x := range values {
			// A collection may hold a value twice, which the index keeps
			// once.
			if iv, ok := indexValue(lower, p.Type, x); ok && !seen[iv.key()] {
				seen[iv.key()] = true
				idx.Values = append(idx.Values, iv)
			}
		}
	}
	if it.Content != nil && it.Content.Value != "" {
		c := it.Content.Value
		if it.Content.Type == "html" {
			c = HTMLText(c)
		}
		text = append(text, c)
	}
	idx.Text = strings.Join(text, "\n")
	return idx
}

// decodeProperties decodes, in one pass, the values of the members of the
// properties object that want wants: each member's value, or the values of
// a collection, as json.Decoder with UseNumber decodes them (strings,
// json.Number, bool), but for nulls and objects, which the index has no
// use for. A member given twice is its last value, as encoding/json has
// it. A value that is not JSON ends the decoding.
func decodeProperties(raw []byte, want func(name string) bool) map[string][]any {
	dec := jsontext.NewDecoder(bytes.NewReader(raw), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil
	}
	out := map[string][]any{}
	for {
		tok, err := dec.ReadToken()
		if err != nil || tok.Kind() != '"' {
			return out // the end of the object, or not JSON
		}
		name := tok.String()
		if !want(name) {
			if dec.SkipValue() != nil {
				return out
			}
			continue
		}
		values, ok := decodeValues(dec)
		if !ok {
			return out
		}
		out[name] = values
	}
}

// decodeValues decodes the next value of dec: a scalar, or the scalars of
// an array.
func decodeValues(dec *jsontext.Decoder) ([]any, bool) {
	switch dec.PeekKind() {
	case '[':
		if _, err := dec.ReadToken(); err != nil {
			return nil, false
		}
		var values []any
		for {
			switch dec.PeekKind() {
			case ']':
				_, err := dec.ReadToken()
				return values, err == nil
			case '[', '{':
				if dec.SkipValue() != nil {
					return nil, false
				}
				continue
			}
			tok, err := dec.ReadToken()
			if err != nil {
				return nil, false
			}
			if v, ok := scalar(tok); ok {
				values = append(values, v)
			}
		}
	case '{':
		return nil, dec.SkipValue() == nil
	}
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, false
	}
	if v, ok := scalar(tok); ok {
		return []any{v}, true
	}
	return nil, true // null
}

func scalar(tok jsontext.Token) (any, bool) {
	switch tok.Kind() {
	case '"':
		return tok.String(), true
	case '0':
		return json.Number(tok.String()), true
	case 't', 'f':
		return tok.Bool(), true
	}
	return nil, false
}

// key tells values apart (Num follows from Str).
func (v IndexValue) key() [3]string { return [3]string{v.Name, v.Str, v.Key} }

func indexValue(name string, t PropertyType, x any) (IndexValue, bool) {
	iv := IndexValue{Name: name}
	switch v := x.(type) {
	case string:
		v = IndexString(v)
		iv.Key = v
		iv.Str = strings.ToLower(v)
		if t == TypeDateTime || t == TypeDateTimeCollection {
			tm, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return iv, false
			}
			n := float64(tm.UnixNano()) / 1e9
			iv.Num = &n
		}
	case json.Number:
		n, err := strconv.ParseFloat(v.String(), 64)
		if err != nil {
			return iv, false
		}
		iv.Key, iv.Str, iv.Num = v.String(), v.String(), &n
	case bool:
		n := 0.0
		if v {
			n = 1
		}
		iv.Key = strconv.FormatBool(v)
		iv.Str, iv.Num = iv.Key, &n
	default:
		return iv, false // a principal: neither queryable nor refinable
	}
	return iv, true
}

// IndexString is s as the index keeps a value: valid UTF-8 without NUL,
// which PostgreSQL's text cannot hold (a client's JSON string may have
// \u0000).
func IndexString(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

var htmlTag = regexp.MustCompile(`(?s)<script.*?</script>|<style.*?</style>|<[^>]*>`)

// HTMLText is the text of an HTML document: its tags removed, its entities
// decoded.
func HTMLText(s string) string {
	return html.UnescapeString(htmlTag.ReplaceAllString(s, " "))
}
