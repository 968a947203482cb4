package site

import (
	"encoding/hex"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Checks of text that people type and operators later read, shared by the
// forms and the widget API.

// Printable refuses control characters (incl. bidi overrides) in
// identifiers an operator will read.
func Printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}

// TruncateRunes cuts s to at most n bytes without splitting a character,
// dropping invalid UTF-8.
func TruncateRunes(s string, n int) string {
	if len(s) <= n {
		return strings.ToValidUTF8(s, "")
	}
	s = s[:n]
	for !utf8.ValidString(s) && len(s) > 0 {
		s = s[:len(s)-1]
	}
	return s
}

// ValidColor accepts #rrggbb.
func ValidColor(s string) bool {
	if len(s) != 7 || s[0] != '#' {
		return false
	}
	_, err := hex.DecodeString(s[1:])
	return err == nil
}
