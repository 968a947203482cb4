package activities

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// incident loads an incident; a missing one is a non-retryable error.
func (a *Activities) incident(ctx context.Context, id uint64) (*models.Incident, error) {
	inc, err := a.Store.IncidentByID(ctx, id)
	return found(inc, err, "incident", id)
}

// RecordIncidentStep writes one step into the incident's trail and the
// audit log, and moves the incident's status and risk when the step says
// so. A step with a OnceKey is written once, however often it is retried.
func (a *Activities) RecordIncidentStep(ctx context.Context, in workflows.IncidentStepInput) error {
	inc, err := a.incident(ctx, in.IncidentID)
	if err != nil {
		return err
	}
	return a.Store.Tx(ctx, func(tx *store.Store) error {
		done, err := a.addStep(ctx, tx, inc, in.OnceKey, in.Step, in.Detail, in.ActorID, in.At)
		if err != nil || done {
			return err
		}
		return tx.RecordIncidentProgress(ctx, inc.ID, in.Status, in.Risk, in.At, time.Now().UTC())
	})
}

// addStep appends a step and its audit event in tx; done reports a
// OnceKey step that was already there (nothing was written).
func (a *Activities) addStep(ctx context.Context, tx *store.Store, inc *models.Incident, onceKey, step, detail string, actorID uint64, at time.Time) (done bool, err error) {
	if at.IsZero() {
		at = time.Now().UTC()
	}
	if onceKey != "" {
		recorded, err := tx.IncidentStepRecorded(ctx, inc.ID, onceKey)
		if err != nil || recorded {
			return recorded, err
		}
	}
	s := models.IncidentStep{IncidentID: inc.ID, OrganizationID: inc.OrganizationID, OnceKey: onceKey, Step: step, Detail: detail, ActorID: actorID, At: at.UTC()}
	added, err := tx.AddIncidentStep(ctx, &s)
	if err != nil {
		return false, err
	}
	if !added {
		return true, nil // a concurrent attempt wrote it
	}
	return false, a.systemAudit(ctx, tx, inc.OrganizationID, actorID, "incident."+step, detail, fmt.Sprintf("incident:%d", inc.ID))
}

// incidentController is who answers for an incident: its organization, or
// Convot itself for an incident its staff recorded.
type incidentController struct {
	name     string              // as the notices name the controller
	gate     policies.OrgContext // whose transfer the gate judges
	officers string              // who is told of the deadlines, in words
}

func (a *Activities) controllerOf(ctx context.Context, inc *models.Incident) (incidentController, error) {
	if inc.OwnedByConvot() {
		return incidentController{name: "Convot", gate: deploymentOr(0), officers: "staff members"}, nil
	}
	org, err := a.organization(ctx, inc.OrganizationID)
	if err != nil {
		return incidentController{}, err
	}
	return incidentController{name: org.CompanyName, gate: org.GateContext(), officers: "owners and admins"}, nil
}

// officers are the active owners and admins of an organization: who is
// told of a privacy request's deadlines.
func (a *Activities) officers(ctx context.Context, orgID uint64) ([]models.Account, error) {
	return a.Store.ActiveAccountsInRoles(ctx, orgID, models.RoleOwner, models.RoleAdmin)
}

// incidentOfficers are who is told of a breach's deadlines: the active
// owners and admins of its organization, or, for Convot's own incident,
// the staff members who can act on it (active, with two-factor sign-in).
func (a *Activities) incidentOfficers(ctx context.Context, inc *models.Incident) ([]models.Account, error) {
	if !inc.OwnedByConvot() {
		return a.officers(ctx, inc.OrganizationID)
	}
	staff, err := a.Store.StaffAccounts(ctx)
	if err != nil {
		return nil, err
	}
	var out []models.Account
	for _, s := range staff {
		if s.Account.TOTPEnabled && s.Account.Status == "active" {
			out = append(out, s.Account)
		}
	}
	return out, nil
}

