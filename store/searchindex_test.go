package store

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"
)

func TestWords(t *testing.T) {
	tests := []struct {
		text string
		want []string
	}{
		{"", nil},
		{"Hello, World!", []string{"hello", "world"}},
		{"Café au lait", []string{"cafe", "au", "lait"}},
		{"Zürich ÉCOLE naïve", []string{"zurich", "ecole", "naive"}},
		{"ø æ ß", []string{"ø", "æ", "ß"}}, // letters of their own, without marks to remove
		{"İstanbul", []string{"istanbul"}},
		{"日本語のテキスト", []string{"日本語のテキスト"}},
		{"한국어 단어", []string{"한국어", "단어"}}, // Hangul syllables stay whole
		{"a_b-c.d/e\\f\"g'h", []string{"a", "b", "c", "d", "e", "f", "g", "h"}},
		{"x2 3d 4.5", []string{"x2", "3d", "4", "5"}},
		{"emoji😀here", []string{"emoji", "here"}},
		{"cafe\u0301", []string{"cafe"}}, // a decomposed é: the mark ends the word, as the server's words
		{"\x00a\xffb", []string{"a", "b"}},
		{strings.Repeat("a", 300), []string{strings.Repeat("a", MaxWordBytes)}},
		{strings.Repeat("é", 200), []string{strings.Repeat("e", 200)}},
		{strings.Repeat("ø", 200), []string{strings.Repeat("ø", MaxWordBytes/2)}}, // cut at a rune
	}
	for _, tt := range tests {
		if got := Words(tt.text); !slices.Equal(got, tt.want) {
			t.Errorf("Words(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

// serverWords are the words the server makes of a query (server/search.go's
// textWords): the stores search for Words of them.
func serverWords(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// The words of a text and the words of the server's words of it are the
// same: a query typed as the text finds it.
func TestWordsOfServerWords(t *testing.T) {
	alphabet := []rune("aZé\u0301İıøß日本한글 -_.'\"*😀\u0308Ω1२\u093f\u094d")
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		r := make([]rune, rng.IntN(12))
		for i := range r {
			r[i] = alphabet[rng.IntN(len(alphabet))]
		}
		s := string(r)
		if got, want := Words(strings.Join(serverWords(s), " ")), Words(s); !slices.Equal(got, want) {
			t.Fatalf("Words(server words of %q) = %q, want Words(%q) = %q", s, got, s, want)
		}
	}
}

func TestTerms(t *testing.T) {
	tests := []struct {
		text string
		want []Term
	}{
		{"pay*", []Term{{"pay", true}}},
		{"foo bar*", []Term{{"foo", false}, {"bar", true}}},
		{"foo-bar*", []Term{{"foo", false}, {"bar", true}}},
		{"*", nil},
		{"a*b", []Term{{"a", false}, {"b", false}}},
		{"Café*", []Term{{"cafe", true}}},
	}
	for _, tt := range tests {
		if got := Terms(tt.text); !cmp.Equal(got, tt.want) {
			t.Errorf("Terms(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}

func TestAccessTokens(t *testing.T) {
	const tenant, conn = "t1", "c1"
	acl := []ACE{
		{Type: "everyone", Value: tenant, AccessType: "grant"},
		{Type: "everyoneExceptGuests", Value: "other", AccessType: "grant"}, // the same token
		{Type: "user", Value: "u1", AccessType: "grant"},
		{Type: "user", Value: "u1", AccessType: "deny"},
		{Type: "group", Value: "u1", AccessType: "grant"},
		{Type: "externalGroup", Value: "g 1", AccessType: "grant"},
		{Type: "unknownFutureValue", Value: "x", AccessType: "grant"},
		{Type: "user", Value: "u2", AccessType: "unknownFutureValue"},
	}
	got := AccessTokens(tenant, conn, acl)
	if len(got) != 6 {
		t.Fatalf("AccessTokens() = %d tokens %v, want 6: the connection's and five distinct entries", len(got), got)
	}
	if got[0] != ConnectionToken(tenant, conn) {
		t.Errorf("AccessTokens()[0] = %s, want the connection's token %s", got[0], ConnectionToken(tenant, conn))
	}
	for _, tok := range got {
		if len(Words(tok)) == 1 && Words(tok)[0] == tok {
			t.Errorf("token %q is a word: text could be taken for access", tok)
		}
		if strings.ContainsFunc(tok, func(r rune) bool { return !strings.ContainsRune("gdc_0123456789abcdef", r) }) {
			t.Errorf("token %q has characters other than a kind, '_' and hexadecimal digits", tok)
		}
	}
	if want := AccessToken(true, tenant, conn, "everyone", ""); got[1] != want {
		t.Errorf("AccessTokens()[1] = %s, want everyone's grant %s", got[1], want)
	}
	if want := AccessToken(false, tenant, conn, "user", "u1"); got[3] != want {
		t.Errorf("AccessTokens()[3] = %s, want u1's deny %s", got[3], want)
	}
	p := Principals{TenantID: tenant, UserID: "u1", Groups: []string{"u1"}}
	for _, tt := range []struct {
		kind, value string
		ext         []string
		want        bool
	}{
		{"everyone", "", nil, true},
		{"user", "u1", nil, true},
		{"user", "u2", nil, false},
		{"group", "u1", nil, true},
		{"group", "g", nil, false},
		{"externalGroup", "g 1", []string{"g 1"}, true},
		{"externalGroup", "g 1", nil, false},
		{"externalGroup", "u1", nil, false},
	} {
		if got := p.Holds(tt.kind, tt.value, tt.ext); got != tt.want {
			t.Errorf("Holds(%s, %s, %v) = %v, want %v", tt.kind, tt.value, tt.ext, got, tt.want)
		}
	}
	if (Principals{}).Holds("user", "", nil) {
		t.Errorf("Holds(user, \"\") = true for no user, want false")
	}
	// Another connection, or tenant, has tokens of its own.
	for _, other := range [][2]string{{tenant, "c2"}, {"t2", conn}} {
		for _, tok := range AccessTokens(other[0], other[1], acl) {
			if slices.Contains(got, tok) {
				t.Errorf("AccessTokens(%s, %s) shares the token %s with (%s, %s)", other[0], other[1], tok, tenant, conn)
			}
		}
	}
}

func TestNormalizeQuery(t *testing.T) {
	text := func(s string) *Query { return &Query{Op: QueryText, Text: s} }
	all := &Query{Op: QueryAll}
	tests := []struct {
		name string
		q    *Query
		want *Query
	}{
		{"nil", nil, all},
		{"text", text(" Café  pay* "), text("cafe pay*")},
		{"text without words", text("* - ()"), all},
		{"phrase of one word", &Query{Op: QueryPhrase, Text: "\"Word\""}, text("word")},
		{"phrase", &Query{Op: QueryPhrase, Text: "a, B"}, &Query{Op: QueryPhrase, Text: "a b"}},
		{"and flattened", &Query{Op: QueryAnd, Children: []*Query{text("a"), {Op: QueryAnd, Children: []*Query{text("b"), all}}}},
			&Query{Op: QueryAnd, Children: []*Query{text("a"), text("b")}}},
		{"or of all", &Query{Op: QueryOr, Children: []*Query{text("a"), all}}, all},
		{"empty and", &Query{Op: QueryAnd}, all},
		{"empty or", &Query{Op: QueryOr}, Nothing()},
		{"not not", &Query{Op: QueryNot, Children: []*Query{{Op: QueryNot, Children: []*Query{text("a")}}}}, text("a")},
		{"equal", &Query{Op: QueryEqual, Name: "Title", Text: "A\x00B"}, &Query{Op: QueryEqual, Name: "title", Text: "ab"}},
	}
	for _, tt := range tests {
		got, err := NormalizeQuery(tt.q)
		if err != nil || !cmp.Equal(got, tt.want) {
			t.Errorf("%s: NormalizeQuery() = %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
	for _, q := range []*Query{
		{Op: QueryCompare, Compare: "!="},
		{Op: QueryNot},
		{Op: 99},
	} {
		if _, err := NormalizeQuery(q); KindOf(err) != Invalid {
			t.Errorf("NormalizeQuery(%+v) = %v, want Invalid", q, err)
		}
	}
}

func TestPlan(t *testing.T) {
	text := &Query{Op: QueryText, Text: "a"}
	eq := &Query{Op: QueryEqual, Name: "x", Text: "y"}
	not := &Query{Op: QueryNot, Children: []*Query{text}}
	tests := []struct {
		q      *Query
		text   int
		filter int
		ranked bool
	}{
		{text, 1, 0, true},
		{eq, 0, 1, false},
		{not, 1, 0, false},
		{&Query{Op: QueryAnd, Children: []*Query{text, eq, not}}, 2, 1, true},
		{&Query{Op: QueryOr, Children: []*Query{text, eq}}, 0, 1, false},
		{&Query{Op: QueryOr, Children: []*Query{text, not}}, 1, 0, true},
		{&Query{Op: QueryAll}, 0, 0, false},
	}
	for _, tt := range tests {
		p := Plan(tt.q)
		if len(p.Text) != tt.text || len(p.Filters) != tt.filter || p.Ranked != tt.ranked {
			t.Errorf("Plan(%+v) = %d text, %d filters, ranked %v; want %d, %d, %v", tt.q, len(p.Text), len(p.Filters), p.Ranked, tt.text, tt.filter, tt.ranked)
		}
	}
}

func TestIndexOf(t *testing.T) {
	s := &Schema{Properties: []Property{
		{Name: "Title", Type: TypeString, IsSearchable: true},
		{Name: "tags", Type: TypeStringCollection, IsSearchable: true, IsQueryable: true},
		{Name: "hidden", Type: TypeString},
		{Name: "n", Type: TypeInt64, IsRefinable: true},
		{Name: "when", Type: TypeDateTime, IsQueryable: true},
		{Name: "ok", Type: TypeBoolean, IsQueryable: true},
		{Name: "obj", Type: TypeString, IsQueryable: true},
	}}
	it := &Item{
		Properties: json.RawMessage(`{"tags":["B","a","B",{"x":1},null],"title":"Hello","hidden":"no","n":12.50,"when":"2026-01-02T03:04:05.5Z","ok":false,"obj":{"a":"b"},"tags@odata.type":"Collection(String)","x":null}`),
		Content:    &Content{Type: "html", Value: "<p>Body &amp; soul</p>"},
	}
	got := IndexOf(s, it)
	num := func(f float64) *float64 { return &f }
	want := ItemIndex{
		Text: "B\na\nB\nHello\n Body & soul ", // in the order of the names
		Values: []IndexValue{
			{Name: "n", Str: "12.50", Key: "12.50", Num: num(12.5)},
			{Name: "ok", Str: "false", Key: "false", Num: num(0)},
			{Name: "tags", Str: "b", Key: "B"},
			{Name: "tags", Str: "a", Key: "a"},
			{Name: "when", Str: "2026-01-02t03:04:05.5z", Key: "2026-01-02T03:04:05.5Z", Num: num(1767323045.5)},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("IndexOf() mismatch (-want +got):\n%s", diff)
	}
	for range 20 {
		if again := IndexOf(s, it); !cmp.Equal(got, again) {
			t.Fatalf("IndexOf() of the same item differs: %+v, then %+v", got, again)
		}
	}
	if got := IndexOf(&Schema{}, it); got.Text != " Body & soul " || got.Values != nil {
		t.Errorf("IndexOf(no schema) = %+v, want the content alone", got)
	}
}
