package activities

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/convot/convot/dsr"
	"github.com/convot/convot/internal/blob"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
	"github.com/convot/convot/workflows"
)

// privacyWorld is an organization with one End User who wrote messages
// and sent files, another visitor, and the activities over them.
type privacyWorld struct {
	db      *testdb.DB
	a       *Activities
	blobs   *blob.Disk
	outbox  *mail.Outbox
	org     *models.Organization
	contact *models.Contact
	other   *models.Contact
	req     *models.PrivacyRequest
}

func newPrivacyWorld(tb testing.TB, messages, attachments int) *privacyWorld {
	tb.Helper()
	ctx := context.Background()
	db := testdb.New(tb)
	blobs, err := blob.NewDisk(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	outbox, err := mail.NewOutbox(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	w := &privacyWorld{db: db, blobs: blobs, outbox: outbox}
	w.a = &Activities{Store: store.New(db.DB, db.Keys), Keys: db.Keys, Mail: outbox, MailFrom: "Convot <no-reply@convot.io>", BaseURL: "https://convot.example", Blobs: blobs,
		Privacy: PrivacySettings{Subprocessors: map[string]bool{"anthropic": true, "postmark": true, "aws": true}}}
	w.org = &models.Organization{PublicKey: crypto.RandomToken(12), CompanyName: "Acme GmbH", Region: "eu", Status: models.OrgActive}
	pmust(tb, db.Create(w.org).Error)
	pmust(tb, db.Create(&models.Account{OrganizationID: w.org.ID, FullName: "Olivia Owner", Email: "olivia@acme.example", Role: models.RoleOwner, Status: "active"}).Error)
	w.contact = &models.Contact{OrganizationID: w.org.ID, Name: "Ada Lovelace", Email: "ada@example.com", Phone: "+44 20 7946 0018",
		IP: "203.0.113.7", UserAgent: "Firefox", PageURL: "https://acme.example/pricing", CustomAttributes: map[string]string{"plan": "gold"}}
	w.other = &models.Contact{OrganizationID: w.org.ID, Name: "Bob Builder", Email: "bob@example.com"}
	pmust(tb, db.Create(w.contact).Error)
	pmust(tb, db.Create(w.other).Error)
	for _, c := range []*models.Contact{w.contact, w.other} {
		n, files := messages, attachments
		if c == w.other {
			n, files = 3, 1
		}
		addConversation(tb, w, c, n, files)
	}
	w.req = &models.PrivacyRequest{OrganizationID: w.org.ID, Controller: models.ControllerOrganization, SubjectKind: models.SubjectEndUser,
		SubjectID: w.contact.ID, Type: obligations.DsrAccess, Source: models.DsrSourceOperator, RequesterEmail: "ada@example.com",
		EmailIndex: db.Keys.BlindIndex("ada@example.com"), Status: obligations.DsrInProgress, ReceivedAt: time.Now().UTC(),
		Deadline: obligations.DsrDueDate(time.Now().UTC()), VerificationMethod: models.VerifiedByOperator}
	pmust(tb, db.WithContext(ctx).Create(w.req).Error)
	return w
}

// setType changes the request's type (and ground).
func (w *privacyWorld) setType(tb testing.TB, typ, ground string) {
	tb.Helper()
	pmust(tb, w.db.Model(&models.PrivacyRequest{}).Where("id = ?", w.req.ID).Updates(map[string]any{"type": typ, "ground": ground}).Error)
	w.req.Type, w.req.Ground = typ, ground
}

func (w *privacyWorld) ref() workflows.DsrRef { return workflows.DsrRef{RequestID: w.req.ID} }

func (w *privacyWorld) reload(tb testing.TB) *models.PrivacyRequest {
	tb.Helper()
	var r models.PrivacyRequest
	pmust(tb, w.db.First(&r, w.req.ID).Error)
	return &r
}

// download reads the export the completion mail links to, as the
// download handler does.
func (w *privacyWorld) download(tb testing.TB) *zip.Reader {
	tb.Helper()
	msgs, err := w.outbox.List()
	pmust(tb, err)
	var link string
	for _, m := range msgs {
		if m.Tag == "privacy_request_completed" {
			for _, line := range strings.Split(m.Text, "\n") {
				if strings.Contains(line, "/privacy-downloads/") {
					link = strings.TrimSpace(line)
				}
			}
			break
		}
	}
	if link == "" {
		tb.Fatal("no download link mailed")
	}
	token := link[strings.LastIndex(link, "/")+1:]
	var e models.PrivacyExport
	pmust(tb, w.db.Where("token_hash = ?", crypto.HashToken(token)).First(&e).Error)
	sealed, err := w.blobs.Get(context.Background(), subprocessors.StorageContext{}, e.BlobKey)
	pmust(tb, err)
	data, err := w.db.Keys.Open(context.Background(), models.BlobColumn("privacy_exports"), string(sealed))
	pmust(tb, err)
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	pmust(tb, err)
	return zr
}

func readZip(tb testing.TB, zr *zip.Reader, name string) string {
	tb.Helper()
	for _, f := range zr.File {
		if f.Name == name {
			rc, err := f.Open()
			pmust(tb, err)
			defer func() { _ = rc.Close() }() // read only
			b, err := io.ReadAll(rc)
			pmust(tb, err)
			return string(b)
		}
	}
	tb.Fatalf("%s not in the archive", name)
	return ""
}

// The access report holds every message and file of the subject, none of
// the other visitor's, and says for each category why it is processed, on
// what basis, where it came from, who receives it and how long it is kept.
func TestAccessExportIsCompleteAndExplained(t *testing.T) {
	ctx := context.Background()
	w := newPrivacyWorld(t, 6, 2)
	if _, err := w.a.LocatePrivacySubject(ctx, w.ref()); err != nil {
		t.Fatal(err)
	}
	out, err := w.a.ExportPrivacySubject(ctx, w.ref())
	if err != nil {
		t.Fatal(err)
	}
	if out.Files != 2 || out.Rows < 6+1+1+2 {
		t.Fatalf("export outcome %+v", out)
	}
	_, err = w.a.NotifyPrivacyRequester(ctx, workflows.DsrNotice{RequestID: w.req.ID, Kind: workflows.NoticeCompleted})
	pmust(t, err)
	zr := w.download(t)
	report := readZip(t, zr, "report.html")
	for _, want := range []string{
		"Message 4 from Ada Lovelace", "Reply 5: it costs 29 EUR", "ada@example.com", "44 20 7946 0018", "203.0.113.7", "plan=gold",
		"Acme GmbH is the controller", "conversation messages", "providing the Service", "(contract)", "Anthropic, PBC",
		"12 months after collection", "collected automatically", "scan-1.txt",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("the access report lacks %q", want)
		}
	}
	for _, absent := range []string{"Bob Builder", "bob@example.com"} {
		if strings.Contains(report, absent) {
			t.Errorf("the access report holds another visitor's %q", absent)
		}
	}
	if f := readZip(t, zr, "attachments/"+fmt.Sprint(firstAttachment(t, w))+"-scan-0.txt"); !strings.Contains(f, "file 0 of Ada Lovelace") {
		t.Errorf("attachment content %q", f[:40])
	}
}

func firstAttachment(t *testing.T, w *privacyWorld) uint64 {
	var a models.Attachment
	pmust(t, w.db.Where("data_key_id = ?", w.contact.DataKeyID).Order("id").First(&a).Error)
	return a.ID
}

// The portability archive is machine-readable: JSON of every record, a
// CSV per category, and the files.
func TestPortabilityArchiveIsMachineReadable(t *testing.T) {
	ctx := context.Background()
	w := newPrivacyWorld(t, 4, 1)
	w.setType(t, obligations.DsrPortability, "")
	_, err := w.a.LocatePrivacySubject(ctx, w.ref())
	pmust(t, err)
	_, err = w.a.ExportPrivacySubject(ctx, w.ref())
	pmust(t, err)
	_, err = w.a.NotifyPrivacyRequester(ctx, workflows.DsrNotice{RequestID: w.req.ID, Kind: workflows.NoticeCompleted})
	pmust(t, err)
	zr := w.download(t)
	var doc struct {
		Records    map[string][]map[string]string `json:"records"`
		Categories []dsr.CategoryInfo             `json:"categories"`
		Files      []exportFile                   `json:"files"`
	}
	pmust(t, json.Unmarshal([]byte(readZip(t, zr, "data.json")), &doc))
	if len(doc.Records["messages"]) != 4 || doc.Records["contacts"][0]["email"] != "ada@example.com" || len(doc.Files) != 1 {
		t.Fatalf("data.json: %d messages, contact %v, %d files", len(doc.Records["messages"]), doc.Records["contacts"], len(doc.Files))
	}
	rows, err := csv.NewReader(strings.NewReader(readZip(t, zr, "csv/user.content.message.csv"))).ReadAll()
	pmust(t, err)
	if len(rows) != 1+4+1 || rows[0][0] != "table" { // header, 4 bodies, the conversation's subject
		t.Fatalf("message CSV: %v", rows)
	}
	readZip(t, zr, "csv/user.contact.email.csv")
	readZip(t, zr, doc.Files[0].Path)
}

// Erasure deletes the subject's files and rows, destroys their key, tells
// nothing to anyone else; the scanner finds nothing and its report is the
// evidence; finishing shreds the request's copy of the address.
func TestErasureActivitiesLeaveNothing(t *testing.T) {
	ctx := context.Background()
	w := newPrivacyWorld(t, 10, 3)
	w.setType(t, obligations.DsrErasure, "")
	var keys []string
	pmust(t, w.db.Model(&models.Attachment{}).Where("data_key_id = ?", w.contact.DataKeyID).Pluck("blob_key", &keys).Error)
	_, err := w.a.LocatePrivacySubject(ctx, w.ref())
	pmust(t, err)
	out, err := w.a.ErasePrivacySubject(ctx, w.ref())
	pmust(t, err)
	if out.Files != 3 || len(out.ConversationIDs) != 1 || out.Rows < 10 {
		t.Fatalf("erase outcome %+v", out)
	}
	for _, k := range keys {
		if _, err := w.blobs.Get(ctx, subprocessors.StorageContext{}, k); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("blob %s still there: %v", k, err)
		}
	}
	// A retry changes nothing and keeps the counts.
	again, err := w.a.ErasePrivacySubject(ctx, w.ref())
	pmust(t, err)
	if again.Rows != out.Rows {
		t.Fatalf("retry counted %d rows, first run %d", again.Rows, out.Rows)
	}
	scan, err := w.a.ScanPrivacyErasure(ctx, w.ref())
	pmust(t, err)
	if !scan.Clean || scan.Rows == 0 {
		t.Fatalf("scan %+v", scan)
	}
	r := w.reload(t)
	var evidence store.ScanReport
	pmust(t, json.Unmarshal([]byte(r.Evidence), &evidence))
	if !evidence.Clean || evidence.BlobsChecked != 3 || len(evidence.Subprocessors) == 0 || strings.Contains(r.Evidence, "ada@") || strings.Contains(r.Evidence, "Lovelace") {
		t.Fatalf("evidence %s", r.Evidence)
	}
	if !strings.Contains(r.Evidence, "anthropic: keeps nothing") || !strings.Contains(r.Evidence, "aws: 3 files deleted") {
		t.Fatalf("evidence does not record the AI subprocessors: %s", r.Evidence)
	}
	if n := countRows(t, w, &models.Message{}, "data_key_id = ?", w.other.DataKeyID); n != 3 {
		t.Fatalf("the other visitor's messages: %d", n)
	}
	_, err = w.a.NotifyPrivacyRequester(ctx, workflows.DsrNotice{RequestID: w.req.ID, Kind: workflows.NoticeCompleted})
	pmust(t, err)
	_, err = w.a.FinishPrivacyRequest(ctx, w.ref())
	pmust(t, err)
	r = w.reload(t)
	if r.RequesterEmail != "" || len(r.ScanTerms) != 0 || r.Evidence == "" {
		t.Fatalf("request after finish: email %q, terms %v", r.RequesterEmail, r.ScanTerms)
	}
}

