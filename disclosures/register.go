// Package disclosures keeps the register of disclosure requests (policy
// §6): staff record a legal demand, an enforcement request, a merger or a
// disclosure a person consented to; another staff member, as privacy
// officer, approves or refuses it; its workflow
// (workflows.DisclosureRequest) keeps the deadline, discloses only what
// was asked through the egress gate to the recorded recipient, and
// notifies the people concerned unless the request forbids it.
package disclosures

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// Workflows starts and signals disclosure workflows.
type Workflows interface {
	Start(ctx context.Context, in workflows.DisclosureInput) error
	Signal(ctx context.Context, id uint64, signal string, sig workflows.DisclosureDecision) error
}

// TemporalWorkflows runs disclosure workflows on Temporal.
type TemporalWorkflows struct{ Client client.Client }

// Start starts the request's workflow; starting it again joins the first.
func (t TemporalWorkflows) Start(ctx context.Context, in workflows.DisclosureInput) error {
	_, err := t.Client.ExecuteWorkflow(ctx, workflows.DisclosureStartOptions(in), workflows.DisclosureWorkflowType, in)
	return err
}

// Signal sends an officer's decision.
func (t TemporalWorkflows) Signal(ctx context.Context, id uint64, signal string, sig workflows.DisclosureDecision) error {
	return t.Client.SignalWorkflow(ctx, workflows.DisclosureWorkflowID(id), "", signal, sig)
}

// Register records requests and carries officers' decisions.
type Register struct {
	Store     *store.Store
	Workflows Workflows
	Now       func() time.Time
}

// ErrInvalid is input refused, with a message for the person.
type ErrInvalid struct{ Msg string }

func (e ErrInvalid) Error() string { return e.Msg }

// ErrUnavailable: no workflow engine to track the request.
var ErrUnavailable = errors.New("disclosures: requests cannot be tracked at the moment")

// Form is what staff record.
type Form struct {
	OrganizationID        uint64
	Kind                  string
	RequestedBy           string
	LegalBasis            string
	Recipient             string
	RecipientAddress      string
	SubjectKind           string // end_user, customer, or "" for every account (merger)
	SubjectID             uint64
	Categories            []string
	NoticeForbidden       bool
	NoticeForbiddenReason string
	DueAt                 time.Time
}

func (f *Form) check() error {
	f.RequestedBy, f.LegalBasis, f.Recipient = strings.TrimSpace(f.RequestedBy), strings.TrimSpace(f.LegalBasis), strings.TrimSpace(f.Recipient)
	f.NoticeForbiddenReason = strings.TrimSpace(f.NoticeForbiddenReason)
	switch {
	case !slices.Contains(models.DisclosureKinds, f.Kind):
		return ErrInvalid{"Choose the kind of request: " + strings.Join(models.DisclosureKinds, ", ") + "."}
	case f.OrganizationID == 0:
		return ErrInvalid{"Say whose data is asked for: the organization's ID."}
	case f.RequestedBy == "" || len(f.RequestedBy) > 500:
		return ErrInvalid{"Say who asked (at most 500 characters)."}
	case f.LegalBasis == "" || len(f.LegalBasis) > 2000:
		return ErrInvalid{"Record the legal basis: the order, statute or consent record (at most 2,000 characters)."}
	case f.Recipient == "" || len(f.Recipient) > 500:
		return ErrInvalid{"Record the recipient (at most 500 characters)."}
	case f.DueAt.IsZero():
		return ErrInvalid{"Give the response deadline."}
	case f.NoticeForbidden && f.NoticeForbiddenReason == "":
		return ErrInvalid{"Record why the people concerned may not be told (the order that forbids it)."}
	case len(f.Categories) == 0:
		return ErrInvalid{"Choose the data categories asked for: only those are disclosed."}
	}
	addr, err := mail.ParseAddress(strings.TrimSpace(f.RecipientAddress))
	if err != nil {
		return ErrInvalid{"The recipient's email address is not valid."}
	}
	f.RecipientAddress = addr.Address
	for _, c := range f.Categories {
		if _, ok := models.Categories[c]; !ok || !strings.HasPrefix(c, "user.") {
			return ErrInvalid{fmt.Sprintf("Unknown data category %q.", c)}
		}
	}
	switch f.SubjectKind {
	case models.SubjectEndUser, models.SubjectCustomer:
		if f.SubjectID == 0 {
			return ErrInvalid{"Say whom it concerns: the contact's or account's ID."}
		}
	case "":
		if f.Kind != "merger" {
			return ErrInvalid{"Only a merger concerns every account of an organization: say whom this request concerns."}
		}
		f.SubjectID = 0
	default:
		return ErrInvalid{"The person concerned is an end user (contact) or a customer (account)."}
	}
	return nil
}

