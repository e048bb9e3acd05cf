package store

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// The stores keep Connection.Settings as one JSON object; these helpers are
// theirs, so that both return the same bytes.

// IsNull reports whether v is JSON null; an empty v is too, as json.Marshal
// encodes a nil json.RawMessage.
func IsNull(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) == 0 || string(v) == "null"
}

// DecodeSettings returns a settings column's object as
// store.Connection.Settings: nil when empty, each value in canonical form.
func DecodeSettings(b []byte) (map[string]json.RawMessage, error) {
	if string(b) == "{}" {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode settings: %w", err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	for k, v := range m {
		c, err := CanonicalJSON(v)
		if err != nil {
			return nil, fmt.Errorf("decode settings: %s: %w", k, err)
		}
		m[k] = c
	}
	return m, nil
}

// CanonicalJSON re-encodes v: compact, object members in byte order of
// their names, numbers as they are spelt, no HTML escapes.
func CanonicalJSON(v []byte) (json.RawMessage, error) {
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(x); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