// incidentPath is the incident's page: the officer's, or the staff
// console's for Convot's own.
func incidentPath(inc *models.Incident) string {
	if inc.OwnedByConvot() {
		return fmt.Sprintf("/staff/incidents/%d", inc.ID)
	}
	return fmt.Sprintf("/incidents/%d", inc.ID)
}

// EscalateIncident mails the owners and admins that the authority's notice
// is not sent yet (or overdue), and records the escalation, once per stage.
func (a *Activities) EscalateIncident(ctx context.Context, in workflows.EscalationInput) error {
	if a.Mail == nil {
		return errNoMail()
	}
	inc, err := a.incident(ctx, in.IncidentID)
	if err != nil {
		return err
	}
	onceKey := "escalation-" + in.Stage
	if recorded, err := a.Store.IncidentStepRecorded(ctx, inc.ID, onceKey); err != nil || recorded {
		return err
	}
	ctl, err := a.controllerOf(ctx, inc)
	if err != nil {
		return err
	}
	officers, err := a.incidentOfficers(ctx, inc)
	if err != nil {
		return err
	}
	left := in.DueAt.Sub(in.At).Round(time.Hour)
	subject := fmt.Sprintf("Breach #%d: the notice to the supervisory authority is due in %s", inc.ID, hours(left))
	lead := fmt.Sprintf("%s have passed since you became aware of personal data breach #%d, and its notice to the supervisory authority is not marked sent. It is due %s (72 hours after awareness, GDPR Art. 33(1)).", in.Stage, inc.ID, in.DueAt.UTC().Format("2006-01-02 15:04 UTC"))
	if left <= 0 {
		subject = fmt.Sprintf("Breach #%d: the notice to the supervisory authority is overdue", inc.ID)
		lead = fmt.Sprintf("72 hours have passed since you became aware of personal data breach #%d, and its notice to the supervisory authority is not marked sent. Send it without further delay, with the reasons for the delay (GDPR Art. 33(1)).", inc.ID)
	}
	text := lead + "\n\nThe drafted notice, the risk assessment and the button to mark it sent are on the incident's page:\n" +
		strings.TrimSuffix(a.BaseURL, "/") + incidentPath(inc) + "\n"
	for _, o := range officers {
		if o.Email == "" {
			continue
		}
		err := a.Mail.Send(ctx, mail.Message{
			From: a.MailFrom, To: o.Email, Subject: subject, Text: "Hello " + o.DisplayName + ",\n\n" + text,
			Stream: mail.Transactional, Tag: "breach_escalation",
			Org:       ctl.gate,
			Recipient: policies.SubjectContext{Kind: models.SubjectCustomer},
		})
		if err != nil && !undeliverable(err) {
			return fmt.Errorf("send breach escalation: %w", err)
		}
	}
	return a.Store.Tx(ctx, func(tx *store.Store) error {
		_, err := a.addStep(ctx, tx, inc, onceKey, workflows.StepEscalated,
			fmt.Sprintf("%s after awareness; %d %s mailed", in.Stage, len(officers), ctl.officers), 0, in.At)
		return err
	})
}

func hours(d time.Duration) string {
	h := int(d.Round(time.Hour).Hours())
	if h == 1 {
		return "1 hour"
	}
	return fmt.Sprintf("%d hours", h)
}

// subjectKindNames say who the data subjects are, in a notice's words.
var subjectKindNames = map[string]string{
	models.SubjectCustomer: "operators of Customers (account holders)",
	models.SubjectEndUser:  "end users of Customers' websites",
}

