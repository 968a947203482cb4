package activities

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm/schema"

	"github.com/convot/convot/internal/blob"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
	"github.com/convot/convot/workflows"
)

// cxlTenant is one organization with a row in every table that belongs to an
// organization (models.OrganizationTables), created generically from the
// models so that a table added later is covered too.
type cxlTenant struct {
	org      models.Organization
	owner    models.Account
	contact  models.Contact
	conv     models.Conversation
	email    string            // the owner's
	sealed   map[string]string // a sealed value of each key-sealed table, as a backup would hold it
	blobKeys []string
}

func cxlSeedTenant(t *testing.T, db *testdb.DB, blobs blob.Store, name string) *cxlTenant {
	t.Helper()
	ctx := context.Background()
	tn := &cxlTenant{sealed: map[string]string{}, email: strings.ToLower(name) + "-owner@example.com"}
	tn.org = models.Organization{PublicKey: crypto.RandomToken(12), CompanyName: name + " GmbH", BillingAddress: "Hauptstr. 1", TaxIdentifier: "DE123", Region: "eu", Status: models.OrgActive}
	cxlMust(t, db.Create(&tn.org).Error)
	tn.owner = models.Account{OrganizationID: tn.org.ID, FullName: name + " Owner", DisplayName: name, Email: tn.email, Role: models.RoleOwner, Status: "active", TimeZone: "UTC", Language: "en"}
	cxlMust(t, db.Create(&tn.owner).Error)
	tn.contact = models.Contact{OrganizationID: tn.org.ID, Name: name + " Visitor", Email: strings.ToLower(name) + "-visitor@example.org", IP: "203.0.113.9"}
	cxlMust(t, db.Create(&tn.contact).Error)
	tn.conv = models.Conversation{OrganizationID: tn.org.ID, ContactID: tn.contact.ID, DataKeyID: tn.contact.DataKeyID, Subject: "Hello", Status: "open", LastMessageAt: time.Now()}
	cxlMust(t, db.Create(&tn.conv).Error)
	cxlMust(t, db.Create(&models.Subscription{OrganizationID: tn.org.ID, StripeCustomerID: "cus_" + name, StripeSubscriptionID: "sub_" + name, Plan: models.PlanGrowth, Status: "canceled"}).Error)
	now := time.Now().UTC()
	cxlMust(t, db.Create(&models.Invoice{OrganizationID: tn.org.ID, StripeInvoiceID: "in_" + name, Number: name + "-0001", Status: "paid", Currency: "eur", AmountDue: 9900, AmountPaid: 9900, IssuedAt: now, HostedInvoiceURL: "https://invoice.stripe.com/i/" + name}).Error)
	cxlMust(t, db.Create(&models.Payment{OrganizationID: tn.org.ID, Reference: "evt_" + name, StripeInvoiceID: "in_" + name, Status: models.PaymentSucceeded, Amount: 9900, Currency: "eur", AttemptedAt: now, CreatedAt: now}).Error)

	tables, err := models.OrganizationTables(models.All())
	cxlMust(t, err)
	byTable := map[string]any{}
	for _, m := range models.All() {
		s, err := schema.Parse(m, &sync.Map{}, schema.NamingStrategy{})
		cxlMust(t, err)
		byTable[s.Table] = m
	}
	for _, ot := range tables {
		var n int64
		cxlMust(t, db.Table(ot.Table).Where(cxlScope(ot), tn.org.ID).Count(&n).Error)
		if n > 0 {
			continue
		}
		row := cxlFillRow(t, byTable[ot.Table], tn)
		if err := db.Create(row).Error; err != nil {
			t.Fatalf("seed %s: %v", ot.Table, err)
		}
		if ot.Blob {
			key := reflect.ValueOf(row).Elem().FieldByName("BlobKey").String()
			cxlMust(t, blobs.Put(ctx, subprocessors.StorageContext{}, key, []byte("sealed bytes of "+name)))
			tn.blobKeys = append(tn.blobKeys, key)
		}
	}
	for _, ot := range tables {
		var n int64
		cxlMust(t, db.Table(ot.Table).Where(cxlScope(ot), tn.org.ID).Count(&n).Error)
		if n == 0 {
			t.Fatalf("%s: no row of %s was seeded", ot.Table, name)
		}
	}
	// What a backup taken now holds: the sealed contact email, the sealed
	// company name.
	var raw struct{ Email string }
	cxlMust(t, db.Raw("SELECT email FROM contacts WHERE id = ?", tn.contact.ID).Scan(&raw).Error)
	tn.sealed["contacts.email"] = raw.Email
	var rawOrg struct{ CompanyName string }
	cxlMust(t, db.Raw("SELECT company_name FROM organizations WHERE id = ?", tn.org.ID).Scan(&rawOrg).Error)
	tn.sealed["organizations.company_name"] = rawOrg.CompanyName
	return tn
}

