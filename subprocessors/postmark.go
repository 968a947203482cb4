package subprocessors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	netmail "net/mail"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/policies"
)

// Subprocessor name and purposes of Postmark flows.
const (
	postmarkSubprocessor = "postmark"
	// postmarkTransactionalPurpose: security alerts, billing notifications,
	// invitations, password resets (policy §4).
	postmarkTransactionalPurpose = "essential.service.notifications.email"
	// postmarkMarketingPurpose: consent only; the registry does not
	// register Postmark for it, so the gate refuses marketing mail today.
	postmarkMarketingPurpose = "marketing.communications.email"

	postmarkDefaultBaseURL = "https://api.postmarkapp.com"
)

// PostmarkConfig configures a Postmark client.
type PostmarkConfig struct {
	// BaseURL is the API's base URL; empty is https://api.postmarkapp.com.
	BaseURL string
	// ServerToken is the Postmark server's API token; required.
	ServerToken string
	// HTTPClient is the client requests go through; nil is a client with a
	// 30-second timeout.
	HTTPClient *http.Client
	// Outbox, with no ServerToken, makes the client the embedded default:
	// it asks the gate exactly as it would before sending, then keeps
	// what would have been sent in the outbox (shown at the dev mailbox)
	// instead of calling Postmark, and keeps a refused message there too,
	// marked with the gate's reason.
	Outbox *mail.Outbox
}

// Postmark sends email through Postmark's HTTP API (POST /email). Each
// message is a flow to the gate: transactional mail for purpose
// essential.service.notifications.email on the "outbound" stream,
// marketing mail for marketing.communications.email on the "broadcast"
// stream. It is safe for concurrent use.
//
// Send takes the organization and the data subject (the recipient) of each
// message. Where a mail.Sender is wanted, Sender binds them:
// postmark.Sender(org, subject) is a mail.Sender, so a mailer written
// against mail.Sender (the dev outbox's interface) sends through Postmark
// unchanged.
type Postmark struct {
	gate   Gate
	base   string
	token  string
	http   *http.Client
	outbox *mail.Outbox
}

