package kql

import (
	"strings"
	"testing"
)

// show writes a node as a compact S-expression, for comparisons.
func show(n *Node) string {
	switch n.Op {
	case And, Or, Not:
		parts := make([]string, len(n.Children))
		for i, c := range n.Children {
			parts[i] = show(c)
		}
		return "(" + [...]string{"AND", "OR", "NOT"}[n.Op] + " " + strings.Join(parts, " ") + ")"
	case Word:
		if n.Prefix {
			return n.Text + "*"
		}
		return n.Text
	case Phrase:
		return `"` + n.Text + `"`
	case Property:
		v := n.Text
		if n.Quoted {
			v = `"` + v + `"`
		}
		if n.Prefix {
			v += "*"
		}
		return n.Field + n.Cmp + v
	}
	return "ALL"
}

func TestParse(t *testing.T) {
	tests := []struct{ q, want string }{
		{"", "ALL"},
		{"   ", "ALL"},
		{"*", "ALL"},
		{"payment", "payment"},
		{"payment gateway", "(AND payment gateway)"},
		{"payment AND gateway", "(AND payment gateway)"},
		{"payment OR gateway", "(OR payment gateway)"},
		{"a OR b c", "(OR a (AND b c))"},
		{"a b OR c", "(OR (AND a b) c)"},
		{"NOT a", "(NOT a)"},
		{"a NOT b", "(AND a (NOT b))"},
		{"a -b", "(AND a (NOT b))"},
		{"a-b", "a-b"},
		{"(a OR b) c", "(AND (OR a b) c)"},
		{`"payment gateway" error`, `(AND "payment gateway" error)`},
		{"pay*", "pay*"},
		{"priority:high", "priority:high"},
		{"priority:hi*", "priority:hi*"},
		{`title:"payment gateway"`, `title:"payment gateway"`},
		{"count>3", "count>3"},
		{"count>=3 count<=10", "(AND count>=3 count<=10)"},
		{"created<2026-01-01", "created<2026-01-01"},
		{"created=2026-01-01T00:00:00Z", "created=2026-01-01T00:00:00Z"},
		{"url:https://contoso.com/a", "url:https://contoso.com/a"},
		{"and or", "(AND and or)"},
		{"NOT (a OR b)", "(NOT (OR a b))"},
	}
	for _, tt := range tests {
		n, err := Parse(tt.q)
		if err != nil {
			t.Errorf("Parse(%q) = %v", tt.q, err)
			continue
		}
		if got := show(n); got != tt.want {
			t.Errorf("Parse(%q) = %s, want %s", tt.q, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ q, want string }{
		{`"open`, "closing quote"},
		{"(a", "without its ')'"},
		{"a)", "unexpected ')'"},
		{")", "unexpected ')'"},
		{"AND a", "AND without a term before it"},
		{"a OR", "without a term after it"},
		{"NOT", "without a term after it"},
		{"priority:", "has no value"},
		{strings.Repeat("(", 40) + "a" + strings.Repeat(")", 40), "nests deeper"},
		{strings.Repeat("NOT ", 40) + "a", "nests deeper"},
		{strings.Repeat("a ", MaxLength), "longer than"},
		{"\xff", "not valid UTF-8"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.q)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%.40q) = %v, want an error with %q", tt.q, err, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, q := range []string{"a b", `t:"x y"`, "(a OR -b) c>3", "NOT x*"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		n, err := Parse(q)
		if err == nil && n == nil {
			t.Fatalf("Parse(%q) = nil, nil", q)
		}
	})
}
