package storetest

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/graphconn/graphconn/store"
)

// settingsTests are the cases of the conformance suite about the settings
// of connections (store.Connection.Settings).
var settingsTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"SettingsCreateAndRead", testSettingsCreateAndRead},
	{"SettingsUpdateReplaces", testSettingsUpdateReplaces},
	{"SettingsNullRemoves", testSettingsNullRemoves},
	{"SettingsOtherUpdatesKeepThem", testSettingsOtherUpdatesKeepThem},
	{"SettingsIfMatch", testSettingsIfMatch},
	{"SettingsNested", testSettingsNested},
	{"SettingsUnicode", testSettingsUnicode},
	{"SettingsInvalid", testSettingsInvalid},
	{"SettingsMany", testSettingsMany},
}

// settings makes a Settings of name and JSON text pairs.
func settings(kv ...string) map[string]json.RawMessage {
	m := make(map[string]json.RawMessage, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = json.RawMessage(kv[i+1])
	}
	return m
}

// todaysSettings are properties of today's externalConnection, spaced and
// ordered as a client might send them.
func todaysSettings() map[string]json.RawMessage {
	return settings(
		"configuration", `{ "authorizedAppIds": [ "a1", "a2" ] }`,
		"activitySettings", `{"urlToItemResolvers": [{"@odata.type": "#microsoft.graph.externalConnectors.itemIdResolver",
			"urlMatchInfo": {"baseUrls": ["https://contoso.example"], "urlPattern": "/items/(?<id>[0-9]+)"},
			"itemId": "{id}", "priority": 1}]}`,
		"searchSettings", `{"searchResultTemplates": []}`,
		"connectorId", ` "contoso.hr" `,
		"contentCategory", `"knowledgeBase"`,
		"enabledContentExperiences", `"search,compliance"`,
		"complianceSettings", `{"eDiscoveryResultTemplates": null}`,
	)
}

// canonical is the form in which every store returns todaysSettings: each
// value compact, with the members of its objects in byte order.
var canonical = map[string]string{
	"configuration":             `{"authorizedAppIds":["a1","a2"]}`,
	"activitySettings":          `{"urlToItemResolvers":[{"@odata.type":"#microsoft.graph.externalConnectors.itemIdResolver","itemId":"{id}","priority":1,"urlMatchInfo":{"baseUrls":["https://contoso.example"],"urlPattern":"/items/(?<id>[0-9]+)"}}]}`,
	"searchSettings":            `{"searchResultTemplates":[]}`,
	"connectorId":               `"contoso.hr"`,
	"contentCategory":           `"knowledgeBase"`,
	"enabledContentExperiences": `"search,compliance"`,
	"complianceSettings":        `{"eDiscoveryResultTemplates":null}`,
}

// sameSettings reports how got differs from want, comparing values as JSON
// values: "" when they hold the same.
func sameSettings(want, got map[string]json.RawMessage) string {
	decode := func(m map[string]json.RawMessage) map[string]any {
		out := make(map[string]any, len(m))
		for k, v := range m {
			var x any
			if err := json.Unmarshal(v, &x); err != nil {
				x = "not JSON: " + string(v)
			}
			out[k] = x
		}
		return out
	}
	return cmp.Diff(decode(want), decode(got))
}

// checkSettings fails t when c's settings do not hold want's, as JSON
// values; and when they are not nil for none.
func checkSettings(t *testing.T, call string, c *store.Connection, want map[string]json.RawMessage) {
	t.Helper()
	if c == nil {
		t.Errorf("%s returned no connection", call)
		return
	}
	if len(want) == 0 {
		if c.Settings != nil {
			t.Errorf("%s Settings = %s, want nil", call, show(c.Settings))
		}
		return
	}
	if diff := sameSettings(want, c.Settings); diff != "" {
		t.Errorf("%s Settings mismatch (-want +got):\n%s", call, diff)
	}
}

func show(m map[string]json.RawMessage) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + string(m[k]) + " ")
	}
	return b.String()
}

// readBack checks that Connection and Connections return id's settings as
// want holds them.
func readBack(t *testing.T, s store.Store, id string, want map[string]json.RawMessage) {
	t.Helper()
	got, err := s.Connection(ctx, tenant, id)
	if err != nil {
		t.Fatalf("Connection(%s) = %v", id, err)
	}
	checkSettings(t, "Connection("+id+")", got, want)
	list, _, err := s.Connections(ctx, tenant, "", store.Page{Limit: 100})
	if err != nil {
		t.Fatalf("Connections() = %v", err)
	}
	for _, c := range list {
		if c.ID == id {
			checkSettings(t, "Connections() item "+id, c, want)
			return
		}
	}
	t.Errorf("Connections() lacks %s", id)
}