// AuthorityNotice drafts the notice to the supervisory authority with the
// contents GDPR Art. 33(3) requires: (a) the nature of the breach with the
// categories and approximate numbers of data subjects and records, (b) the
// contact point, (c) the likely consequences, (d) the measures taken or
// proposed; with the timing and, when late, the reasons for the delay.
func AuthorityNotice(inc *models.Incident, controller string) string {
	var b strings.Builder
	date := func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }
	fmt.Fprintf(&b, "NOTIFICATION OF A PERSONAL DATA BREACH TO THE SUPERVISORY AUTHORITY (GDPR Art. 33)\n\n")
	fmt.Fprintf(&b, "Controller: %s\nReference: Convot incident %d\n", controller, inc.ID)
	fmt.Fprintf(&b, "Became aware of the breach: %s\n", date(inc.AwareAt))
	if inc.OccurredAt != nil {
		fmt.Fprintf(&b, "The breach occurred: %s\n", date(*inc.OccurredAt))
	}
	fmt.Fprintf(&b, "\n(a) Nature of the personal data breach\n%s\n", orUnknown(inc.Nature))
	fmt.Fprintf(&b, "Categories of personal data concerned:\n")
	cats := append([]string(nil), inc.Categories...)
	sort.Strings(cats)
	for _, c := range cats {
		fmt.Fprintf(&b, "  - %s (%s)\n", models.Categories[c], c)
	}
	if len(cats) == 0 {
		fmt.Fprintf(&b, "  - not yet established\n")
	}
	fmt.Fprintf(&b, "Categories of data subjects concerned:\n")
	for _, k := range inc.SubjectKinds {
		fmt.Fprintf(&b, "  - %s\n", subjectKindNames[k])
	}
	if len(inc.SubjectKinds) == 0 {
		fmt.Fprintf(&b, "  - not yet established\n")
	}
	fmt.Fprintf(&b, "Approximate number of data subjects concerned: %d\n", inc.ApproxSubjects)
	fmt.Fprintf(&b, "Approximate number of personal data records concerned: %d\n", inc.ApproxRecords)
	fmt.Fprintf(&b, "\n(b) Data protection officer or other contact point\n%s, %s\n", orUnknown(inc.ContactName), orUnknown(inc.ContactEmail))
	fmt.Fprintf(&b, "\n(c) Likely consequences of the breach\n%s\n", orUnknown(inc.Consequences))
	fmt.Fprintf(&b, "\n(d) Measures taken or proposed, including to mitigate its possible adverse effects\n%s\n", orUnknown(inc.Measures))
	risk := map[string]string{
		models.RiskNone: "unlikely to result in a risk to the rights and freedoms of natural persons",
		models.RiskLow:  "likely to result in a risk to the rights and freedoms of natural persons",
		models.RiskHigh: "likely to result in a high risk to the rights and freedoms of natural persons; the data subjects are being notified (Art. 34)",
	}[inc.Risk]
	if risk == "" {
		risk = "assessment in progress; further information will follow without undue delay (Art. 33(4))"
	}
	fmt.Fprintf(&b, "\nRisk assessment: %s\n", risk)
	if inc.RiskReason != "" {
		fmt.Fprintf(&b, "%s\n", inc.RiskReason)
	}
	fmt.Fprintf(&b, "\nThis notice is due %s (72 hours after awareness).\n", date(inc.NoticeDueAt))
	if inc.DelayReasons != "" {
		fmt.Fprintf(&b, "Reasons for the delay (Art. 33(1)): %s\n", inc.DelayReasons)
	}
	return b.String()
}

func orUnknown(s string) string {
	if strings.TrimSpace(s) == "" {
		return "not yet established"
	}
	return s
}

// DraftAuthorityNotice writes the authority's notice from the incident as
// it stands, and records the draft.
func (a *Activities) DraftAuthorityNotice(ctx context.Context, incidentID uint64) error {
	inc, err := a.incident(ctx, incidentID)
	if err != nil {
		return err
	}
	ctl, err := a.controllerOf(ctx, inc)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	inc.AuthorityNotice = AuthorityNotice(inc, ctl.name)
	inc.NoticeDraftedAt = &now
	inc.UpdatedAt = now
	return a.Store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.SaveIncidentNoticeDraft(ctx, inc); err != nil {
			return err
		}
		risk := inc.Risk
		if risk == "" {
			risk = "unassessed"
		}
		_, err := a.addStep(ctx, tx, inc, "notice_drafted:"+risk, workflows.StepNoticeDrafted, "Art. 33(3) notice drafted; risk "+risk, 0, now)
		return err
	})
}