// NewPostmark returns a Postmark client. It sends nothing.
func NewPostmark(gate Gate, cfg PostmarkConfig) (*Postmark, error) {
	if gate == nil {
		return nil, errors.New("subprocessors: postmark: an egress gate is required")
	}
	if cfg.ServerToken == "" && cfg.Outbox == nil {
		return nil, errors.New("subprocessors: postmark: a server token is required")
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = postmarkDefaultBaseURL
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	p := &Postmark{gate: gate, base: base, token: cfg.ServerToken, http: hc}
	if cfg.ServerToken == "" {
		p.outbox = cfg.Outbox
	}
	return p, nil
}

// MailSender returns a mail.Sender that sends each message through p on
// behalf of its own Org, to its own Recipient (mail.Message.Org and
// .Recipient): the transport of the mailer every part of Convot uses.
func (p *Postmark) MailSender() mail.Sender { return postmarkMessageSender{p} }

type postmarkMessageSender struct{ postmark *Postmark }

// Send sends m as its own org and recipient say.
func (s postmarkMessageSender) Send(ctx context.Context, m mail.Message) error {
	_, err := s.postmark.Send(ctx, m.Org, m.Recipient, m)
	return err
}

// Sender returns a mail.Sender that sends through p on behalf of org, to
// the data subject described by subject.
func (p *Postmark) Sender(org policies.OrgContext, subject policies.SubjectContext) mail.Sender {
	return postmarkBoundSender{postmark: p, org: org, subject: subject}
}

type postmarkBoundSender struct {
	postmark *Postmark
	org      policies.OrgContext
	subject  policies.SubjectContext
}

var _ mail.Sender = postmarkBoundSender{}

// Send sends m; the Postmark message ID is dropped.
func (s postmarkBoundSender) Send(ctx context.Context, m mail.Message) error {
	_, err := s.postmark.Send(ctx, s.org, s.subject, m)
	return err
}

// PostmarkError is Postmark's refusal of a message: the HTTP status and
// Postmark's error code and message, with every address and name that was
// sent replaced by "[redacted]".
type PostmarkError struct {
	StatusCode int
	ErrorCode  int
	Message    string
}

func (e *PostmarkError) Error() string {
	return fmt.Sprintf("postmark: HTTP %d: error code %d: %s", e.StatusCode, e.ErrorCode, e.Message)
}

// postmarkEmail is the JSON body of POST /email.
type postmarkEmail struct {
	From          string           `json:"From"`
	To            string           `json:"To"`
	ReplyTo       string           `json:"ReplyTo,omitempty"`
	Subject       string           `json:"Subject"`
	TextBody      string           `json:"TextBody,omitempty"`
	HtmlBody      string           `json:"HtmlBody,omitempty"`
	Headers       []postmarkHeader `json:"Headers,omitempty"`
	MessageStream string           `json:"MessageStream"`
	Tag           string           `json:"Tag,omitempty"`
}

type postmarkHeader struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

type postmarkResponse struct {
	MessageID string `json:"MessageID"`
	ErrorCode int    `json:"ErrorCode"`
	Message   string `json:"Message"`
}

// postmarkAddressFields adds the fields of an address list to fields:
// prefix.N.address (user.contact.email) and, where a display name is given,
// prefix.N.name (user.name). It returns how many addresses there are.
func postmarkAddressFields(fields map[string]policies.Field, prefix, list string) (int, error) {
	if strings.TrimSpace(list) == "" {
		return 0, nil
	}
	addrs, err := netmail.ParseAddressList(list)
	if err != nil {
		// The parser's message can quote the address; it is not passed on.
		return 0, fmt.Errorf("subprocessors: postmark: %s is not a valid address list", prefix)
	}
	for i, a := range addrs {
		key := prefix + "." + strconv.Itoa(i)
		fields[key+".address"] = policies.Field{Category: "user.contact.email", Value: a.Address}
		if a.Name != "" {
			fields[key+".name"] = policies.Field{Category: "user.name", Value: a.Name}
		}
	}
	return len(addrs), nil
}

// postmarkAddressList rebuilds an address list from the allowed fields: an
// address that was withheld is left out, a name that was withheld leaves
// the bare address.
func postmarkAddressList(allowed map[string]policies.Field, prefix string, n int) string {
	var out []string
	for i := range n {
		key := prefix + "." + strconv.Itoa(i)
		addr, ok := appliedText(allowed, key+".address")
		if !ok {
			continue
		}
		name, _ := appliedText(allowed, key+".name")
		out = append(out, (&netmail.Address{Name: name, Address: addr}).String())
	}
	return strings.Join(out, ", ")
}

// Send sends msg on behalf of org to the data subject described by
// subject, and returns Postmark's message ID. It asks the gate first; a
// denied message sends nothing. Every field of the message is tagged with
// its data category (addresses user.contact.email, display names
// user.name, subject and bodies user.content.message, headers and tag
// system.operations) and only what the decision lets leave is sent; a
// message whose sender, recipients, subject or body would be withheld is
// not sent at all.
func (p *Postmark) Send(ctx context.Context, org policies.OrgContext, subject policies.SubjectContext, msg mail.Message) (string, error) {
	var purpose, stream string
	switch msg.Stream {
	case mail.Transactional, "":
		purpose, stream = postmarkTransactionalPurpose, "outbound"
	case mail.Marketing:
		purpose, stream = postmarkMarketingPurpose, "broadcast"
	default:
		return "", fmt.Errorf("subprocessors: postmark: unknown mail stream %q", msg.Stream)
	}
	if msg.Subject == "" || (msg.Text == "" && msg.HTML == "") {
		return "", errors.New("subprocessors: postmark: a subject and a body are required")
	}

	fields := map[string]policies.Field{
		"subject": {Category: "user.content.message", Value: msg.Subject},
	}
	nFrom, err := postmarkAddressFields(fields, "from", msg.From)
	if err != nil {
		return "", err
	}
	nTo, err := postmarkAddressFields(fields, "to", msg.To)
	if err != nil {
		return "", err
	}
	nReplyTo, err := postmarkAddressFields(fields, "reply_to", msg.ReplyTo)
	if err != nil {
		return "", err
	}
	if nFrom != 1 || nTo == 0 {
		return "", errors.New("subprocessors: postmark: one sender and at least one recipient are required")
	}
	if msg.Text != "" {
		fields["text_body"] = policies.Field{Category: "user.content.message", Value: msg.Text}
	}
	if msg.HTML != "" {
		fields["html_body"] = policies.Field{Category: "user.content.message", Value: msg.HTML}
	}
	headerNames := make([]string, 0, len(msg.Headers))
	for name, value := range msg.Headers {
		headerNames = append(headerNames, name)
		fields["header."+name] = policies.Field{Category: "system.operations", Value: value}
	}
	sort.Strings(headerNames)
	if msg.Tag != "" {
		fields["tag"] = policies.Field{Category: "system.operations", Value: msg.Tag}
	}

	d, err := authorize(ctx, p.gate, policies.Flow{
		Subprocessor: postmarkSubprocessor,
		Purpose:      purpose,
		Categories:   postmarkCategories(fields),
		Organization: org,
		Subject:      subject,
	})
	if err != nil {
		if p.outbox != nil {
			refused := msg
			refused.Refused = err.Error()
			if kerr := p.outbox.Send(ctx, refused); kerr != nil {
				return "", errors.Join(fmt.Errorf("postmark send: %w", err), kerr)
			}
		}
		return "", fmt.Errorf("postmark send: %w", err)
	}
	allowed := policies.Apply(d, fields)

	body := postmarkEmail{
		From:          postmarkAddressList(allowed, "from", nFrom),
		To:            postmarkAddressList(allowed, "to", nTo),
		ReplyTo:       postmarkAddressList(allowed, "reply_to", nReplyTo),
		MessageStream: stream,
	}
	body.Subject, _ = appliedText(allowed, "subject")
	body.TextBody, _ = appliedText(allowed, "text_body")
	body.HtmlBody, _ = appliedText(allowed, "html_body")
	body.Tag, _ = appliedText(allowed, "tag")
	for _, name := range headerNames {
		if v, ok := appliedText(allowed, "header."+name); ok {
			body.Headers = append(body.Headers, postmarkHeader{Name: name, Value: v})
		}
	}
	switch {
	case body.From == "":
		return "", fmt.Errorf("postmark send: %w: the decision withholds the sender: %s", ErrDenied, d.Reason)
	case body.To == "":
		return "", fmt.Errorf("postmark send: %w: the decision withholds the recipients: %s", ErrDenied, d.Reason)
	case body.Subject == "" || (body.TextBody == "" && body.HtmlBody == ""):
		return "", fmt.Errorf("postmark send: %w: the decision withholds the subject or body: %s", ErrDenied, d.Reason)
	}

	if p.outbox != nil {
		return p.keep(ctx, msg, body)
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return "", fmt.Errorf("subprocessors: postmark: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+"/email", bytes.NewReader(payload))
	if err != nil {
		return "", fmt.Errorf("subprocessors: postmark: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Postmark-Server-Token", p.token)
	resp, err := p.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("subprocessors: postmark send: %w", err)
	}
	defer func() { _ = resp.Body.Close() }() // read, not written: nothing to lose
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("subprocessors: postmark send: reading the response: %w", err)
	}
	var pr postmarkResponse
	jsonErr := json.Unmarshal(raw, &pr)
	if resp.StatusCode < 200 || resp.StatusCode > 299 || pr.ErrorCode != 0 {
		pe := &PostmarkError{StatusCode: resp.StatusCode, ErrorCode: pr.ErrorCode, Message: pr.Message}
		if jsonErr != nil || pe.Message == "" {
			pe.Message = http.StatusText(resp.StatusCode)
		}
		pe.Message = scrubEchoedValues(pe.Message, postmarkSentIdentities(fields, msg)...)
		return "", fmt.Errorf("subprocessors: postmark send: %w", pe)
	}
	if jsonErr != nil || pr.MessageID == "" {
		return "", errors.New("subprocessors: postmark send: the response holds no message ID")
	}
	return pr.MessageID, nil
}

// postmarkCategories are the distinct categories of fields, sorted.
func postmarkCategories(fields map[string]policies.Field) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range fields {
		if !seen[f.Category] {
			seen[f.Category] = true
			out = append(out, f.Category)
		}
	}
	sort.Strings(out)
	return out
}

// postmarkSentIdentities are the addresses and names of a message, as
// given and as parsed, longest first, so that an error message that
// quotes one of them can be scrubbed.
func postmarkSentIdentities(fields map[string]policies.Field, msg mail.Message) []string {
	out := []string{msg.From, msg.To, msg.ReplyTo}
	for _, f := range fields {
		if f.Category == "user.contact.email" || f.Category == "user.name" {
			if s, ok := f.Value.(string); ok {
				out = append(out, s)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// keep stores in the outbox what Postmark would have been sent (the
// allowed fields only), with the recipient's addresses as given when the
// decision kept them whole.
func (p *Postmark) keep(ctx context.Context, msg mail.Message, body postmarkEmail) (string, error) {
	kept := mail.Message{
		From: body.From, To: body.To, ReplyTo: body.ReplyTo, Subject: body.Subject, Text: body.TextBody, HTML: body.HtmlBody,
		Stream: msg.Stream, Tag: body.Tag, Org: msg.Org, Recipient: msg.Recipient,
	}
	if kept.Stream == "" {
		kept.Stream = mail.Transactional
	}
	if len(body.Headers) > 0 {
		kept.Headers = map[string]string{}
		for _, h := range body.Headers {
			kept.Headers[h.Name] = h.Value
		}
	}
	if err := p.outbox.Send(ctx, kept); err != nil {
		return "", fmt.Errorf("subprocessors: postmark outbox: %w", err)
	}
	return "outbox", nil
}
