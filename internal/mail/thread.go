package mail

import (
	"crypto/rand"
	"encoding/hex"
	netmail "net/mail"
	"strings"
)

// Threading: each conversation's mail says Reply-To reply+TOKEN@ the
// inbound domain (Postmark passes TOKEN as the MailboxHash), and carries a
// Message-ID of ours, In-Reply-To and References, so that mail clients
// thread it and replies find their conversation again.

// ReplyTokenLength is the length of a reply token: 32 lowercase hex digits,
// 128 random bits. Lowercase hex survives mail systems that fold the case
// of addresses.
const ReplyTokenLength = 32

// MaxReferences bounds the Message-IDs a References header carries and the
// Message-IDs read from one.
const MaxReferences = 20

// maxMessageIDLength bounds one Message-ID (RFC 5322 lines are at most 998
// characters).
const maxMessageIDLength = 250

// NewReplyToken returns a fresh reply token.
func NewReplyToken() string {
	var b [ReplyTokenLength / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// ValidReplyToken reports whether s has the form of a reply token.
func ValidReplyToken(s string) bool {
	if len(s) != ReplyTokenLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ReplyAddress is the Reply-To address of a conversation's mail.
func ReplyAddress(token, inboundDomain string) string {
	return "reply+" + token + "@" + inboundDomain
}

// UnsubscribeAddress is the mailto: target of a marketing mail's
// List-Unsubscribe header.
func UnsubscribeAddress(token, inboundDomain string) string {
	return "unsubscribe+" + token + "@" + inboundDomain
}

// ParseTaggedAddress reads an address of the form tag+TOKEN@inboundDomain
// (with or without a display name and angle brackets) and returns TOKEN,
// lowercased, when it is a well-formed token. Anything else is not ok.
func ParseTaggedAddress(addr, tag, inboundDomain string) (string, bool) {
	addr = strings.TrimSpace(addr)
	if addr == "" || len(addr) > 512 || inboundDomain == "" {
		return "", false
	}
	if a, err := netmail.ParseAddress(addr); err == nil {
		addr = a.Address
	} else if strings.ContainsAny(addr, " <>\"\r\n\t") {
		return "", false
	}
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || !strings.EqualFold(addr[at+1:], inboundDomain) {
		return "", false
	}
	local := addr[:at]
	prefix, token, ok := strings.Cut(local, "+")
	if !ok || !strings.EqualFold(prefix, tag) {
		return "", false
	}
	token = strings.ToLower(token)
	if !ValidReplyToken(token) {
		return "", false
	}
	return token, true
}

// ParseReplyAddress reads a conversation's reply address.
func ParseReplyAddress(addr, inboundDomain string) (string, bool) {
	return ParseTaggedAddress(addr, "reply", inboundDomain)
}

// NewMessageID returns a fresh Message-ID of ours (without angle brackets):
// random, so it says nothing about the conversation or its people.
func NewMessageID(domain string) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return "convot." + hex.EncodeToString(b[:]) + "@" + domain
}

// FormatMessageIDs writes Message-IDs as a header value: each in angle
// brackets, separated by spaces (In-Reply-To, References).
func FormatMessageIDs(ids []string) string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, "<"+id+">")
	}
	return strings.Join(out, " ")
}

// ParseMessageIDs reads the Message-IDs of a Message-ID, In-Reply-To or
// References header, in order, without angle brackets, each once. It
// accepts the bracketed form of RFC 5322 and, from careless senders, bare
// ids separated by spaces or commas; it skips comments, anything that is
// not left@right, ids that are too long or hold spaces or control
// characters, and reads at most MaxReferences ids, keeping the last ones
// (the closest ancestors).
func ParseMessageIDs(header string) []string {
	if len(header) > 64<<10 {
		header = header[len(header)-64<<10:]
	}
	var ids []string
	seen := map[string]bool{}
	add := func(id string) {
		id = strings.TrimSpace(id)
		if !validMessageID(id) || seen[id] {
			return
		}
		seen[id] = true
		ids = append(ids, id)
	}
	rest := header
	for rest != "" {
		switch rest[0] {
		case '<':
			end := strings.IndexByte(rest, '>')
			if end < 0 {
				add(rest[1:])
				rest = ""
				continue
			}
			add(rest[1:end])
			rest = rest[end+1:]
		case '(':
			// A comment, possibly nested; skipped whole.
			depth, i := 0, 0
			for ; i < len(rest); i++ {
				if rest[i] == '(' {
					depth++
				} else if rest[i] == ')' {
					depth--
					if depth == 0 {
						break
					}
				}
			}
			if i >= len(rest) {
				rest = ""
			} else {
				rest = rest[i+1:]
			}
		case ' ', '\t', '\r', '\n', ',':
			rest = rest[1:]
		default:
			end := strings.IndexAny(rest, " \t\r\n,<(")
			if end < 0 {
				end = len(rest)
			}
			add(rest[:end])
			rest = rest[end:]
		}
	}
	if len(ids) > MaxReferences {
		ids = ids[len(ids)-MaxReferences:]
	}
	return ids
}

func validMessageID(id string) bool {
	if id == "" || len(id) > maxMessageIDLength {
		return false
	}
	at := strings.LastIndexByte(id, '@')
	if at <= 0 || at == len(id)-1 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c <= ' ' || c >= 0x7f || c == '<' || c == '>' || c == '(' || c == ')' || c == ',' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// ThreadHeaders are the headers of a conversation's next mail: its own
// Message-ID, and In-Reply-To and References naming the mail before it in
// the thread (ancestors oldest first).
func ThreadHeaders(messageID string, ancestors []string) map[string]string {
	h := map[string]string{"Message-ID": "<" + messageID + ">"}
	if len(ancestors) > MaxReferences {
		ancestors = ancestors[len(ancestors)-MaxReferences:]
	}
	if n := len(ancestors); n > 0 {
		h["In-Reply-To"] = "<" + ancestors[n-1] + ">"
		h["References"] = FormatMessageIDs(ancestors)
	}
	return h
}