// RecordNoticeSent records the authority's notice as sent. A notice sent
// after 72 hours needs the reasons for the delay stored with the incident
// first: without them it is refused (ErrDelayReasonsRequired).
func (a *Activities) RecordNoticeSent(ctx context.Context, in workflows.NoticeSentInput) error {
	inc, err := a.incident(ctx, in.IncidentID)
	if err != nil {
		return err
	}
	if in.Late && strings.TrimSpace(inc.DelayReasons) == "" {
		return temporal.NewNonRetryableApplicationError("a notice sent after 72 hours needs the reasons for the delay", workflows.ErrDelayReasonsRequired, nil)
	}
	ctl, err := a.controllerOf(ctx, inc)
	if err != nil {
		return err
	}
	return a.Store.Tx(ctx, func(tx *store.Store) error {
		done, err := a.addStep(ctx, tx, inc, "notice_sent", workflows.StepNoticeSent, noticeDetail(in), in.ActorID, in.SentAt)
		if err != nil || done {
			return err
		}
		// The notice as sent: with the reasons for the delay, when late.
		sent := in.SentAt.UTC()
		inc.NoticeSentAt, inc.NoticeLate, inc.Status, inc.UpdatedAt = &sent, in.Late, models.IncidentAuthorityNotified, time.Now().UTC()
		inc.AuthorityNotice = AuthorityNotice(inc, ctl.name)
		return tx.SaveIncidentNoticeSent(ctx, inc)
	})
}

func noticeDetail(in workflows.NoticeSentInput) string {
	if in.Late {
		return "sent after 72 hours; reasons for the delay recorded"
	}
	return "sent within 72 hours"
}

// recipient is one affected person to tell of a high-risk breach.
type recipient struct {
	kind       string // account or contact
	id         uint64
	email      string
	name       string
	org        *models.Organization
	controller string // who writes: the organization, or Convot for its own incident
}

// NotifyAffectedUsers tells every affected person of a high-risk breach by
// email (Art. 34): the accounts of the affected organizations when
// customers' data is concerned, their contacts with an email address when
// end users' data is. Each person is mailed once however often it is
// retried; it returns how many were told.
func (a *Activities) NotifyAffectedUsers(ctx context.Context, incidentID uint64) (int64, error) {
	if a.Mail == nil {
		return 0, errNoMail()
	}
	inc, err := a.incident(ctx, incidentID)
	if err != nil {
		return 0, err
	}
	orgIDs := inc.AffectedOrganizations
	if len(orgIDs) == 0 && !inc.OwnedByConvot() {
		orgIDs = []uint64{inc.OrganizationID}
	}
	kinds := map[string]bool{}
	for _, k := range inc.SubjectKinds {
		kinds[k] = true
	}
	for _, orgID := range orgIDs {
		if inc.OwnedByConvot() {
			if _, err := a.Store.Organization(ctx, orgID); errors.Is(err, store.ErrNotFound) {
				continue // closed and deleted since: nobody left to tell
			}
		}
		org, err := a.organization(ctx, orgID)
		if err != nil {
			return 0, err
		}
		if kinds[models.SubjectCustomer] {
			if err := a.notifyBatches(ctx, inc, org, "account"); err != nil {
				return 0, err
			}
		}
		if kinds[models.SubjectEndUser] {
			if err := a.notifyBatches(ctx, inc, org, "contact"); err != nil {
				return 0, err
			}
		}
	}
	n, err := a.Store.IncidentNoticeCount(ctx, inc.ID)
	if err != nil {
		return 0, err
	}
	now := time.Now().UTC()
	err = a.Store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.RecordIncidentUsersNotified(ctx, inc.ID, n, now); err != nil {
			return err
		}
		_, err := a.addStep(ctx, tx, inc, "users_notified", workflows.StepUsersNotified, fmt.Sprintf("%d affected people notified by email (Art. 34)", n), 0, now)
		return err
	})
	return n, err
}