func testSettingsCreateAndRead(t *testing.T, s store.Store) {
	c := &store.Connection{ID: "contosohr", Name: "Contoso HR", Settings: todaysSettings()}
	if err := s.CreateConnection(ctx, tenant, c); err != nil {
		t.Fatalf("CreateConnection() = %v", err)
	}
	checkSettings(t, "CreateConnection()", c, todaysSettings())
	readBack(t, s, "contosohr", todaysSettings())

	// Every store returns the same bytes: the canonical form.
	got, err := s.Connection(ctx, tenant, "contosohr")
	if err != nil {
		t.Fatalf("Connection() = %v", err)
	}
	for _, from := range []struct {
		call string
		m    map[string]json.RawMessage
	}{{"CreateConnection()", c.Settings}, {"Connection()", got.Settings}} {
		gotText := make(map[string]string, len(from.m))
		for k, v := range from.m {
			gotText[k] = string(v)
		}
		if diff := cmp.Diff(canonical, gotText); diff != "" {
			t.Errorf("%s Settings not in the canonical form (-want +got):\n%s", from.call, diff)
		}
	}

	// None reads back as nil, whether nil, empty or all null when created.
	for id, m := range map[string]map[string]json.RawMessage{
		"nonenil":   nil,
		"noneempty": {},
		"nonenull":  settings("connectorId", "null", "contentCategory", " null "),
	} {
		c := &store.Connection{ID: id, Name: id, Settings: m}
		if err := s.CreateConnection(ctx, tenant, c); err != nil {
			t.Fatalf("CreateConnection(%s) = %v", id, err)
		}
		checkSettings(t, "CreateConnection("+id+")", c, nil)
		readBack(t, s, id, nil)
	}

	// Properties whose value is null are not kept.
	m := settings("connectorId", `"x"`, "contentCategory", "null")
	if err := s.CreateConnection(ctx, tenant, &store.Connection{ID: "somenull", Name: "x", Settings: m}); err != nil {
		t.Fatalf("CreateConnection(somenull) = %v", err)
	}
	readBack(t, s, "somenull", settings("connectorId", `"x"`))
}

func testSettingsUpdateReplaces(t *testing.T, s store.Store) {
	c := &store.Connection{ID: "contosohr", Name: "Contoso HR", Settings: todaysSettings()}
	if err := s.CreateConnection(ctx, tenant, c); err != nil {
		t.Fatalf("CreateConnection() = %v", err)
	}
	got, err := s.UpdateConnection(ctx, tenant, "contosohr", store.ConnectionUpdate{
		Settings: settings("contentCategory", `"wiki"`, "configuration", `{"authorizedAppIds":["a3"]}`),
	})
	if err != nil {
		t.Fatalf("UpdateConnection(settings) = %v", err)
	}
	want := todaysSettings()
	want["contentCategory"] = json.RawMessage(`"wiki"`)
	want["configuration"] = json.RawMessage(`{"authorizedAppIds":["a3"]}`)
	checkSettings(t, "UpdateConnection(settings)", got, want)
	if got.Version <= c.Version || got.Name != c.Name {
		t.Errorf("UpdateConnection(settings) = version %d, name %q; want a version above %d, the name kept", got.Version, got.Name, c.Version)
	}
	readBack(t, s, "contosohr", want)

	// A value replaces the stored one whole: objects are not merged, and
	// the nulls within a value stay.
	got, err = s.UpdateConnection(ctx, tenant, "contosohr", store.ConnectionUpdate{
		Settings: settings("activitySettings", `{"other":{"a":null}}`, "searchSettings", `[1,2]`),
	})
	if err != nil {
		t.Fatalf("UpdateConnection(objects) = %v", err)
	}
	want["activitySettings"] = json.RawMessage(`{"other":{"a":null}}`)
	want["searchSettings"] = json.RawMessage(`[1,2]`)
	checkSettings(t, "UpdateConnection(objects)", got, want)
	readBack(t, s, "contosohr", want)

	// A property the connection did not have is added.
	got, err = s.UpdateConnection(ctx, tenant, "contosohr", store.ConnectionUpdate{Settings: settings("newProperty", `true`)})
	if err != nil {
		t.Fatalf("UpdateConnection(new property) = %v", err)
	}
	want["newProperty"] = json.RawMessage(`true`)
	checkSettings(t, "UpdateConnection(new property)", got, want)

	// A connection created without settings gets some.
	mustCreateConnection(t, s, "bare")
	got, err = s.UpdateConnection(ctx, tenant, "bare", store.ConnectionUpdate{Settings: settings("connectorId", `"c1"`)})
	if err != nil {
		t.Fatalf("UpdateConnection(bare) = %v", err)
	}
	checkSettings(t, "UpdateConnection(bare)", got, settings("connectorId", `"c1"`))
	readBack(t, s, "bare", settings("connectorId", `"c1"`))
}

