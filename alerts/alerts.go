// Package alerts watches for unusual activity (policy §10: "monitoring to
// detect unusual activity") and raises security alerts. Its rules:
//
//   - failed_sign_ins_account: failed sign-ins to one account (wrong
//     password, or refused while locked) within a window;
//   - failed_sign_ins_ip: failed sign-ins from one IP address to the
//     accounts of one organization within a window;
//   - gate_denials: the egress gate's denials of one organization's flows
//     within a window;
//   - bulk_downloads: downloads of exports, attachments and the audit log
//     by one account within a window;
//   - new_country: a sign-in from a country (GeoIP) the account has not
//     signed in from in the last 12 months, when it has signed in from
//     another before.
//
// Thresholds and windows are settings (CONVOT_ALERT_*). Windows are fixed
// (aligned to the window's length): events are counted by one upsert per
// event and a window's alert is claimed by one conditional update, both in
// the database, so an alert is raised exactly once per window and subject
// however many nodes and requests race (DESIGN.md invariant 8).
//
// A raised alert is an audit event (action security.alert, the rule in its
// target and detail; the audit log page filters on it), a mail to the
// organization's owners through the mail path and the egress gate, and one
// increment of convot_security_alerts_total{rule}. Nothing personal is in
// the event's target or detail, nor in the mail: the account by ID, the IP
// address only sealed in the event's IP field, no country.
package alerts

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/convot/convot/internal/config"
	"github.com/convot/convot/internal/geoip"
	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/internal/metrics"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
)

// The rules, as named in the audit log and the metric.
const (
	RuleFailedSignInsAccount = "failed_sign_ins_account"
	RuleFailedSignInsIP      = "failed_sign_ins_ip"
	RuleGateDenials          = "gate_denials"
	RuleBulkDownloads        = "bulk_downloads"
	RuleNewCountry           = "new_country"
)

// Rules lists every rule.
var Rules = []string{RuleFailedSignInsAccount, RuleFailedSignInsIP, RuleGateDenials, RuleBulkDownloads, RuleNewCountry}

// AuditAction is the audit log's action of a raised alert.
const AuditAction = "security.alert"

// MailTag is the tag of the owners' alert mail.
const MailTag = "security_alert_unusual_activity"

func init() {
	for _, r := range Rules {
		metrics.SecurityAlerts.WithLabelValues(r) // each series exists from the start, at 0
	}
}

// Monitor counts the events the rules watch and raises their alerts. A
// nil *Monitor watches nothing.
type Monitor struct {
	Store      *store.Store
	Thresholds config.AlertThresholds
	// Mail sends the owners' alert (nil: none is sent), from MailFrom,
	// linking the audit log at BaseURL.
	Mail     mail.Sender
	MailFrom string
	BaseURL  string
	// GeoIP gives a sign-in's country (nil: the new_country rule is off).
	GeoIP *geoip.DB
	// IPSecret keys the HMAC that stands for an IP address in the
	// per-IP counters: the address itself is not kept.
	IPSecret []byte
	Now      func() time.Time
}

func (m *Monitor) now() time.Time {
	if m.Now != nil {
		return m.Now().UTC()
	}
	return time.Now().UTC()
}

// FailedSignIn counts a failed sign-in to the organization's account from
// ip (an unknown email has no organization: nothing is counted).
func (m *Monitor) FailedSignIn(ctx context.Context, orgID, accountID uint64, ip string) error {
	if m == nil || orgID == 0 {
		return nil
	}
	var first error
	if accountID != 0 {
		first = m.count(ctx, orgID, RuleFailedSignInsAccount, m.Thresholds.FailedSignInsAccount, store.AlertCount{AccountID: accountID}, ip)
	}
	if ip != "" {
		err := m.count(ctx, orgID, RuleFailedSignInsIP, m.Thresholds.FailedSignInsIP, store.AlertCount{IPKey: m.ipKey(ip)}, ip)
		if first == nil {
			first = err
		}
	}
	return first
}

// GateDenied counts a denial of the egress gate for the organization.
func (m *Monitor) GateDenied(ctx context.Context, orgID uint64) error {
	if m == nil || orgID == 0 {
		return nil
	}
	return m.count(ctx, orgID, RuleGateDenials, m.Thresholds.GateDenials, store.AlertCount{}, "")
}

// Downloaded counts a download of an export or a file by the
// organization's account.
func (m *Monitor) Downloaded(ctx context.Context, orgID, accountID uint64, ip string) error {
	if m == nil || orgID == 0 || accountID == 0 {
		return nil
	}
	return m.count(ctx, orgID, RuleBulkDownloads, m.Thresholds.BulkDownloads, store.AlertCount{AccountID: accountID}, ip)
}

// SignedIn records the country of a completed sign-in of the
// organization's account from ip and raises new_country when the account
// has signed in from another country before, never from this one.
func (m *Monitor) SignedIn(ctx context.Context, orgID, accountID uint64, ip string) error {
	if m == nil || !m.Thresholds.NewCountry || orgID == 0 || accountID == 0 {
		return nil
	}
	country := m.GeoIP.Country(ip)
	if country == "" {
		return nil
	}
	now := m.now()
	var raised bool
	err := m.Store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if raised, err = tx.RecordSignInCountry(ctx, orgID, accountID, country, now); err != nil || !raised {
			return err
		}
		return m.audit(ctx, tx, orgID, accountID, RuleNewCountry, "a sign-in from a country not seen for the account in 12 months", ip, now)
	})
	if err != nil || !raised {
		return err
	}
	m.notify(ctx, orgID, RuleNewCountry, accountID, "An account of your organization signed in from a country it has not signed in from before (in the last 12 months).")
	return nil
}