const notifyBatch = 200

// notifyBatches mails the accounts or contacts of one organization, a
// batch at a time in ID order, heartbeating after each.
func (a *Activities) notifyBatches(ctx context.Context, inc *models.Incident, org *models.Organization, kind string) error {
	controller := org.CompanyName
	if inc.OwnedByConvot() {
		controller = "Convot"
	}
	var after uint64
	for {
		var batch []recipient
		switch kind {
		case "account":
			rows, err := a.Store.ActiveAccountsPage(ctx, org.ID, after, notifyBatch)
			if err != nil {
				return err
			}
			for _, r := range rows {
				batch = append(batch, recipient{kind: kind, id: r.ID, email: r.Email, name: r.DisplayName, org: org, controller: controller})
			}
		case "contact":
			rows, err := a.Store.ContactsWithEmailPage(ctx, org.ID, after, notifyBatch)
			if err != nil {
				return err
			}
			for _, r := range rows {
				batch = append(batch, recipient{kind: kind, id: r.ID, email: r.Email, name: r.Name, org: org, controller: controller})
			}
		}
		if len(batch) == 0 {
			return nil
		}
		for _, r := range batch {
			after = r.id
			if r.email == "" {
				continue // shredded meanwhile
			}
			if err := a.notifyOne(ctx, inc, r); err != nil {
				return err
			}
		}
		activity.RecordHeartbeat(ctx, kind, after)
	}
}

// notifyOne claims the notice first (unique per incident and person), then
// mails; a failed mail gives the claim back, so a retry sends it.
func (a *Activities) notifyOne(ctx context.Context, inc *models.Incident, r recipient) error {
	claim := models.IncidentNotice{IncidentID: inc.ID, RecipientKind: r.kind, RecipientID: r.id, SentAt: time.Now().UTC()}
	if claimed, err := a.Store.ClaimIncidentNotice(ctx, &claim); err != nil || !claimed {
		return err // !claimed: told already
	}
	subjectKind := models.SubjectCustomer
	if r.kind == "contact" {
		subjectKind = models.SubjectEndUser
	}
	controller := r.controller
	if controller == "" {
		controller = "the service you use"
	}
	greeting := "Hello,"
	if r.name != "" {
		greeting = "Hello " + r.name + ","
	}
	text := fmt.Sprintf(`%s

we are writing to tell you of a personal data breach at %s that is likely to result in a high risk to you (GDPR Art. 34).

What happened:
%s

Its likely consequences:
%s

What has been done, and what is proposed, to address it and to limit its possible effects:
%s

For questions, contact: %s, %s
`, greeting, controller, orUnknown(inc.Nature), orUnknown(inc.Consequences), orUnknown(inc.Measures), orUnknown(inc.ContactName), orUnknown(inc.ContactEmail))
	err := a.Mail.Send(ctx, mail.Message{
		From: a.MailFrom, To: r.email, Subject: "Important: a personal data breach concerning your data",
		Text: text, Stream: mail.Transactional, Tag: "breach_notice",
		Org:       policies.OrgContext{ID: r.org.ID, Region: r.org.Region},
		Recipient: policies.SubjectContext{Kind: subjectKind},
	})
	if err != nil {
		_ = a.Store.ReleaseIncidentNotice(context.WithoutCancel(ctx), claim.ID)
		if undeliverable(err) {
			return nil // not counted as told; nothing more email can do
		}
		return fmt.Errorf("send breach notice: %w", err)
	}
	return nil
}

// undeliverable: mail that no retry will deliver (a suppressed or invalid
// address), which must not hold up the rest.
func undeliverable(err error) bool {
	return errors.Is(err, mail.ErrSuppressed) || strings.Contains(err.Error(), "not a valid address")
}
