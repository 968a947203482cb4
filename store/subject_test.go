package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
)

// Every model holding personal data can be located by the subject rule;
// the check itself catches a model that cannot.
func TestEveryPersonalModelIsLocated(t *testing.T) {
	problems, err := store.Unlocatable(models.All())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	type StrayNote struct {
		ID             uint64
		OrganizationID uint64
		AuthorRef      uint64
		Text           string `gorm:"serializer:sealed" privacy:"category=user.content.message subject=end_user retention=account purpose=essential.service"`
	}
	type KeyedNote struct {
		ID        uint64
		ContactID uint64
		Text      string `privacy:"category=user.content.message subject=end_user retention=account purpose=essential.service form=clear"`
	}
	problems, err = store.Unlocatable([]any{&StrayNote{}, &KeyedNote{}})
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 1 || !strings.Contains(problems[0], "StrayNote") {
		t.Fatalf("want StrayNote reported alone, got %v", problems)
	}
}

type fixture struct {
	org, otherOrg *models.Organization
	contact       *models.Contact // the subject
	twin          *models.Contact // the same person (same email), an older contact
	bystander     *models.Contact // another visitor of the same organization
	elsewhere     *models.Contact // the same email at another organization (another controller)
	owner         *models.Account
	conv          *models.Conversation
}

func mustCreate(t *testing.T, db *testdb.DB, v any) {
	t.Helper()
	if err := db.Create(v).Error; err != nil {
		t.Fatalf("create %T: %v", v, err)
	}
}

func newPrivacyFixture(t *testing.T, db *testdb.DB) *fixture {
	t.Helper()
	f := &fixture{}
	f.org = &models.Organization{PublicKey: crypto.RandomToken(12), CompanyName: "Acme GmbH", Region: "eu", Status: models.OrgActive}
	f.otherOrg = &models.Organization{PublicKey: crypto.RandomToken(12), CompanyName: "Other Ltd", Region: "eu", Status: models.OrgActive}
	mustCreate(t, db, f.org)
	mustCreate(t, db, f.otherOrg)
	f.owner = &models.Account{OrganizationID: f.org.ID, FullName: "Olivia Owner", Email: "olivia@acme.example", Role: models.RoleOwner, Status: "active"}
	mustCreate(t, db, f.owner)
	f.contact = &models.Contact{OrganizationID: f.org.ID, Name: "Ada Lovelace", Email: "ada@example.com", Phone: "+44 20 7946 0018",
		ExternalID: "user-4711", CustomAttributes: map[string]string{"plan": "gold"}, IP: "203.0.113.7", UserAgent: "Firefox"}
	f.twin = &models.Contact{OrganizationID: f.org.ID, Name: "Ada L.", Email: "ADA@example.com"}
	f.bystander = &models.Contact{OrganizationID: f.org.ID, Name: "Bob Builder", Email: "bob@example.com"}
	f.elsewhere = &models.Contact{OrganizationID: f.otherOrg.ID, Name: "Ada Lovelace", Email: "ada@example.com"}
	for _, c := range []*models.Contact{f.contact, f.twin, f.bystander, f.elsewhere} {
		mustCreate(t, db, c)
	}
	now := time.Now().UTC()
	for _, c := range []*models.Contact{f.contact, f.twin, f.bystander} {
		conv := &models.Conversation{OrganizationID: f.org.ID, ContactID: c.ID, DataKeyID: c.DataKeyID, Subject: "Help", Channel: "widget", Status: "open", LastMessageAt: now}
		mustCreate(t, db, conv)
		if c == f.contact {
			f.conv = conv
		}
		for i, body := range []string{"Hi, I am " + c.Name, "Reply from support", "Thanks"} {
			author := "contact"
			if i == 1 {
				author = "operator"
			}
			m := &models.Message{OrganizationID: f.org.ID, ConversationID: conv.ID, DataKeyID: c.DataKeyID, AuthorType: author, Body: body, CreatedAt: now}
			mustCreate(t, db, m)
			if err := models.IndexMessage(context.Background(), db.DB, db.Keys, m); err != nil {
				t.Fatal(err)
			}
		}
		mustCreate(t, db, &models.Attachment{OrganizationID: f.org.ID, ConversationID: conv.ID, DataKeyID: c.DataKeyID,
			FileName: "passport.png", ContentType: "image/png", Size: 3, BlobKey: "attachments/x/" + crypto.RandomToken(8), CreatedAt: now})
		mustCreate(t, db, &models.VisitorToken{OrganizationID: f.org.ID, ContactID: c.ID, TokenHash: crypto.HashToken(crypto.RandomToken(16)), CreatedAt: now, LastSeenAt: now})
	}
	if err := store.New(db.DB, db.Keys).RecordPreference(context.Background(), models.SubjectPreference{OrganizationID: f.org.ID, ContactID: f.contact.ID, Kind: models.PreferenceObjection, Value: "automated_decisions", Active: true}); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, db, &models.Invoice{OrganizationID: f.org.ID, StripeInvoiceID: "in_" + crypto.RandomToken(6), Number: "A-1", Status: "paid", IssuedAt: now, HostedInvoiceURL: "https://invoice.example/1"})
	mustCreate(t, db, &models.Subscription{OrganizationID: f.org.ID, StripeCustomerID: "cus_123", Plan: models.PlanStarter, Status: "active"})
	return f
}