// Record checks the form, writes the request and starts its workflow.
// The subject must be the organization's.
func (r *Register) Record(ctx context.Context, staff *models.Account, f Form) (*models.DisclosureRequest, error) {
	if r.Workflows == nil {
		return nil, ErrUnavailable
	}
	if err := f.check(); err != nil {
		return nil, err
	}
	if _, err := r.Store.Organization(ctx, f.OrganizationID); errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvalid{"There is no such organization."}
	} else if err != nil {
		return nil, err
	}
	var err error
	switch f.SubjectKind {
	case models.SubjectEndUser:
		_, err = r.Store.Contact(ctx, f.OrganizationID, f.SubjectID)
	case models.SubjectCustomer:
		_, err = r.Store.Account(ctx, f.OrganizationID, f.SubjectID)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvalid{"The organization has no such " + f.SubjectKind + "."}
	} else if err != nil {
		return nil, err
	}
	now := r.Now().UTC()
	d := &models.DisclosureRequest{OrganizationID: f.OrganizationID, Kind: f.Kind, RequestedBy: f.RequestedBy, LegalBasis: f.LegalBasis,
		Recipient: f.Recipient, RecipientAddress: f.RecipientAddress, SubjectKind: f.SubjectKind, SubjectID: f.SubjectID,
		Categories: f.Categories, NoticeForbidden: f.NoticeForbidden, NoticeForbiddenReason: f.NoticeForbiddenReason,
		Status: models.DisclosureReceived, DueAt: f.DueAt.UTC(), CreatedByID: staff.ID, CreatedAt: now, UpdatedAt: now}
	if err := r.Store.CreateDisclosureRequest(ctx, d); err != nil {
		return nil, err
	}
	if err := r.Workflows.Start(ctx, workflows.DisclosureInput{DisclosureID: d.ID, OrganizationID: d.OrganizationID, DueAt: d.DueAt}); err != nil {
		return d, fmt.Errorf("start the request's workflow: %w", err)
	}
	return d, nil
}

// Decide carries an officer's approval (approve true) or refusal. The
// officer must be another staff member than the one who recorded it (four
// eyes); a refusal needs its reason, stored with the request.
func (r *Register) Decide(ctx context.Context, officer *models.Account, id uint64, approve bool, reason string) error {
	if r.Workflows == nil {
		return ErrUnavailable
	}
	d, err := r.Store.DisclosureRequest(ctx, id)
	if err != nil {
		return err
	}
	if d.Status != models.DisclosureReceived && d.Status != models.DisclosureOverdue {
		return ErrInvalid{"This request is decided already."}
	}
	if d.CreatedByID == officer.ID {
		return ErrInvalid{"Another staff member than the one who recorded the request decides it."}
	}
	if !approve {
		reason = strings.TrimSpace(reason)
		if reason == "" || len(reason) > 2000 {
			return ErrInvalid{"Give the reason for refusing (at most 2,000 characters)."}
		}
		if err := r.Store.UpdateDisclosureRequest(ctx, id, map[string]any{"refusal_reason": reason}, r.Now().UTC()); err != nil {
			return err
		}
		return r.Workflows.Signal(ctx, id, workflows.SignalDisclosureRefuse, workflows.DisclosureDecision{ActorID: officer.ID})
	}
	return r.Workflows.Signal(ctx, id, workflows.SignalDisclosureApprove, workflows.DisclosureDecision{ActorID: officer.ID})
}
