package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"gorm.io/gorm"

	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/workflows"
)

const policyNoticeBatch = 200

// SendPolicyNotices mails the notice of a policy version to every active
// customer account (policy §13; transactional: a service update, §4), a
// batch at a time, heartbeating. Each account is mailed once however often
// it is retried; it returns how many accounts were told.
func (a *Activities) SendPolicyNotices(ctx context.Context, version int) (int64, error) {
	if a.Mail == nil {
		return 0, temporal.NewNonRetryableApplicationError("no mail sender configured", "NoMail", nil)
	}
	v, err := models.PolicyByVersion(ctx, a.DB, version)
	if err != nil {
		return 0, err
	}
	if v == nil {
		return 0, temporal.NewNonRetryableApplicationError(fmt.Sprintf("policy version %d not found", version), "NotFound", nil)
	}
	var after uint64
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &after)
	}
	orgs := map[uint64]*models.Organization{}
	for {
		var accounts []models.Account
		err := a.DB.WithContext(ctx).Where("status = ? AND id > ?", "active", after).Order("id").Limit(policyNoticeBatch).Find(&accounts).Error
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
				var o models.Organization
				if err := a.DB.WithContext(ctx).Select("id", "region", "status").Where("id = ?", acc.OrganizationID).Limit(1).Find(&o).Error; err != nil {
					return 0, err
				}
				org = &o
				orgs[acc.OrganizationID] = org
			}
			if org.ID == 0 || acc.Email == "" {
				continue
			}
			if err := a.sendPolicyNotice(ctx, v, acc, org); err != nil {
				return 0, err
			}
		}
		activity.RecordHeartbeat(ctx, after)
	}
	var n int64
	err = a.DB.WithContext(ctx).Model(&models.PolicyNotice{}).Where("version = ?", version).Count(&n).Error
	return n, err
}

func (a *Activities) sendPolicyNotice(ctx context.Context, v *models.PolicyVersion, acc models.Account, org *models.Organization) error {
	claim := models.PolicyNotice{Version: v.Version, AccountID: acc.ID, SentAt: time.Now().UTC()}
	if err := a.DB.WithContext(ctx).Create(&claim).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return nil
		}
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
		Org:       org.GateContext(),
		Recipient: policies.SubjectContext{Kind: models.SubjectCustomer},
	})
	if err != nil {
		a.DB.WithContext(context.WithoutCancel(ctx)).Delete(&models.PolicyNotice{}, claim.ID)
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
	var n int64
	if err := a.DB.WithContext(ctx).Model(&models.AuditEvent{}).Where("action = ? AND target = ?", action, target).Count(&n).Error; err != nil || n > 0 {
		return err
	}
	return a.systemAudit(a.DB.WithContext(ctx), 0, 0, action, in.Detail, target)
}
