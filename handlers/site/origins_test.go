package site

import "testing"

func TestWidgetOriginParsing(t *testing.T) {
	for in, want := range map[string]string{
		"https://Example.com":      "https://example.com",
		"https://example.com:443/": "https://example.com",
		"http://example.com:80":    "http://example.com",
		"http://localhost:3000":    "http://localhost:3000",
		"https://*.Example.com":    "https://*.example.com",
		"https://[::1]:8443":       "https://[::1]:8443",
		"ftp://example.com":        "",
		"https://example.com/path": "",
		"https://user@example.com": "",
		"https://example.com?x=1":  "",
		"example.com":              "",
		"null":                     "",
		"https://*":                "",
		"https://exa*mple.com":     "",
	} {
		got, ok := NormalizeOriginPattern(in)
		if (want == "") == ok || got != want {
			t.Errorf("NormalizeOriginPattern(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if !OriginMatches("https://*.example.com", "https://a.b.example.com") || OriginMatches("https://*.example.com", "https://example.com") ||
		OriginMatches("https://*.example.com", "http://a.example.com") || OriginMatches("https://*.example.com", "https://aexample.com") {
		t.Error("wildcard origins match wrongly")
	}
}
