package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/models"
	"github.com/convot/convot/security"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// The CLI stays for operations but records the staff identity: a reply
// or a closure needs --staff naming a staff member who uses two-factor
// authentication, and the deployment's audit log names them.
func TestSupportCommandsNameTheStaffMember(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	st := store.New(db.DB, db.Keys)
	now := time.Now().UTC().Truncate(time.Second)
	org := models.Organization{PublicKey: "pk-staff", CompanyName: "Acme", Region: "eu", Status: models.OrgActive}
	if err := db.Create(&org).Error; err != nil {
		t.Fatal(err)
	}
	customer := models.Account{OrganizationID: org.ID, FullName: "Olivia", Email: "olivia@acme.test", Role: models.RoleOwner, Status: "active"}
	staff := models.Account{OrganizationID: org.ID, FullName: "Sam", Email: "sam@convot.test", Role: models.RoleAgent, Status: "active"}
	for _, a := range []*models.Account{&customer, &staff} {
		if err := st.CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	ticket := models.SupportTicket{OrganizationID: org.ID, AccountID: customer.ID, DataKeyID: customer.DataKeyID, Subject: "Help", Status: models.TicketOpen, CreatedAt: now, UpdatedAt: now}
	if err := db.Create(&ticket).Error; err != nil {
		t.Fatal(err)
	}
	reply := supportAction{cmd: "reply", ticket: ticket.ID, message: "Done."}

	if err := supportCommand(ctx, st, reply, now, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--staff") {
		t.Fatalf("a reply without --staff: %v", err)
	}
	reply.staff = "sam@convot.test"
	if err := supportCommand(ctx, st, reply, now, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "not a staff member") {
		t.Fatalf("a reply by a non-staff account: %v", err)
	}
	var out bytes.Buffer
	if err := staffCommand(ctx, st, "add", "sam@convot.test", now, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "two-factor") {
		t.Fatalf("adding a staff member without TOTP does not warn: %q", out.String())
	}
	if err := staffCommand(ctx, st, "add", "sam@convot.test", now, &bytes.Buffer{}); err == nil {
		t.Fatal("the same account added twice")
	}
	if err := supportCommand(ctx, st, reply, now, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "two-factor") {
		t.Fatalf("a reply by staff without TOTP: %v", err)
	}
	if err := db.Model(&models.Account{}).Where("id = ?", staff.ID).Update("totp_enabled", true).Error; err != nil {
		t.Fatal(err)
	}
	if err := supportCommand(ctx, st, reply, now, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if err := supportCommand(ctx, st, supportAction{cmd: "close", ticket: ticket.ID, staff: "sam@convot.test"}, now, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var events []models.AuditEvent
	db.Where("action LIKE 'staff.%'").Order("id").Find(&events)
	var got []string
	for _, ev := range events {
		if ev.OrganizationID != 0 {
			t.Errorf("%s recorded in organization %d, want the deployment's (0)", ev.Action, ev.OrganizationID)
		}
		if ev.Action != "staff.added" && ev.ActorID != staff.ID {
			t.Errorf("%s names actor %d, want the staff account %d", ev.Action, ev.ActorID, staff.ID)
		}
		got = append(got, ev.Action)
	}
	if strings.Join(got, ",") != "staff.added,staff.support_replied,staff.support_closed" {
		t.Fatalf("audit events %v", got)
	}
	var m models.SupportMessage
	db.Where("ticket_id = ?", ticket.ID).First(&m)
	if m.AuthorID != staff.ID || m.AuthorType != models.SupportAuthorSupport {
		t.Fatalf("the reply's author %s %d", m.AuthorType, m.AuthorID)
	}

	if err := staffCommand(ctx, st, "remove", "sam@convot.test", now, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if err := supportCommand(ctx, st, supportAction{cmd: "close", ticket: ticket.ID, staff: "sam@convot.test"}, now, &bytes.Buffer{}); err == nil {
		t.Fatal("a former staff member closed a ticket")
	}
}

type securityRecorder struct {
	signals []string
	sigs    []workflows.VulnSignal
}

func (r *securityRecorder) Start(context.Context, workflows.VulnerabilityInput) error { return nil }

func (r *securityRecorder) Signal(_ context.Context, _ uint64, signal string, sig workflows.VulnSignal) error {
	r.signals, r.sigs = append(r.signals, signal), append(r.sigs, sig)
	return nil
}

// `convot security triage|close` needs --staff naming a staff member with
// two-factor authentication, and sends the action to the report's
// workflow as that account; a bad severity is refused.
func TestSecurityCommandsNameTheStaffMember(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	st := store.New(db.DB, db.Keys)
	org := models.Organization{PublicKey: "pk-sec", CompanyName: "Convot", Region: "eu", Status: models.OrgActive}
	if err := db.Create(&org).Error; err != nil {
		t.Fatal(err)
	}
	sam := models.Account{OrganizationID: org.ID, FullName: "Sam", Email: "sam@convot.test", Role: models.RoleAgent, Status: "active"}
	if err := st.CreateAccount(ctx, &sam); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	rep := models.VulnerabilityReport{ReporterEmail: "rita@researcher.example", Subject: "IDOR", Body: "details", Status: models.VulnAcknowledged, ReceivedAt: now, AcknowledgeDueAt: now.Add(48 * time.Hour)}
	if _, _, err := st.OpenVulnerabilityReportByMail(ctx, &rep, "<m@r.example>"); err != nil {
		t.Fatal(err)
	}
	rec := &securityRecorder{}
	dial := func() (security.Workflows, func(), error) { return rec, func() {}, nil }
	triage := securityAction{cmd: "triage", action: security.ActionTriage, value: "high", report: rep.ID}
	if err := securityCommand(ctx, st, dial, triage, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--staff") {
		t.Fatalf("triage without --staff: %v", err)
	}
	triage.staff = "sam@convot.test"
	if err := securityCommand(ctx, st, dial, triage, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "not a staff member") {
		t.Fatalf("triage by a non-staff account: %v", err)
	}
	if _, err := st.AddStaffMember(ctx, sam.ID, now); err != nil {
		t.Fatal(err)
	}
	if err := securityCommand(ctx, st, dial, triage, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "two-factor") {
		t.Fatalf("triage by staff without TOTP: %v", err)
	}
	if err := db.Model(&models.Account{}).Where("id = ?", sam.ID).Update("totp_enabled", true).Error; err != nil {
		t.Fatal(err)
	}
	bad := triage
	bad.value = "apocalyptic"
	if err := securityCommand(ctx, st, dial, bad, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "severity") {
		t.Fatalf("a bad severity: %v", err)
	}
	if err := securityCommand(ctx, st, dial, triage, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if len(rec.sigs) != 1 || rec.signals[0] != workflows.SignalVulnTriaged || rec.sigs[0].ActorID != sam.ID || rec.sigs[0].Severity != "high" {
		t.Fatalf("signals %v %+v, want triaged(high) by %d", rec.signals, rec.sigs, sam.ID)
	}
	var out bytes.Buffer
	if err := securityCommand(ctx, st, dial, securityAction{cmd: "list"}, &out); err != nil || !strings.Contains(out.String(), "IDOR") {
		t.Fatalf("list: %v %q", err, out.String())
	}
}
