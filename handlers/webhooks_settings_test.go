package handlers

import (
	"context"
	"html"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/models"
	"github.com/convot/convot/outgoing"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/subprocessors"
)

// fakeResolver answers from a table: nothing is looked up, nothing sent.
type fakeResolver map[string]string

func (f fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	ip, ok := f[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return []net.IPAddr{{IP: net.ParseIP(ip)}}, nil
}

func webhooksServer(t *testing.T) *testServer {
	t.Helper()
	gate, err := policies.NewGate(context.Background(), policies.NewMemoryLog())
	if err != nil {
		t.Fatal(err)
	}
	client, err := subprocessors.NewCustomerEndpoints(gate, subprocessors.CustomerEndpointsConfig{Resolver: fakeResolver{
		"hooks.acme.example": "93.184.216.34", "internal.acme.example": "10.0.0.1",
		"metadata.acme.example": "169.254.169.254", "loopback.acme.example": "127.0.0.1",
	}})
	if err != nil {
		t.Fatal(err)
	}
	return newConfiguredTestServer(t, func(s *Server) { s.CustomerEndpoints = client })
}

// Settings → Webhooks: an owner adds an HTTPS endpoint and sees its
// secret once; a URL that is not HTTPS, resolves to a refused range, or
// is malformed is refused with 422 and a message, and nothing is stored;
// rotating shows a new secret and keeps the old one signing for 24 hours;
// a test event lands in the delivery log, and a delivery can be sent
// again; the endpoint is disabled and deleted.
func TestWebhookSettings(t *testing.T) {
	ts := webhooksServer(t)
	b := ts.browser(t)
	b.signup("olivia@acme.test", "Acme")
	// The retry schedule the README states: 10 attempts over 3 days 17 h 35 min.
	if r := b.get("/settings/webhooks"); r.status != http.StatusOK || !strings.Contains(r.body, "Add an endpoint") ||
		!strings.Contains(r.body, `at most 10 attempts over <span data-testid="webhook-retry-span">89h35m5s</span>`) {
		t.Fatalf("page: %d", r.status)
	}
	r := b.post("/settings/webhooks", url.Values{"url": {"https://hooks.acme.example/convot"}, "description": {"CRM"},
		"events": {outgoing.MessageCreated, outgoing.ConversationCreated}, "include_content": {"1"}})
	if r.status != http.StatusCreated {
		t.Fatalf("add: %d %s", r.status, excerpt(r.body))
	}
	var ep models.WebhookEndpoint
	if err := ts.db.Where("url = ?", "https://hooks.acme.example/convot").First(&ep).Error; err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ep.Secret, "whsec_") || !strings.Contains(html.UnescapeString(r.body), ep.Secret) {
		t.Fatal("the secret is not shown on adding")
	}
	if ep.Events != ",conversation.created,message.created," || !ep.IncludeContent || !ep.Enabled {
		t.Fatalf("stored %+v", ep)
	}
	page := b.get("/settings/webhooks/" + itoa(ep.ID))
	if page.status != http.StatusOK || strings.Contains(html.UnescapeString(page.body), ep.Secret) || strings.Contains(html.UnescapeString(b.get("/settings/webhooks").body), ep.Secret) {
		t.Fatal("the secret is shown again")
	}

	for _, bad := range []struct{ url, says string }{
		{"http://hooks.acme.example/convot", "HTTPS"},
		{"https://internal.acme.example/x", "private"},
		{"https://metadata.acme.example/x", "cloud metadata"},
		{"https://loopback.acme.example/x", "loopback"},
		{"https://127.0.0.1/x", "loopback"},
		{"https://[::1]/x", "loopback"},
		{"not a url", "malformed"},
		{"https://", "no host"},
		{"https://user:pw@hooks.acme.example/", "password"},
		{"https://unknown.acme.example/", "could not be resolved"},
	} {
		r := b.post("/settings/webhooks", url.Values{"url": {bad.url}})
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, bad.says) {
			t.Errorf("%s: %d, want 422 saying %q: %s", bad.url, r.status, bad.says, excerpt(r.body))
		}
	}
	if r := b.post("/settings/webhooks", url.Values{"url": {"https://hooks.acme.example/x"}, "events": {"message.deleted"}}); r.status != http.StatusUnprocessableEntity {
		t.Errorf("an unknown event type: %d", r.status)
	}
	var n int64
	ts.db.Model(&models.WebhookEndpoint{}).Count(&n)
	if n != 1 {
		t.Fatalf("%d endpoints after bad input", n)
	}

	// Rotation: a new secret, shown once; the old one signs for 24 hours.
	r = b.post("/settings/webhooks/"+itoa(ep.ID)+"/rotate", nil)
	var rotated models.WebhookEndpoint
	ts.db.First(&rotated, ep.ID)
	if r.status != http.StatusOK || rotated.Secret == ep.Secret || !strings.Contains(html.UnescapeString(r.body), rotated.Secret) || rotated.PreviousSecret != ep.Secret {
		t.Fatalf("rotate: %d", r.status)
	}
	if rotated.PreviousUntil == nil || time.Until(*rotated.PreviousUntil) < 23*time.Hour || time.Until(*rotated.PreviousUntil) > 25*time.Hour {
		t.Fatalf("overlap until %v", rotated.PreviousUntil)
	}

	// A test event, in the delivery log; sent again.
	if r := b.post("/settings/webhooks/"+itoa(ep.ID)+"/test", nil); r.status != http.StatusSeeOther {
		t.Fatalf("test event: %d", r.status)
	}
	var d models.WebhookDelivery
	if err := ts.db.Where("endpoint_id = ?", ep.ID).First(&d).Error; err != nil {
		t.Fatal(err)
	}
	ts.db.Model(&d).Updates(map[string]any{"started": true, "status": models.WebhookFailed})
	ts.db.Create(&models.WebhookAttempt{OrganizationID: ep.OrganizationID, DeliveryID: d.ID, AttemptedAt: time.Now(), StatusCode: 503, LatencyMillis: 42, ResponseExcerpt: "down for maintenance"})
	log := b.get("/settings/webhooks/" + itoa(ep.ID))
	for _, want := range []string{"webhook.test", "HTTP 503", "42 ms", "down for maintenance"} {
		if !strings.Contains(log.body, want) {
			t.Errorf("the delivery log lacks %q", want)
		}
	}
	if r := b.post("/settings/webhooks/"+itoa(ep.ID)+"/deliveries/"+itoa(d.ID)+"/redeliver", nil); r.status != http.StatusSeeOther {
		t.Fatalf("redeliver: %d", r.status)
	}
	ts.db.First(&d, d.ID)
	if d.Started || d.Status != models.WebhookPending {
		t.Fatalf("redelivered delivery %+v", d)
	}

	if r := b.post("/settings/webhooks/"+itoa(ep.ID)+"/disable", nil); r.status != http.StatusSeeOther {
		t.Fatalf("disable: %d", r.status)
	}
	ts.db.First(&rotated, ep.ID)
	if rotated.Enabled {
		t.Fatal("not disabled")
	}
	if r := b.post("/settings/webhooks/"+itoa(ep.ID)+"/delete", nil); r.status != http.StatusSeeOther {
		t.Fatalf("delete: %d", r.status)
	}
	ts.db.Model(&models.WebhookEndpoint{}).Count(&n)
	if n != 0 {
		t.Fatal("not deleted")
	}
}