func cxlScope(ot models.OrgTable) string {
	if ot.Parent == "" {
		return ot.Column + " = ?"
	}
	return ot.Column + " IN (SELECT id FROM " + ot.Parent + " WHERE organization_id = ?)"
}

// cxlFillRow makes a row of model's type that belongs to the tenant, every
// field set to a plausible, unique value.
func cxlFillRow(t *testing.T, model any, tn *cxlTenant) any {
	t.Helper()
	typ := reflect.Indirect(reflect.ValueOf(model)).Type()
	v := reflect.New(typ)
	e := v.Elem()
	token := strings.ToLower(crypto.RandomToken(8))
	// The references to the tenant's rows, by field name.
	refs := map[string]uint64{"OrganizationID": tn.org.ID, "AccountID": tn.owner.ID, "ActorID": tn.owner.ID, "AuthorID": tn.owner.ID,
		"InvitedByID": tn.owner.ID, "ContactID": tn.contact.ID, "ConversationID": tn.conv.ID, "DataKeyID": tn.contact.DataKeyID}
	for i := 0; i < typ.NumField(); i++ {
		f, sf := e.Field(i), typ.Field(i)
		if !sf.IsExported() || sf.Name == "ID" {
			continue
		}
		if id, ok := refs[sf.Name]; ok {
			f.SetUint(id)
			continue
		}
		if sf.Name == "BlobKey" {
			f.SetString("test/" + token)
			continue
		}
		switch f.Kind() {
		case reflect.String:
			f.SetString(strings.ToLower(sf.Name) + "-" + token)
		case reflect.Int, reflect.Int64, reflect.Int32:
			f.SetInt(1)
		case reflect.Uint64, reflect.Uint32, reflect.Uint:
			// Per tenant, so that a unique index over such columns
			// (a webhook delivery's endpoint and event) holds both.
			f.SetUint(tn.org.ID)
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
		case reflect.Map:
			if f.Type().Key().Kind() == reflect.String && f.Type().Elem().Kind() == reflect.String {
				f.Set(reflect.ValueOf(map[string]string{"k": token}).Convert(f.Type()))
			}
		case reflect.Struct:
			if f.Type() == reflect.TypeOf(time.Time{}) {
				f.Set(reflect.ValueOf(time.Now().UTC()))
			}
		}
	}
	return v.Interface()
}

func cxlMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func cxlCount(t *testing.T, db *testdb.DB, ot models.OrgTable, orgID uint64) int64 {
	t.Helper()
	var n int64
	cxlMust(t, db.Table(ot.Table).Where(cxlScope(ot), orgID).Count(&n).Error)
	return n
}

type cancellationFixture struct {
	db     *testdb.DB
	blobs  *blob.Disk
	outbox *mail.Outbox
	acts   *Activities
	victim *cxlTenant
	other  *cxlTenant
}

func newCancellationFixture(t *testing.T) *cancellationFixture {
	t.Helper()
	db := testdb.New(t)
	blobs, err := blob.NewDisk(t.TempDir())
	cxlMust(t, err)
	outbox, err := mail.NewOutbox(t.TempDir())
	cxlMust(t, err)
	f := &cancellationFixture{db: db, blobs: blobs, outbox: outbox}
	f.acts = &Activities{Store: store.New(db.DB, db.Keys), Keys: db.Keys, Mail: outbox, MailFrom: "Convot <no-reply@convot.io>", BaseURL: "https://app.convot.example", Blobs: blobs}
	f.victim = cxlSeedTenant(t, db, blobs, "Victim")
	f.other = cxlSeedTenant(t, db, blobs, "Bystander")
	return f
}

// runCancellation runs the cancellation workflow with the real activities
// on the real database, 30 days skipped; reactivateAfter > 0 sends the
// reactivate signal that long after the start.
func (f *cancellationFixture) runCancellation(t *testing.T, reactivateAfter time.Duration) workflows.CancellationState {
	t.Helper()
	env := testenv.WorkflowEnv(time.Time{})
	workflows.Register(env)
	Register(env, f.acts)
	if reactivateAfter > 0 {
		env.RegisterDelayedCallback(func() {
			env.SignalWorkflow(workflows.SignalReactivate, workflows.ReactivateSignal{ActorID: f.victim.owner.ID})
		}, reactivateAfter)
	}
	env.RegisterDelayedCallback(func() {
		var status string
		f.db.Model(&models.Organization{}).Where("id = ?", f.victim.org.ID).Pluck("status", &status)
		if status != models.OrgCancelled {
			t.Errorf("a day after cancellation the organization is %q, want read-only (cancelled)", status)
		}
	}, 24*time.Hour)
	env.ExecuteWorkflow(workflows.CancellationWorkflowType, workflows.CancellationInput{OrganizationID: f.victim.org.ID, Reason: workflows.CancellationSubscriptionEnded})
	if !env.IsWorkflowCompleted() {
		t.Fatal("the workflow did not complete")
	}
	cxlMust(t, env.GetWorkflowError())
	var st workflows.CancellationState
	cxlMust(t, env.GetWorkflowResult(&st))
	return st
}

