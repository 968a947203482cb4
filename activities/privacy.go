package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/convot/convot/dsr"
	"github.com/convot/convot/internal/blob"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/internal/realtime"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
	"github.com/convot/convot/workflows"
)

// The activities of the data-subject request workflow (workflows/privacy.go).
// Each loads the request by ID; what they do is derived from the data
// inventory by the subject engine (dsr/engine.go, store/subject*.go).

// PrivacySettings are what the request activities need beyond the shared
// dependencies.
type PrivacySettings struct {
	// Officer receives the notices of requests where Convot is the
	// controller (a Customer's own data); DefaultPrivacyOfficer when empty.
	// For an End User's request the organization's owners and admins are
	// the privacy officers.
	Officer string
	// TemporalUIURL and Namespace link notices to the workflow.
	TemporalUIURL string
	Namespace     string
	// Hub, when set, tells open live views that an erased contact's
	// conversations are gone.
	Hub realtime.Hub
	// ExportLifetime is how long a download link works (default 7 days).
	ExportLifetime time.Duration
	// Subprocessors are the subprocessors this deployment is configured to
	// use (config.Config.Configured): the access report names only these
	// as recipients.
	Subprocessors map[string]bool
}

// DefaultPrivacyOfficer is the privacy address of policy §9 and §14.
const DefaultPrivacyOfficer = "privacy@convot.io"

// DefaultExportLifetime is how long an export's single-use link works; the
// workflow deletes the file after it.
const DefaultExportLifetime = obligations.DsrExportLifetime

// privacyActivities are the activities of the data-subject request
// workflow, by name.
func privacyActivities(a *Activities) map[string]any {
	return map[string]any{
		workflows.ActivityRecordPrivacyStatus:     a.RecordPrivacyStatus,
		workflows.ActivityNotifyPrivacyOfficer:    a.NotifyPrivacyOfficer,
		workflows.ActivityNotifyPrivacyRequester:  a.NotifyPrivacyRequester,
		workflows.ActivityLocatePrivacySubject:    a.LocatePrivacySubject,
		workflows.ActivityExportPrivacySubject:    a.ExportPrivacySubject,
		workflows.ActivityErasePrivacySubject:     a.ErasePrivacySubject,
		workflows.ActivityScanPrivacyErasure:      a.ScanPrivacyErasure,
		workflows.ActivityRectifyPrivacySubject:   a.RectifyPrivacySubject,
		workflows.ActivityRecordPrivacyPreference: a.RecordPrivacyPreference,
		workflows.ActivityFinishPrivacyRequest:    a.FinishPrivacyRequest,
		workflows.ActivityExpirePrivacyExports:    a.ExpirePrivacyExports,
	}
}

// engine is the subject engine over the activities' store.
func (a *Activities) engine() dsr.Engine { return dsr.Engine{Store: a.Store} }

func (a *Activities) privacyRequest(ctx context.Context, id uint64) (*models.PrivacyRequest, error) {
	r, err := a.Store.PrivacyRequestByID(ctx, id)
	return found(r, err, "privacy request", id)
}

func (a *Activities) updateRequest(ctx context.Context, id uint64, updates map[string]any) error {
	updates["updated_at"] = time.Now().UTC()
	return a.Store.UpdatePrivacyRequestByID(ctx, id, updates)
}

// RecordPrivacyStatus persists the workflow's state of a request.
func (a *Activities) RecordPrivacyStatus(ctx context.Context, ch workflows.DsrStatusChange) error {
	updates := map[string]any{
		"status": ch.Status, "step": ch.Step, "deadline": ch.Deadline.UTC(), "extended": ch.Extended,
		"extension_reason": ch.ExtensionReason, "rejection_reason": ch.RejectionReason,
	}
	if ch.DecidedByID != 0 {
		updates["decided_by_id"] = ch.DecidedByID
	}
	if obligations.DsrClosed(ch.Status) {
		updates["completed_at"] = ch.At.UTC()
	}
	return a.updateRequest(ctx, ch.RequestID, updates)
}

// --- locating --------------------------------------------------------------------

