package store

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidateSchema(t *testing.T) {
	str, col, num, date := TypeString, TypeStringCollection, TypeInt64, TypeDateTime
	tests := []struct {
		name        string
		props       []Property
		wantSources []string // nil: valid
		wantInMsg   string
	}{
		{"valid", []Property{
			{Name: "title", Type: str, IsSearchable: true, IsRetrievable: true, Labels: []string{"title"}},
			{Name: "tags", Type: col, IsSearchable: true, IsQueryable: true},
			{Name: "ticketId", Type: str, IsQueryable: true, IsExactMatchRequired: true, Aliases: []string{"ID"}},
			{Name: "priority", Type: num, IsQueryable: true, IsRefinable: true},
			{Name: "created", Type: date, IsRetrievable: true, Labels: []string{"createdDateTime"}},
			{Name: "authors", Type: col, IsRetrievable: true, Labels: []string{"authors"}},
		}, nil, ""},
		{"duplicate name in another case", []Property{{Name: "title", Type: str}, {Name: "Title", Type: str}},
			[]string{"properties/1"}, "'Title'"},
		{"alias equal to a name", []Property{{Name: "title", Type: str}, {Name: "subject", Type: str, Aliases: []string{"TITLE"}}},
			[]string{"properties/1"}, "'TITLE'"},
		{"searchable number", []Property{{Name: "n", Type: num, IsSearchable: true}},
			[]string{"properties/0/isSearchable"}, "searchable"},
		{"searchable and refinable", []Property{{Name: "s", Type: str, IsSearchable: true, IsRefinable: true}},
			[]string{"properties/0/isRefinable"}, "both searchable and refinable"},
		{"exact match on a searchable string", []Property{{Name: "s", Type: str, IsSearchable: true, IsExactMatchRequired: true}},
			[]string{"properties/0/isExactMatchRequired"}, "exact match"},
		{"exact match on a number", []Property{{Name: "n", Type: num, IsExactMatchRequired: true}},
			[]string{"properties/0/isExactMatchRequired"}, "exact match"},
		{"label twice", []Property{{Name: "a", Type: str, IsRetrievable: true, Labels: []string{"title"}}, {Name: "b", Type: str, IsRetrievable: true, Labels: []string{"title"}}},
			[]string{"properties/1/labels"}, "already on property 'a'"},
		{"label on the wrong type", []Property{{Name: "a", Type: str, IsRetrievable: true, Labels: []string{"createdDateTime"}}},
			[]string{"properties/0/labels"}, "type string"},
		{"a label on a property that is not retrievable", []Property{{Name: "a", Type: str, Labels: []string{"title"}}},
			[]string{"properties/0/isRetrievable"}, "must be retrievable"},
		{"a refinable boolean", []Property{{Name: "b", Type: TypeBoolean, IsRefinable: true}},
			[]string{"properties/0/isRefinable"}, "RefinerShouldNotBeOfType"},
		{"several rules broken", []Property{{Name: "n", Type: num, IsSearchable: true}, {Name: "N", Type: num}},
			[]string{"properties/0/isSearchable", "properties/1"}, "'N'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ValidateSchema(&Schema{BaseType: "microsoft.graph.externalItem", Properties: tt.props})
			if tt.wantSources == nil {
				if got != nil {
					t.Errorf("ValidateSchema() = %+v, want nil", got)
				}
				return
			}
			if got == nil {
				t.Fatalf("ValidateSchema() = nil, want an error at %v", tt.wantSources)
			}
			var sources []string
			for _, d := range got.Details {
				sources = append(sources, d.Source)
			}
			if diff := cmp.Diff(tt.wantSources, sources); diff != "" || got.Code != "InvalidSchema" || !strings.Contains(got.Message, tt.wantInMsg) {
				t.Errorf("ValidateSchema() = %+v; want code InvalidSchema, a message with %q, sources diff (-want +got):\n%s", got, tt.wantInMsg, diff)
			}
		})
	}
}

func TestValidateConnectionID(t *testing.T) {
	tests := []struct {
		id   string
		want Kind // Internal means valid
	}{
		{"abc", Internal}, {"contosohr", Internal}, {"a1b2c3", Internal}, {strings.Repeat("x", 32), Internal},
		{"ab", Invalid}, {strings.Repeat("x", 33), Invalid}, {"contoso-hr", Invalid}, {"contoso hr", Invalid}, {"", Invalid},
		{"Microsoft", Invalid}, {"microsoftHR", Invalid}, {"MICROSOFT1", Invalid},
		{"None", Invalid}, {"directory", Invalid}, {"EXCHANGE", Invalid}, {"ExchangeArchive", Invalid}, {"LinkedIn", Invalid},
		{"Mailbox", Invalid}, {"OneDriveBusiness", Invalid}, {"SharePoint", Invalid}, {"Teams", Invalid}, {"Yammer", Invalid},
		{"Connectors", Invalid}, {"TaskFabric", Invalid}, {"PowerBI", Invalid}, {"Assistant", Invalid}, {"TopicEngine", Invalid},
		{"MSFT_All_Connectors", Invalid},
		{"Teams1", Internal}, {"MSFTAllConnectors", Internal},
	}
	for _, tt := range tests {
		err := ValidateConnectionID(tt.id)
		if (err == nil) != (tt.want == Internal) || (err != nil && KindOf(err) != tt.want) {
			t.Errorf("ValidateConnectionID(%q) = %v, want kind %v (Internal: valid)", tt.id, err, tt.want)
		}
	}
}