func countRows(t *testing.T, w *privacyWorld, model any, where string, args ...any) int64 {
	var n int64
	pmust(t, w.db.Model(model).Where(where, args...).Count(&n).Error)
	return n
}

// A parent's request flags the child's contacts as under 16 at once: the
// gate sees the subject restricted before the erasure runs.
func TestChildRequestFlagsTheContact(t *testing.T) {
	ctx := context.Background()
	w := newPrivacyWorld(t, 2, 0)
	pmust(t, w.db.Model(&models.PrivacyRequest{}).Where("id = ?", w.req.ID).Updates(map[string]any{"type": obligations.DsrErasure, "for_child": true, "subject_id": 0}).Error)
	_, err := w.a.LocatePrivacySubject(ctx, w.ref())
	pmust(t, err)
	flagged, err := w.a.Store.FlaggedUnder16(ctx, w.contact.OrganizationID, w.contact.ID)
	pmust(t, err)
	sc, err := w.a.Store.SubjectContextForContact(ctx, w.contact.OrganizationID, w.contact.ID)
	pmust(t, err)
	if !flagged || !sc.Restricted {
		t.Fatalf("child not flagged: %v %+v", flagged, sc)
	}
}

// Restriction, objection and consent withdrawal are recorded once for the
// subject and reach the gate's subject context.
func TestPreferenceRequestsReachTheGate(t *testing.T) {
	ctx := context.Background()
	w := newPrivacyWorld(t, 1, 0)
	_, err := w.a.LocatePrivacySubject(ctx, w.ref())
	pmust(t, err)
	for _, tc := range []struct{ typ, ground string }{
		{obligations.DsrRestriction, ""}, {obligations.DsrObjection, "automated_decisions"}, {obligations.DsrConsentWithdrawal, "marketing_email"},
	} {
		w.setType(t, tc.typ, tc.ground)
		for range 2 {
			_, err := w.a.RecordPrivacyPreference(ctx, w.ref())
			pmust(t, err)
		}
	}
	sc, err := w.a.Store.SubjectContextForContact(ctx, w.contact.OrganizationID, w.contact.ID)
	pmust(t, err)
	if !sc.Restricted || len(sc.Objections) != 1 || sc.Objections[0] != "automated_decisions" || len(sc.Consents) != 0 {
		t.Fatalf("subject context %+v", sc)
	}
	if n := countRows(t, w, &models.SubjectPreference{}, "contact_id = ?", w.contact.ID); n != 3 {
		t.Fatalf("%d preference rows, want 3 (recorded once each)", n)
	}
}