func testSettingsNullRemoves(t *testing.T, s store.Store) {
	c := &store.Connection{ID: "contosohr", Name: "Contoso HR", Settings: todaysSettings()}
	if err := s.CreateConnection(ctx, tenant, c); err != nil {
		t.Fatalf("CreateConnection() = %v", err)
	}
	want := todaysSettings()
	got, err := s.UpdateConnection(ctx, tenant, "contosohr", store.ConnectionUpdate{
		Settings: settings("connectorId", "null", "contentCategory", `"wiki"`, "missing", "null"),
	})
	if err != nil {
		t.Fatalf("UpdateConnection(null) = %v", err)
	}
	delete(want, "connectorId")
	want["contentCategory"] = json.RawMessage(`"wiki"`)
	checkSettings(t, "UpdateConnection(null)", got, want)
	readBack(t, s, "contosohr", want)

	// A nil json.RawMessage is null too.
	got, err = s.UpdateConnection(ctx, tenant, "contosohr", store.ConnectionUpdate{Settings: map[string]json.RawMessage{"searchSettings": nil}})
	if err != nil {
		t.Fatalf("UpdateConnection(nil value) = %v", err)
	}
	delete(want, "searchSettings")
	checkSettings(t, "UpdateConnection(nil value)", got, want)

	// Removing every property leaves none: nil.
	all := map[string]json.RawMessage{}
	for k := range want {
		all[k] = json.RawMessage("null")
	}
	got, err = s.UpdateConnection(ctx, tenant, "contosohr", store.ConnectionUpdate{Settings: all})
	if err != nil {
		t.Fatalf("UpdateConnection(all null) = %v", err)
	}
	checkSettings(t, "UpdateConnection(all null)", got, nil)
	readBack(t, s, "contosohr", nil)
}

func testSettingsOtherUpdatesKeepThem(t *testing.T, s store.Store) {
	c := &store.Connection{ID: "contosohr", Name: "Contoso HR", Settings: todaysSettings()}
	if err := s.CreateConnection(ctx, tenant, c); err != nil {
		t.Fatalf("CreateConnection() = %v", err)
	}
	version := c.Version
	for _, u := range []struct {
		name string
		u    store.ConnectionUpdate
	}{
		{"name", store.ConnectionUpdate{Name: ptr("Renamed")}},
		{"nothing", store.ConnectionUpdate{}},
		{"empty settings", store.ConnectionUpdate{Settings: map[string]json.RawMessage{}}},
	} {
		got, err := s.UpdateConnection(ctx, tenant, "contosohr", u.u)
		if err != nil {
			t.Fatalf("UpdateConnection(%s) = %v", u.name, err)
		}
		checkSettings(t, "UpdateConnection("+u.name+")", got, todaysSettings())
		if got.Version <= version {
			t.Errorf("UpdateConnection(%s) = version %d, want above %d", u.name, got.Version, version)
		}
		version = got.Version
	}
	readBack(t, s, "contosohr", todaysSettings())
}