// LocatePrivacySubject finds the subject of a request (every contact of the
// organization with the email, or the account) and records them on the
// request; a parent's request flags the child's contacts as under 16, which
// restricts them at once.
func (a *Activities) LocatePrivacySubject(ctx context.Context, ref workflows.DsrRef) (workflows.DsrOutcome, error) {
	r, err := a.privacyRequest(ctx, ref.RequestID)
	if err != nil {
		return workflows.DsrOutcome{}, err
	}
	s, err := a.engine().Locate(ctx, r)
	if errors.Is(err, dsr.ErrUnknownSubjectKind) {
		return workflows.DsrOutcome{}, temporal.NewNonRetryableApplicationError("unknown subject kind", "InvalidInput", nil)
	}
	if err != nil {
		return workflows.DsrOutcome{}, err
	}
	// Whatever was found before (a retry after erasure began) stays found.
	ids, keys := union(r.SubjectIDs, s.IDs), union(r.SubjectKeyIDs, s.KeyIDs)
	updates := map[string]any{"subject_ids": jsonIDs(ids), "subject_key_ids": jsonIDs(keys), "subject_owner": r.SubjectOwner || s.Owner}
	if r.SubjectID == 0 && len(ids) > 0 {
		updates["subject_id"] = ids[0]
	}
	if r.EmailIndex == "" && len(s.EmailIndexes) > 0 {
		updates["email_index"] = s.EmailIndexes[0]
	}
	if r.OrganizationID == 0 && s.OrganizationID != 0 {
		updates["organization_id"] = s.OrganizationID
	}
	err = a.Store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.UpdatePrivacyRequestByID(ctx, r.ID, updates); err != nil {
			return err
		}
		if !r.ForChild || r.SubjectKind != models.SubjectEndUser {
			return nil
		}
		for _, id := range s.IDs {
			flagged, err := tx.FlaggedUnder16(ctx, r.OrganizationID, id)
			if err != nil || flagged {
				return err
			}
			if err := tx.RecordSubjectPreference(ctx, models.SubjectPreference{OrganizationID: r.OrganizationID, ContactID: id,
				Kind: models.PreferenceUnder16, Active: true, Source: r.WorkflowID(), RequestID: r.ID}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return workflows.DsrOutcome{}, err
	}
	out := workflows.DsrOutcome{Found: len(ids) > 0, Rows: int64(len(ids))}
	switch {
	case len(ids) == 0:
		out.Detail = "no personal data is held about this requester"
	case r.SubjectKind == models.SubjectEndUser:
		out.Detail = fmt.Sprintf("%d contact(s) found", len(ids))
	default:
		out.Detail = "the account was found"
	}
	return out, nil
}

func union(a, b []uint64) []uint64 {
	seen := map[uint64]bool{}
	var out []uint64
	for _, v := range append(append([]uint64(nil), a...), b...) {
		if v != 0 && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// jsonIDs is a list of IDs as its JSON column value.
func jsonIDs(v []uint64) string {
	if v == nil {
		v = []uint64{}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// --- erasure ---------------------------------------------------------------------

// ErasePrivacySubject erases the subject: their files in the blob store,
// their Stripe customer (a Customer who owns the organization), every row
// the inventory locates (billing records kept by law), their data keys;
// it tells open live views, and records what it did in counts.
func (a *Activities) ErasePrivacySubject(ctx context.Context, ref workflows.DsrRef) (workflows.DsrOutcome, error) {
	if a.Keys == nil {
		return workflows.DsrOutcome{}, errNoKeys()
	}
	r, err := a.privacyRequest(ctx, ref.RequestID)
	if err != nil {
		return workflows.DsrOutcome{}, err
	}
	s := r.Subject()
	plan, err := a.engine().Plan(ctx, r.OrganizationID, s)
	if err != nil {
		return workflows.DsrOutcome{}, err
	}
	// What the scanner will look for is kept first (sealed under the
	// request's own key), so that a retry after the rows are gone still
	// knows it.
	terms := unionStrings(r.ScanTerms, plan.Terms)
	blobKeys := unionStrings(r.ScanBlobKeys, plan.BlobKeys)
	err = a.Store.Tx(ctx, func(tx *store.Store) error {
		r.ScanTerms, r.ScanBlobKeys = terms, blobKeys
		return tx.SavePrivacyScanTargets(ctx, r)
	})
	if err != nil {
		return workflows.DsrOutcome{}, err
	}
	org, err := a.requestOrg(ctx, r)
	if err != nil {
		return workflows.DsrOutcome{}, err
	}
	var summary erasureSummary

	// 1. Files.
	if len(plan.BlobKeys) > 0 && a.Blobs == nil {
		return workflows.DsrOutcome{}, temporal.NewNonRetryableApplicationError("the subject has files but no blob store is configured", "NoBlobStore", nil)
	}
	sc := subprocessors.StorageContext{Organization: org, Subject: policies.SubjectContext{Kind: s.Kind},
		Categories: []string{"user.content.attachment"}}
	for _, key := range plan.BlobKeys {
		if err := a.Blobs.Delete(ctx, sc, key); err != nil && !errors.Is(err, blob.ErrNotFound) {
			return workflows.DsrOutcome{}, fmt.Errorf("delete blob: %w", err)
		}
		summary.BlobsDeleted++
	}
	// 2. Subprocessors.
	if len(plan.StripeCustomerIDs) > 0 {
		if a.Stripe == nil {
			return workflows.DsrOutcome{}, temporal.NewNonRetryableApplicationError("a Stripe customer is recorded but billing is not configured", "NoStripe", nil)
		}
		for _, id := range plan.StripeCustomerIDs {
			if err := a.Stripe.DeleteCustomer(ctx, org, id); err != nil {
				if errors.Is(err, subprocessors.ErrDenied) {
					return workflows.DsrOutcome{}, temporal.NewNonRetryableApplicationError("the egress gate refused deleting the Stripe customer", "Denied", err)
				}
				return workflows.DsrOutcome{}, err
			}
			summary.StripeCustomersDeleted++
		}
	}
	// 3. The database and the keys.
	res, err := a.engine().Erase(ctx, r.OrganizationID, s)
	if err != nil {
		return workflows.DsrOutcome{}, err
	}
	// A retry finds nothing left to delete: keep the first run's counts.
	if prev := previousErasure(r.Result); prev != nil && len(res.Deleted) == 0 && len(res.Anonymized) == 0 {
		res.Deleted, res.Anonymized = prev.Erasure.Deleted, prev.Erasure.Anonymized
		res.KeysDestroyed += prev.Erasure.KeysDestroyed
		summary.BlobsDeleted += prev.BlobsDeleted
		summary.StripeCustomersDeleted += prev.StripeCustomersDeleted
	}
	summary.Erasure = *res
	summary.Subprocessors = subprocessorErasure(s.Kind, summary.StripeCustomersDeleted, summary.BlobsDeleted)
	// 4. Live views: sockets hold no state of their own, but open views
	// are told the conversations are gone.
	if a.Privacy.Hub != nil {
		for _, id := range plan.ConversationIDs {
			payload, _ := json.Marshal(realtime.LiveEvent{Type: "erased", ConversationID: id})
			ev := realtime.Event{Org: org, Subject: policies.SubjectContext{Kind: s.Kind}, Categories: []string{"system.operations"}, Payload: payload}
			for _, topic := range []string{realtime.OrgTopic(org.ID), realtime.ConversationTopic(id)} {
				if err := a.Privacy.Hub.Publish(ctx, topic, ev); err != nil {
					slog.Warn("erased event not published", "conversation", id, "err", err)
				}
			}
		}
		summary.LiveViewsTold = len(plan.ConversationIDs)
	}
	b, _ := json.Marshal(summary)
	if err := a.updateRequest(ctx, r.ID, map[string]any{"result": string(b)}); err != nil {
		return workflows.DsrOutcome{}, err
	}
	var rows, retained int64
	for _, n := range res.Deleted {
		rows += n
	}
	for _, n := range res.Anonymized {
		rows += n
	}
	for _, k := range res.Retained {
		retained += k.Rows
	}
	detail := fmt.Sprintf("%d rows erased, %d billing rows kept by law, %d files deleted, %d data keys destroyed, %d Stripe customers deleted",
		rows, retained, summary.BlobsDeleted, res.KeysDestroyed, summary.StripeCustomersDeleted)
	if err := a.privacyAudit(ctx, r, "privacy.erased", detail); err != nil {
		return workflows.DsrOutcome{}, err
	}
	return workflows.DsrOutcome{Rows: rows, Retained: retained, Files: summary.BlobsDeleted, ConversationIDs: plan.ConversationIDs, Detail: detail}, nil
}

// erasureSummary is the request's Result after an erasure: counts and
// outcomes, never values.
type erasureSummary struct {
	Erasure                store.ErasureResult `json:"erasure"`
	BlobsDeleted           int                 `json:"blobs_deleted"`
	StripeCustomersDeleted int                 `json:"stripe_customers_deleted"`
	LiveViewsTold          int                 `json:"live_views_told"`
	Subprocessors          map[string]string   `json:"subprocessors"`
}

func previousErasure(result string) *erasureSummary {
	if result == "" {
		return nil
	}
	var s erasureSummary
	if json.Unmarshal([]byte(result), &s) != nil {
		return nil
	}
	return &s
}

// subprocessorErasure says, for every subprocessor of the registry that
// may hold data of the subject's kind, what erasure did there. Adding a
// subprocessor to the registry without saying what erasure means for it
// fails TestEverySubprocessorHasAnErasureOutcome.
func subprocessorErasure(kind string, stripeDeleted, blobsDeleted int) map[string]string {
	out := map[string]string{}
	reg, err := policies.LoadRegistry()
	if err != nil {
		return out
	}
	for _, name := range reg.SubprocessorNames() {
		sp := reg.Subprocessors[name]
		served := false
		for _, k := range sp.Subjects {
			served = served || k == kind
		}
		if !served {
			continue
		}
		out[name] = erasureOutcome(name, sp, stripeDeleted, blobsDeleted)
	}
	return out
}

func erasureOutcome(name string, sp policies.Subprocessor, stripeDeleted, blobsDeleted int) string {
	switch {
	case sp.AI:
		return "keeps nothing: it processes conversation content only to return a result and does not retain it (DPA, policy §6); nothing to delete"
	case sp.ScrubPersonalData:
		return "receives no personal data (scrubbed by the egress gate before sending); nothing to delete"
	}
	switch name {
	case "aws":
		return fmt.Sprintf("%d files deleted from the blob store; encrypted backups keep deleted data at most 90 days, unreadable once the data key is destroyed", blobsDeleted)
	case "stripe":
		if stripeDeleted > 0 {
			return fmt.Sprintf("%d Stripe customer(s) deleted; Stripe keeps its own invoices under its legal duties", stripeDeleted)
		}
		return "no Stripe customer holds the subject's data"
	case "postmark":
		return "mail is sent, not stored, by Convot; Postmark's delivery logs expire under its retention"
	case "redis":
		return "publish/subscribe only: nothing is kept; open live views were told the conversations are gone"
	case "shopify":
		return "Convot keeps no copy of Shopify data; the Customer's store is the Customer's own"
	}
	return ""
}

func unionStrings(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range append(append([]string(nil), a...), b...) {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

// ScanPrivacyErasure runs the erasure-completeness scanner: every
// classified column (decrypted) for the subject's identifiers, the rows the
// inventory still locates, the data keys, and the blob store. Its report is
// stored with the request as the completion evidence; a finding fails the
// step (the workflow alerts the officer).
func (a *Activities) ScanPrivacyErasure(ctx context.Context, ref workflows.DsrRef) (workflows.DsrOutcome, error) {
	r, err := a.privacyRequest(ctx, ref.RequestID)
	if err != nil {
		return workflows.DsrOutcome{}, err
	}
	report, err := a.engine().Scan(ctx, r.OrganizationID, r.Subject(), r.ScanTerms)
	if err != nil {
		return workflows.DsrOutcome{}, err
	}
	org, err := a.requestOrg(ctx, r)
	if err != nil {
		return workflows.DsrOutcome{}, err
	}
	for _, key := range r.ScanBlobKeys {
		report.BlobsChecked++
		if a.Blobs == nil {
			report.AddFinding(store.ScanFinding{Kind: "blob_unchecked", Model: "blob store"})
			continue
		}
		_, err := a.Blobs.Get(ctx, subprocessors.StorageContext{Organization: org, Subject: policies.SubjectContext{Kind: r.SubjectKind},
			Categories: []string{"user.content.attachment"}}, key)
		switch {
		case errors.Is(err, blob.ErrNotFound):
		case err != nil:
			return workflows.DsrOutcome{}, fmt.Errorf("check blob: %w", err)
		default:
			report.AddFinding(store.ScanFinding{Kind: "blob_remains", Model: "blob store"})
		}
	}
	if prev := previousErasure(r.Result); prev != nil {
		report.Retained = prev.Erasure.Retained
		for name, outcome := range prev.Subprocessors {
			report.Subprocessors = append(report.Subprocessors, name+": "+outcome)
		}
		sort.Strings(report.Subprocessors)
	}
	b, err := json.Marshal(report)
	if err != nil {
		return workflows.DsrOutcome{}, err
	}
	if err := a.updateRequest(ctx, r.ID, map[string]any{"evidence": string(b)}); err != nil {
		return workflows.DsrOutcome{}, err
	}
	detail := fmt.Sprintf("%d rows and %d values searched in %d tables, %d keys and %d files checked: ",
		report.RowsScanned, report.ValuesChecked, len(report.Tables), report.KeysChecked, report.BlobsChecked)
	if report.Clean {
		detail += "nothing left"
	} else {
		detail += fmt.Sprintf("%d remnants found", report.FindingsTotal)
		if err := a.privacyAudit(ctx, r, "privacy.scan_failed", fmt.Sprintf("%d remnants", report.FindingsTotal)); err != nil {
			return workflows.DsrOutcome{}, err
		}
	}
	return workflows.DsrOutcome{Clean: report.Clean, Findings: report.FindingsTotal, Rows: report.RowsScanned, Detail: detail}, nil
}

// --- rectification and preferences ------------------------------------------------

// RectifyPrivacySubject applies the corrected values to the subject's own
// rows, with an audit trail (which fields, never their values).
func (a *Activities) RectifyPrivacySubject(ctx context.Context, ref workflows.DsrRef) (workflows.DsrOutcome, error) {
	r, err := a.privacyRequest(ctx, ref.RequestID)
	if err != nil {
		return workflows.DsrOutcome{}, err
	}
	s := r.Subject()
	cols, err := a.engine().Rectify(ctx, r.OrganizationID, s, r.Changes)
	if errors.Is(err, dsr.ErrNotRectifiable) || errors.Is(err, store.ErrDuplicateKey) {
		return workflows.DsrOutcome{}, temporal.NewNonRetryableApplicationError(err.Error(), "NotRectifiable", nil)
	}
	if err != nil {
		return workflows.DsrOutcome{}, err
	}
	if !s.Found() {
		return workflows.DsrOutcome{Detail: "nothing held: nothing to correct"}, nil
	}
	kind := "contact"
	if r.SubjectKind == models.SubjectCustomer {
		kind = "account"
	}
	for _, id := range s.IDs {
		if err := a.privacyAuditTarget(ctx, r, "privacy.rectified", fmt.Sprintf("%s:%d", kind, id),
			fmt.Sprintf("corrected %s (%s)", strings.Join(cols, ", "), r.WorkflowID())); err != nil {
			return workflows.DsrOutcome{}, err
		}
	}
	return workflows.DsrOutcome{Rows: int64(len(s.IDs)), Detail: "corrected " + strings.Join(cols, ", ")}, nil
}

// RecordPrivacyPreference records a restriction, an objection or a consent
// withdrawal for each of the subject's contacts (or the account); the gate
// and the mailer read them through store.SubjectContextFor*.
func (a *Activities) RecordPrivacyPreference(ctx context.Context, ref workflows.DsrRef) (workflows.DsrOutcome, error) {
	r, err := a.privacyRequest(ctx, ref.RequestID)
	if err != nil {
		return workflows.DsrOutcome{}, err
	}
	p := models.SubjectPreference{OrganizationID: r.OrganizationID, Source: r.WorkflowID(), RequestID: r.ID}
	switch r.Type {
	case obligations.DsrRestriction:
		p.Kind, p.Active = models.PreferenceRestriction, true
	case obligations.DsrObjection:
		p.Kind, p.Value, p.Active = models.PreferenceObjection, r.Ground, true
	case obligations.DsrConsentWithdrawal:
		p.Kind, p.Value, p.Active = models.PreferenceConsent, r.Ground, false
	default:
		return workflows.DsrOutcome{}, temporal.NewNonRetryableApplicationError("not a preference request", "InvalidInput", nil)
	}
	n := 0
	err = a.Store.Tx(ctx, func(tx *store.Store) error {
		for _, id := range r.SubjectIDs {
			row := p
			if r.SubjectKind == models.SubjectCustomer {
				row.AccountID = id
			} else {
				row.ContactID = id
			}
			done, err := tx.PreferenceRecorded(ctx, row)
			if err != nil {
				return err
			}
			if done {
				continue
			}
			if err := tx.RecordSubjectPreference(ctx, row); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return workflows.DsrOutcome{}, err
	}
	detail := fmt.Sprintf("%s %s recorded for %d subject record(s)", p.Kind, p.Value, len(r.SubjectIDs))
	if len(r.SubjectIDs) == 0 {
		detail = "nothing held: nothing to record"
	}
	return workflows.DsrOutcome{Rows: int64(n), Detail: strings.Replace(detail, "  ", " ", 1)}, nil
}

// FinishPrivacyRequest drops what the request no longer needs: the code,
// and for an erasure the scanner's search terms and the request's own key,
// so the requester's address is shredded with the subject's data. The row
// stays as the evidence (type, dates, status, counts, the scan report).
func (a *Activities) FinishPrivacyRequest(ctx context.Context, ref workflows.DsrRef) (workflows.DsrOutcome, error) {
	r, err := a.privacyRequest(ctx, ref.RequestID)
	if err != nil {
		return workflows.DsrOutcome{}, err
	}
	if r.Type == obligations.DsrErasure && r.Status != obligations.DsrExpired {
		err = a.Store.Tx(ctx, func(tx *store.Store) error {
			if err := tx.ClearPrivacyRequest(ctx, r.ID, true); err != nil {
				return err
			}
			if err := tx.EmitPrivacyRequestEvent(ctx, r.OrganizationID, r.ID, models.WebhookPrivacyRequestCompleted); err != nil {
				return err
			}
			return tx.DestroyDataKey(ctx, r.DataKeyID)
		})
		if err != nil {
			return workflows.DsrOutcome{}, err
		}
		return workflows.DsrOutcome{Detail: "the request's own copy of the address and the search terms are shredded"}, nil
	}
	// The organization's webhooks hear of the completion (IDs only), with
	// the request's closing.
	err = a.Store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.ClearPrivacyRequest(ctx, r.ID, false); err != nil {
			return err
		}
		return tx.EmitPrivacyRequestEvent(ctx, r.OrganizationID, r.ID, models.WebhookPrivacyRequestCompleted)
	})
	if err != nil {
		return workflows.DsrOutcome{}, err
	}
	return workflows.DsrOutcome{Detail: "closed"}, nil
}

// ExpirePrivacyExports deletes a request's exports whose link expired or
// was used (the file from the blob store, then the row); Rows counts those
// still live.
func (a *Activities) ExpirePrivacyExports(ctx context.Context, ref workflows.DsrRef) (workflows.DsrOutcome, error) {
	r, err := a.privacyRequest(ctx, ref.RequestID)
	if err != nil {
		return workflows.DsrOutcome{}, err
	}
	exports, err := a.Store.PrivacyExportsOfRequest(ctx, r.ID, 0)
	if err != nil {
		return workflows.DsrOutcome{}, err
	}
	org, err := a.requestOrg(ctx, r)
	if err != nil {
		return workflows.DsrOutcome{}, err
	}
	now := time.Now().UTC()
	out := workflows.DsrOutcome{}
	for _, e := range exports {
		if e.UsedAt == nil && now.Before(e.ExpiresAt) {
			out.Rows++
			continue
		}
		if a.Blobs != nil {
			sc := subprocessors.StorageContext{Organization: org, Subject: policies.SubjectContext{Kind: r.SubjectKind}, Categories: []string{"user"}}
			if err := a.Blobs.Delete(ctx, sc, e.BlobKey); err != nil && !errors.Is(err, blob.ErrNotFound) {
				return workflows.DsrOutcome{}, err
			}
		}
		if err := a.Store.DeletePrivacyExport(ctx, e.ID); err != nil {
			return workflows.DsrOutcome{}, err
		}
		out.Files++
	}
	out.Detail = fmt.Sprintf("%d expired or used download(s) deleted, %d still live", out.Files, out.Rows)
	return out, nil
}

// --- notices ---------------------------------------------------------------------

// NotifyPrivacyOfficer tells the privacy officer that a request waits for a
// decision, is due in seven or two days, is overdue, or that a step failed.
// An End User's request goes to the organization's owners and admins (the
// Customer is the controller); a Customer's to Convot's privacy officer.
// The mail names the request and the deadline, never the requester.
func (a *Activities) NotifyPrivacyOfficer(ctx context.Context, n workflows.DsrNotice) error {
	if a.Mail == nil {
		return errNoMail()
	}
	r, err := a.privacyRequest(ctx, n.RequestID)
	if err != nil {
		return err
	}
	subject, text := officerMail(r, n, a.BaseURL, a.workflowLink(r))
	var to []string
	org := deploymentOr(r.OrganizationID)
	if r.Controller == models.ControllerOrganization {
		officers, err := a.officers(ctx, r.OrganizationID)
		if err != nil {
			return err
		}
		for _, o := range officers {
			if o.Email != "" {
				to = append(to, o.Email)
			}
		}
		if o, err := a.organization(ctx, r.OrganizationID); err == nil {
			org.Region = o.Region
		}
	} else {
		officer := a.Privacy.Officer
		if officer == "" {
			officer = DefaultPrivacyOfficer
		}
		to = append(to, officer)
	}
	for _, addr := range to {
		err := a.Mail.Send(ctx, mail.Message{From: a.MailFrom, To: addr, Subject: subject, Text: text, Stream: mail.Transactional,
			Tag: "privacy_officer_" + n.Kind, Org: org, Recipient: policies.SubjectContext{Kind: models.SubjectCustomer}})
		if err != nil {
			return fmt.Errorf("send %s: %w", n.Kind, err)
		}
	}
	return nil
}

func (a *Activities) workflowLink(r *models.PrivacyRequest) string {
	if a.Privacy.TemporalUIURL == "" {
		return ""
	}
	ns := a.Privacy.Namespace
	if ns == "" {
		ns = "default"
	}
	return strings.TrimSuffix(a.Privacy.TemporalUIURL, "/") + "/namespaces/" + ns + "/workflows/" + r.WorkflowID()
}

func officerMail(r *models.PrivacyRequest, n workflows.DsrNotice, baseURL, workflowURL string) (string, string) {
	due := n.Deadline.UTC().Format("2 January 2006 15:04 UTC")
	id := r.WorkflowID()
	var subject, lead string
	switch n.Kind {
	case workflows.NoticeAwaitingApproval:
		subject, lead = fmt.Sprintf("Privacy request %s waits for your decision", id),
			fmt.Sprintf("The %s request %s is verified and waits for your decision. It must be answered by %s.", r.Type, id, due)
	case workflows.NoticeReminder7Days:
		subject, lead = fmt.Sprintf("Privacy request %s is due in 7 days", id),
			fmt.Sprintf("The %s request %s must be answered by %s, in seven days.", r.Type, id, due)
	case workflows.NoticeReminder2Days:
		subject, lead = fmt.Sprintf("Privacy request %s is due in 2 days", id),
			fmt.Sprintf("The %s request %s must be answered by %s, in two days.", r.Type, id, due)
	case workflows.NoticeOverdue:
		subject, lead = fmt.Sprintf("Privacy request %s is overdue", id),
			fmt.Sprintf("The %s request %s was due on %s and is not answered yet.", r.Type, id, due)
	case workflows.NoticeStepFailed:
		subject, lead = fmt.Sprintf("Privacy request %s needs you: the %s step failed", id, n.Step),
			fmt.Sprintf("The %s step of the %s request %s failed", n.Step, r.Type, id)
		if n.Step == "scan" {
			lead += ": the erasure-completeness scanner found data of the subject left. Its report (tables, columns and row IDs, no values) is on the request's page"
		}
		lead += ". Resolve the cause, then retry the step from the request's page or signal retry in the Temporal UI."
	default:
		subject, lead = "Privacy request "+id, "The request "+id+" changed."
	}
	text := lead + "\n\nDeadline: " + due + "\n"
	if r.Controller == models.ControllerOrganization {
		text += fmt.Sprintf("Request: %s/privacy/requests/%d\n", strings.TrimSuffix(baseURL, "/"), r.ID)
	}
	if workflowURL != "" {
		text += "Workflow: " + workflowURL + "\n"
	}
	return subject, text
}

// NotifyPrivacyRequester tells the requester that the deadline was
// extended (and why), that the request was answered (with a single-use
// download link for access and portability), rejected, or expired. The
// outcome's detail is what the request's history shows for the step.
func (a *Activities) NotifyPrivacyRequester(ctx context.Context, n workflows.DsrNotice) (workflows.DsrOutcome, error) {
	if a.Mail == nil {
		return workflows.DsrOutcome{}, errNoMail()
	}
	r, err := a.privacyRequest(ctx, n.RequestID)
	if err != nil {
		return workflows.DsrOutcome{}, err
	}
	if r.RequesterEmail == "" {
		// Logged by an operator for a contact without an address: the
		// officer answers.
		return workflows.DsrOutcome{Detail: "no address to mail: the privacy officer answers the person"}, nil
	}
	controller := "Convot"
	org := deploymentOr(r.OrganizationID)
	if r.OrganizationID != 0 {
		if o, err := a.organization(ctx, r.OrganizationID); err == nil {
			org.Region = o.Region
			if r.Controller == models.ControllerOrganization && o.CompanyName != "" {
				controller = o.CompanyName
			}
		}
	}
	base := strings.TrimSuffix(a.BaseURL, "/")
	id := r.WorkflowID()
	var subject, text string
	switch n.Kind {
	case workflows.NoticeExtended:
		subject = "Your privacy request " + id + " needs more time"
		text = fmt.Sprintf("%s needs more time to answer your %s request %s, as the law allows. The new deadline is %s.\n\nReason: %s\n",
			controller, r.Type, id, n.Deadline.UTC().Format("2 January 2006"), r.ExtensionReason)
	case workflows.NoticeRejected:
		subject = "Your privacy request " + id + " was declined"
		text = fmt.Sprintf("%s declined your %s request %s.\n\nReason: %s\n\nYou may lodge a complaint with your data-protection authority.\n",
			controller, r.Type, id, orDefault(r.RejectionReason, "no reason was given"))
	case workflows.NoticeExpired:
		subject = "Your privacy request " + id + " expired"
		text = fmt.Sprintf("Your %s request %s expired because it was not confirmed with the code we sent within 7 days. Nothing was done. You may submit a new request at any time.\n", r.Type, id)
	case workflows.NoticeCompleted:
		subject = "Your privacy request " + id + " is answered"
		text, err = a.completionText(ctx, r, controller, base)
		if err != nil {
			return workflows.DsrOutcome{}, err
		}
	default:
		return workflows.DsrOutcome{}, temporal.NewNonRetryableApplicationError("unknown notice "+n.Kind, "InvalidInput", nil)
	}
	err = a.Mail.Send(ctx, mail.Message{From: a.MailFrom, To: r.RequesterEmail, Subject: subject, Text: text, Stream: mail.Transactional,
		Tag: "privacy_request_" + n.Kind, Org: org, Recipient: policies.SubjectContext{Kind: r.SubjectKind}})
	if err != nil {
		return workflows.DsrOutcome{}, err
	}
	return workflows.DsrOutcome{Detail: "the requester was mailed (" + n.Kind + ")"}, nil
}

func orDefault(s, d string) string {
	if strings.TrimSpace(s) == "" {
		return d
	}
	return s
}

func (a *Activities) completionText(ctx context.Context, r *models.PrivacyRequest, controller, base string) (string, error) {
	id := r.WorkflowID()
	none := len(r.SubjectIDs) == 0
	switch r.Type {
	case obligations.DsrAccess, obligations.DsrPortability:
		link, err := a.issueDownload(ctx, r)
		if err != nil {
			return "", err
		}
		what := "a copy of the personal data held about you, with what it is used for, where it comes from, who receives it and how long it is kept"
		if r.Type == obligations.DsrPortability {
			what = "your personal data in a machine-readable archive (JSON, and CSV per category, with your files)"
		}
		if none {
			what = "the answer: no personal data is held about this address"
		}
		return fmt.Sprintf("%s answered your %s request %s. Download %s here, once, within %d days:\n\n%s\n\nThe link works once. Keep the file safe.\n",
			controller, r.Type, id, what, int(a.exportLifetime().Hours()/24), link), nil
	case obligations.DsrErasure:
		if none {
			return fmt.Sprintf("%s answered your erasure request %s: no personal data is held about this address.\n", controller, id), nil
		}
		text := fmt.Sprintf("%s erased your personal data (request %s): your profile, conversations, messages and files are deleted, and the keys that encrypted them destroyed, so that no copy, backups included, can be read.\n", controller, id)
		if prev := previousErasure(r.Result); prev != nil && len(prev.Erasure.Retained) > 0 {
			text += "\nAs tax and accounting law requires, invoices and payment records are kept for seven years (legal obligation), then deleted.\n"
		}
		return text, nil
	case obligations.DsrRectification:
		return fmt.Sprintf("%s corrected your data as you asked (request %s).\n", controller, id), nil
	case obligations.DsrRestriction:
		return fmt.Sprintf("%s restricted the processing of your data (request %s): it is stored, and nothing more is done with it.\n", controller, id), nil
	case obligations.DsrObjection:
		return fmt.Sprintf("%s recorded your objection (%s, request %s): your data is no longer processed on that ground.\n", controller, strings.ReplaceAll(r.Ground, "_", " "), id), nil
	case obligations.DsrConsentWithdrawal:
		return fmt.Sprintf("%s recorded the withdrawal of your consent (%s, request %s). Processing before the withdrawal remains lawful.\n", controller, strings.ReplaceAll(r.Ground, "_", " "), id), nil
	}
	return "", temporal.NewNonRetryableApplicationError("unknown request type", "InvalidInput", nil)
}

func (a *Activities) exportLifetime() time.Duration {
	if a.Privacy.ExportLifetime > 0 {
		return a.Privacy.ExportLifetime
	}
	return DefaultExportLifetime
}

// issueDownload gives the request's newest export a fresh single-use token
// and returns its link; an earlier token stops working.
func (a *Activities) issueDownload(ctx context.Context, r *models.PrivacyRequest) (string, error) {
	e, err := a.Store.NewestPrivacyExport(ctx, r.ID)
	if errors.Is(err, store.ErrNotFound) {
		return "", temporal.NewNonRetryableApplicationError("the request has no export", "NoExport", nil)
	}
	if err != nil {
		return "", err
	}
	token := crypto.RandomToken(32)
	if err := a.Store.ReissuePrivacyExportToken(ctx, e.ID, crypto.HashToken(token), time.Now().UTC().Add(a.exportLifetime())); err != nil {
		return "", err
	}
	return strings.TrimSuffix(a.BaseURL, "/") + "/privacy-downloads/" + token, nil
}

// --- helpers ---------------------------------------------------------------------

// deploymentOr is the organization's context to complete with its region,
// or, for a request to Convot itself (no organization), the deployment as
// controller of its own records, which may answer the requester by mail.
func deploymentOr(orgID uint64) policies.OrgContext {
	if orgID == 0 {
		return policies.OrgContext{Region: "eu", Deployment: true}
	}
	return policies.OrgContext{ID: orgID} // the caller reads the region
}

func (a *Activities) requestOrg(ctx context.Context, r *models.PrivacyRequest) (policies.OrgContext, error) {
	org := deploymentOr(r.OrganizationID)
	if r.OrganizationID == 0 {
		return org, nil
	}
	o, err := a.organization(ctx, r.OrganizationID)
	if err != nil {
		return org, err
	}
	org.Region = o.Region
	return org, nil
}

func (a *Activities) privacyAudit(ctx context.Context, r *models.PrivacyRequest, action, detail string) error {
	return a.privacyAuditTarget(ctx, r, action, "privacy_request:"+fmt.Sprint(r.ID), detail)
}

func (a *Activities) privacyAuditTarget(ctx context.Context, r *models.PrivacyRequest, action, target, detail string) error {
	recorded, err := a.Store.AuditRecordedWithDetail(ctx, action, target, detail)
	if err != nil {
		return err
	}
	if recorded {
		return nil // a retried activity records once
	}
	return a.systemAudit(ctx, a.Store, r.OrganizationID, r.DecidedByID, action, detail, target)
}