// Invariant 5: every webhook route with an identifier answers 404 to an
// owner of another organization, and changes nothing.
func TestWebhookSettingsTenantIsolation(t *testing.T) {
	ts := webhooksServer(t)
	a := ts.browser(t)
	a.signup("olivia@acme.test", "Acme")
	a.get("/settings/webhooks")
	if r := a.post("/settings/webhooks", url.Values{"url": {"https://hooks.acme.example/convot"}}); r.status != http.StatusCreated {
		t.Fatalf("add: %d", r.status)
	}
	var ep models.WebhookEndpoint
	ts.db.First(&ep)
	a.post("/settings/webhooks/"+itoa(ep.ID)+"/test", nil)
	var d models.WebhookDelivery
	ts.db.Where("endpoint_id = ?", ep.ID).First(&d)
	ts.db.Model(&d).Update("started", true)

	b := ts.browser(t)
	b.signup("boris@other.test", "Other")
	b.get("/settings/webhooks")
	swept := 0
	for _, rt := range ts.Config.Handler.(*gin.Engine).Routes() {
		if !strings.HasPrefix(rt.Path, "/settings/webhooks/") {
			continue
		}
		path := strings.NewReplacer(":id", itoa(ep.ID), ":delivery", itoa(d.ID)).Replace(rt.Path)
		var r response
		switch rt.Method {
		case http.MethodGet:
			r = b.get(path)
		case http.MethodPost:
			r = b.post(path, nil)
		default:
			continue
		}
		swept++
		if r.status != http.StatusNotFound {
			t.Errorf("%s %s as another organization: %d, want 404", rt.Method, path, r.status)
		}
		if strings.Contains(r.body, "hooks.acme.example") || strings.Contains(r.body, "whsec_") {
			t.Errorf("%s %s shows another organization's endpoint", rt.Method, path)
		}
	}
	if swept < 7 {
		t.Fatalf("swept only %d routes", swept)
	}
	if r := b.get("/settings/webhooks"); strings.Contains(r.body, "hooks.acme.example") {
		t.Error("another organization's endpoint listed")
	}
	var after models.WebhookEndpoint
	ts.db.First(&after, ep.ID)
	var dAfter models.WebhookDelivery
	ts.db.First(&dAfter, d.ID)
	var deliveries int64
	ts.db.Model(&models.WebhookDelivery{}).Count(&deliveries)
	if after.Secret != ep.Secret || after.PreviousSecret != "" || !after.Enabled || !dAfter.Started || deliveries != 1 {
		t.Fatalf("another organization changed the endpoint: %+v %+v (%d deliveries)", after, dAfter, deliveries)
	}
}

