package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/conversation"
	"github.com/convot/convot/dsr"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// fakePrivacyWorkflows records what would go to the request workflows.
type fakePrivacyWorkflows struct {
	mu       sync.Mutex
	starts   []workflows.PrivacyRequestInput
	signals  []fakeSignal
	progress workflows.DsrProgress
	down     bool
}

type fakeSignal struct {
	ID   uint64
	Name string
	Arg  any
}

func (f *fakePrivacyWorkflows) Start(_ context.Context, in workflows.PrivacyRequestInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return fmt.Errorf("temporal unreachable")
	}
	f.starts = append(f.starts, in)
	return nil
}

func (f *fakePrivacyWorkflows) Signal(_ context.Context, id uint64, name string, arg any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return fmt.Errorf("temporal unreachable")
	}
	f.signals = append(f.signals, fakeSignal{id, name, arg})
	return nil
}

func (f *fakePrivacyWorkflows) Progress(_ context.Context, id uint64) (workflows.DsrProgress, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.progress
	p.RequestID = id
	return p, nil
}

func (f *fakePrivacyWorkflows) lastStart(t *testing.T) workflows.PrivacyRequestInput {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.starts) == 0 {
		t.Fatal("no workflow started")
	}
	return f.starts[len(f.starts)-1]
}