// Rectification corrects the contact and leaves an audit trail naming the
// fields, never the values.
func TestRectificationHasAnAuditTrail(t *testing.T) {
	ctx := context.Background()
	w := newPrivacyWorld(t, 1, 0)
	w.setType(t, obligations.DsrRectification, "")
	w.req.Changes = map[string]string{"name": "Augusta Ada King", "phone": "+44 20 0000 0000"}
	pmust(t, w.db.Model(w.req).Select("changes").Updates(w.req).Error)
	_, err := w.a.LocatePrivacySubject(ctx, w.ref())
	pmust(t, err)
	_, err = w.a.RectifyPrivacySubject(ctx, w.ref())
	pmust(t, err)
	var c models.Contact
	pmust(t, w.db.First(&c, w.contact.ID).Error)
	if c.Name != "Augusta Ada King" || c.Phone != "+44 20 0000 0000" || c.Email != "ada@example.com" {
		t.Fatalf("contact after rectification: %q %q %q", c.Name, c.Phone, c.Email)
	}
	var ev models.AuditEvent
	pmust(t, w.db.Where("action = ?", "privacy.rectified").First(&ev).Error)
	if ev.Target != fmt.Sprintf("contact:%d", w.contact.ID) || !strings.Contains(ev.Detail, "name, phone") || strings.Contains(ev.Detail, "Augusta") {
		t.Fatalf("audit event %q %q", ev.Target, ev.Detail)
	}
}

