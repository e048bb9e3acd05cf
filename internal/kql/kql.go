// Package kql parses the Keyword Query Language of Microsoft Search, as
// much of it as queries over external items use: free-text words and
// "quoted phrases", property restrictions (name:value, name:val*,
// name:"a phrase", name>value, name>=value, name<value, name<=value,
// name=value), AND, OR, NOT (and a leading '-'), parentheses; words side by
// side mean AND. Operators are upper case, as in KQL; "and" is a word.
package kql

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Op is the kind of a Node.
type Op uint8

// The kinds of nodes.
const (
	And      Op = iota // every child
	Or                 // some child
	Not                // not the one child
	Word               // a free-text word; Prefix when it ended in '*'
	Phrase             // free-text words in order
	Property           // a property restriction: Field Cmp Text
	All                // "*": everything
)

// Node is a node of a parsed query.
type Node struct {
	Op       Op
	Children []*Node
	Field    string // of Property, as written
	Cmp      string // of Property: ":", "=", "<", "<=", ">", ">="
	Text     string // of Word, Phrase, Property
	Prefix   bool   // of Word and Property: the value ended in '*' (removed from Text)
	Quoted   bool   // of Property: the value was a "phrase"
}

// MaxLength bounds a query string, and MaxDepth its nesting.
const (
	MaxLength = 4096
	MaxDepth  = 32
)

// Error is a query that does not parse; Message says why.
type Error struct{ Message string }

func (e *Error) Error() string { return e.Message }

func fail(format string, args ...any) error { return &Error{Message: fmt.Sprintf(format, args...)} }

// Parse parses a query string. An empty one (or only spaces) is All.
func Parse(q string) (*Node, error) {
	if len(q) > MaxLength {
		return nil, fail("The query string is longer than %d bytes.", MaxLength)
	}
	if !utf8.ValidString(q) {
		return nil, fail("The query string is not valid UTF-8.")
	}
	toks, err := lex(q)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return &Node{Op: All}, nil
	}
	p := &parser{toks: toks}
	n, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, fail("The query string has an unexpected '%s'.", p.toks[p.pos].text)
	}
	return n, nil
}

type tokKind uint8

const (
	tWord tokKind = iota
	tPhrase
	tOpen
	tClose
	tMinus
	tRestriction // field, cmp and value in one token
)

type token struct {
	kind   tokKind
	text   string // word, phrase, or the restriction's value
	field  string
	cmp    string
	quoted bool
}

// lex splits a query into tokens.
func lex(q string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(q) {
		r, size := utf8.DecodeRuneInString(q[i:])
		switch {
		case unicode.IsSpace(r):
			i += size
		case r == '(':
			toks = append(toks, token{kind: tOpen, text: "("})
			i++
		case r == ')':
			toks = append(toks, token{kind: tClose, text: ")"})
			i++
		case r == '-' && wordStart(q, i) && i+1 < len(q) && !unicode.IsSpace(rune(q[i+1])):
			toks = append(toks, token{kind: tMinus, text: "-"})
			i++
		case r == '"':
			text, n, err := phrase(q[i:])
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tPhrase, text: text})
			i += n
		default:
			start := i
			for i < len(q) {
				r, size := utf8.DecodeRuneInString(q[i:])
				if unicode.IsSpace(r) || r == '(' || r == ')' || r == '"' {
					break
				}
				if cmp, n := comparison(q[i:]); n > 0 && i > start {
					field := q[start:i]
					i += n
					if i < len(q) && q[i] == '"' {
						text, m, err := phrase(q[i:])
						if err != nil {
							return nil, err
						}
						toks = append(toks, token{kind: tRestriction, field: field, cmp: cmp, text: text, quoted: true})
						i += m
					} else {
						vs := i
						for i < len(q) {
							r, size := utf8.DecodeRuneInString(q[i:])
							if unicode.IsSpace(r) || r == '(' || r == ')' {
								break
							}
							i += size
						}
						if vs == i {
							return nil, fail("The property restriction '%s%s' has no value.", field, cmp)
						}
						toks = append(toks, token{kind: tRestriction, field: field, cmp: cmp, text: q[vs:i]})
					}
					start = -1
					break
				}
				i += size
			}
			if start >= 0 {
				toks = append(toks, token{kind: tWord, text: q[start:i]})
			}
		}
	}
	return toks, nil
}

