package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

const policyNoticeBatch = 200

// SendPolicyNotices mails the notice of a policy version to every active
// customer account (policy §13; transactional: a service update, §4), a
// batch at a time, heartbeating. Each account is mailed once however often
// it is retried; it returns how many accounts were told.
func (a *Activities) SendPolicyNotices(ctx context.Context, version int) (int64, error) {
	if a.Mail == nil {
		return 0, errNoMail()
	}
	v, err := a.Store.PolicyByVersion(ctx, version)
	if v, err = found(v, err, "policy version", version); err != nil {
		return 0, err
	}
	var after uint64
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &after)
	}
	// An organization's gate context, nil when it is gone.
	orgs := map[uint64]*policies.OrgContext{}
	for {
		accounts, err := a.Store.EveryActiveAccountPage(ctx, after, policyNoticeBatch)
		if err != nil {
			return 0, err
		}
		if len(accounts) == 0 {
			break
		}
		for _, acc := range accounts {
			after = acc.ID
			org, ok := orgs[acc.OrganizationID]
			if !ok {
				o, err := a.Store.OrganizationGateContext(ctx, acc.OrganizationID)
				switch {
				case err == nil:
					org = &o
				case !errors.Is(err, store.ErrNotFound):
					return 0, err
				}
				orgs[acc.OrganizationID] = org
			}
			if org == nil || acc.Email == "" {
				continue
			}
			if err := a.sendPolicyNotice(ctx, v, acc, org); err != nil {
				return 0, err
			}
		}
		activity.RecordHeartbeat(ctx, after)
	}
	return a.Store.PolicyNoticeCount(ctx, version)
}

func (a *Activities) sendPolicyNotice(ctx context.Context, v *models.PolicyVersion, acc models.Account, org *policies.OrgContext) error {
	claim := models.PolicyNotice{Version: v.Version, AccountID: acc.ID, SentAt: time.Now().UTC()}
	if claimed, err := a.Store.ClaimPolicyNotice(ctx, &claim); err != nil || !claimed {
		return err
	}
	link := strings.TrimSuffix(a.BaseURL, "/") + fmt.Sprintf("/privacy?version=%d", v.Version)
	kind := "an update"
	if v.Material {
		kind = "a material change"
	}
	text := fmt.Sprintf("Hello %s,\n\nwe have published %s to Convot's privacy policy. It takes effect on %s.\n\nWhat changes: %s\n\nRead the new version:\n%s\n\nUntil then the current policy applies. If you do not agree with the change, you may close your account before it takes effect.\n",
		acc.DisplayName, kind, v.EffectiveAt.UTC().Format("2 January 2006"), v.Summary, link)
	err := a.Mail.Send(ctx, mail.Message{
		From: a.MailFrom, To: acc.Email, Subject: fmt.Sprintf("Changes to Convot's privacy policy, effective %s", v.EffectiveAt.UTC().Format("2 January 2006")),
		Text: text, Stream: mail.Transactional, Tag: "policy_change",
		Org:       *org,
		Recipient: policies.SubjectContext{Kind: models.SubjectCustomer},
	})
	if err != nil {
		_ = a.Store.ReleasePolicyNotice(context.WithoutCancel(ctx), claim.ID)
		if undeliverable(err) {
			return nil
		}
		return fmt.Errorf("send policy notice: %w", err)
	}
	return nil
}

// RecordPolicyStep records a step of a policy change in the audit log of
// the deployment.
func (a *Activities) RecordPolicyStep(ctx context.Context, in workflows.PolicyStepInput) error {
	target := fmt.Sprintf("policy_version:%d", in.Version)
	action := "policy." + in.Step
	if recorded, err := a.Store.AuditRecorded(ctx, action, target); err != nil || recorded {
		return err
	}
	return a.systemAudit(ctx, a.Store, 0, 0, action, in.Detail, target)
}
