package dsr

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
)

// InboundMail is a mail to the privacy address, as the intake of
// data-subject requests receives it: who sent it and what they wrote
// (HTML turned into text); attachments are not taken. MessageID is stable
// when Postmark delivers the same mail again: the intake takes a mail once.
type InboundMail struct {
	MessageID   string
	FromAddress string
	FromName    string
	Subject     string
	Text        string
	ReceivedAt  time.Time
}

// ReceiveMail takes a mail to the privacy address (policy §9, §14) as
// data-subject requests; the inbound-mail webhook hands it every such
// mail. The right is read from the subject and the text; the sender's
// address is where the one-time code goes, as on the web page. Who the
// controller is follows from the address: an account's address makes a
// request to Convot (a Customer's own data); every organization with a
// contact of that address gets the End User's request (Convot processes
// for them and passes the request on); an address known nowhere gets a
// request to Convot that will answer, once verified, that nothing is
// held. A mail is taken once (its Message-ID); a mail whose right cannot
// be told, or a rectification (which needs the corrected values), is
// answered with the request page's address instead. An error makes
// Postmark deliver the mail again.
func (d *Intake) ReceiveMail(ctx context.Context, m InboundMail) error {
	from, err := mail.CanonicalAddress(m.FromAddress)
	if err != nil {
		slog.Warn("privacy mail without a usable sender address ignored")
		return nil
	}
	ref := m.MessageID
	if ref == "" {
		ref = from + "\x00" + m.Subject + "\x00" + m.Text
	}
	sum := sha256.Sum256([]byte("privacy-mail|" + ref))
	sourceRef := hex.EncodeToString(sum[:])
	typ, ground, child := classifyMail(m.Subject, m.Text, from)
	base := strings.TrimSuffix(d.Config.BaseURL.String(), "/")
	switch typ {
	case "":
		return d.replyToMail(ctx, from, sourceRef, "We could not tell which right you wish to exercise",
			"Thank you for your mail to our privacy address. We could not tell which of your rights you wish to exercise: "+
				"access, a copy in a machine-readable format (portability), correction, erasure, restriction, objection, or withdrawing a consent.\n\n"+
				"Reply saying which, or use the privacy-request page of the business whose website you used (linked from its site), "+
				"or for your Convot account: "+base+"/privacy-requests\n")
	case obligations.DsrRectification:
		return d.replyToMail(ctx, from, sourceRef, "Correcting your data",
			"To correct your data, tell us the corrected values on the privacy-request page of the business whose website you used, "+
				"or for your Convot account: "+base+"/privacy-requests\n")
	}
	index := d.Keys.BlindIndex(from)
	if child != "" {
		index = d.Keys.BlindIndex(child)
	}
	orgIDs, err := d.Store.OrganizationsWithContactEmail(ctx, index)
	if err != nil {
		return err
	}
	var accounts int64
	if child == "" {
		if accounts, err = d.Store.CountAccountsWithEmailIndex(ctx, index); err != nil {
			return err
		}
	}
	var targets []*models.Organization
	for _, id := range orgIDs {
		org, err := d.Store.LiveOrganization(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		default:
			targets = append(targets, org)
		}
	}
	if accounts > 0 || len(targets) == 0 {
		if child != "" {
			return d.replyToMail(ctx, from, sourceRef, "Your request about your child's data",
				"We hold no data under the address you gave for your child. If your child used a business's chat, its privacy-request page takes the request.\n")
		}
		targets = append(targets, nil) // Convot itself
	}
	for _, org := range targets {
		var taken bool
		if org != nil {
			taken, err = d.Store.PrivacyMailTaken(ctx, org.ID, sourceRef)
		} else {
			taken, err = d.Store.ConvotPrivacyMailTaken(ctx, sourceRef)
		}
		if err != nil {
			return err
		}
		if taken {
			continue // this mail was taken already
		}
		_, err := d.Receive(ctx, Submission{Org: org, Type: typ, Ground: ground, Email: from, ForChild: child != "",
			Child: child, Source: models.DsrSourceMail, SourceRef: sourceRef})
		var refusal *Refusal
		switch {
		case errors.As(err, &refusal):
			return d.replyToMail(ctx, from, sourceRef, "Your privacy request", refusal.Message+"\n")
		case err != nil:
			return err
		}
	}
	return nil
}

// replyToMail answers a mail that could not become a request. A reply
// not sent is logged, not retried: the mail is taken either way.
func (d *Intake) replyToMail(ctx context.Context, to, ref, subject, text string) error {
	err := d.Mail.Send(ctx, mail.Message{From: d.Config.MailFrom, To: to, Subject: subject, Text: text,
		Stream: mail.Transactional, Tag: "privacy_request_unclear", Recipient: policies.SubjectContext{Kind: models.SubjectEndUser},
		Org: policies.OrgContext{Region: "eu", Deployment: true}, Headers: map[string]string{"X-Convot-Ref": ref[:16]}})
	if err != nil {
		slog.Warn("privacy mail reply not sent", "err", err)
	}
	return nil
}

var mailAddress = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`)

// classifyMail reads the right a mail asks for, its ground, and for a
// parent's mail the child's address (another address in the text).
func classifyMail(subject, text, from string) (typ, ground, child string) {
	t := strings.ToLower(subject + "\n" + text)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(t, w) {
				return true
			}
		}
		return false
	}
	switch {
	case has("my child", "my son", "my daughter", "under 16", "under sixteen", "guardian", "as a parent", "i am the parent", "i'm the parent"):
		for _, a := range mailAddress.FindAllString(subject+"\n"+text, -1) {
			if e, err := mail.CanonicalAddress(a); err == nil && e != from {
				return "erasure", "", e
			}
		}
		return "", "", ""
	case has("withdraw my consent", "withdraw consent", "withdrawing my consent", "revoke my consent", "unsubscribe"):
		return obligations.DsrConsentWithdrawal, "marketing_email", ""
	case has("i object", "objection", "object to"):
		switch {
		case has("marketing", "newsletter", "advertis"): //nolint:misspell // a stem: advertising, advertisements
			return obligations.DsrObjection, "direct_marketing", ""
		case has("automated", "artificial intelligence", " ai ", "profiling"):
			return obligations.DsrObjection, "automated_decisions", ""
		}
		return obligations.DsrObjection, "legitimate_interests", ""
	case has("restrict"):
		return obligations.DsrRestriction, "", ""
	case has("portability", "machine-readable", "machine readable", "export my data", "transfer my data"):
		return obligations.DsrPortability, "", ""
	case has("delete", "erase", "erasure", "forget me", "forgotten", "remove my data", "remove all my"):
		return obligations.DsrErasure, "", ""
	case has("rectif", "correct my", "update my", "inaccurate", "incorrect"):
		return obligations.DsrRectification, "", ""
	case has("access", "copy of my", "copy of the", "what data", "which data", "what personal data", "subject access"):
		return obligations.DsrAccess, "", ""
	}
	return "", "", ""
}