// checkBlobs reports each of keys the blob store answers with other than
// want (nil: it has the blob); whose says whose blobs they are.
func (f *cancellationFixture) checkBlobs(t *testing.T, keys []string, want error, whose string) {
	t.Helper()
	for _, k := range keys {
		if _, err := f.blobs.Get(context.Background(), subprocessors.StorageContext{}, k); !errors.Is(err, want) {
			t.Errorf("blob %s%s: %v", k, whose, err)
		}
	}
}

// rowCounts returns the organization tables and how many rows of orgID
// each holds.
func (f *cancellationFixture) rowCounts(t *testing.T, orgID uint64) ([]models.OrgTable, map[string]int64) {
	t.Helper()
	tables, err := models.OrganizationTables(models.All())
	cxlMust(t, err)
	counts := map[string]int64{}
	for _, ot := range tables {
		counts[ot.Table] = cxlCount(t, f.db, ot, orgID)
	}
	return tables, counts
}

func (f *cancellationFixture) mailTags(t *testing.T, to string) []string {
	t.Helper()
	msgs, err := f.outbox.List()
	cxlMust(t, err)
	var tags []string
	for _, m := range msgs {
		if m.To == to {
			tags = append(tags, m.Tag)
		}
	}
	return tags
}

// §8: thirty days after cancellation the organization's data and its end
// users' data are gone, from every table, the blob store and (through its
// destroyed keys) every backup, except its billing records; another
// organization loses nothing; the owner was told at cancellation and three
// days before.
func TestCancelledOrganizationIsDeletedAfterGraceExceptBillingRecords(t *testing.T) {
	f := newCancellationFixture(t)
	tables, before := f.rowCounts(t, f.other.org.ID)

	st := f.runCancellation(t, 0)
	if st.Status != workflows.CancellationDeleted || st.Report == nil {
		t.Fatalf("state %+v", st)
	}
	for _, ot := range tables {
		n := cxlCount(t, f.db, ot, f.victim.org.ID)
		switch {
		case ot.Kept && n == 0:
			t.Errorf("%s: billing records deleted", ot.Table)
		case !ot.Kept && n != 0:
			t.Errorf("%s: %d rows of the deleted organization remain", ot.Table, n)
		}
		if got := cxlCount(t, f.db, ot, f.other.org.ID); got != before[ot.Table] {
			t.Errorf("%s: the other organization has %d rows, had %d", ot.Table, got, before[ot.Table])
		}
	}
	if st.Report.Kept["invoices"] != 1 || st.Report.Kept["payments"] != 1 || st.Report.Deleted["contacts"] != 1 || st.Report.KeysDestroyed < 3 {
		t.Errorf("report %+v", st.Report)
	}

	// The tombstone: no name, no address, no widget key; status deleted.
	var org models.Organization
	cxlMust(t, f.db.First(&org, f.victim.org.ID).Error)
	if org.Status != models.OrgDeleted || org.CompanyName != "" || org.BillingAddress != "" || org.PublicKey == f.victim.org.PublicKey {
		t.Errorf("tombstone %+v", org)
	}
	// Crypto-shredding: what a backup holds no longer opens.
	for what, sealed := range f.victim.sealed {
		if _, err := f.db.Keys.Open(context.Background(), what[strings.Index(what, ".")+1:], sealed); !errors.Is(err, models.ErrKeyDestroyed) {
			t.Errorf("%s from a backup opens after deletion: %v", what, err)
		}
	}
	if _, err := f.db.Keys.Open(context.Background(), "email", f.other.sealed["contacts.email"]); err != nil {
		t.Errorf("the other organization's data no longer opens: %v", err)
	}
	// The billing records still read: their key is their own.
	var inv models.Invoice
	cxlMust(t, f.db.Where("organization_id = ?", f.victim.org.ID).First(&inv).Error)
	if inv.HostedInvoiceURL != "https://invoice.stripe.com/i/Victim" || inv.AmountPaid != 9900 {
		t.Errorf("invoice after deletion %+v", inv)
	}
	// Blobs.
	f.checkBlobs(t, f.victim.blobKeys, blob.ErrNotFound, " of the deleted organization")
	f.checkBlobs(t, f.other.blobKeys, nil, " of the other organization")
	// Notices: at cancellation and three days before deletion.
	tags := f.mailTags(t, f.victim.email)
	if strings.Join(tags, ",") != "cancellation_reminder,cancellation_notice" {
		t.Errorf("mail to the owner: %v", tags)
	}
	// The deletion is recorded in counts, never data.
	var ev models.AuditEvent
	cxlMust(t, f.db.Where("action = ? AND target = ?", "organization.deleted", fmt.Sprintf("organization:%d", f.victim.org.ID)).First(&ev).Error)
	if !strings.Contains(ev.Detail, "contacts=1") || !strings.Contains(ev.Detail, "invoices=1") || strings.Contains(ev.Detail, "Victim") {
		t.Errorf("audit detail %q", ev.Detail)
	}

	// Idempotent: run again (a retried activity), nothing more happens.
	env := testenv.ActivityEnv(f.acts.DeleteOrganizationData)
	again := testenv.ActivityResult[workflows.DeletionReport](t, env, f.acts.DeleteOrganizationData, workflows.DeletionRequest{OrganizationID: f.victim.org.ID})
	if len(again.Deleted) != 0 || again.KeysDestroyed != 0 {
		t.Errorf("second run deleted %+v", again)
	}
	var events int64
	f.db.Model(&models.AuditEvent{}).Where("action = ?", "organization.deleted").Count(&events)
	if events != 1 {
		t.Errorf("%d deletion audit events", events)
	}
}

