package webhooks

import (
	netmail "net/mail"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/convot/convot/conversation"
	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/mail"
)

type postmarkAddress struct {
	Email       string `json:"Email"`
	Name        string `json:"Name"`
	MailboxHash string `json:"MailboxHash"`
}

type postmarkHeader struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

type postmarkAttachment struct {
	Name          string `json:"Name"`
	Content       string `json:"Content"`
	ContentType   string `json:"ContentType"`
	ContentLength int64  `json:"ContentLength"`
}

// postmarkInboundMail is Postmark's inbound JSON (the fields Convot reads).
type postmarkInboundMail struct {
	MessageID         string               `json:"MessageID"`
	From              string               `json:"From"`
	FromName          string               `json:"FromName"`
	FromFull          *postmarkAddress     `json:"FromFull"`
	To                string               `json:"To"`
	ToFull            []postmarkAddress    `json:"ToFull"`
	Cc                string               `json:"Cc"`
	CcFull            []postmarkAddress    `json:"CcFull"`
	OriginalRecipient string               `json:"OriginalRecipient"`
	MailboxHash       string               `json:"MailboxHash"`
	Subject           string               `json:"Subject"`
	TextBody          string               `json:"TextBody"`
	HtmlBody          string               `json:"HtmlBody"`
	StrippedTextReply string               `json:"StrippedTextReply"`
	Headers           []postmarkHeader     `json:"Headers"`
	Attachments       []postmarkAttachment `json:"Attachments"`
}

// header is the value of the mail's first header of that name (in any
// case), or empty.
func (m *postmarkInboundMail) header(name string) string {
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// sender is the From address (lowercased) and display name.
func (m *postmarkInboundMail) sender() (string, string, bool) {
	addr, name := "", m.FromName
	if m.FromFull != nil && m.FromFull.Email != "" {
		addr, name = m.FromFull.Email, m.FromFull.Name
	} else if a, err := netmail.ParseAddress(m.From); err == nil {
		addr = a.Address
		if name == "" {
			name = a.Name
		}
	}
	addr, err := mail.CanonicalAddress(addr)
	if err != nil {
		return "", "", false
	}
	return addr, site.TruncateRunes(strings.TrimSpace(cleanMailText(name)), 200), true
}

// cleanMailText makes a mail's text storable: mail clients send what they
// like, and a mail refused is a mail lost, so invalid UTF-8 becomes U+FFFD
// and NUL characters are dropped rather than the mail refused.
func cleanMailText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// recipients are the addresses the mail was sent to, lowercased, each
// once: the original recipient first, then To and Cc.
func (m *postmarkInboundMail) recipients() []string {
	var out []string
	add := func(a string) {
		a = strings.ToLower(strings.TrimSpace(a))
		if a != "" && len(a) <= 254 && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	if a, err := netmail.ParseAddress(m.OriginalRecipient); err == nil {
		add(a.Address)
	}
	for _, full := range [][]postmarkAddress{m.ToFull, m.CcFull} {
		for _, a := range full {
			add(a.Email)
		}
	}
	for _, list := range []string{m.To, m.Cc} {
		if addrs, err := netmail.ParseAddressList(list); err == nil {
			for _, a := range addrs {
				add(a.Address)
			}
		}
	}
	return out
}

// messageID is the mail's Message-ID, or one made of Postmark's ID of the
// mail (stable when Postmark delivers it again).
func (m *postmarkInboundMail) messageID() string {
	if ids := mail.ParseMessageIDs(m.header("Message-ID")); len(ids) > 0 {
		return ids[len(ids)-1]
	}
	if id := strings.TrimSpace(m.MessageID); id != "" && len(id) <= 100 && !strings.ContainsAny(id, " <>@") {
		return "postmark." + id + "@inbound.postmarkapp.com"
	}
	return ""
}

// text is what the End User wrote: the reply without the quoted mail when
// Postmark could strip it, else the text part, else the HTML as text.
func (m *postmarkInboundMail) text() string {
	text := strings.TrimSpace(m.StrippedTextReply)
	if text == "" {
		text = strings.TrimSpace(m.TextBody)
	}
	if text == "" && m.HtmlBody != "" {
		text = mail.HTMLToText(m.HtmlBody)
	}
	text = cleanMailText(strings.ReplaceAll(text, "\r\n", "\n"))
	if utf8.RuneCountInString(text) > conversation.MaxMessageRunes {
		const note = "\n\n[The rest of this email was cut: it is longer than a message may be.]"
		r := []rune(text)
		text = string(r[:conversation.MaxMessageRunes-utf8.RuneCountInString(note)]) + note
	}
	return text
}
