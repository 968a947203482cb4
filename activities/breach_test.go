package activities

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/convot/convot/models"
	"github.com/convot/convot/workflows"
)

// The breach workflow with its real activities: the officers (owner and
// admin, not the agent) are mailed at 24 and 48 hours; the notice is
// drafted with Art. 33(3)'s contents; a high risk mails every account of
// the organization and every contact with an address, once each; the
// notice sent late is refused without reasons and accepted with them;
// every step is in the incident's trail and the audit log.
func TestBreachWorkflowWithItsActivities(t *testing.T) {
	o := newObligations(t)
	org, owner := o.org(t, "Breachco")
	admin := models.Account{OrganizationID: org.ID, DisplayName: "Ada", Email: "admin@breachco.example", Role: models.RoleAdmin, Status: "active"}
	agent := models.Account{OrganizationID: org.ID, DisplayName: "Abe", Email: "agent@breachco.example", Role: models.RoleAgent, Status: "active"}
	require.NoError(t, o.db.Create(&admin).Error)
	require.NoError(t, o.db.Create(&agent).Error)
	for _, c := range []models.Contact{{Name: "Vera", Email: "vera@visitor.example"}, {Name: "Vic", Email: "vic@visitor.example"}, {Name: "No Mail"}} {
		c.OrganizationID = org.ID
		require.NoError(t, o.db.Create(&c).Error)
	}
	other, _ := o.org(t, "Otherco")
	outsider := models.Contact{OrganizationID: other.ID, Name: "Olga", Email: "olga@elsewhere.example"}
	require.NoError(t, o.db.Create(&outsider).Error)

	aware := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	inc := models.Incident{OrganizationID: org.ID, RecordedByID: owner.ID, DataKeyID: org.DataKeyID, AffectedOrganizations: []uint64{org.ID},
		AwareAt: aware, Nature: "A misconfigured export exposed conversation transcripts", Categories: []string{"user.contact.email", "user.content.message"},
		SubjectKinds: []string{models.SubjectCustomer, models.SubjectEndUser}, ApproxSubjects: 120, ApproxRecords: 4000,
		Consequences: "Phishing attempts using the exposed addresses", Measures: "Export disabled; links revoked",
		ContactName: "Dana Officer", ContactEmail: "dpo@breachco.example", Status: models.IncidentOpen, NoticeDueAt: aware.Add(72 * time.Hour)}
	require.NoError(t, o.db.Create(&inc).Error)

	env := o.env(t, aware)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.SignalBreachAssess, workflows.BreachAssessSignal{Risk: workflows.RiskHigh, ActorID: owner.ID})
	}, 50*time.Hour)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.SignalBreachNotified, workflows.BreachNoticeSentSignal{ActorID: owner.ID})
	}, 73*time.Hour)
	env.RegisterDelayedCallback(func() {
		var late models.Incident
		require.NoError(t, o.db.First(&late, inc.ID).Error)
		late.DelayReasons = "the forensic analysis took longer"
		require.NoError(t, o.db.Select("delay_reasons").Save(&late).Error)
		env.SignalWorkflow(workflows.SignalBreachNotified, workflows.BreachNoticeSentSignal{ActorID: owner.ID})
	}, 74*time.Hour)
	env.ExecuteWorkflow(workflows.BreachWorkflowType, workflows.BreachInput{IncidentID: inc.ID, OrganizationID: org.ID, AwareAt: aware})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())

	escalations := o.mails(t, "breach_escalation")
	to := map[string]int{}
	for _, m := range escalations {
		to[m.To]++
	}
	// 24h, 48h, 60h and 72h (overdue): the notice came after the deadline.
	require.Equal(t, map[string]int{owner.Email: 4, admin.Email: 4}, to, "owners and admins, never agents")

	notices := o.mails(t, "breach_notice")
	got := map[string]int{}
	for _, m := range notices {
		got[m.To]++
		require.Contains(t, m.Text, "misconfigured export")
		require.Contains(t, m.Text, "dpo@breachco.example")
	}
	require.Equal(t, map[string]int{owner.Email: 1, admin.Email: 1, agent.Email: 1, "vera@visitor.example": 1, "vic@visitor.example": 1}, got)

	var final models.Incident
	require.NoError(t, o.db.First(&final, inc.ID).Error)
	require.Equal(t, models.IncidentClosed, final.Status)
	require.Equal(t, models.RiskHigh, final.Risk)
	require.True(t, final.NoticeLate)
	require.NotNil(t, final.NoticeSentAt)
	require.Equal(t, int64(5), final.UsersNotified)
	for _, want := range []string{
		"(a) Nature of the personal data breach", "misconfigured export", "email address (user.contact.email)",
		"end users of Customers' websites", "data subjects concerned: 120", "records concerned: 4000",
		"(b) Data protection officer or other contact point", "Dana Officer, dpo@breachco.example",
		"(c) Likely consequences", "Phishing", "(d) Measures taken or proposed", "Export disabled",
		"high risk", "Reasons for the delay",
	} {
		require.Contains(t, final.AuthorityNotice, want)
	}

	var steps []models.IncidentStep
	require.NoError(t, o.db.Where("incident_id = ?", inc.ID).Order("id").Find(&steps).Error)
	var names []string
	for _, s := range steps {
		names = append(names, s.Step)
	}
	joined := strings.Join(names, ",")
	for _, want := range []string{"workflow_started", "notice_drafted", "escalated", "assessed", "users_notified", "overdue", "notice_sent_refused", "notice_sent", "closed"} {
		require.Contains(t, joined, want)
	}
	var audited int64
	require.NoError(t, o.db.Model(&models.AuditEvent{}).Where("organization_id = ? AND target = ?", org.ID, "incident:"+strconv.FormatUint(inc.ID, 10)).Count(&audited).Error)
	require.Equal(t, int64(len(steps)), audited, "every step is in the audit log")
}

