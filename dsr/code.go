package dsr

import (
	"context"
	crand "crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"

	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// Identity verification: the requester confirms a request with the
// eight-digit code mailed to the address they gave. Only the code's keyed
// hash is kept; it works once, for codeLifetime, and for maxCodeAttempts
// tries.

// newCode is an eight-digit one-time code.
func newCode() string {
	n, err := crand.Int(crand.Reader, big.NewInt(100_000_000))
	if err != nil {
		panic(err) // the system's random source failed
	}
	return fmt.Sprintf("%08d", n.Int64())
}

// codeHash is the code's keyed hash, bound to its request.
func (d *Intake) codeHash(id uint64, code string) string {
	return d.Keys.BlindIndex(fmt.Sprintf("dsr-code|%d|%s", id, code))
}

// mailCode sends the code to the requester in the controller's name: org,
// or Convot when org is nil. A mail not sent is logged: the requester asks
// for a new code.
func (d *Intake) mailCode(ctx context.Context, r *models.PrivacyRequest, org *models.Organization, code string) {
	who := "Convot.io"
	// Without an organization the request is to Convot, the controller.
	oc := policies.OrgContext{ID: r.OrganizationID, Region: "eu", Deployment: r.OrganizationID == 0}
	if org != nil {
		who, oc = org.CompanyName, org.GateContext()
	}
	link := fmt.Sprintf("%s/privacy-verification/%d", strings.TrimSuffix(d.Config.BaseURL.String(), "/"), r.ID)
	text := fmt.Sprintf("We received %s (%s) for the personal data %s holds about this address.\n\n"+
		"To confirm it is you, enter this code within 24 hours:\n\n    %s\n\nat %s\n\n"+
		"Without confirmation the request expires in 7 days and nothing is done. If you did not ask for this, ignore this mail.\n",
		RequestPhrase(r.Type), r.WorkflowID(), who, code, link)
	if r.ForChild {
		text = "You asked, as a parent or guardian, for the erasure of your child's data.\n\n" + text
	}
	err := d.Mail.Send(ctx, mail.Message{From: d.Config.MailFrom, To: r.RequesterEmail, Subject: "Your privacy request code: " + r.WorkflowID(),
		Text: text, Stream: mail.Transactional, Tag: "privacy_request_code", Org: oc, Recipient: policies.SubjectContext{Kind: r.SubjectKind}})
	if err != nil {
		slog.Warn("privacy request code not sent", "request", r.ID, "err", err)
	}
}

// Verify checks a requester's code: right, unused, in time, within the
// attempts; then tells the workflow. A wrong code counts against the
// attempts.
func (d *Intake) Verify(ctx context.Context, id uint64, code string) (*models.PrivacyRequest, error) {
	r, err := d.Store.PrivacyRequestByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, refuse(ErrNotFound, "There is no such privacy request.")
	}
	if err != nil {
		return nil, err
	}
	now := d.Now().UTC()
	code = strings.Join(strings.Fields(code), "")
	switch {
	case r.VerifiedAt != nil:
		return r, refuse(ErrAlreadyDone, "This request is already confirmed: its code was used.")
	case r.Status == obligations.DsrExpired:
		return r, refuse(ErrGone, "This request expired because it was not confirmed within 7 days. Submit a new one.")
	case obligations.DsrClosed(r.Status):
		return r, refuse(ErrGone, "This request is closed.")
	case r.CodeAttempts >= maxCodeAttempts:
		return r, refuse(ErrLimitReached, "Too many wrong codes. Ask for a new code.")
	case r.CodeExpiresAt == nil || now.After(*r.CodeExpiresAt):
		return r, refuse(ErrGone, "This code has expired. Ask for a new code.")
	case len(code) != 8 || r.CodeHash == "" || subtle.ConstantTimeCompare([]byte(d.codeHash(r.ID, code)), []byte(r.CodeHash)) != 1:
		// Best effort: a miss not counted is one more try, still bounded
		// by the transports' attempt throttle.
		_ = d.Store.CountWrongDsrCode(ctx, r.ID)
		left := maxCodeAttempts - r.CodeAttempts - 1
		if left <= 0 {
			return r, refuse(ErrLimitReached, "Wrong code, and no attempts are left. Ask for a new code.")
		}
		return r, refuse(ErrInvalid, "Wrong code. %s left.", AttemptsLeft(left))
	}
	// The conditional update makes the code single-use under races.
	claimed, err := d.Store.ClaimDsrCode(ctx, r.ID, r.CodeHash, now)
	if err != nil {
		return nil, err
	}
	if !claimed {
		return r, refuse(ErrAlreadyDone, "This request is already confirmed: its code was used.")
	}
	if d.Workflows == nil {
		return nil, ErrUnavailable
	}
	if err := d.Workflows.Signal(ctx, r.ID, workflows.SignalDsrVerified, workflows.DsrVerifiedSignal{Method: models.VerifiedByCode}); err != nil {
		// Undo, so that the same code confirms it once the workflow is back.
		// Best effort: left claimed, the requester asks for a new code.
		_ = d.Store.UnclaimDsrCode(context.WithoutCancel(ctx), r.ID, r.CodeHash)
		slog.Error("privacy request not signalled verified", "request", r.ID, "err", err)
		return nil, ErrUnavailable
	}
	// The workflow is told already: an audit event not written does not
	// undo the verification.
	_ = d.Store.Tx(ctx, func(tx *store.Store) error {
		return d.AuditRequest(ctx, tx, r, 0, "privacy.request_verified", "one-time code")
	})
	r.VerifiedAt, r.VerificationMethod = &now, models.VerifiedByCode
	return r, nil
}

// ReissueCode mails a new code (at most maxCodesSent in all); the old one
// stops working.
func (d *Intake) ReissueCode(ctx context.Context, id uint64) (*models.PrivacyRequest, error) {
	r, err := d.Store.PrivacyRequestByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, refuse(ErrNotFound, "There is no such privacy request.")
	}
	if err != nil {
		return nil, err
	}
	switch {
	case r.VerifiedAt != nil:
		return r, refuse(ErrAlreadyDone, "This request is already confirmed.")
	case obligations.DsrClosed(r.Status):
		return r, refuse(ErrGone, "This request is closed; submit a new one.")
	case r.CodesSent >= maxCodesSent:
		return r, refuse(ErrLimitReached, "No more codes can be sent for this request. Submit a new one.")
	}
	code := newCode()
	expires := d.Now().UTC().Add(codeLifetime)
	reissued, err := d.Store.ReissueDsrCode(ctx, r.ID, r.CodesSent, d.codeHash(r.ID, code), expires)
	if err != nil {
		return nil, err
	}
	if !reissued {
		return r, refuse(ErrAlreadyDone, "A new code was just sent. Check your mail.")
	}
	var org *models.Organization
	if r.Controller == models.ControllerOrganization {
		if o, err := d.Store.Organization(ctx, r.OrganizationID); err == nil {
			org = o
		}
	}
	d.mailCode(ctx, r, org, code)
	return r, nil
}

// RequestPhrase names a request of a type with its article: "an access
// request", "a rectification request", "an erasure request".
func RequestPhrase(typ string) string {
	words := strings.ReplaceAll(typ, "_", " ")
	if words != "" && strings.ContainsRune("aeiou", rune(words[0])) {
		return "an " + words + " request"
	}
	return "a " + words + " request"
}

// AttemptsLeft says how many attempts are left: "1 attempt", "4 attempts".
func AttemptsLeft(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}
