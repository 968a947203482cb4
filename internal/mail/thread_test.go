package mail

import (
	"reflect"
	"strings"
	"testing"
)

const inbound = "inbound.convot.test"

func TestReplyAddressRoundTrip(t *testing.T) {
	token := NewReplyToken()
	if !ValidReplyToken(token) {
		t.Fatalf("token %q", token)
	}
	if other := NewReplyToken(); other == token {
		t.Fatal("two tokens alike")
	}
	addr := ReplyAddress(token, inbound)
	for _, form := range []string{addr, "<" + addr + ">", `"Acme Support" <` + addr + `>`, strings.ToUpper(addr)} {
		got, ok := ParseReplyAddress(form, inbound)
		if !ok || got != token {
			t.Fatalf("%q: %q %v", form, got, ok)
		}
	}
	if _, ok := ParseTaggedAddress(UnsubscribeAddress(token, inbound), "reply", inbound); ok {
		t.Fatal("an unsubscribe address read as a reply address")
	}
	if got, ok := ParseTaggedAddress(UnsubscribeAddress(token, inbound), "unsubscribe", inbound); !ok || got != token {
		t.Fatal("unsubscribe address not read")
	}
}

func TestParseReplyAddressRefusesLookalikes(t *testing.T) {
	token := NewReplyToken()
	for _, addr := range []string{
		"",
		"reply@" + inbound,
		"reply+@" + inbound,
		"reply+" + token + "@evil.test",
		"reply+" + token + "@" + inbound + ".evil.test",
		"reply+" + token[:31] + "@" + inbound,
		"reply+" + token + "0@" + inbound,
		"reply+" + strings.Replace(token, token[:1], "g", 1) + "@" + inbound,
		"replyx+" + token + "@" + inbound,
		"reply+" + token + "+x@" + inbound,
		"reply+../" + token[3:] + "@" + inbound,
		"support@acme.test",
		"reply+" + token + "@" + inbound + ", other@x.test",
	} {
		if got, ok := ParseReplyAddress(addr, inbound); ok {
			t.Fatalf("%q read as token %q", addr, got)
		}
	}
}

func TestParseMessageIDs(t *testing.T) {
	for header, want := range map[string][]string{
		"<a@b>":                          {"a@b"},
		" <a@b>  <c.d@e.f>\r\n\t<a@b> ":  {"a@b", "c.d@e.f"},
		"<a@b> (comment <x@y>) <c@d>":    {"a@b", "c@d"},
		"a@b, c@d":                       {"a@b", "c@d"},
		"<no-at-sign> <@b> <a@> <a b@c>": nil,
		"<ok@x> <unterminated@y":         {"ok@x", "unterminated@y"},
		"":                               nil,
		"(((":                            nil,
	} {
		got := ParseMessageIDs(header)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: %q, want %q", header, got, want)
		}
	}
	var long []string
	for i := range MaxReferences + 5 {
		long = append(long, NewMessageID(inbound)+string(rune('a'+i%26)))
	}
	got := ParseMessageIDs(FormatMessageIDs(long))
	if !reflect.DeepEqual(got, long[5:]) {
		t.Fatalf("the closest %d ancestors are kept: %d ids", MaxReferences, len(got))
	}
}

func TestThreadHeaders(t *testing.T) {
	h := ThreadHeaders("new@d", nil)
	if h["Message-ID"] != "<new@d>" || h["In-Reply-To"] != "" || h["References"] != "" {
		t.Fatalf("%v", h)
	}
	h = ThreadHeaders("new@d", []string{"one@d", "two@d"})
	if h["In-Reply-To"] != "<two@d>" || h["References"] != "<one@d> <two@d>" {
		t.Fatalf("%v", h)
	}
	if ids := ParseMessageIDs(h["References"]); !reflect.DeepEqual(ids, []string{"one@d", "two@d"}) {
		t.Fatalf("%v", ids)
	}
}

// FuzzParseReplyAddress: no input panics; whatever is accepted is a
// well-formed token that makes the same address again.
func FuzzParseReplyAddress(f *testing.F) {
	token := "0123456789abcdef0123456789abcdef"
	for _, seed := range []string{
		ReplyAddress(token, inbound), "<" + ReplyAddress(token, inbound) + ">", `"X" <REPLY+` + strings.ToUpper(token) + "@" + inbound + ">",
		"reply+@" + inbound, "reply+" + token + "@evil.test", "", "@", "+@", "reply+" + token, "=?utf-8?q?x?= <a@b>", "reply+" + token + "@" + inbound + "\x00",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		got, ok := ParseReplyAddress(addr, inbound)
		if !ok {
			if got != "" {
				t.Fatalf("refused with token %q", got)
			}
			return
		}
		if !ValidReplyToken(got) {
			t.Fatalf("accepted malformed token %q from %q", got, addr)
		}
		again, ok := ParseReplyAddress(ReplyAddress(got, inbound), inbound)
		if !ok || again != got {
			t.Fatalf("round trip of %q", got)
		}
	})
}

// FuzzParseMessageIDs: no input panics; every id read is well-formed,
// bounded, unique, and survives formatting and parsing again.
func FuzzParseMessageIDs(f *testing.F) {
	for _, seed := range []string{
		"<a@b>", "<a@b> <c@d>", "a@b, c@d", "(comment) <a@b>", "<a@b", "<<>>", "((((", "<a@b>\r\n\t<c@d>",
		"<convot.0123456789abcdef0123456789abcdef@inbound.convot.test>", strings.Repeat("<x@y> ", 30),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		ids := ParseMessageIDs(header)
		if len(ids) > MaxReferences {
			t.Fatalf("%d ids", len(ids))
		}
		seen := map[string]bool{}
		for _, id := range ids {
			if !validMessageID(id) || seen[id] {
				t.Fatalf("bad or repeated id %q", id)
			}
			seen[id] = true
		}
		if again := ParseMessageIDs(FormatMessageIDs(ids)); !reflect.DeepEqual(again, ids) && len(ids) > 0 {
			t.Fatalf("round trip: %q became %q", ids, again)
		}
	})
}