// Publishing a version mails every active customer account once, however
// often the activity runs, and records the steps once.
func TestPolicyNoticesReachEveryAccountOnce(t *testing.T) {
	o := newObligations(t)
	_, a1 := o.org(t, "One")
	_, a2 := o.org(t, "Two")
	gone := models.Account{OrganizationID: a2.OrganizationID, Email: "gone@two.example", Role: models.RoleAgent, Status: "disabled"}
	require.NoError(t, o.db.Create(&gone).Error)
	now := time.Now().UTC()
	v := models.PolicyVersion{Version: 2, Text: "new text", Summary: "We now keep logs for 6 months.", Material: true, PublishedAt: now, EffectiveAt: now.Add(31 * 24 * time.Hour)}
	require.NoError(t, o.db.Create(&v).Error)
	for i := 0; i < 2; i++ {
		env := o.env(t, now)
		env.ExecuteWorkflow(workflows.PolicyChangeWorkflowType, workflows.PolicyChangeInput{Version: 2, Material: true, EffectiveAt: v.EffectiveAt})
		require.True(t, env.IsWorkflowCompleted())
		require.NoError(t, env.GetWorkflowError())
	}
	got := map[string]int{}
	for _, m := range o.mails(t, "policy_change") {
		got[m.To]++
		require.Contains(t, m.Text, "We now keep logs for 6 months.")
		require.Contains(t, m.Text, "/privacy?version=2")
	}
	require.Equal(t, map[string]int{a1.Email: 1, a2.Email: 1}, got)
	require.Len(t, o.audits(t, "policy.notices_sent"), 1)
	require.Len(t, o.audits(t, "policy.effective"), 1)
}

// An incident of Convot's own (recorded by staff, organization 0): the
// deadline reminders go to the staff members with two-factor sign-in, not
// to any organization's owners; the notice names Convot as controller; a
// high risk tells every account of the organizations named, once each, and
// no contact (End Users' data is the Customers').
func TestConvotOwnBreachWorkflow(t *testing.T) {
	o := newObligations(t)
	acme, acmeOwner := o.org(t, "Acme")
	beta, betaOwner := o.org(t, "Beta")
	untouched, untouchedOwner := o.org(t, "Gamma")
	contact := models.Contact{OrganizationID: acme.ID, Name: "Vera", Email: "vera@visitor.example"}
	require.NoError(t, o.db.Create(&contact).Error)
	sam := models.Account{OrganizationID: untouched.ID, DisplayName: "Sam", Email: "sam@convot.example", Role: models.RoleAgent, Status: "active", TOTPEnabled: true}
	nomfa := models.Account{OrganizationID: untouched.ID, DisplayName: "Nomfa", Email: "nomfa@convot.example", Role: models.RoleAgent, Status: "active"}
	require.NoError(t, o.db.Create(&sam).Error)
	require.NoError(t, o.db.Create(&nomfa).Error)
	for _, a := range []models.Account{sam, nomfa} {
		_, err := o.acts.Store.AddStaffMember(context.Background(), a.ID, time.Now())
		require.NoError(t, err)
	}

	aware := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	inc := models.Incident{RecordedByID: sam.ID, AffectedOrganizations: []uint64{acme.ID, beta.ID},
		AwareAt: aware, Nature: "A support tool exposed operator emails", Categories: []string{"user.contact.email"},
		SubjectKinds: []string{models.SubjectCustomer}, ContactName: "Convot DPO", ContactEmail: "dpo@convot.example",
		Status: models.IncidentOpen, NoticeDueAt: aware.Add(72 * time.Hour)}
	require.NoError(t, o.db.Create(&inc).Error)
	require.NotZero(t, inc.DataKeyID, "sealed under a key of its own")

	env := o.env(t, aware)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.SignalBreachAssess, workflows.BreachAssessSignal{Risk: workflows.RiskHigh, ActorID: sam.ID})
		env.SignalWorkflow(workflows.SignalBreachNotified, workflows.BreachNoticeSentSignal{ActorID: sam.ID})
	}, 30*time.Hour)
	env.ExecuteWorkflow(workflows.BreachWorkflowType, workflows.BreachInput{IncidentID: inc.ID, AwareAt: aware})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())

	esc := o.mails(t, "breach_escalation")
	require.Len(t, esc, 1, "the 24-hour reminder, to the staff member with two-factor sign-in only")
	require.Equal(t, sam.Email, esc[0].To)
	require.Contains(t, esc[0].Text, "/staff/incidents/")

	got := map[string]int{}
	for _, m := range o.mails(t, "breach_notice") {
		got[m.To]++
		require.Contains(t, m.Text, "a personal data breach at Convot")
	}
	require.Equal(t, map[string]int{acmeOwner.Email: 1, betaOwner.Email: 1}, got, "the accounts of the organizations named; no contact, no other organization")
	require.NotContains(t, got, untouchedOwner.Email)

	var final models.Incident
	require.NoError(t, o.db.First(&final, inc.ID).Error)
	require.Equal(t, models.IncidentClosed, final.Status)
	require.Contains(t, final.AuthorityNotice, "Convot")
	var audited int64
	require.NoError(t, o.db.Model(&models.AuditEvent{}).Where("organization_id = 0 AND target = ?", "incident:"+strconv.FormatUint(inc.ID, 10)).Count(&audited).Error)
	require.NotZero(t, audited, "the steps are in the deployment's audit log")
}
