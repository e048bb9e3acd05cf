package jsonvalue

import "unicode/utf16"

// Shape bounds the documents that DecodeStrict decodes: what lies outside
// it is refused before it is decoded. A nil *Shape bounds nothing.
type Shape struct {
	// Name names the object's type in messages ("" for a plain object).
	Name string
	// Closed refuses the properties not in Properties.
	Closed     bool
	Properties map[string]*Shape
	// Items bounds each item of an array, MaxItems their number (-1: no
	// bound).
	Items    *Shape
	MaxItems int
	// MaxLength bounds a string, in UTF-16 code units as JSON Schema counts
	// them (-1: no bound).
	MaxLength int
}

// tooLong reports whether s is longer than the shape's MaxLength.
func (sh *Shape) tooLong(s string) bool {
	if sh.MaxLength < 0 || len(s) <= sh.MaxLength {
		return false // a string has no more UTF-16 code units than bytes
	}
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n > sh.MaxLength
}

// BoundKind is what a BoundError found outside its shape.
type BoundKind int

const (
	UnknownProperty BoundKind = iota + 1 // a property a closed object does not have
	TooManyItems                         // an array longer than MaxItems
	TooLong                              // a string longer than MaxLength
)

// BoundError is a document outside the Shape it was decoded with.
type BoundError struct {
	Kind BoundKind
	// Path is the JSON pointer of the value: the unknown property, the
	// array, the string.
	Path []string
	// Shape is the object's (UnknownProperty), the array's or the string's.
	Shape *Shape
}

func (e *BoundError) Error() string {
	switch e.Kind {
	case UnknownProperty:
		return "unknown property at /" + joinPointer(e.Path)
	case TooManyItems:
		return "too many items at /" + joinPointer(e.Path)
	}
	return "string too long at /" + joinPointer(e.Path)
}

func joinPointer(p []string) string {
	out := ""
	for i, s := range p {
		if i > 0 {
			out += "/"
		}
		out += s
	}
	return out
}
