package mail

import (
	"errors"
	netmail "net/mail"
	"strings"
)

// ErrInvalidAddress says how to write an address; people read it, so it is
// a sentence.
var ErrInvalidAddress = errors.New("Enter a valid email address, such as name@example.com.") //nolint:staticcheck // ST1005: shown to people as a sentence

// CanonicalAddress is an address as Convot keeps and compares it: a bare
// addr-spec (no display name), with a dot in its domain, at most 254
// bytes, lower-cased. Every surface that takes an address from a person
// (sign-up, invitations, the widget, privacy requests) checks it here, so
// an address matches its blind index wherever it was typed.
func CanonicalAddress(s string) (string, error) {
	s = strings.TrimSpace(s)
	addr, err := netmail.ParseAddress(s)
	if err != nil || addr.Address != s || len(s) > 254 || !strings.Contains(s[strings.LastIndex(s, "@")+1:], ".") {
		return "", ErrInvalidAddress
	}
	return strings.ToLower(s), nil
}