// count counts one event of rule and raises its alert when this event
// reached the threshold in its window.
func (m *Monitor) count(ctx context.Context, orgID uint64, rule string, t config.Threshold, c store.AlertCount, ip string) error {
	if t.Off() {
		return nil
	}
	now := m.now()
	c.Rule, c.WindowStart = rule, now.Truncate(t.Window)
	var raised bool
	err := m.Store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if _, raised, err = tx.CountAlertEvent(ctx, orgID, c, int64(t.Count), now); err != nil || !raised {
			return err
		}
		return m.audit(ctx, tx, orgID, c.AccountID, rule, fmt.Sprintf("%d or more within %s", t.Count, t.Window), ip, now)
	})
	if err != nil || !raised {
		return err
	}
	m.notify(ctx, orgID, rule, c.AccountID, describe(rule, t))
	return nil
}

// audit records the alert in the organization's audit log, in tx.
func (m *Monitor) audit(ctx context.Context, tx *store.Store, orgID, accountID uint64, rule, detail, ip string, now time.Time) error {
	target := "organization:" + fmt.Sprint(orgID)
	if accountID != 0 {
		target = "account:" + fmt.Sprint(accountID)
	}
	return tx.CreateAuditEvent(ctx, &models.AuditEvent{OrganizationID: orgID, DataKeyID: tx.Keys().SystemKey(),
		Action: AuditAction, Target: target, Detail: rule + ": " + detail, IP: ip, CreatedAt: now})
}

// notify counts the alert in the metric and mails the organization's
// owners. The alert is recorded already: a mail that fails is logged.
func (m *Monitor) notify(ctx context.Context, orgID uint64, rule string, accountID uint64, what string) {
	metrics.SecurityAlerts.WithLabelValues(rule).Inc()
	slog.Warn("security alert raised", "rule", rule, "org", orgID)
	if m.Mail == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	org, err := m.Store.Organization(ctx, orgID)
	if err != nil {
		slog.Warn("security alert not mailed", "rule", rule, "org", orgID, "err", err)
		return
	}
	owners, err := m.Store.ActiveOwners(ctx, orgID)
	if err != nil {
		slog.Warn("security alert not mailed", "rule", rule, "org", orgID, "err", err)
		return
	}
	subject := "Convot security alert: " + strings.ReplaceAll(rule, "_", " ")
	about := ""
	if accountID != 0 {
		about = fmt.Sprintf("\nAccount: number %d (see the Team page).\n", accountID)
	}
	link := strings.TrimRight(m.BaseURL, "/") + "/audit-log?action=" + AuditAction
	for _, o := range owners {
		msg := mail.Message{From: m.MailFrom, To: o.Email, Subject: subject, Stream: mail.Transactional, Tag: MailTag,
			Text: fmt.Sprintf("Hello %s,\n\nConvot noticed unusual activity in %s.\n\n%s\n%s\nThe security alerts are in your audit log: %s\n\nIf this was expected, nothing needs doing. If not, review the accounts concerned, reset their passwords and check their two-factor authentication.\n",
				o.DisplayName, org.CompanyName, what, about, link),
			Org: org.GateContext(), Recipient: policies.SubjectContext{Kind: models.SubjectCustomer}}
		if err := m.Mail.Send(ctx, msg); err != nil {
			slog.Warn("security alert not mailed", "rule", rule, "org", orgID, "err", strings.SplitN(err.Error(), ":", 2)[0])
		}
	}
}

// describe says in a sentence what a counted rule saw.
func describe(rule string, t config.Threshold) string {
	switch rule {
	case RuleFailedSignInsAccount:
		return fmt.Sprintf("%d failed sign-ins to one account within %s.", t.Count, t.Window)
	case RuleFailedSignInsIP:
		return fmt.Sprintf("%d failed sign-ins from one network address to your organization's accounts within %s.", t.Count, t.Window)
	case RuleGateDenials:
		return fmt.Sprintf("%d transfers of data to subprocessors refused by Convot's egress gate within %s (see the auditor's decision log).", t.Count, t.Window)
	case RuleBulkDownloads:
		return fmt.Sprintf("%d downloads of exports or files by one account within %s.", t.Count, t.Window)
	}
	return rule
}

// ipKey is the keyed hash that stands for ip in the per-IP counters.
func (m *Monitor) ipKey(ip string) string {
	mac := hmac.New(sha256.New, m.IPSecret)
	mac.Write([]byte("alerts ip:" + ip))
	return hex.EncodeToString(mac.Sum(nil)[:16])
}

// DenialWatch is the gate's decision log with the gate_denials rule on
// top: every decision goes to Log; a recorded denial for an organization
// is counted by the Monitor set with Watch (none until then: the gate is
// made before the mail that the Monitor needs).
type DenialWatch struct {
	Log     policies.DecisionLog
	monitor atomic.Pointer[Monitor]
}

// Watch makes m count the denials.
func (w *DenialWatch) Watch(m *Monitor) { w.monitor.Store(m) }

// Record records r, then counts it when it is a denial.
func (w *DenialWatch) Record(ctx context.Context, r policies.DecisionRecord) error {
	if err := w.Log.Record(ctx, r); err != nil {
		return err
	}
	if !r.Allow && r.OrganizationID != 0 {
		if err := w.monitor.Load().GateDenied(context.WithoutCancel(ctx), r.OrganizationID); err != nil {
			slog.Warn("gate denial not counted", "org", r.OrganizationID, "err", err)
		}
	}
	return nil
}
