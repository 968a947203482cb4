package dsr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// What an officer does when an erasure's completeness scanner finds a
// remnant (another contact's message quoting the erased person's address):
// read it, redact it (the text goes, the record that it was redacted
// stays), and retry the failed step. The organization's officer does it on
// its End Users' requests, Convot's staff on requests to Convot as
// controller, through the same rules here.

// Remnant is a finding of the scanner with what the officer needs: its
// text when it is free text the officer may redact, and whether it was
// redacted already.
type Remnant struct {
	store.ScanFinding
	Text       string
	Redactable bool
	Redacted   bool
}

// Evidence is the request's last scan report, nil when there is none.
func Evidence(r *models.PrivacyRequest) *store.ScanReport {
	if r.Evidence == "" {
		return nil
	}
	var rep store.ScanReport
	if json.Unmarshal([]byte(r.Evidence), &rep) != nil {
		return nil
	}
	return &rep
}

// redactionDetail names a redacted field in the audit record: table,
// column and row, never the text.
func redactionDetail(f store.ScanFinding) string {
	return fmt.Sprintf("%s.%s row %d", f.Model, f.Column, f.RowID)
}

func requestTarget(r *models.PrivacyRequest) string { return fmt.Sprintf("privacy_request:%d", r.ID) }

// Remnants lists the findings of an open request's last scan, each with
// its text when the officer can redact it.
func (d *Intake) Remnants(ctx context.Context, r *models.PrivacyRequest) ([]Remnant, error) {
	rep := Evidence(r)
	if rep == nil || rep.Clean || !r.Open() {
		return nil, nil
	}
	var out []Remnant
	for _, f := range rep.Findings {
		row := Remnant{ScanFinding: f}
		if f.Kind == "identifier_found" {
			done, err := d.Store.AuditRecordedWithDetail(ctx, "privacy.redacted", requestTarget(r), redactionDetail(f))
			if err != nil {
				return nil, err
			}
			row.Redacted = done
			text, err := d.Store.RemnantText(ctx, r.OrganizationID, f.Model, f.Column, f.RowID)
			switch {
			case err == nil:
				row.Text, row.Redactable = text, !done && text != store.RedactionMarker
			case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrNotRedactable):
			default:
				return nil, err
			}
		}
		out = append(out, row)
	}
	return out, nil
}

// Redact replaces the text of a remnant the scanner found in the request
// (a field of a row of the request's organization) with a marker, and
// records who redacted what, in the audit log of auditOrg (the request's
// organization for its officer, 0 for Convot's staff), in one
// transaction. store.ErrNotRedactable: not free text of the organization;
// store.ErrNotFound: the row is gone.
func (d *Intake) Redact(ctx context.Context, r *models.PrivacyRequest, f store.ScanFinding, actor, auditOrg uint64) error {
	if !r.Open() || r.Type != obligations.DsrErasure {
		return refuse(ErrGone, "Only an open erasure request's remnants can be redacted.")
	}
	f.Kind = "identifier_found"
	if rep := Evidence(r); rep == nil || !slices.Contains(rep.Findings, f) {
		return refuse(ErrInvalid, "Only a remnant the completeness scanner found in this request can be redacted.")
	}
	return d.Store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.RedactRemnant(ctx, r.OrganizationID, f.Model, f.Column, f.RowID); err != nil {
			return err
		}
		return tx.CreateAuditEvent(ctx, &models.AuditEvent{OrganizationID: auditOrg, ActorID: actor, DataKeyID: d.Keys.SystemKey(),
			Action: "privacy.redacted", Target: requestTarget(r), Detail: redactionDetail(f), CreatedAt: d.Now().UTC()})
	})
}

// Retry asks the request's workflow to run its failed step again; refused
// when the request is closed or no step failed.
func (d *Intake) Retry(ctx context.Context, r *models.PrivacyRequest, by uint64) (Decision, error) {
	if !r.Open() {
		return Decision{}, refuse(ErrGone, "This request is closed already.")
	}
	if d.Workflows == nil {
		return Decision{}, ErrUnavailable
	}
	p, err := d.Workflows.Progress(ctx, r.ID)
	if err != nil {
		return Decision{}, ErrUnavailable
	}
	if !p.AwaitingRetry {
		return Decision{}, refuse(ErrAlreadyDone, "No step of this request has failed: there is nothing to retry.")
	}
	return Decision{Signal: workflows.SignalDsrRetry, Arg: workflows.DsrDecisionSignal{ByAccountID: by}, Action: "privacy.retried", Detail: r.Step}, nil
}
