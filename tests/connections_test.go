package tests

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var guid = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestCreateConnection(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name       string
		body       map[string]any
		wantStatus int
		wantCode   string
		wantInMsg  string
	}{
		{"valid", map[string]any{"id": "contosohr", "name": "Contoso HR", "description": "HR data"}, 201, "", ""},
		{"three characters", map[string]any{"id": "abc", "name": "n"}, 201, "", ""},
		{"thirty-two characters", map[string]any{"id": strings.Repeat("a", 32), "name": "n"}, 201, "", ""},
		{"with odata type", map[string]any{"@odata.type": "microsoft.graph.externalConnection", "id": "withtype", "name": "n"}, 201, "", ""},
		{"duplicate id", map[string]any{"id": "contosohr", "name": "Again"}, 409, "nameAlreadyExists", "'contosohr'"},
		{"two characters", map[string]any{"id": "ab", "name": "n"}, 400, "invalidRequest", "'id'"},
		{"thirty-three characters", map[string]any{"id": strings.Repeat("a", 33), "name": "n"}, 400, "invalidRequest", "'id'"},
		{"not alphanumeric", map[string]any{"id": "contoso-hr", "name": "n"}, 400, "invalidRequest", "'id'"},
		{"begins with Microsoft", map[string]any{"id": "MicrosoftHR", "name": "n"}, 400, "invalidRequest", "Microsoft"},
		{"begins with microsoft in lower case", map[string]any{"id": "microsofthr", "name": "n"}, 400, "invalidRequest", "Microsoft"},
		{"reserved", map[string]any{"id": "SharePoint", "name": "n"}, 400, "invalidRequest", "reserved"},
		{"reserved in another case", map[string]any{"id": "yammer", "name": "n"}, 400, "invalidRequest", "reserved"},
		{"no name", map[string]any{"id": "noname"}, 400, "invalidRequest", "name"},
		{"name too long", map[string]any{"id": "longname", "name": strings.Repeat("n", 129)}, 400, "invalidRequest", "'name'"},
		{"state is read-only", map[string]any{"id": "withstate", "name": "n", "state": "ready"}, 400, "invalidRequest", "'state'"},
		{"unknown property", map[string]any{"id": "unknown", "name": "n", "color": "blue"}, 400, "invalidRequest",
			"The property 'color' does not exist on type 'microsoft.graph.externalConnection'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.with(t)
			r := e.do(call{method: "POST", path: "/external/connections", body: tt.body})
			if r.status != tt.wantStatus {
				t.Fatalf("POST %v = %d %s, want %d", tt.body, r.status, r.body, tt.wantStatus)
			}
			if tt.wantStatus != http.StatusCreated {
				if code, msg := r.errorCode(t), r.errorMessage(t); code != tt.wantCode || !strings.Contains(msg, tt.wantInMsg) {
					t.Errorf("error = %s %q, want %s containing %q", code, msg, tt.wantCode, tt.wantInMsg)
				}
				return
			}
			want := map[string]any{
				"@odata.type": "#microsoft.graph.externalConnection", "id": tt.body["id"], "name": tt.body["name"],
				"description": "", "state": "draft",
			}
			if d, ok := tt.body["description"]; ok {
				want["description"] = d
			}
			if diff := cmp.Diff(want, r.entity(t)); diff != "" {
				t.Errorf("POST response mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