func testSettingsIfMatch(t *testing.T, s store.Store) {
	c := &store.Connection{ID: "contosohr", Name: "Contoso HR", Settings: settings("connectorId", `"c1"`)}
	if err := s.CreateConnection(ctx, tenant, c); err != nil {
		t.Fatalf("CreateConnection() = %v", err)
	}
	got, err := s.UpdateConnection(ctx, tenant, "contosohr", store.ConnectionUpdate{Settings: settings("contentCategory", `"wiki"`), IfMatch: []int64{c.Version}})
	if err != nil {
		t.Fatalf("UpdateConnection(current If-Match) = %v", err)
	}
	want := settings("connectorId", `"c1"`, "contentCategory", `"wiki"`)
	checkSettings(t, "UpdateConnection(current If-Match)", got, want)

	_, err = s.UpdateConnection(ctx, tenant, "contosohr", store.ConnectionUpdate{
		Settings: settings("connectorId", "null", "contentCategory", `"other"`), IfMatch: []int64{c.Version},
	})
	wantKind(t, "UpdateConnection(stale If-Match)", err, store.PreconditionFailed)
	readBack(t, s, "contosohr", want)
	if cur, err := s.Connection(ctx, tenant, "contosohr"); err != nil || cur.Version != got.Version {
		t.Errorf("after a failed If-Match, Connection() = %+v, %v; want version %d", cur, err, got.Version)
	}

	_, err = s.UpdateConnection(ctx, tenant, "missing", store.ConnectionUpdate{Settings: settings("connectorId", `"c1"`)})
	wantKind(t, "UpdateConnection(missing)", err, store.NotFound)
}

func testSettingsNested(t *testing.T, s store.Store) {
	const nested = `{
		"arrays": [[1, 2, [3]], [], [{"deep": {"deeper": [true, false, null]}}]],
		"numbers": [0, -1, 1.5, 1.50, -2.25e-3, 123456789012345678901234567890, 9007199254740993],
		"empty": {}, "nothing": null, "text": "a\"b\\c/d\n\t",
		"objects": {"z": 1, "a": {"y": [], "b": {}}}
	}`
	const want = `{"arrays":[[1,2,[3]],[],[{"deep":{"deeper":[true,false,null]}}]],` +
		`"empty":{},"nothing":null,` +
		`"numbers":[0,-1,1.5,1.50,%s,123456789012345678901234567890,9007199254740993],` +
		`"objects":{"a":{"b":{},"y":[]},"z":1},"text":"a\"b\\c/d\n\t"}`
	c := &store.Connection{ID: "contosohr", Name: "Contoso HR", Settings: settings("configuration", nested)}
	if err := s.CreateConnection(ctx, tenant, c); err != nil {
		t.Fatalf("CreateConnection() = %v", err)
	}
	readBack(t, s, "contosohr", settings("configuration", nested))
	got, err := s.Connection(ctx, tenant, "contosohr")
	if err != nil {
		t.Fatalf("Connection() = %v", err)
	}
	// SQLite keeps the spelling of numbers; PostgreSQL writes them out.
	if g := string(got.Settings["configuration"]); g != strings.Replace(want, "%s", "-2.25e-3", 1) && g != strings.Replace(want, "%s", "-0.00225", 1) {
		t.Errorf("Connection() configuration =\n%s\nwant\n%s", g, want)
	}

	// Through an update as well, beside the value as it was.
	upd, err := s.UpdateConnection(ctx, tenant, "contosohr", store.ConnectionUpdate{Settings: settings("searchSettings", nested)})
	if err != nil {
		t.Fatalf("UpdateConnection() = %v", err)
	}
	checkSettings(t, "UpdateConnection()", upd, settings("configuration", nested, "searchSettings", nested))
	if diff := cmp.Diff(string(got.Settings["configuration"]), string(upd.Settings["searchSettings"])); diff != "" {
		t.Errorf("a value set by UpdateConnection reads other than the same set by CreateConnection (-create +update):\n%s", diff)
	}
	readBack(t, s, "contosohr", settings("configuration", nested, "searchSettings", nested))
}

