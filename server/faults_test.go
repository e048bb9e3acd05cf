package server

import (
	"strings"
	"testing"
)

func TestFaultRuleMatchesPaths(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"/v1.0/external/connections", "/v1.0/external/connections", true},
		{"/v1.0/external/connections", "/v1.0/external/connections/x", false},
		{"/v1.0/external/connections/*", "/v1.0/external/connections/x", true},
		{"/v1.0/external/connections/*", "/v1.0/external/connections", false},
		{"/v1.0/external/connections/*/items/*", "/v1.0/external/connections/c/items/i", true},
		{"/v1.0/**", "/v1.0", true},
		{"/v1.0/**", "/v1.0/external/connections/c/items/i", true},
		{"/v1.0/**", "/beta/external", false},
		{"/*/external/connections", "/beta/external/connections", true},
		{"/v1.0/external/connections/contoso*", "/v1.0/external/connections/contosohr", true},
	}
	for _, tt := range tests {
		r := &faultRule{paths: [][]string{strings.Split(tt.pattern, "/")}}
		if got := r.matches(&request{path: tt.path}); got != tt.want {
			t.Errorf("pattern %s matches(%s) = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
}

// The draws of a rule depend on the seed, the rule and the request's
// number only, and spread evenly.
func TestUnit(t *testing.T) {
	if unit(1, 0, 5, 0) != unit(1, 0, 5, 0) {
		t.Error("unit is not a function of its arguments")
	}
	for _, args := range [][4]uint64{{2, 0, 5, 0}, {1, 1, 5, 0}, {1, 0, 6, 0}, {1, 0, 5, 1}} {
		if unit(args[0], args[1], args[2], args[3]) == unit(1, 0, 5, 0) {
			t.Errorf("unit%v = unit(1, 0, 5, 0)", args)
		}
	}
	var buckets [10]int
	for n := range uint64(10000) {
		u := unit(42, 0, n, 0)
		if u < 0 || u >= 1 {
			t.Fatalf("unit(42, 0, %d, 0) = %v, want [0, 1)", n, u)
		}
		buckets[int(u*10)]++
	}
	for i, b := range buckets {
		if b < 900 || b > 1100 {
			t.Errorf("bucket %d holds %d of 10000 draws, want about 1000", i, b)
		}
	}
}
