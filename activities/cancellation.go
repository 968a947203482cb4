package activities

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/convot/convot/internal/blob"
	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
	"github.com/convot/convot/workflows"
)

// The activities of the account cancellation (workflows/cancellation.go).

// MarkOrganizationCancelled makes the organization read-only (status
// cancelled). The owner's close-account action does the same at once; the
// activity does it for a cancellation Stripe started, and records the
// audit event when it was the one to change the status.
func (a *Activities) MarkOrganizationCancelled(ctx context.Context, ch workflows.CancellationChange) error {
	org, err := a.organization(ctx, ch.OrganizationID)
	if err != nil {
		return err
	}
	if org.Status == models.OrgDeleted {
		return temporal.NewNonRetryableApplicationError("the organization is deleted", "OrganizationDeleted", models.ErrOrganizationDeleted)
	}
	return a.Store.Tx(ctx, func(tx *store.Store) error {
		changed, err := tx.SetOrganizationStatus(ctx, ch.OrganizationID, models.OrgActive, models.OrgCancelled, ch.At)
		if err != nil || !changed {
			return err
		}
		return a.systemAudit(ctx, tx, ch.OrganizationID, ch.ActorID, "organization.cancelled",
			fmt.Sprintf("%s; deletion on %s", ch.Reason, ch.DeleteAt.UTC().Format(time.DateOnly)))
	})
}

// ReactivateOrganization makes a cancelled organization active again.
func (a *Activities) ReactivateOrganization(ctx context.Context, ch workflows.CancellationChange) error {
	if _, err := a.organization(ctx, ch.OrganizationID); err != nil {
		return err
	}
	return a.Store.Tx(ctx, func(tx *store.Store) error {
		changed, err := tx.SetOrganizationStatus(ctx, ch.OrganizationID, models.OrgCancelled, models.OrgActive, ch.At)
		if err != nil || !changed {
			return err
		}
		return a.systemAudit(ctx, tx, ch.OrganizationID, ch.ActorID, "organization.reactivated", "")
	})
}

// SendCancellationNotice mails every owner of the organization: at
// cancellation, three days before deletion, and when reactivated. These are
// transactional mail (policy §4).
func (a *Activities) SendCancellationNotice(ctx context.Context, n workflows.CancellationNotice) error {
	if a.Mail == nil {
		return errNoMail()
	}
	org, err := a.organization(ctx, n.OrganizationID)
	if err != nil {
		return err
	}
	owners, err := a.Store.ActiveAccountsInRoles(ctx, n.OrganizationID, models.RoleOwner)
	if err != nil {
		return err
	}
	subject, text, tag, err := cancellationMail(n, org.CompanyName, strings.TrimSuffix(a.BaseURL, "/")+"/billing")
	if err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), "InvalidInput", nil)
	}
	for _, o := range owners {
		if o.Email == "" {
			continue
		}
		err := a.Mail.Send(ctx, mail.Message{
			From: a.MailFrom, To: o.Email, Subject: subject, Text: "Hello " + o.DisplayName + ",\n\n" + text,
			Stream: mail.Transactional, Tag: tag,
			Org:       org.GateContext(),
			Recipient: policies.SubjectContext{Kind: models.SubjectCustomer},
		})
		if err != nil {
			return fmt.Errorf("send %s: %w", tag, err)
		}
	}
	return nil
}

func cancellationMail(n workflows.CancellationNotice, company, billingURL string) (subject, text, tag string, err error) {
	name := company
	if name == "" {
		name = "your organization"
	}
	date := n.DeleteAt.UTC().Format("2 January 2006")
	switch n.Kind {
	case workflows.NoticeCancelled:
		return "Your Convot account is closed", fmt.Sprintf(
			"The Convot account of %s is closed and read-only from now on.\n\n"+
				"We keep its data, and the data of its end users, for 30 days in case this was a mistake. "+
				"On %s it will be permanently deleted; invoices and payment records are kept for seven years, as tax law requires.\n\n"+
				"To keep the account, reactivate it before then: %s\n", name, date, billingURL), "cancellation_notice", nil
	case workflows.NoticeReminder:
		return "Your Convot data will be deleted in 3 days", fmt.Sprintf(
			"The Convot account of %s was closed. On %s its data, and the data of its end users, will be permanently deleted.\n\n"+
				"To keep it, reactivate the account before then: %s\n", name, date, billingURL), "cancellation_reminder", nil
	case workflows.NoticeReactivated:
		return "Your Convot account is active again", fmt.Sprintf(
			"The Convot account of %s is active again; nothing will be deleted.\n\nBilling: %s\n", name, billingURL), "cancellation_reactivated", nil
	}
	return "", "", "", fmt.Errorf("unknown notice kind %q", n.Kind)
}

