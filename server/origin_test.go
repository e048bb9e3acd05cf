package server

import (
	"net/http"
	"strings"
	"testing"
)

func TestValidHost(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"graph.example.test", true},
		{"graph.example.test:8443", true},
		{"localhost", true},
		{"127.0.0.1:8080", true},
		{"[::1]:8080", true},
		{"[2001:db8::1]", true},
		{"xn--bcher-kva.example", true},
		{"", false},
		{"evil.example/x", false},
		{"user@evil.example", false},
		{"evil.example:", false},
		{"evil.example:0", false},
		{"evil.example:65536", false},
		{"evil.example:+80", false},
		{"evil..example", false},
		{"-evil.example", false},
		{"evil_example", false},
		{"evil.example?x", false},
		{"[::1", false},
		{"[fe80::1%25eth0]:80", false},
		{"[127.0.0.1]", false},
		{"[::1]x", false},
		{"::1", false},
		{strings.Repeat("a", 64) + ".example", false},
	}
	for _, tt := range tests {
		if got := validHost(tt.host); got != tt.want {
			t.Errorf("validHost(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}

func TestNewOrigin(t *testing.T) {
	tests := []struct {
		publicURL string
		trusted   []string
		wantBase  string // "" when newOrigin must fail
	}{
		{"https://graph.example.test", nil, "https://graph.example.test"},
		{"HTTPS://graph.example.test/", nil, "https://graph.example.test"},
		{"http://127.0.0.1:8080/gc/", []string{"10.0.0.0/8", " 192.0.2.7", "::1", "2001:db8::/32"}, "http://127.0.0.1:8080/gc"},
		{"graph.example.test", nil, ""},
		{"ftp://graph.example.test", nil, ""},
		{"https://user:pw@graph.example.test", nil, ""},
		{"https://graph.example.test/?x=1", nil, ""},
		{"https://graph.example.test/#x", nil, ""},
		{"https:///path", nil, ""},
		{"https://graph.example.test", []string{"proxy.example"}, ""},
		{"https://graph.example.test", []string{"10.0.0.0/33"}, ""},
	}
	for _, tt := range tests {
		o, err := newOrigin(tt.publicURL, tt.trusted)
		switch {
		case tt.wantBase == "" && err == nil:
			t.Errorf("newOrigin(%q, %q) = %+v, want an error", tt.publicURL, tt.trusted, o)
		case tt.wantBase != "" && err != nil:
			t.Errorf("newOrigin(%q, %q) = %v, want base %s", tt.publicURL, tt.trusted, err, tt.wantBase)
		case tt.wantBase != "" && o.url(&http.Request{}) != tt.wantBase:
			t.Errorf("newOrigin(%q, %q).url() = %s, want %s", tt.publicURL, tt.trusted, o.url(&http.Request{}), tt.wantBase)
		}
	}
}