// Every subprocessor that may hold a subject's data has a stated erasure
// outcome: adding one to the registry without saying fails here.
func TestEverySubprocessorHasAnErasureOutcome(t *testing.T) {
	reg, err := policies.LoadRegistry()
	pmust(t, err)
	for _, kind := range []string{models.SubjectEndUser, models.SubjectCustomer} {
		outcomes := subprocessorErasure(kind, 0, 0)
		for _, name := range reg.SubprocessorNames() {
			served := false
			for _, k := range reg.Subprocessors[name].Subjects {
				served = served || k == kind
			}
			if served && outcomes[name] == "" {
				t.Errorf("%s: no erasure outcome for %s data", name, kind)
			}
		}
	}
}

// Officer notices name the request and its deadline, never the requester,
// and go to the organization's owners and admins.
func TestOfficerNoticesCarryNoPersonalData(t *testing.T) {
	ctx := context.Background()
	w := newPrivacyWorld(t, 1, 0)
	deadline := time.Date(2026, 5, 10, 9, 0, 0, 0, time.UTC)
	for _, kind := range []string{workflows.NoticeAwaitingApproval, workflows.NoticeReminder7Days, workflows.NoticeReminder2Days, workflows.NoticeOverdue} {
		pmust(t, w.a.NotifyPrivacyOfficer(ctx, workflows.DsrNotice{RequestID: w.req.ID, Kind: kind, Deadline: deadline}))
	}
	pmust(t, w.a.NotifyPrivacyOfficer(ctx, workflows.DsrNotice{RequestID: w.req.ID, Kind: workflows.NoticeStepFailed, Step: "scan", Deadline: deadline}))
	msgs, err := w.outbox.List()
	pmust(t, err)
	if len(msgs) != 5 {
		t.Fatalf("%d officer mails", len(msgs))
	}
	for _, m := range msgs {
		if m.To != "olivia@acme.example" || !strings.Contains(m.Text, "10 May 2026") || !strings.Contains(m.Subject, w.req.WorkflowID()) {
			t.Errorf("mail %q to %s: %q", m.Subject, m.To, m.Text)
		}
		if strings.Contains(m.Text, "ada") || strings.Contains(m.Text, "Ada") {
			t.Errorf("officer mail names the requester: %q", m.Text)
		}
	}
}