// DeleteOrganizationData permanently deletes a cancelled organization's data
// and its end users' data, keeping its billing records, destroying its data
// keys, deleting its blobs and its Stripe customer. It heartbeats its
// progress, so a retry resumes the counts, and records the counts (never
// the data) in an audit event.
func (a *Activities) DeleteOrganizationData(ctx context.Context, req workflows.DeletionRequest) (workflows.DeletionReport, error) {
	if a.Keys == nil {
		return workflows.DeletionReport{}, errNoKeys()
	}
	org, err := a.organization(ctx, req.OrganizationID)
	if err != nil {
		return workflows.DeletionReport{}, err
	}
	if org.Status == models.OrgActive {
		return workflows.DeletionReport{}, temporal.NewNonRetryableApplicationError("the organization is active", "OrganizationActive", nil)
	}
	var progress models.DeletionProgress
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &progress); err != nil {
			progress = models.DeletionProgress{}
		}
	}
	orgCtx := org.GateContext()

	// The Stripe customer (name, email at Stripe) goes too; Stripe keeps
	// its invoices for its own legal duties.
	if a.Stripe != nil {
		sub, err := a.Store.Subscription(ctx, org.ID)
		if errors.Is(err, store.ErrNotFound) {
			sub, err = nil, nil
		}
		if err != nil {
			return workflows.DeletionReport{}, err
		}
		if sub != nil && sub.StripeCustomerID != "" {
			switch err := a.Stripe.DeleteCustomer(ctx, orgCtx, sub.StripeCustomerID); {
			case err == nil:
				progress.Deleted = addCount(progress.Deleted, "stripe customer", 1)
			case errors.Is(err, subprocessors.ErrDenied):
				activity.GetLogger(ctx).Warn("the egress gate refused deleting the Stripe customer", "organization", org.ID)
			default:
				return workflows.DeletionReport{}, err
			}
		}
	}

	var blobs models.BlobDeleter
	if a.Blobs != nil {
		blobs = func(ctx context.Context, t models.OrgTable, key string) error {
			sc := subprocessors.StorageContext{Organization: orgCtx, Subject: policies.SubjectContext{Kind: t.Subject}, Categories: t.Categories}
			if sc.Subject.Kind == "" {
				sc.Subject.Kind = models.SubjectEndUser
			}
			if err := a.Blobs.Delete(ctx, sc, key); err != nil && !errors.Is(err, blob.ErrNotFound) {
				return err
			}
			return nil
		}
	}
	progress, kept, err := a.Store.DeleteOrganizationData(ctx, org.ID, models.DeletionBatchSize, progress, blobs,
		func(p models.DeletionProgress) error {
			activity.RecordHeartbeat(ctx, p)
			return ctx.Err()
		})
	if err != nil {
		return workflows.DeletionReport{}, err
	}
	report := workflows.DeletionReport{Deleted: progress.Deleted, Kept: kept, KeysDestroyed: progress.KeysDestroyed, BlobsDeleted: progress.BlobsDeleted}

	// The record of the deletion is the organization's no longer: it is
	// kept with organization 0, naming the organization by ID, once.
	target := fmt.Sprintf("organization:%d", org.ID)
	recorded, err := a.Store.AuditRecorded(ctx, "organization.deleted", target)
	if err != nil {
		return report, err
	}
	if !recorded {
		detail := fmt.Sprintf("deleted %s; kept (billing) %s; data keys destroyed %d; blobs deleted %d",
			formatCounts(report.Deleted), formatCounts(report.Kept), report.KeysDestroyed, report.BlobsDeleted)
		if err := a.systemAudit(ctx, a.Store, 0, 0, "organization.deleted", detail, target); err != nil {
			return report, err
		}
	}
	return report, nil
}

func addCount(m map[string]int64, k string, n int64) map[string]int64 {
	if m == nil {
		m = map[string]int64{}
	}
	m[k] += n
	return m
}

func formatCounts(m map[string]int64) string {
	if len(m) == 0 {
		return "nothing"
	}
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

// organization loads an organization's ID, status, region and name; a
// missing one is a non-retryable error.
func (a *Activities) organization(ctx context.Context, id uint64) (*models.Organization, error) {
	org, err := a.Store.Organization(ctx, id)
	return found(org, err, "organization", id)
}

// systemAudit records an audit event of a workflow (no request: no IP or
// user agent), sealed under the system key. target defaults to the
// organization. st is the Store, or the transaction it is written in.
func (a *Activities) systemAudit(ctx context.Context, st *store.Store, orgID, actorID uint64, action, detail string, target ...string) error {
	if a.Keys == nil {
		return errors.New("no key store configured")
	}
	t := fmt.Sprintf("organization:%d", orgID)
	if len(target) > 0 {
		t = target[0]
	}
	return st.CreateAuditEvent(ctx, &models.AuditEvent{
		OrganizationID: orgID, ActorID: actorID, DataKeyID: a.Keys.SystemKey(),
		Action: action, Target: t, Detail: detail, CreatedAt: time.Now().UTC(),
	})
}
