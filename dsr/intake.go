package dsr

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// Submission is one request as it arrives, from any intake.
type Submission struct {
	Org      *models.Organization // nil: Convot's own Customers (Convot is the controller)
	Type     string
	Ground   string            // objection ground or consent name
	Email    string            // where the code and the answer go
	ForChild bool              // a parent or guardian asks for a child under 16
	Child    string            // the child's address, for a parent's request
	Changes  map[string]string // rectification: corrected values by column
	Source   string
	// An operator logs a request for a contact and attests the identity.
	ContactID uint64
	LoggedBy  uint64
	Attested  bool
	Prompt    bool   // erase at once (a child flagged by an operator)
	SourceRef string // a mail's Message-ID hash
}

// Received is a request taken, or the open request it joined.
type Received struct {
	Request *models.PrivacyRequest
	Joined  bool
}

// check validates what a requester sent, normalising it in place.
func check(in *Submission) error {
	in.Type = strings.TrimSpace(in.Type)
	if in.ForChild && in.Type == "" {
		in.Type = obligations.DsrErasure
	}
	if !obligations.ValidDsrType(in.Type) {
		var types []string
		for _, t := range obligations.DsrTypes {
			types = append(types, t.Type)
		}
		return refuse(ErrInvalid, "Unknown request type %q: choose one of %s.", in.Type, strings.Join(types, ", "))
	}
	switch in.Type {
	case obligations.DsrObjection:
		if !slices.Contains(models.ObjectionGrounds(), in.Ground) {
			return refuse(ErrInvalid, "An objection needs its ground: one of %s.", strings.Join(models.ObjectionGrounds(), ", "))
		}
	case obligations.DsrConsentWithdrawal:
		if !slices.Contains(models.ConsentNames(), in.Ground) {
			return refuse(ErrInvalid, "Say which consent you withdraw: one of %s.", strings.Join(models.ConsentNames(), ", "))
		}
	default:
		in.Ground = ""
	}
	kind := models.SubjectEndUser
	if in.Org == nil {
		kind = models.SubjectCustomer
	}
	if in.Type == obligations.DsrRectification {
		allowed := map[string]bool{}
		var names []string
		for _, f := range RectifiableFields(kind) {
			allowed[f.Column] = true
			names = append(names, f.Column)
		}
		clean := map[string]string{}
		for k, v := range in.Changes {
			v = strings.TrimSpace(v)
			if v == "" {
				continue
			}
			if !allowed[k] {
				return refuse(ErrInvalid, "%q cannot be corrected by a request: correct one of %s.", k, strings.Join(names, ", "))
			}
			if len([]rune(v)) > maxChange {
				return refuse(ErrInvalid, "The corrected %s is longer than %d characters.", k, maxChange)
			}
			if k == "email" {
				e, err := mail.CanonicalAddress(v)
				if err != nil {
					return refuse(ErrInvalid, "The corrected email: %s", err.Error())
				}
				v = e
			}
			clean[k] = v
		}
		if len(clean) == 0 {
			return refuse(ErrInvalid, "Say what to correct: the corrected value of at least one of %s.", strings.Join(names, ", "))
		}
		in.Changes = clean
	} else {
		in.Changes = nil
	}
	if in.ForChild {
		if in.Org == nil {
			return refuse(ErrInvalid, "A child's data is held by the organization whose website they used: send the request on its privacy-request page.")
		}
		if in.Type != obligations.DsrErasure {
			return refuse(ErrInvalid, "A parent's or guardian's request is for the erasure of the child's data (policy §12).")
		}
		if in.ContactID == 0 {
			child, err := mail.CanonicalAddress(in.Child)
			if err != nil {
				return refuse(ErrInvalid, "Give the email address your child used: %s", err.Error())
			}
			in.Child = child
		}
	}
	if in.Email != "" || !in.Attested {
		e, err := mail.CanonicalAddress(in.Email)
		if err != nil {
			return refuse(ErrInvalidAddress, "%s", err.Error())
		}
		in.Email = e
	}
	return nil
}

