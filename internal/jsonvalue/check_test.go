package jsonvalue

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	deep := strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)
	okDeep := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	tests := []struct {
		name, body, wantInErr string
	}{
		{"object", `{"status":"failed","error":{"message":"m","details":[{"source":"a"},{"source":"b"}]}}`, ""},
		{"same key in sibling objects", `{"details":[{"source":"a"},{"source":"b"}]}`, ""},
		{"same key at two levels", `{"error":{"error":1}}`, ""},
		{"nesting at the limit", okDeep, ""},
		{"empty object", `{}`, ""},
		{"duplicate key", `{"status":"failed","status":"completed"}`, "'status' appears more than once"},
		{"duplicate nested key", `{"error":{"message":"a","details":[],"message":"b"}}`, "'message' appears more than once"},
		{"duplicate key after an array value", `{"a":[1,{"b":2}],"a":3}`, "'a' appears more than once"},
		{"too deep", deep, "nests deeper"},
		{"NUL in a value", `{"message":"a\u0000b"}`, "NUL"},
		{"NUL in a key", `{"a\u0000":1}`, "NUL"},
		{"invalid UTF-8", "{\"status\":\"\xff\xfe\"}", "UTF-8"},
		{"truncated", `{"status":`, "not valid JSON"},
		{"two documents", `{} {}`, "not valid JSON"},
		{"empty", ``, "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check([]byte(tt.body), nil)
			if tt.wantInErr == "" {
				if err != nil {
					t.Errorf("Check(%s) = %v, want nil", tt.body, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("Check(%s) = %v, want an error containing %q", tt.body, err, tt.wantInErr)
			}
		})
	}
}