func (f *fakePrivacyWorkflows) signalled(name string) []fakeSignal {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeSignal
	for _, s := range f.signals {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// privacyTestServer is a test server whose organization (signed up by the
// returned owner) has a contact with an address, and fake workflows;
// configure, when given, sets up the Server further before New builds it.
type privacyTestServer struct {
	*testServer
	flows   *fakePrivacyWorkflows
	owner   *browser
	org     models.Organization
	contact models.Contact
}

func newPrivacyTestServer(t *testing.T, configure ...func(*Server)) *privacyTestServer {
	t.Helper()
	flows := &fakePrivacyWorkflows{}
	ts := newConfiguredTestServer(t, func(s *Server) {
		s.PrivacyWorkflows = flows
		for _, c := range configure {
			c(s)
		}
	})
	p := &privacyTestServer{testServer: ts, flows: flows}
	p.owner = ts.browser(t)
	p.owner.signup("olivia@acme.example", "Acme GmbH")
	if err := ts.db.Where("id = (SELECT organization_id FROM accounts WHERE email_index = ?)", ts.db.Keys.BlindIndex("olivia@acme.example")).First(&p.org).Error; err != nil {
		t.Fatal(err)
	}
	p.contact = models.Contact{OrganizationID: p.org.ID, Name: "Ada Lovelace", Email: "ada@example.com"}
	if err := ts.db.Create(&p.contact).Error; err != nil {
		t.Fatal(err)
	}
	return p
}

// api sends JSON to the API and decodes the answer.
func (p *privacyTestServer) api(t *testing.T, path string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	if s, ok := body.(string); ok {
		b = []byte(s)
	}
	resp, err := http.Post(p.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }() // read, not written: nothing to lose
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s: %d %q is not JSON", path, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

var dsrCodeInMail = regexp.MustCompile(`\b(\d{8})\b`)

func (p *privacyTestServer) code(t *testing.T, to string) string {
	t.Helper()
	m := p.lastMail(t, to, "privacy_request_code")
	c := dsrCodeInMail.FindStringSubmatch(m.Text)
	if c == nil {
		t.Fatalf("no code in %q", m.Text)
	}
	return c[1]
}

func (p *privacyTestServer) request(t *testing.T, id uint64) models.PrivacyRequest {
	t.Helper()
	var r models.PrivacyRequest
	if err := p.db.First(&r, id).Error; err != nil {
		t.Fatal(err)
	}
	return r
}

func idOf(t *testing.T, out map[string]any) uint64 {
	t.Helper()
	id, ok := out["id"].(float64)
	if !ok {
		t.Fatalf("no id in %v", out)
	}
	return uint64(id)
}

// An End User asks through the JSON API; the code mailed to them verifies
// the request once; a wrong, reused or expired code, too many attempts, an
// unknown type and an unknown organization get a clear 4xx; a second open
// request of the same type is the first.
func TestPrivacyRequestIntakeAndVerification(t *testing.T) {
	p := newPrivacyTestServer(t)
	base := "/api/privacy-requests/" + p.org.PublicKey
	status, out := p.api(t, base, map[string]any{"type": "access", "email": "Ada@Example.com"})
	if status != http.StatusAccepted || out["status"] != obligations.DsrReceived || out["joined"] != false {
		t.Fatalf("intake: %d %v", status, out)
	}
	id := idOf(t, out)
	in := p.flows.lastStart(t)
	if in.RequestID != id || in.Type != obligations.DsrAccess || in.Verified || in.OrganizationID != p.org.ID {
		t.Fatalf("workflow input %+v", in)
	}
	r := p.request(t, id)
	if r.RequesterEmail != "ada@example.com" || r.EmailIndex != p.db.Keys.BlindIndex("ada@example.com") || r.Controller != models.ControllerOrganization ||
		!r.Deadline.Equal(obligations.DsrDueDate(r.ReceivedAt)) {
		t.Fatalf("request row %+v", r)
	}
	code := p.code(t, "ada@example.com")

	// The same request again joins the open one.
	status, out = p.api(t, base, map[string]any{"type": "access", "email": "ada@example.com"})
	if status != http.StatusAccepted || idOf(t, out) != id || out["joined"] != true {
		t.Fatalf("second request: %d %v", status, out)
	}
	verify := fmt.Sprintf("/api/privacy-verification/%d", id)
	wrong := "00000000"
	if wrong == code {
		wrong = "11111111"
	}
	status, out = p.api(t, verify, map[string]any{"code": wrong})
	if status != http.StatusBadRequest || !strings.Contains(fmt.Sprint(out["error"]), "Wrong code. 4 attempts left") {
		t.Fatalf("wrong code: %d %v", status, out)
	}
	status, out = p.api(t, verify, map[string]any{"code": code[:4] + " " + code[4:]})
	if status != http.StatusOK || out["status"] != "verified" {
		t.Fatalf("right code: %d %v", status, out)
	}
	if sigs := p.flows.signalled(workflows.SignalDsrVerified); len(sigs) != 1 || sigs[0].ID != id {
		t.Fatalf("verified signals %+v", sigs)
	}
	if r := p.request(t, id); r.VerifiedAt == nil || r.VerificationMethod != models.VerifiedByCode || r.CodeHash != "" {
		t.Fatalf("verified request %+v", r)
	}
	status, out = p.api(t, verify, map[string]any{"code": code})
	if status != http.StatusConflict {
		t.Fatalf("reused code: %d %v", status, out)
	}

	// An expired code, then a new one.
	status, out = p.api(t, base, map[string]any{"type": "erasure", "email": "ada@example.com"})
	if status != http.StatusAccepted {
		t.Fatalf("erasure intake: %d %v", status, out)
	}
	eid := idOf(t, out)
	old := p.code(t, "ada@example.com")
	p.advance(25 * time.Hour)
	everify := fmt.Sprintf("/api/privacy-verification/%d", eid)
	if status, out = p.api(t, everify, map[string]any{"code": old}); status != http.StatusGone || !strings.Contains(fmt.Sprint(out["error"]), "expired") {
		t.Fatalf("expired code: %d %v", status, out)
	}
	if status, out = p.api(t, everify+"/resend", map[string]any{}); status != http.StatusOK {
		t.Fatalf("resend: %d %v", status, out)
	}
	fresh := p.code(t, "ada@example.com")
	for i := 0; i < 5; i++ {
		p.api(t, everify, map[string]any{"code": "1234567" + fmt.Sprint(i)})
	}
	if status, out = p.api(t, everify, map[string]any{"code": fresh}); status != http.StatusTooManyRequests {
		t.Fatalf("after five wrong codes: %d %v", status, out)
	}

	// Bad input.
	for _, tc := range []struct {
		path   string
		body   any
		status int
		says   string
	}{
		{base, map[string]any{"type": "forget_me", "email": "ada@example.com"}, http.StatusBadRequest, "Unknown request type"},
		{base, map[string]any{"type": "objection", "email": "ada@example.com"}, http.StatusBadRequest, "ground"},
		{base, map[string]any{"type": "rectification", "email": "ada@example.com", "changes": map[string]string{"ip": "1.1.1.1"}}, http.StatusBadRequest, "cannot be corrected"},
		{base, map[string]any{"type": "access", "email": "not-an-address"}, http.StatusUnprocessableEntity, "valid email"},
		{base, "{not json", http.StatusBadRequest, "JSON"},
		{base, map[string]any{"type": "access", "email": "a@b.example", "extra": 1}, http.StatusBadRequest, "JSON"},
		{"/api/privacy-requests/no-such-org", map[string]any{"type": "access", "email": "ada@example.com"}, http.StatusNotFound, "Unknown organization"},
		{"/api/privacy-verification/999999", map[string]any{"code": "12345678"}, http.StatusNotFound, "no such"},
	} {
		status, out := p.api(t, tc.path, tc.body)
		if status != tc.status || !strings.Contains(fmt.Sprint(out["error"]), tc.says) {
			t.Errorf("%s %v: %d %v, want %d saying %q", tc.path, tc.body, status, out, tc.status, tc.says)
		}
	}
	// With the workflow service down, nothing is recorded and the answer
	// says to try again.
	p.flows.down = true
	var before int64
	p.db.Model(&models.PrivacyRequest{}).Count(&before)
	if status, _ := p.api(t, base, map[string]any{"type": "portability", "email": "ada@example.com"}); status != http.StatusServiceUnavailable {
		t.Fatalf("workflow down: %d", status)
	}
	var after int64
	p.db.Model(&models.PrivacyRequest{}).Count(&after)
	if after != before {
		t.Fatal("a request was left behind without its workflow")
	}
}

// The public page takes a request for Convot's own customers and for an
// organization's End Users, and confirms it with the mailed code.
func TestPrivacyRequestPages(t *testing.T) {
	p := newPrivacyTestServer(t)
	visitor := p.browser(t)
	if r := visitor.get("/privacy-requests/" + p.org.PublicKey); r.status != http.StatusOK || !strings.Contains(r.body, "Acme GmbH") {
		t.Fatalf("org page: %d", r.status)
	}
	if r := visitor.get("/privacy-requests/unknown"); r.status != http.StatusNotFound {
		t.Fatalf("unknown org page: %d", r.status)
	}
	r := visitor.post("/privacy-requests/"+p.org.PublicKey, url.Values{"type": {"rectification"}, "email": {"ada@example.com"}, "change_name": {"Augusta Ada King"}})
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/privacy-verification/") {
		t.Fatalf("form: %d %s %s", r.status, r.location, excerpt(r.body))
	}
	page := visitor.get(r.location)
	if page.status != http.StatusOK {
		t.Fatalf("verification page: %d", page.status)
	}
	done := visitor.post(r.location, url.Values{"code": {p.code(t, "ada@example.com")}})
	if done.status != http.StatusOK || !strings.Contains(done.body, "confirmed") {
		t.Fatalf("verify form: %d %s", done.status, excerpt(done.body))
	}
	in := p.flows.lastStart(t)
	if req := p.request(t, in.RequestID); req.Changes["name"] != "Augusta Ada King" || req.Type != obligations.DsrRectification {
		t.Fatalf("rectification request %+v", req)
	}
	// Convot's own customers: the owner asks about their account.
	r = visitor.get("/privacy-requests")
	if r.status != http.StatusOK {
		t.Fatalf("customer page: %d", r.status)
	}
	r = visitor.post("/privacy-requests", url.Values{"type": {"access"}, "email": {"olivia@acme.example"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("customer form: %d %s", r.status, excerpt(r.body))
	}
	in = p.flows.lastStart(t)
	req := p.request(t, in.RequestID)
	if req.Controller != models.ControllerConvot || req.SubjectKind != models.SubjectCustomer || req.OrganizationID != p.org.ID {
		t.Fatalf("customer request %+v", req)
	}
	// A bad form says what is wrong on the page.
	r = visitor.post("/privacy-requests/"+p.org.PublicKey, url.Values{"type": {"nonsense"}, "email": {"ada@example.com"}})
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "Unknown request type") {
		t.Fatalf("bad form: %d %s", r.status, excerpt(r.body))
	}
	// The dashboard lists End Users' requests, not Convot's own.
	list := p.owner.get("/privacy/requests")
	if list.status != http.StatusOK || !strings.Contains(list.body, "rectification") || strings.Contains(list.body, fmt.Sprintf("dsr-%d", req.ID)) {
		t.Fatalf("list: %d", list.status)
	}
}

// An operator logs a request for a contact from the sidebar, attesting the
// identity: no code, the workflow starts verified.
func TestOperatorLogsARequestForAContact(t *testing.T) {
	p := newPrivacyTestServer(t)
	path := fmt.Sprintf("/inbox/contacts/%d/privacy-requests", p.contact.ID)
	if r := p.owner.get(path); r.status != http.StatusOK || !strings.Contains(r.body, "Ada Lovelace") {
		t.Fatalf("sidebar form: %d", r.status)
	}
	if r := p.owner.post(path, url.Values{"type": {"erasure"}}); r.status != http.StatusBadRequest {
		t.Fatalf("without attestation: %d", r.status)
	}
	r := p.owner.post(path, url.Values{"type": {"erasure"}, "attest": {"on"}})
	if r.status != http.StatusOK || !strings.Contains(r.body, "is recorded") {
		t.Fatalf("logged: %d %s", r.status, excerpt(r.body))
	}
	in := p.flows.lastStart(t)
	req := p.request(t, in.RequestID)
	if !in.Verified || in.Prompt || req.SubjectID != p.contact.ID || req.RequesterEmail != "ada@example.com" ||
		req.Source != models.DsrSourceOperator || req.VerificationMethod != models.VerifiedByOperator || req.LoggedByID == 0 {
		t.Fatalf("input %+v, request %+v", in, req)
	}
	if r := p.owner.post(path, url.Values{"type": {"erasure"}, "attest": {"on"}}); !strings.Contains(r.body, "already has an open erasure request") {
		t.Fatalf("second: %s", excerpt(r.body))
	}
	// Another organization's operator finds no such contact.
	other := p.browser(t)
	other.signup("mallory@other.example", "Other Ltd")
	if r := other.get(path); r.status != http.StatusNotFound {
		t.Fatalf("another organization's contact: %d", r.status)
	}
	if r := other.post(path, url.Values{"type": {"erasure"}, "attest": {"on"}}); r.status != http.StatusNotFound {
		t.Fatalf("another organization's contact: %d", r.status)
	}
}

// The privacy officer's list and request page; decisions go to the
// workflow as signals, refused when they do not apply; another
// organization's officer sees nothing.
func TestPrivacyOfficerDecides(t *testing.T) {
	p := newPrivacyTestServer(t)
	status, out := p.api(t, "/api/privacy-requests/"+p.org.PublicKey, map[string]any{"type": "erasure", "email": "ada@example.com"})
	if status != http.StatusAccepted {
		t.Fatal(status, out)
	}
	id := idOf(t, out)
	p.flows.progress = workflows.DsrProgress{Type: "erasure", Status: "awaiting_approval", Steps: []workflows.DsrStep{{Name: "locate", Status: "done", Detail: "1 contact(s) found"}}}
	list := p.owner.get("/privacy/requests?status=open")
	if list.status != http.StatusOK || !strings.Contains(list.body, fmt.Sprintf("dsr-%d", id)) || !strings.Contains(list.body, "30 days left") ||
		!strings.Contains(list.body, "http://localhost:8233/namespaces/default/workflows/dsr-") {
		t.Fatalf("list: %d %s", list.status, excerpt(list.body))
	}
	detailPath := fmt.Sprintf("/privacy/requests/%d", id)
	detail := p.owner.get(detailPath)
	if detail.status != http.StatusOK || !strings.Contains(detail.body, "1 contact(s) found") {
		t.Fatalf("detail: %d", detail.status)
	}
	if r := p.owner.post(detailPath+"/approve", nil); r.status != http.StatusConflict {
		t.Fatalf("approve before verification: %d", r.status)
	}
	p.db.Model(&models.PrivacyRequest{}).Where("id = ?", id).Update("status", obligations.DsrAwaitingApproval)
	p.owner.get(detailPath)
	if r := p.owner.post(detailPath+"/approve", nil); r.status != http.StatusBadRequest {
		t.Fatalf("approve without the confirmation: %d", r.status)
	}
	if r := p.owner.get(detailPath + "/approve"); r.status != http.StatusOK || !strings.Contains(r.body, "cannot be undone") {
		t.Fatalf("confirmation page: %d %s", r.status, excerpt(r.body))
	}
	if r := p.owner.post(detailPath+"/approve", url.Values{"confirm": {"yes"}}); r.status != http.StatusSeeOther {
		t.Fatalf("approve: %d %s", r.status, excerpt(r.body))
	}
	if s := p.flows.signalled(workflows.SignalDsrApprove); len(s) != 1 || s[0].Arg.(workflows.DsrDecisionSignal).ByAccountID == 0 {
		t.Fatalf("approve signals %+v", s)
	}
	if r := p.owner.post(detailPath+"/extend", url.Values{"months": {"3"}, "reason": {"complex"}}); r.status != http.StatusBadRequest {
		t.Fatalf("extend by 3 months: %d", r.status)
	}
	if r := p.owner.post(detailPath+"/extend", url.Values{"months": {"2"}}); r.status != http.StatusBadRequest {
		t.Fatalf("extend without reason: %d", r.status)
	}
	if r := p.owner.post(detailPath+"/extend", url.Values{"months": {"2"}, "reason": {"many systems to search"}}); r.status != http.StatusSeeOther {
		t.Fatalf("extend: %d", r.status)
	}
	if s := p.flows.signalled(workflows.SignalDsrExtend); len(s) != 1 || s[0].Arg.(workflows.DsrExtendSignal).Months != 2 {
		t.Fatalf("extend signals %+v", s)
	}
	p.db.Model(&models.PrivacyRequest{}).Where("id = ?", id).Update("extended", true)
	if r := p.owner.post(detailPath+"/extend", url.Values{"months": {"1"}, "reason": {"again"}}); r.status != http.StatusConflict {
		t.Fatalf("second extension: %d", r.status)
	}
	if r := p.owner.post(detailPath+"/reject", nil); r.status != http.StatusBadRequest {
		t.Fatalf("reject without reason: %d", r.status)
	}
	if r := p.owner.post(detailPath+"/retry", nil); r.status != http.StatusConflict {
		t.Fatalf("retry with no failed step: %d", r.status)
	}
	p.flows.mu.Lock()
	p.flows.progress.AwaitingRetry = true
	p.flows.mu.Unlock()
	if r := p.owner.post(detailPath+"/retry", nil); r.status != http.StatusSeeOther {
		t.Fatalf("retry: %d", r.status)
	}
	var ev models.AuditEvent
	if err := p.db.Where("action = ? AND target = ?", "privacy.approved", fmt.Sprintf("privacy_request:%d", id)).First(&ev).Error; err != nil {
		t.Fatalf("approval not audited: %v", err)
	}
	// Another organization's officer.
	other := p.browser(t)
	other.signup("mallory@other.example", "Other Ltd")
	if r := other.get(detailPath); r.status != http.StatusNotFound {
		t.Fatalf("another organization's request: %d", r.status)
	}
	if r := other.post(detailPath+"/approve", nil); r.status != http.StatusNotFound {
		t.Fatalf("another organization's approval: %d", r.status)
	}
	if r := other.get("/privacy/requests"); strings.Contains(r.body, fmt.Sprintf("dsr-%d", id)) {
		t.Fatal("another organization lists the request")
	}
	// Every route of a request, swept as the other organization's owner.
	swept := 0
	for _, rt := range p.Config.Handler.(*gin.Engine).Routes() {
		if !strings.HasPrefix(rt.Path, "/privacy/requests/:id") {
			continue
		}
		path := strings.ReplaceAll(rt.Path, ":id", fmt.Sprint(id))
		var r response
		if rt.Method == http.MethodGet {
			r = other.get(path)
		} else {
			r = other.post(path, url.Values{"reason": {"x"}, "months": {"1"}})
		}
		swept++
		if r.status != http.StatusNotFound || strings.Contains(r.body, "erasure") {
			t.Errorf("%s %s as another organization: %d", rt.Method, path, r.status)
		}
	}
	if swept < 6 {
		t.Fatalf("swept %d routes", swept)
	}
}

// A download link works once and until it expires.
func TestPrivacyDownloadLinkIsSingleUse(t *testing.T) {
	p := newPrivacyTestServer(t)
	ctx := context.Background()
	req := models.PrivacyRequest{OrganizationID: p.org.ID, Controller: models.ControllerOrganization, SubjectKind: models.SubjectEndUser, Type: obligations.DsrAccess,
		Source: models.DsrSourceAPI, Status: obligations.DsrCompleted, ReceivedAt: p.clock(), Deadline: p.clock().Add(time.Hour)}
	if err := p.db.Create(&req).Error; err != nil {
		t.Fatal(err)
	}
	export := func(expires time.Time) string {
		sealed, err := p.db.Keys.Seal(ctx, p.contact.DataKeyID, models.BlobColumn("privacy_exports"), []byte("PK-zip-bytes"))
		if err != nil {
			t.Fatal(err)
		}
		key := "privacy-exports/" + crypto.RandomToken(10)
		if err := p.blobs.Put(ctx, dsr.ExportStorage(p.org.ID, "", "eu"), key, []byte(sealed)); err != nil {
			t.Fatal(err)
		}
		token := crypto.RandomToken(32)
		if err := p.db.Create(&models.PrivacyExport{OrganizationID: p.org.ID, RequestID: req.ID, DataKeyID: p.contact.DataKeyID, Format: models.ExportAccessReport,
			FileName: "convot-access-report-dsr-1.zip", ContentType: "application/zip", BlobKey: key, TokenHash: crypto.HashToken(token), ExpiresAt: expires}).Error; err != nil {
			t.Fatal(err)
		}
		return token
	}
	token := export(p.clock().Add(time.Hour))
	visitor := p.browser(t)
	if r := visitor.get("/privacy-downloads/" + token); r.status != http.StatusOK || !strings.Contains(r.body, "works once") {
		t.Fatalf("download page: %d", r.status)
	}
	r := visitor.post("/privacy-downloads/"+token, nil)
	if r.status != http.StatusOK || r.body != "PK-zip-bytes" || !strings.Contains(r.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("download: %d %q", r.status, r.body)
	}
	if r := visitor.post("/privacy-downloads/"+token, nil); r.status != http.StatusGone {
		t.Fatalf("second download: %d", r.status)
	}
	if status, out := p.api(t, "/api/privacy-downloads/"+token, map[string]any{}); status != http.StatusGone || !strings.Contains(fmt.Sprint(out["error"]), "used already") {
		t.Fatalf("API second download: %d %v", status, out)
	}
	expired := export(p.clock().Add(time.Hour))
	p.advance(2 * time.Hour)
	if status, out := p.api(t, "/api/privacy-downloads/"+expired, map[string]any{}); status != http.StatusGone || !strings.Contains(fmt.Sprint(out["error"]), "expired") {
		t.Fatalf("expired download: %d %v", status, out)
	}
	if status, _ := p.api(t, "/api/privacy-downloads/nonsense", map[string]any{}); status != http.StatusNotFound {
		t.Fatalf("unknown link: %d", status)
	}
}

// Mail to the privacy address becomes a request (once per mail) to every
// organization holding the address, or to Convot for an account's address;
// an unclear mail is answered with the ways to ask.
func TestPrivacyRequestsByMail(t *testing.T) {
	p := newPrivacyTestServer(t)
	ctx := context.Background()
	m := dsr.InboundMail{MessageID: "<abc@mail.example>", FromAddress: "ada@example.com", Subject: "Delete my data", Text: "Please erase everything about me.", ReceivedAt: p.clock()}
	for range 2 {
		if err := p.srv.PrivacyIntake(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	var rs []models.PrivacyRequest
	p.db.Where("source = ?", models.DsrSourceMail).Find(&rs)
	if len(rs) != 1 || rs[0].Type != obligations.DsrErasure || rs[0].OrganizationID != p.org.ID || rs[0].Controller != models.ControllerOrganization {
		t.Fatalf("mail requests %+v", rs)
	}
	p.code(t, "ada@example.com")
	if err := p.srv.PrivacyIntake(ctx, dsr.InboundMail{MessageID: "<x@y>", FromAddress: "olivia@acme.example", Subject: "Data access request", Text: "Send me a copy of my data."}); err != nil {
		t.Fatal(err)
	}
	var cust models.PrivacyRequest
	if err := p.db.Where("source = ? AND controller = ?", models.DsrSourceMail, models.ControllerConvot).First(&cust).Error; err != nil || cust.Type != obligations.DsrAccess {
		t.Fatalf("customer mail request: %v %+v", err, cust)
	}
	if err := p.srv.PrivacyIntake(ctx, dsr.InboundMail{MessageID: "<q@y>", FromAddress: "someone@else.example", Subject: "Hello", Text: "What are your opening hours?"}); err != nil {
		t.Fatal(err)
	}
	if m := p.lastMail(t, "someone@else.example", "privacy_request_unclear"); !strings.Contains(m.Text, "/privacy-requests") {
		t.Fatalf("unclear reply %q", m.Text)
	}
	// How a mail's right is read: dsr's TestClassifyMail.
}

// Statuses and types agree between the models and the workflow.
func TestDsrVocabularyAgrees(t *testing.T) {
	pairs := [][2]string{
		{obligations.DsrReceived, obligations.DsrReceived}, {obligations.DsrAwaitingVerification, obligations.DsrAwaitingVerification},
		{obligations.DsrInProgress, obligations.DsrInProgress}, {obligations.DsrAwaitingApproval, obligations.DsrAwaitingApproval},
		{obligations.DsrCompleted, obligations.DsrCompleted}, {obligations.DsrRejected, obligations.DsrRejected}, {obligations.DsrExpired, obligations.DsrExpired},
		{obligations.DsrAccess, obligations.DsrAccess}, {obligations.DsrRectification, obligations.DsrRectification}, {obligations.DsrErasure, obligations.DsrErasure},
		{obligations.DsrRestriction, obligations.DsrRestriction}, {obligations.DsrPortability, obligations.DsrPortability}, {obligations.DsrObjection, obligations.DsrObjection},
		{obligations.DsrConsentWithdrawal, obligations.DsrConsentWithdrawal},
	}
	for _, p := range pairs {
		if p[0] != p[1] {
			t.Errorf("models %q, workflows %q", p[0], p[1])
		}
	}
	if len(obligations.DsrTypes) != 7 || len(obligations.DsrStatuses) != 7 {
		t.Fatal("a type or status is missing")
	}
	if conversation.AttachmentColumn != models.BlobColumn("attachments") {
		t.Fatalf("attachments are sealed as %q, exports read them as %q", conversation.AttachmentColumn, models.BlobColumn("attachments"))
	}
}

// Policy §12: an operator flags a contact as under 16; the contact is
// restricted at once, and the request's workflow (run here on the test
// environment with the real activities) erases every trace without waiting
// for a decision or the month: it completes at the moment it starts.
func TestUnder16FlagErasesTheContactPromptly(t *testing.T) {
	p := newPrivacyTestServer(t)
	ctx := context.Background()
	conv := models.Conversation{OrganizationID: p.org.ID, ContactID: p.contact.ID, DataKeyID: p.contact.DataKeyID, Channel: "widget", Status: "open", LastMessageAt: p.clock()}
	if err := p.db.Create(&conv).Error; err != nil {
		t.Fatal(err)
	}
	msg := models.Message{OrganizationID: p.org.ID, ConversationID: conv.ID, DataKeyID: p.contact.DataKeyID, AuthorType: "contact", Body: "I am 13", CreatedAt: p.clock()}
	if err := p.db.Create(&msg).Error; err != nil {
		t.Fatal(err)
	}
	att, err := p.srv.Conversations.StoreAttachment(ctx, &p.org, &conv, "drawing.txt", []byte("a drawing"))
	if err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/inbox/contacts/%d/under-16", p.contact.ID)
	p.owner.get(fmt.Sprintf("/inbox/contacts/%d/privacy-requests", p.contact.ID))
	if r := p.owner.post(path, nil); r.status != http.StatusBadRequest {
		t.Fatalf("flag without confirmation: %d", r.status)
	}
	if r := p.owner.post(path, url.Values{"confirm": {"on"}}); r.status != http.StatusOK || !strings.Contains(r.body, "being erased now") {
		t.Fatalf("flag: %d %s", r.status, excerpt(r.body))
	}
	in := p.flows.lastStart(t)
	if !in.Prompt || !in.Verified || in.Type != obligations.DsrErasure {
		t.Fatalf("workflow input %+v", in)
	}
	if sc, _ := store.New(p.db.DB, p.db.Keys).SubjectContextForContact(ctx, p.contact.OrganizationID, p.contact.ID); !sc.Restricted {
		t.Fatal("the flagged contact is not restricted at once")
	}
	runPrivacyWorkflow(t, p.testServer, in)
	req := p.request(t, in.RequestID)
	if req.Status != obligations.DsrCompleted || req.CompletedAt == nil || req.CompletedAt.Sub(req.ReceivedAt) > time.Minute {
		t.Fatalf("request after the workflow: %s, completed %v, received %v", req.Status, req.CompletedAt, req.ReceivedAt)
	}
	var evidence store.ScanReport
	if err := json.Unmarshal([]byte(req.Evidence), &evidence); err != nil || !evidence.Clean {
		t.Fatalf("evidence %s", req.Evidence)
	}
	for _, m := range []any{&models.Contact{}, &models.Conversation{}, &models.Message{}, &models.Attachment{}} {
		var n int64
		p.db.Model(m).Where("organization_id = ?", p.org.ID).Count(&n)
		if n != 0 {
			t.Errorf("%T: %d rows left", m, n)
		}
	}
	if _, err := p.blobs.Get(ctx, conversation.AttachmentStorage(&p.org), att.BlobKey); err == nil {
		t.Error("the attachment is still in the blob store")
	}
	// The officer's page shows the evidence.
	page := p.owner.get(fmt.Sprintf("/privacy/requests/%d", req.ID))
	if page.status != http.StatusOK || !strings.Contains(page.body, "The completeness scanner found nothing left") ||
		!strings.Contains(page.body, "anthropic: keeps nothing") || strings.Contains(page.body, "I am 13") {
		t.Fatalf("request page: %d %s", page.status, excerpt(page.body))
	}
}