// Receive records a request, starts its workflow and mails its code
// (unless an operator attested the identity). A second open request of
// the same type (and ground) for the same subject joins the open one: the
// answer is that request. A Refusal says what the requester must change;
// ErrUnavailable that nothing was recorded and they should try again.
func (d *Intake) Receive(ctx context.Context, in Submission) (*Received, error) {
	if err := check(&in); err != nil {
		return nil, err
	}
	if d.Workflows == nil {
		return nil, ErrUnavailable
	}
	now := d.Now().UTC()
	r := &models.PrivacyRequest{Type: in.Type, Ground: in.Ground, ForChild: in.ForChild, Source: in.Source, SourceRef: in.SourceRef,
		RequesterEmail: in.Email, Changes: in.Changes, Status: obligations.DsrReceived, ReceivedAt: now, Deadline: obligations.DsrDueDate(now),
		LoggedByID: in.LoggedBy, SubjectID: in.ContactID}
	subjectEmail := in.Email
	if in.ForChild {
		subjectEmail = in.Child
	}
	if in.Org != nil {
		r.OrganizationID, r.Controller, r.SubjectKind = in.Org.ID, models.ControllerOrganization, models.SubjectEndUser
	} else {
		r.Controller, r.SubjectKind = models.ControllerConvot, models.SubjectCustomer
	}
	if subjectEmail != "" {
		r.EmailIndex = d.Keys.BlindIndex(subjectEmail)
	}
	var code string
	if in.Attested {
		r.VerificationMethod, r.VerifiedAt = models.VerifiedByOperator, &now
	} else {
		code = newCode()
		expires := now.Add(codeLifetime)
		r.CodeExpiresAt, r.CodesSent = &expires, 1
	}
	var joined *models.PrivacyRequest
	err := d.Store.Tx(ctx, func(tx *store.Store) error {
		if in.Org == nil && r.EmailIndex != "" {
			// An address no account has: a request to Convot about no organization.
			orgID, err := tx.OrganizationOfAccountEmail(ctx, r.EmailIndex)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			r.OrganizationID = orgID
		}
		if in.Org != nil && in.ContactID != 0 && r.EmailIndex == "" {
			index, err := tx.ContactEmailIndex(ctx, in.Org.ID, in.ContactID)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			r.EmailIndex = index
		}
		if err := tx.LockPrivacyIntake(ctx, lockKey(r)); err != nil {
			return err
		}
		// A child flagged by an operator is erased at once, even while
		// another request of the contact waits for a decision.
		if !in.Prompt {
			open, err := tx.OpenDuplicatePrivacyRequest(ctx, r)
			if !errors.Is(err, store.ErrNotFound) {
				joined = open
				return err
			}
		}
		if err := tx.CreatePrivacyRequest(ctx, r); err != nil {
			return err
		}
		if code != "" {
			r.CodeHash = d.codeHash(r.ID, code)
			if err := tx.SetPrivacyRequestCodeHash(ctx, r); err != nil {
				return err
			}
		}
		// The organization's webhooks hear of it (IDs only).
		if err := tx.EmitPrivacyRequestEvent(ctx, r.OrganizationID, r.ID, models.WebhookPrivacyRequestReceived); err != nil {
			return err
		}
		return d.AuditRequest(ctx, tx, r, in.LoggedBy, "privacy.request_received", fmt.Sprintf("%s via %s", r.Type, r.Source))
	})
	if err != nil {
		return nil, err
	}
	if joined != nil {
		return &Received{Request: joined, Joined: true}, nil
	}
	input := workflows.PrivacyRequestInput{RequestID: r.ID, OrganizationID: r.OrganizationID, Type: r.Type, Ground: r.Ground,
		ReceivedAt: r.ReceivedAt, Verified: in.Attested, Prompt: in.Prompt}
	if err := d.Workflows.Start(ctx, input); err != nil {
		// Nothing half-done is left behind: the requester tries again.
		slog.Error("privacy request workflow not started", "request", r.ID, "err", err)
		_ = d.Store.DeletePrivacyRequest(context.WithoutCancel(ctx), r.OrganizationID, r.ID)
		return nil, ErrUnavailable
	}
	if code != "" {
		d.mailCode(ctx, r, in.Org, code)
	}
	return &Received{Request: r}, nil
}

// lockKey serialises intakes of one subject and type on PostgreSQL.
func lockKey(r *models.PrivacyRequest) int64 {
	h := sha256.Sum256([]byte(fmt.Sprintf("dsr|%s|%d|%s|%s|%d|%s", r.SubjectKind, r.OrganizationID, r.Type, r.Ground, r.SubjectID, r.EmailIndex)))
	return int64(binary.BigEndian.Uint64(h[:8]) >> 1)
}

// AuditRequest records an event of request r in tx (the store, or the
// transaction of the change it records): its intake, verification, an
// officer's decision, a download. actor is the operator, 0 for the
// requester.
func (d *Intake) AuditRequest(ctx context.Context, tx *store.Store, r *models.PrivacyRequest, actor uint64, action, detail string) error {
	return tx.CreateAuditEvent(ctx, &models.AuditEvent{OrganizationID: r.OrganizationID, ActorID: actor, DataKeyID: d.Keys.SystemKey(),
		Action: action, Target: fmt.Sprintf("privacy_request:%d", r.ID), Detail: detail, CreatedAt: d.Now().UTC()})
}