// Reactivation within the grace period keeps everything: every row, every
// key, every blob; the organization is active again.
func TestReactivationWithinGraceKeepsEverything(t *testing.T) {
	f := newCancellationFixture(t)
	tables, before := f.rowCounts(t, f.victim.org.ID)

	st := f.runCancellation(t, 28*24*time.Hour) // after the reminder
	if st.Status != workflows.CancellationReactivated {
		t.Fatalf("state %+v", st)
	}
	for _, ot := range tables {
		got := cxlCount(t, f.db, ot, f.victim.org.ID)
		if got < before[ot.Table] || (got != before[ot.Table] && ot.Table != "audit_events") {
			t.Errorf("%s: %d rows after reactivation, had %d", ot.Table, got, before[ot.Table])
		}
	}
	var org models.Organization
	cxlMust(t, f.db.First(&org, f.victim.org.ID).Error)
	if org.Status != models.OrgActive || org.CompanyName != "Victim GmbH" {
		t.Errorf("organization after reactivation %+v", org)
	}
	for what, sealed := range f.victim.sealed {
		if _, err := f.db.Keys.Open(context.Background(), what[strings.Index(what, ".")+1:], sealed); err != nil {
			t.Errorf("%s no longer opens: %v", what, err)
		}
	}
	f.checkBlobs(t, f.victim.blobKeys, nil, "")
	tags := f.mailTags(t, f.victim.email)
	if strings.Join(tags, ",") != "cancellation_reactivated,cancellation_reminder,cancellation_notice" {
		t.Errorf("mail to the owner: %v", tags)
	}
	var events []models.AuditEvent
	f.db.Where("organization_id = ? AND action IN ?", f.victim.org.ID, []string{"organization.cancelled", "organization.reactivated"}).Order("id").Find(&events)
	if len(events) != 2 || events[1].ActorID != f.victim.owner.ID {
		t.Errorf("audit events %+v", events)
	}
}

// Every table with personal data of a customer or an end user can be
// found by organization: the deletion misses nothing.
func TestEveryPersonalTableBelongsToAnOrganization(t *testing.T) {
	unscoped, err := models.UnscopedPersonalTables(models.All())
	cxlMust(t, err)
	if len(unscoped) > 0 {
		t.Fatalf("tables with personal data that no organization's deletion reaches: %v", unscoped)
	}
}

// An active organization is never deleted, whatever asks.
func TestDeletionRefusesAnActiveOrganization(t *testing.T) {
	f := newCancellationFixture(t)
	env := testenv.ActivityEnv(f.acts.DeleteOrganizationData)
	if _, err := env.ExecuteActivity(f.acts.DeleteOrganizationData, workflows.DeletionRequest{OrganizationID: f.victim.org.ID}); err == nil {
		t.Fatal("an active organization was deleted")
	}
	var n int64
	f.db.Model(&models.Contact{}).Where("organization_id = ?", f.victim.org.ID).Count(&n)
	if n != 1 {
		t.Fatalf("contacts left: %d", n)
	}
}