func count(t *testing.T, db *testdb.DB, model any, where string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.Model(model).Where(where, args...).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// Erasure of an End User: every located row goes (both contacts sharing
// the email), blobs and conversations are named for the caller, the keys
// are destroyed, the bystander and the other controller's contact stay,
// and the scanner finds nothing left.
func TestEndUserErasureIsCompleteAndScoped(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	f := newPrivacyFixture(t, db)
	st := store.New(db.DB, db.Keys)
	s, err := st.LocateEndUser(ctx, f.org.ID, f.contact.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.IDs) != 2 || !slices.Contains(s.IDs, f.twin.ID) {
		t.Fatalf("located %v, want the contact and its twin", s.IDs)
	}
	plan, err := st.PlanErasure(ctx, f.org.ID, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.BlobKeys) != 2 || len(plan.ConversationIDs) != 2 || len(plan.StripeCustomerIDs) != 0 {
		t.Fatalf("plan %+v", plan)
	}
	for _, want := range []string{"ada lovelace", "ada@example.com", "+44 20 7946 0018", "user-4711"} {
		if !slices.Contains(plan.Terms, want) {
			t.Errorf("scan terms lack %q: %v", want, plan.Terms)
		}
	}
	// The search index holds the subject's name, email and words.
	for _, c := range []*models.Contact{f.contact, f.twin, f.bystander} {
		if n := count(t, db, &models.SearchTerm{}, "organization_id = ? AND contact_id = ? AND message_id > 0", f.org.ID, c.ID); n == 0 {
			t.Fatalf("contact %d: no message words indexed", c.ID)
		}
		if n := count(t, db, &models.SearchTerm{}, "organization_id = ? AND contact_id = ? AND message_id = 0", f.org.ID, c.ID); n == 0 {
			t.Fatalf("contact %d: name and email not indexed", c.ID)
		}
	}
	if r, err := st.Search(ctx, f.org.ID, "lovelace", 10); err != nil || len(r.Contacts) != 1 || len(r.Messages) != 1 {
		t.Fatalf("search before erasure: %v %+v", err, r)
	}
	bystanderTerms := count(t, db, &models.SearchTerm{}, "contact_id = ?", f.bystander.ID)
	res, err := st.EraseSubject(ctx, f.org.ID, s)
	if err != nil {
		t.Fatal(err)
	}
	if res.Deleted["SearchTerm"] == 0 {
		t.Fatalf("erasure deleted no search index entries: %+v", res)
	}
	for _, c := range []*models.Contact{f.contact, f.twin} {
		if n := count(t, db, &models.SearchTerm{}, "contact_id = ?", c.ID); n != 0 {
			t.Errorf("%d search index entries of contact %d left", n, c.ID)
		}
	}
	if n := count(t, db, &models.SearchTerm{}, "contact_id = ?", f.bystander.ID); n != bystanderTerms {
		t.Errorf("the bystander's index entries: %d, want %d", n, bystanderTerms)
	}
	if r, err := st.Search(ctx, f.org.ID, "lovelace", 10); err != nil || len(r.Contacts) != 0 || len(r.Messages) != 0 {
		t.Fatalf("search after erasure: %v %+v", err, r)
	}
	if res.Deleted["Message"] != 6 || res.Deleted["Contact"] != 2 || res.Deleted["SubjectPreference"] != 1 || res.KeysDestroyed < 2 {
		t.Fatalf("erasure result %+v", res)
	}
	for _, c := range []*models.Contact{f.contact, f.twin} {
		if n := count(t, db, &models.Message{}, "data_key_id = ?", c.DataKeyID); n != 0 {
			t.Errorf("%d messages left", n)
		}
		if n := count(t, db, &models.VisitorToken{}, "contact_id = ?", c.ID); n != 0 {
			t.Errorf("%d visitor tokens left", n)
		}
	}
	if n := count(t, db, &models.Message{}, "data_key_id = ?", f.bystander.DataKeyID); n != 3 {
		t.Errorf("the bystander's messages: %d, want 3", n)
	}
	var other models.Contact
	if err := db.First(&other, f.elsewhere.ID).Error; err != nil || other.Email != "ada@example.com" {
		t.Errorf("the other controller's contact was touched: %v %q", err, other.Email)
	}
	if n := count(t, db, &models.Invoice{}, "organization_id = ?", f.org.ID); n != 1 {
		t.Errorf("billing records: %d", n)
	}
	report, err := st.ScanErasure(ctx, f.org.ID, s, plan.Terms)
	if err != nil {
		t.Fatal(err)
	}
	if !report.Clean || report.RowsScanned == 0 || report.KeysChecked != 2 {
		t.Fatalf("scan after erasure: %+v", report)
	}
}

// The scanner finds what erasure missed: a row still sealed under the
// subject's key, the subject's email written into another contact's
// conversation, and a key left intact.
func TestScannerFindsRemnants(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	f := newPrivacyFixture(t, db)
	st := store.New(db.DB, db.Keys)
	s, err := st.LocateEndUser(ctx, f.org.ID, f.contact.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := st.PlanErasure(ctx, f.org.ID, s)
	if err != nil {
		t.Fatal(err)
	}
	// Before erasure everything is a finding.
	before, err := st.ScanErasure(ctx, f.org.ID, s, plan.Terms)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, fd := range before.Findings {
		kinds[fd.Kind] = true
	}
	if before.Clean || !kinds["row_remains"] || !kinds["key_not_destroyed"] || !kinds["identifier_found"] {
		t.Fatalf("scan before erasure: %+v", before)
	}
	if _, err := st.EraseSubject(ctx, f.org.ID, s); err != nil {
		t.Fatal(err)
	}
	// The bystander pasted the subject's address into their conversation.
	bconv := &models.Conversation{}
	if err := db.Where("contact_id = ?", f.bystander.ID).First(bconv).Error; err != nil {
		t.Fatal(err)
	}
	leak := &models.Message{OrganizationID: f.org.ID, ConversationID: bconv.ID, DataKeyID: f.bystander.DataKeyID, AuthorType: "contact",
		Body: "my friend is ADA@example.com", CreatedAt: time.Now().UTC()}
	mustCreate(t, db, leak)
	report, err := st.ScanErasure(ctx, f.org.ID, s, plan.Terms)
	if err != nil {
		t.Fatal(err)
	}
	if report.Clean || report.FindingsTotal != 1 || report.Findings[0].Kind != "identifier_found" ||
		report.Findings[0].Model != "Message" || report.Findings[0].RowID != leak.ID || report.Findings[0].Column != "body" {
		t.Fatalf("scan with a leaked address: %+v", report)
	}
}

// Erasure of a Customer who owns the organization: the account's rows go,
// the Stripe customer is named for deletion, the billing records stay
// readable with their legal basis recorded.
func TestCustomerErasureKeepsBillingRecords(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	f := newPrivacyFixture(t, db)
	st := store.New(db.DB, db.Keys)
	now := time.Now().UTC()
	mustCreate(t, db, &models.Session{TokenHash: crypto.HashToken("s"), AccountID: f.owner.ID, OrganizationID: f.org.ID, DataKeyID: f.owner.DataKeyID,
		IP: "198.51.100.1", CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)})
	mustCreate(t, db, &models.UsageEvent{OrganizationID: f.org.ID, AccountID: f.owner.ID, DataKeyID: f.owner.DataKeyID, Page: "/", OccurredAt: now})
	mustCreate(t, db, &models.Invitation{OrganizationID: f.otherOrg.ID, Email: "olivia@acme.example", Role: "agent", TokenHash: crypto.HashToken("i"), ExpiresAt: now.Add(time.Hour), CreatedAt: now})
	s, err := st.LocateCustomer(ctx, 0, db.Keys.BlindIndex("Olivia@acme.example"))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Found() || !s.Owner || s.OrganizationID != f.org.ID {
		t.Fatalf("located %+v", s)
	}
	plan, err := st.PlanErasure(ctx, f.org.ID, s)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(plan.StripeCustomerIDs, []string{"cus_123"}) {
		t.Fatalf("stripe customers %v", plan.StripeCustomerIDs)
	}
	res, err := st.EraseSubject(ctx, f.org.ID, s)
	if err != nil {
		t.Fatal(err)
	}
	if res.Deleted["Account"] != 1 || res.Deleted["Session"] != 1 || res.Deleted["UsageEvent"] != 1 || res.Deleted["Invitation"] != 1 {
		t.Fatalf("erasure %+v", res)
	}
	if len(res.Retained) != 1 || res.Retained[0].Model != "Invoice" || res.Retained[0].Rows != 1 ||
		!slices.Contains(res.Retained[0].LegalBases, "legal_obligation") {
		t.Fatalf("retained %+v", res.Retained)
	}
	var inv models.Invoice
	if err := db.Where("organization_id = ?", f.org.ID).First(&inv).Error; err != nil || inv.HostedInvoiceURL != "https://invoice.example/1" {
		t.Fatalf("invoice after erasure: %v %q", err, inv.HostedInvoiceURL)
	}
	// The contacts of the organization are another subject's data.
	if n := count(t, db, &models.Contact{}, "organization_id = ?", f.org.ID); n != 3 {
		t.Fatalf("contacts: %d", n)
	}
	report, err := st.ScanErasure(ctx, f.org.ID, s, plan.Terms)
	if err != nil {
		t.Fatal(err)
	}
	if !report.Clean {
		t.Fatalf("scan: %+v", report)
	}
}

// A billing record sealed under the subject's own key is sealed again
// under a billing key before the subject's key is destroyed.
func TestRetainedRecordsSurviveTheSubjectsKey(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	f := newPrivacyFixture(t, db)
	st := store.New(db.DB, db.Keys)
	inv := &models.Invoice{OrganizationID: f.org.ID, DataKeyID: f.owner.DataKeyID, StripeInvoiceID: "in_owner", Number: "B-1", IssuedAt: time.Now().UTC(), InvoicePDF: "https://pdf.example/b1"}
	mustCreate(t, db, inv)
	s, err := st.LocateCustomer(ctx, f.owner.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.EraseSubject(ctx, f.org.ID, s); err != nil {
		t.Fatal(err)
	}
	var got models.Invoice
	if err := db.First(&got, inv.ID).Error; err != nil {
		t.Fatal(err)
	}
	if got.DataKeyID == f.owner.DataKeyID || got.InvoicePDF != "https://pdf.example/b1" {
		t.Fatalf("invoice after erasure: key %d, pdf %q", got.DataKeyID, got.InvoicePDF)
	}
}

// Preferences reach the egress gate: a restriction leaves storage only, an
// objection to automated decisions stops the AI flows, consents are given
// and withdrawn.
func TestSubjectContextCarriesPreferencesToTheGate(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	f := newPrivacyFixture(t, db)
	st := store.New(db.DB, db.Keys)
	sc, err := st.SubjectContextForContact(ctx, f.org.ID, f.contact.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Kind != models.SubjectEndUser || sc.Restricted || !slices.Equal(sc.Objections, []string{"automated_decisions"}) {
		t.Fatalf("context %+v", sc)
	}
	gate, err := policies.NewGate(ctx, models.DecisionLog{DB: db.DB})
	if err != nil {
		t.Fatal(err)
	}
	summary := policies.Flow{Subprocessor: "anthropic", Purpose: "functional.ai.summary", Categories: []string{"user.content.message"},
		Organization: policies.OrgContext{ID: f.org.ID, Region: "eu", AIFeatures: []string{"summary"}}, Subject: sc}
	if d, _ := gate.Authorize(ctx, summary); d.Allow {
		t.Fatal("an AI summary of an objecting subject was allowed")
	}
	bsc, _ := st.SubjectContextForContact(ctx, f.org.ID, f.bystander.ID)
	summary.Subject = bsc
	if d, _ := gate.Authorize(ctx, summary); !d.Allow {
		t.Fatalf("the bystander's summary was denied: %s", d.Reason)
	}
	must := func(p models.SubjectPreference) {
		t.Helper()
		if err := st.RecordPreference(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	must(models.SubjectPreference{OrganizationID: f.org.ID, ContactID: f.bystander.ID, Kind: models.PreferenceRestriction, Active: true})
	bsc, _ = st.SubjectContextForContact(ctx, f.org.ID, f.bystander.ID)
	summary.Subject = bsc
	if d, _ := gate.Authorize(ctx, summary); d.Allow || !bsc.Restricted {
		t.Fatal("a restricted subject's data went to an AI subprocessor")
	}
	storage := policies.Flow{Subprocessor: "aws", Purpose: "essential.service.storage", Categories: []string{"user.content.attachment"},
		Organization: policies.OrgContext{ID: f.org.ID, Region: "eu"}, Subject: bsc, DestinationRegion: "eu"}
	if d, _ := gate.Authorize(ctx, storage); !d.Allow {
		t.Fatalf("storage of a restricted subject was denied: %s", d.Reason)
	}
	must(models.SubjectPreference{OrganizationID: f.org.ID, AccountID: f.owner.ID, Kind: models.PreferenceConsent, Value: "marketing_email", Active: true})
	asc, _ := st.SubjectContextForAccount(ctx, f.org.ID, f.owner.ID)
	if !slices.Equal(asc.Consents, []string{"marketing_email"}) {
		t.Fatalf("consents %v", asc.Consents)
	}
	must(models.SubjectPreference{OrganizationID: f.org.ID, AccountID: f.owner.ID, Kind: models.PreferenceConsent, Value: "marketing_email", Active: false})
	asc, _ = st.SubjectContextForAccount(ctx, f.org.ID, f.owner.ID)
	if len(asc.Consents) != 0 {
		t.Fatalf("a withdrawn consent is still in force: %v", asc.Consents)
	}
}