func pmust(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// addConversation gives a contact a conversation of n messages (half from
// the contact) and files attachments.
func addConversation(tb testing.TB, w *privacyWorld, c *models.Contact, n, files int) {
	tb.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	conv := &models.Conversation{OrganizationID: w.org.ID, ContactID: c.ID, DataKeyID: c.DataKeyID, Subject: "Pricing", Channel: "widget", Status: "open", LastMessageAt: now}
	pmust(tb, w.db.Create(conv).Error)
	msgs := make([]models.Message, 0, n)
	for i := 0; i < n; i++ {
		author, body := "contact", fmt.Sprintf("Message %d from %s: what does the gold plan cost?", i, c.Name)
		if i%2 == 1 {
			author, body = "operator", fmt.Sprintf("Reply %d: it costs 29 EUR a month.", i)
		}
		msgs = append(msgs, models.Message{OrganizationID: w.org.ID, ConversationID: conv.ID, DataKeyID: c.DataKeyID, AuthorType: author,
			Body: body, DeliveryStatus: "sent", CreatedAt: now.Add(time.Duration(i) * time.Second)})
	}
	if n > 0 {
		pmust(tb, w.db.CreateInBatches(msgs, 500).Error)
	}
	sc := subprocessors.StorageContext{Organization: policies.OrgContext{ID: w.org.ID, Region: "eu"}, Subject: policies.SubjectContext{Kind: models.SubjectEndUser}, Categories: []string{"user.content.attachment"}}
	for i := 0; i < files; i++ {
		data := bytes.Repeat([]byte(fmt.Sprintf("file %d of %s\n", i, c.Name)), 200)
		sealed, err := w.db.Keys.Seal(ctx, c.DataKeyID, models.BlobColumn("attachments"), data)
		pmust(tb, err)
		key := fmt.Sprintf("attachments/%d/%s", w.org.ID, crypto.RandomToken(16))
		pmust(tb, w.blobs.Put(ctx, sc, key, []byte(sealed)))
		pmust(tb, w.db.Create(&models.Attachment{OrganizationID: w.org.ID, ConversationID: conv.ID, MessageID: msgs[i%len(msgs)].ID, DataKeyID: c.DataKeyID,
			FileName: fmt.Sprintf("scan-%d.txt", i), ContentType: "text/plain", Size: int64(len(data)), BlobKey: key, CreatedAt: now}).Error)
	}
}

// An export whose link expired (or was used) is deleted, file and row;
// a live one stays.
func TestExpiredExportsAreDeleted(t *testing.T) {
	ctx := context.Background()
	w := newPrivacyWorld(t, 2, 1)
	_, err := w.a.LocatePrivacySubject(ctx, w.ref())
	pmust(t, err)
	_, err = w.a.ExportPrivacySubject(ctx, w.ref())
	pmust(t, err)
	out, err := w.a.ExpirePrivacyExports(ctx, w.ref())
	pmust(t, err)
	if out.Files != 0 || out.Rows != 1 {
		t.Fatalf("a live export: %+v", out)
	}
	var e models.PrivacyExport
	pmust(t, w.db.Where("request_id = ?", w.req.ID).First(&e).Error)
	pmust(t, w.db.Model(&e).Update("expires_at", time.Now().UTC().Add(-time.Minute)).Error)
	out, err = w.a.ExpirePrivacyExports(ctx, w.ref())
	pmust(t, err)
	if out.Files != 1 || out.Rows != 0 {
		t.Fatalf("an expired export: %+v", out)
	}
	if _, err := w.blobs.Get(ctx, subprocessors.StorageContext{}, e.BlobKey); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("the expired export's file: %v", err)
	}
}