// wordStart reports whether the '-' at q[i] begins a negated term: it
// follows a space or an opening parenthesis, or starts the query.
func wordStart(q string, i int) bool {
	return i == 0 || q[i-1] == ' ' || q[i-1] == '(' || q[i-1] == '\t'
}

func comparison(s string) (string, int) {
	for _, c := range []string{">=", "<=", ":", "=", ">", "<"} {
		if strings.HasPrefix(s, c) {
			return c, len(c)
		}
	}
	return "", 0
}

// phrase reads the quoted phrase at the start of s: its text and length.
func phrase(s string) (string, int, error) {
	end := strings.IndexByte(s[1:], '"')
	if end < 0 {
		return "", 0, fail("The query string has a phrase without its closing quote.")
	}
	return s[1 : 1+end], end + 2, nil
}

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peekWord(w string) bool {
	return p.pos < len(p.toks) && p.toks[p.pos].kind == tWord && p.toks[p.pos].text == w
}

func (p *parser) or(depth int) (*Node, error) {
	left, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	children := []*Node{left}
	for p.peekWord("OR") {
		p.pos++
		right, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		children = append(children, right)
	}
	if len(children) == 1 {
		return left, nil
	}
	return &Node{Op: Or, Children: children}, nil
}

func (p *parser) and(depth int) (*Node, error) {
	var children []*Node
	for p.pos < len(p.toks) {
		t := p.toks[p.pos]
		if t.kind == tClose || p.peekWord("OR") {
			break
		}
		if p.peekWord("AND") {
			if len(children) == 0 {
				return nil, fail("The query string has AND without a term before it.")
			}
			p.pos++
		}
		n, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		children = append(children, n)
	}
	switch len(children) {
	case 0:
		if p.pos < len(p.toks) && p.toks[p.pos].kind == tClose {
			return nil, fail("The query string has an unexpected ')'.")
		}
		return nil, fail("The query string has an operator without a term after it.")
	case 1:
		return children[0], nil
	}
	return &Node{Op: And, Children: children}, nil
}

func (p *parser) unary(depth int) (*Node, error) {
	if depth > MaxDepth {
		return nil, fail("The query string nests deeper than %d levels.", MaxDepth)
	}
	if p.peekWord("NOT") || p.pos < len(p.toks) && p.toks[p.pos].kind == tMinus {
		p.pos++
		n, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return &Node{Op: Not, Children: []*Node{n}}, nil
	}
	if p.pos >= len(p.toks) {
		return nil, fail("The query string has an operator without a term after it.")
	}
	t := p.toks[p.pos]
	p.pos++
	switch t.kind {
	case tOpen:
		n, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.pos >= len(p.toks) || p.toks[p.pos].kind != tClose {
			return nil, fail("The query string has a '(' without its ')'.")
		}
		p.pos++
		return n, nil
	case tClose:
		return nil, fail("The query string has a ')' without its '('.")
	case tPhrase:
		return &Node{Op: Phrase, Text: t.text}, nil
	case tRestriction:
		n := &Node{Op: Property, Field: t.field, Cmp: t.cmp, Text: t.text, Quoted: t.quoted}
		if !t.quoted && strings.HasSuffix(n.Text, "*") && (n.Cmp == ":" || n.Cmp == "=") {
			n.Text, n.Prefix = strings.TrimSuffix(n.Text, "*"), true
		}
		return n, nil
	}
	if t.text == "AND" || t.text == "OR" {
		return nil, fail("The query string has %s without a term before it.", t.text)
	}
	if t.text == "*" {
		return &Node{Op: All}, nil
	}
	n := &Node{Op: Word, Text: t.text}
	if strings.HasSuffix(n.Text, "*") {
		n.Text, n.Prefix = strings.TrimRight(n.Text, "*"), true
	}
	return n, nil
}