// The changes of the inbox write their webhook events in their own
// transactions, IDs only: a conversation started, the contact's message,
// an operator's reply, a note (only for an endpoint that chose notes),
// an assignment, a snooze, a resolution and a reopening. The endpoint is
// never contacted by the request (nothing runs the outbox here).
func TestInboxChangesEmitWebhookEvents(t *testing.T) {
	ts, w := acmeInbox(t)
	ctx := context.Background()
	all := &models.WebhookEndpoint{URL: "https://hooks.acme.example/all", Secret: outgoing.NewSecret(), Enabled: true,
		Events: outgoing.JoinEvents(append(outgoing.DefaultEvents(), outgoing.NoteCreated))}
	noNotes := &models.WebhookEndpoint{URL: "https://hooks.acme.example/default", Secret: outgoing.NewSecret(), Enabled: true,
		Events: outgoing.JoinEvents(outgoing.DefaultEvents())}
	for _, ep := range []*models.WebhookEndpoint{all, noNotes} {
		if err := ts.srv.Store.CreateWebhookEndpoint(ctx, w.org.ID, ep); err != nil {
			t.Fatal(err)
		}
	}
	_, conv := w.conversation(t, models.Contact{Name: "Ada"}, "Hello")
	w.owner.get(convPath(conv, ""))
	for _, step := range []struct {
		path string
		form url.Values
	}{
		{"/reply", url.Values{"body": {"Hi Ada"}}},
		{"/note", url.Values{"body": {"VIP"}}},
		{"/assign", url.Values{"assignee": {"me"}}},
		{"/snooze", url.Values{"preset": {"1h"}}},
		{"/resolve", nil},
		{"/reopen", nil},
	} {
		if r := w.owner.fetchForm(convPath(conv, step.path), step.form); r.status >= 300 {
			t.Fatalf("%s: %d %s", step.path, r.status, excerpt(r.body))
		}
	}
	types := func(ep *models.WebhookEndpoint) []string {
		var out []string
		ts.db.Raw(`SELECT e.type FROM webhook_events e JOIN webhook_deliveries d ON d.event_id = e.id WHERE d.endpoint_id = ? ORDER BY e.id`, ep.ID).Scan(&out)
		return out
	}
	want := []string{outgoing.ConversationCreated, outgoing.MessageCreated, outgoing.MessageCreated, outgoing.NoteCreated,
		outgoing.ConversationAssigned, outgoing.ConversationSnoozed, outgoing.ConversationResolved, outgoing.ConversationReopened}
	if got := types(all); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("events %v, want %v", got, want)
	}
	if got := types(noNotes); len(got) != len(want)-1 || strings.Contains(strings.Join(got, " "), outgoing.NoteCreated) {
		t.Errorf("an endpoint that did not choose notes got %v", got)
	}
	var evs []models.WebhookEvent
	ts.db.Where("organization_id = ?", w.org.ID).Find(&evs)
	for _, e := range evs {
		if e.ConversationID != conv.ID {
			t.Errorf("event %+v of another conversation", e)
		}
	}
}