// Issue 15 item 11: the access report names columns by the inventory's
// human labels, prints no table wider than a page holds (a wide model is
// printed record by record), and lists as recipients only the
// subprocessors this deployment is configured to use.
func TestAccessReportReadableAndNamesOnlyConfiguredRecipients(t *testing.T) {
	ctx := context.Background()
	w := newPrivacyWorld(t, 2, 0)
	w.a.Privacy.Subprocessors = map[string]bool{"postmark": true}
	_, err := w.a.LocatePrivacySubject(ctx, w.ref())
	pmust(t, err)
	_, err = w.a.ExportPrivacySubject(ctx, w.ref())
	pmust(t, err)
	_, err = w.a.NotifyPrivacyRequester(ctx, workflows.DsrNotice{RequestID: w.req.ID, Kind: workflows.NoticeCompleted})
	pmust(t, err)
	report := readZip(t, w.download(t), "report.html")
	for _, absent := range []string{"Anthropic", "OpenAI", "Stripe, Inc", "Functional Software", "Amazon Web Services", "Shopify"} {
		if strings.Contains(report, absent) {
			t.Errorf("the report names %q, which this deployment does not use", absent)
		}
	}
	if !strings.Contains(report, "Postmark") && !strings.Contains(report, "ActiveCampaign") {
		t.Error("the report does not name the configured mail provider")
	}
	for _, want := range []string{"<th>email address</th>", "<th>phone number</th>", "<th>IP address</th>", "@page"} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	for _, raw := range []string{"<th>email_index", "<th>data_key_id", "<th>user_agent", "<th>ip<"} {
		if strings.Contains(report, raw) {
			t.Errorf("the report names a column by its raw name %q", raw)
		}
	}
	// No table wider than maxReportColumns columns.
	for _, head := range strings.Split(report, "<thead>")[1:] {
		head, _, _ = strings.Cut(head, "</thead>")
		if n := strings.Count(head, "<th>"); n > maxReportColumns {
			t.Errorf("a table of %d columns: %s", n, head)
		}
	}
}
