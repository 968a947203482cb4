package activities

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/subprocessors"
	"github.com/convot/convot/workflows"
)

// Policy §6 with the real activities and the real egress gate: an
// approved legal demand discloses only the categories it asked for (name
// and email, not the phone or IP the contact also has) to the recorded
// recipient, records the digest, and tells the person; a request that
// forbids notice tells nobody and records that; a merger notifies every
// account of the organization; nothing is sent before approval.
func TestDisclosureWithItsActivitiesAndTheGate(t *testing.T) {
	o := newObligations(t)
	gate, err := policies.NewGate(context.Background(), policies.NewMemoryLog())
	require.NoError(t, err)
	o.acts.Disclosures = &subprocessors.Disclosures{Gate: gate, Mail: o.acts.Mail, From: o.acts.MailFrom}
	org, owner := o.org(t, "Discloseco")
	contact := models.Contact{OrganizationID: org.ID, Name: "Vera Visitor", Email: "vera@visitor.example", Phone: "+44 20 7946 0018", IP: "203.0.113.9"}
	require.NoError(t, o.db.Create(&contact).Error)

	run := func(d *models.DisclosureRequest, approve bool) workflows.DisclosureState {
		t.Helper()
		d.OrganizationID, d.RequestedBy, d.Recipient, d.RecipientAddress = org.ID, "Exampleton police", "Exampleton police, cyber unit", "cyber@police.example"
		d.Status, d.DueAt, d.CreatedByID = models.DisclosureReceived, time.Now().UTC().Add(48*time.Hour), 901
		require.NoError(t, o.db.Create(d).Error)
		env := o.env(t, time.Now().UTC())
		sentBefore := len(o.mails(t, "disclosure"))
		env.RegisterDelayedCallback(func() {
			require.Len(t, o.mails(t, "disclosure"), sentBefore, "nothing sent before the officer decided")
			if approve {
				env.SignalWorkflow(workflows.SignalDisclosureApprove, workflows.DisclosureDecision{ActorID: 902})
			} else {
				env.SignalWorkflow(workflows.SignalDisclosureRefuse, workflows.DisclosureDecision{ActorID: 902})
			}
		}, time.Hour)
		env.ExecuteWorkflow(workflows.DisclosureWorkflowType, workflows.DisclosureInput{DisclosureID: d.ID, OrganizationID: org.ID, DueAt: d.DueAt})
		require.True(t, env.IsWorkflowCompleted())
		require.NoError(t, env.GetWorkflowError())
		var st workflows.DisclosureState
		require.NoError(t, env.GetWorkflowResult(&st))
		return st
	}

	demand := &models.DisclosureRequest{Kind: "legal_demand", LegalBasis: "Court order 12/345", SubjectKind: models.SubjectEndUser, SubjectID: contact.ID,
		Categories: []string{"user.name", "user.contact.email"}}
	st := run(demand, true)
	require.Equal(t, workflows.DisclosureClosed, st.Status)
	sent := o.mails(t, "disclosure")
	require.Len(t, sent, 1)
	require.Equal(t, "cyber@police.example", sent[0].To)
	require.Contains(t, sent[0].Text, "vera@visitor.example")
	require.Contains(t, sent[0].Text, "Vera Visitor")
	require.NotContains(t, sent[0].Text, "7946", "the phone was not asked for")
	require.NotContains(t, sent[0].Text, "203.0.113.9", "the IP was not asked for")
	var got models.DisclosureRequest
	require.NoError(t, o.db.First(&got, demand.ID).Error)
	require.Equal(t, 2, got.DisclosedFields)
	require.Len(t, got.DisclosedDigest, 64)
	require.Equal(t, uint64(902), got.ApprovedByID)
	notices := o.mails(t, "disclosure_notice")
	require.Len(t, notices, 1)
	require.Equal(t, "vera@visitor.example", notices[0].To)
	require.Contains(t, notices[0].Text, "Court order 12/345")

	gagged := &models.DisclosureRequest{Kind: "enforcement", LegalBasis: "Warrant 7", SubjectKind: models.SubjectEndUser, SubjectID: contact.ID,
		Categories: []string{"user.contact.email"}, NoticeForbidden: true, NoticeForbiddenReason: "non-disclosure order attached to warrant 7"}
	st = run(gagged, true)
	require.True(t, st.NoticeWithheld)
	require.Len(t, o.mails(t, "disclosure_notice"), 1, "nobody told under a gag order")
	var withheld int64
	require.NoError(t, o.db.Model(&models.AuditEvent{}).Where("action = ?", "disclosure.notice_withheld").Count(&withheld).Error)
	require.Equal(t, int64(1), withheld)

	admin := models.Account{OrganizationID: org.ID, FullName: "Ada Admin", Email: "ada@discloseco.example", Role: models.RoleAdmin, Status: "active"}
	require.NoError(t, o.db.Create(&admin).Error)
	merger := &models.DisclosureRequest{Kind: "merger", LegalBasis: "Asset purchase agreement of 1 March", Categories: []string{"user.name", "user.contact.email"}}
	st = run(merger, true)
	require.Equal(t, workflows.DisclosureClosed, st.Status)
	to := map[string]bool{}
	for _, m := range o.mails(t, "disclosure_notice") {
		to[m.To] = true
	}
	require.True(t, to[owner.Email] && to[admin.Email], "a merger tells every account: %v", to)

	refused := &models.DisclosureRequest{Kind: "legal_demand", LegalBasis: "Letter", SubjectKind: models.SubjectEndUser, SubjectID: contact.ID,
		Categories: []string{"user.name"}}
	before := len(o.mails(t, "disclosure"))
	st = run(refused, false)
	require.Equal(t, workflows.DisclosureRefused, st.Status)
	require.Len(t, o.mails(t, "disclosure"), before, "a refused request discloses nothing")
}

// The gate, not the workflow, has the last word: a request whose legal
// basis is not recorded is refused by it and nothing is sent.
func TestDisclosureWithoutLegalBasisIsRefusedByTheGate(t *testing.T) {
	o := newObligations(t)
	gate, err := policies.NewGate(context.Background(), policies.NewMemoryLog())
	require.NoError(t, err)
	o.acts.Disclosures = &subprocessors.Disclosures{Gate: gate, Mail: o.acts.Mail, From: o.acts.MailFrom}
	org, _ := o.org(t, "Gateco")
	contact := models.Contact{OrganizationID: org.ID, Name: "Gus", Email: "gus@visitor.example"}
	require.NoError(t, o.db.Create(&contact).Error)
	d := models.DisclosureRequest{OrganizationID: org.ID, Kind: "legal_demand", RequestedBy: "Someone", Recipient: "Someone", RecipientAddress: "x@someone.example",
		SubjectKind: models.SubjectEndUser, SubjectID: contact.ID, Categories: []string{"user.name"}, Status: models.DisclosureApproved, ApprovedByID: 3, DueAt: time.Now().Add(time.Hour)}
	require.NoError(t, o.db.Create(&d).Error)
	out, err := o.acts.DiscloseData(context.Background(), workflows.DisclosureStepInput{DisclosureID: d.ID})
	require.NoError(t, err)
	require.False(t, out.Allowed)
	require.Contains(t, out.Reason, "legal basis is not recorded")
	require.Empty(t, o.mails(t, "disclosure"))
	var got models.DisclosureRequest
	require.NoError(t, o.db.First(&got, d.ID).Error)
	require.Equal(t, models.DisclosureRefused, got.Status)
}