func testSettingsUnicode(t *testing.T, s store.Store) {
	given := settings(
		"connectorId", `"Контосо 中文 עברית é 😀"`,
		"contentCategory", `"\u00e9\u4e2d\ud83d\ude00 \u2028"`,
		"configuration", `{"ключ": ["<&>", "\u003c"], "中": {"😀": "ü"}}`,
		"a.b", `1`,
		`we"ird\key`, `2`,
		"ключ", `"значение"`,
		"<&>", `3`,
		"", `4`,
	)
	canon := map[string]string{
		"connectorId":     `"Контосо 中文 עברית é 😀"`,
		"contentCategory": `"é中😀 \u2028"`,
		"configuration":   `{"ключ":["<&>","<"],"中":{"😀":"ü"}}`,
		"a.b":             `1`,
		`we"ird\key`:      `2`,
		"ключ":            `"значение"`,
		"<&>":             `3`,
		"":                `4`,
	}
	c := &store.Connection{ID: "contosohr", Name: "Contoso HR", Settings: given}
	if err := s.CreateConnection(ctx, tenant, c); err != nil {
		t.Fatalf("CreateConnection() = %v", err)
	}
	readBack(t, s, "contosohr", given)
	got, err := s.Connection(ctx, tenant, "contosohr")
	if err != nil {
		t.Fatalf("Connection() = %v", err)
	}
	gotText := map[string]string{}
	for k, v := range got.Settings {
		gotText[k] = string(v)
	}
	if diff := cmp.Diff(canon, gotText); diff != "" {
		t.Errorf("Connection() Settings mismatch (-want +got):\n%s", diff)
	}

	// Names out of the ordinary are replaced and removed by name.
	upd, err := s.UpdateConnection(ctx, tenant, "contosohr", store.ConnectionUpdate{Settings: settings(
		"a.b", `"b"`, `we"ird\key`, "null", "ключ", `"новое"`, "<&>", "null", "", `"empty"`, "中", `"new"`,
	)})
	if err != nil {
		t.Fatalf("UpdateConnection() = %v", err)
	}
	want := settings(
		"connectorId", string(given["connectorId"]),
		"contentCategory", string(given["contentCategory"]),
		"configuration", string(given["configuration"]),
		"a.b", `"b"`, "ключ", `"новое"`, "", `"empty"`, "中", `"new"`,
	)
	checkSettings(t, "UpdateConnection()", upd, want)
	readBack(t, s, "contosohr", want)
}

func testSettingsInvalid(t *testing.T, s store.Store) {
	for _, v := range []string{`{`, `"unterminated`, `nul`, `1 2`, `{'a': 1}`} {
		err := s.CreateConnection(ctx, tenant, &store.Connection{ID: "contosohr", Name: "x", Settings: settings("configuration", v)})
		wantKind(t, "CreateConnection(settings "+v+")", err, store.Invalid)
	}
	if _, err := s.Connection(ctx, tenant, "contosohr"); store.KindOf(err) != store.NotFound {
		t.Errorf("after CreateConnection(invalid settings), Connection() = %v; want NotFound", err)
	}
	c := &store.Connection{ID: "contosohr", Name: "x", Settings: settings("connectorId", `"c1"`)}
	if err := s.CreateConnection(ctx, tenant, c); err != nil {
		t.Fatalf("CreateConnection() = %v", err)
	}
	_, err := s.UpdateConnection(ctx, tenant, "contosohr", store.ConnectionUpdate{Settings: settings("connectorId", `"c2"`, "configuration", `[1,`)})
	wantKind(t, "UpdateConnection(invalid settings)", err, store.Invalid)
	readBack(t, s, "contosohr", settings("connectorId", `"c1"`))
	if cur, err := s.Connection(ctx, tenant, "contosohr"); err != nil || cur.Version != c.Version {
		t.Errorf("after UpdateConnection(invalid settings), Connection() = %+v, %v; want version %d", cur, err, c.Version)
	}
}

// An update may name many properties at once: more than SQLite takes
// arguments in one call of a function.
func testSettingsMany(t *testing.T, s store.Store) {
	mustCreateConnection(t, s, "contosohr")
	const n = 300
	set, want := map[string]json.RawMessage{}, map[string]json.RawMessage{}
	for i := range n {
		k := fmt.Sprintf("p%03d", i)
		set[k] = json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))
		want[k] = set[k]
	}
	got, err := s.UpdateConnection(ctx, tenant, "contosohr", store.ConnectionUpdate{Settings: set})
	if err != nil {
		t.Fatalf("UpdateConnection(%d properties) = %v", n, err)
	}
	checkSettings(t, "UpdateConnection(many properties)", got, want)

	// Remove the even ones, replace the odd ones.
	patch := map[string]json.RawMessage{}
	for i := range n {
		k := fmt.Sprintf("p%03d", i)
		if i%2 == 0 {
			patch[k] = json.RawMessage("null")
			delete(want, k)
		} else {
			patch[k] = json.RawMessage(fmt.Sprintf(`[%d]`, -i))
			want[k] = patch[k]
		}
	}
	got, err = s.UpdateConnection(ctx, tenant, "contosohr", store.ConnectionUpdate{Settings: patch})
	if err != nil {
		t.Fatalf("UpdateConnection(%d properties, half null) = %v", n, err)
	}
	checkSettings(t, "UpdateConnection(many properties, half null)", got, want)
	readBack(t, s, "contosohr", want)
}
