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
	for i := range s.Properties {
		byName[strings.ToLower(s.Properties[i].Name)] = &s.Properties[i]
	}
	var props map[string]any
	dec := json.NewDecoder(bytes.NewReader(it.Properties))
	dec.UseNumber()
	_ = dec.Decode(&props) // not an object: nothing to index
	// In the order of the names, so that an item indexes the same every
	// time (a map's order changes from one range to the next).
	names := make([]string, 0, len(props))
	for name := range props {
		names = append(names, name)
	}
	sort.Strings(names)
	var text []string
	for _, name := range names {
		v := props[name]
		p := byName[strings.ToLower(name)]
		if p == nil || v == nil {
			continue
		}
		values := []any{v}
		if list, ok := v.([]any); ok {
			values = list
		}
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
			if iv, ok := indexValue(lower, p.Type, x); ok {
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
