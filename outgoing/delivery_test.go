package outgoing_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/models"
	"github.com/convot/convot/outgoing"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
)

// world is an organization with an owner, a contact, a conversation and a
// message, a gate recording its decisions, and the endpoints' client.
type world struct {
	ctx       context.Context
	db        *testdb.DB
	st        *store.Store
	decisions *policies.MemoryLog
	client    *subprocessors.CustomerEndpoints
	org       models.Organization
	contact   models.Contact
	conv      models.Conversation
	msg       models.Message
}

func newWorld(t *testing.T, allowPrivate bool) *world {
	t.Helper()
	w := &world{ctx: context.Background(), db: testdb.New(t), decisions: policies.NewMemoryLog()}
	w.st = store.New(w.db.DB, w.db.Keys)
	gate, err := policies.NewGate(w.ctx, w.decisions)
	if err != nil {
		t.Fatal(err)
	}
	// The test's endpoints listen on 127.0.0.1: the development setting.
	if w.client, err = subprocessors.NewCustomerEndpoints(gate, subprocessors.CustomerEndpointsConfig{AllowPrivate: allowPrivate, Timeout: outgoing.AttemptTimeout}); err != nil {
		t.Fatal(err)
	}
	w.org = models.Organization{PublicKey: crypto.RandomToken(8), CompanyName: "Acme", Region: "eu", Status: models.OrgActive}
	must(t, w.db.Create(&w.org).Error)
	owner := models.Account{OrganizationID: w.org.ID, Email: "owner-" + crypto.RandomToken(4) + "@acme.example", DisplayName: "Olga", Role: models.RoleOwner, Status: "active"}
	must(t, w.db.Create(&owner).Error)
	w.contact = models.Contact{OrganizationID: w.org.ID, Name: "Alice", Email: "alice@example.com"}
	must(t, w.st.CreateContact(w.ctx, &w.contact))
	w.conv = models.Conversation{OrganizationID: w.org.ID, ContactID: w.contact.ID, DataKeyID: w.contact.DataKeyID, Status: "open", LastMessageAt: time.Now()}
	must(t, w.db.Create(&w.conv).Error)
	w.msg = models.Message{OrganizationID: w.org.ID, ConversationID: w.conv.ID, DataKeyID: w.conv.DataKeyID, AuthorType: "contact", Body: "my parcel is late", CreatedAt: time.Now()}
	must(t, w.st.InsertMessage(w.ctx, &w.msg, false))
	return w
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// endpoint adds an endpoint at url through the dashboard's service.
func (w *world) endpoint(t *testing.T, url string, content bool, events ...string) (*models.WebhookEndpoint, string) {
	t.Helper()
	svc := &outgoing.Endpoints{Store: w.st, Client: w.client, AllowHTTP: true}
	ep, secret, err := svc.Add(w.ctx, w.org.ID, outgoing.NewEndpoint{URL: url, Events: events, IncludeContent: content})
	must(t, err)
	return ep, secret
}

// receiver is a Customer's endpoint that verifies every delivery with the
// Standard Webhooks library and answers with the next status of answers
// (then 204).
type receiver struct {
	mu       sync.Mutex
	verifier *standardwebhooks.Webhook
	answers  []int
	bodies   []map[string]any
	verified []error
	ids      []string
}

func newReceiver(t *testing.T, answers ...int) (*receiver, *httptest.Server) {
	r := &receiver{answers: answers}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		var err error
		if r.verifier != nil {
			err = r.verifier.Verify(body, req.Header)
		}
		r.verified = append(r.verified, err)
		r.ids = append(r.ids, req.Header.Get("webhook-id"))
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		r.bodies = append(r.bodies, m)
		status := http.StatusNoContent
		if len(r.answers) > 0 {
			status, r.answers = r.answers[0], r.answers[1:]
		}
		rw.WriteHeader(status)
		_, _ = rw.Write([]byte("answer " + http.StatusText(status)))
	}))
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *receiver) setSecret(t *testing.T, secret string) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	must(t, err)
	r.mu.Lock()
	r.verifier = wh
	r.mu.Unlock()
}

func (r *receiver) received() (bodies []map[string]any, verified []error, ids []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]any(nil), r.bodies...), append([]error(nil), r.verified...), append([]string(nil), r.ids...)
}

// claimAll hands every pending delivery to the test, as the dispatcher
// would to Temporal.
func (w *world) claimAll(t *testing.T) []models.WebhookDelivery {
	t.Helper()
	var out []models.WebhookDelivery
	_, err := w.st.ClaimWebhookDeliveries(w.ctx, 100, func(ds []models.WebhookDelivery) []uint64 {
		var ids []uint64
		for _, d := range ds {
			if d.OrganizationID == w.org.ID {
				out = append(out, d)
				ids = append(ids, d.ID)
			}
		}
		return ids
	})
	must(t, err)
	return out
}

// A delivery of a message with content opted in: the Standard Webhooks
// library verifies it under the endpoint's secret; the body carries the
// message; the gate's decision (customer_endpoint, the organization as
// recipient) is in the decision log; the attempt is in the delivery log.
// A restricted contact's next message goes out as IDs only.
func TestDeliveryVerifiesAndHonoursRestriction(t *testing.T) {
	w := newWorld(t, true)
	recv, srv := newReceiver(t)
	ep, secret := w.endpoint(t, srv.URL+"/hook", true, outgoing.MessageCreated)
	recv.setSecret(t, secret)
	must(t, w.st.EmitMessageEvent(w.ctx, w.org.ID, &w.msg, w.contact.ID))
	ds := w.claimAll(t)
	if len(ds) != 1 || ds[0].EndpointID != ep.ID {
		t.Fatalf("deliveries %+v", ds)
	}
	d := &outgoing.Deliverer{Store: w.st, Endpoints: w.client}
	res, err := d.Attempt(w.ctx, w.org.ID, ds[0].ID, false)
	if err != nil || res.Outcome != outgoing.OutcomeDelivered || res.StatusCode != 204 {
		t.Fatalf("attempt %+v (%v)", res, err)
	}
	bodies, verified, ids := recv.received()
	if len(bodies) != 1 || verified[0] != nil || ids[0] != outgoing.MessageID(ds[0].ID) {
		t.Fatalf("received %v, verification %v, ids %v", bodies, verified, ids)
	}
	data, _ := bodies[0]["data"].(map[string]any)
	content, _ := data["content"].(map[string]any)
	if bodies[0]["type"] != outgoing.MessageCreated || content["body"] != "my parcel is late" || data["message_id"] != float64(w.msg.ID) {
		t.Fatalf("payload %v", bodies[0])
	}
	var gated bool
	for _, r := range w.decisions.Records() {
		if r.Subprocessor == subprocessors.CustomerEndpointRecipient && r.OrganizationID == w.org.ID && r.Allow {
			gated = true
		}
	}
	if !gated {
		t.Fatalf("no allowed customer_endpoint decision in the log: %+v", w.decisions.Records())
	}
	log, err := w.st.WebhookDeliveryLog(w.ctx, w.org.ID, ep.ID, 10)
	if err != nil || len(log) != 1 || len(log[0].Attempts) != 1 || log[0].Attempts[0].StatusCode != 204 || log[0].Delivery.Status != models.WebhookDelivered {
		t.Fatalf("log %+v (%v)", log, err)
	}

	// The contact restricts processing: IDs only from now on.
	must(t, w.st.RecordSubjectPreference(w.ctx, models.SubjectPreference{OrganizationID: w.org.ID, ContactID: w.contact.ID,
		Kind: models.PreferenceRestriction, Active: true, Source: "operator", CreatedAt: time.Now()}))
	must(t, w.st.EmitMessageEvent(w.ctx, w.org.ID, &w.msg, w.contact.ID))
	ds = w.claimAll(t)
	if res, err := d.Attempt(w.ctx, w.org.ID, ds[0].ID, false); err != nil || res.Outcome != outgoing.OutcomeDelivered {
		t.Fatalf("restricted attempt %+v (%v)", res, err)
	}
	bodies, verified, _ = recv.received()
	data, _ = bodies[1]["data"].(map[string]any)
	if _, has := data["content"]; has || verified[1] != nil || data["message_id"] != float64(w.msg.ID) {
		t.Fatalf("a restricted contact's message went out with content: %v (%v)", bodies[1], verified[1])
	}
}

// Without the development setting an endpoint on 127.0.0.1 is refused at
// connect time: nothing is sent, the attempt is logged as failed with the
// reason; adding such an endpoint is refused with a message.
func TestDeliveryToLoopbackRefused(t *testing.T) {
	w := newWorld(t, false)
	recv, srv := newReceiver(t)
	ep := &models.WebhookEndpoint{URL: srv.URL, Events: ",webhook.test,", Secret: outgoing.NewSecret(), Enabled: true}
	must(t, w.st.CreateWebhookEndpoint(w.ctx, w.org.ID, ep))
	svc := &outgoing.Endpoints{Store: w.st, Client: w.client}
	d, err := svc.SendTest(w.ctx, w.org.ID, ep.ID)
	must(t, err)
	res, err := (&outgoing.Deliverer{Store: w.st, Endpoints: w.client}).Attempt(w.ctx, w.org.ID, d.ID, false)
	if err != nil || res.Outcome != outgoing.OutcomeFailed {
		t.Fatalf("attempt %+v (%v)", res, err)
	}
	if bodies, _, _ := recv.received(); len(bodies) != 0 {
		t.Fatal("a delivery reached 127.0.0.1")
	}
	log, _ := w.st.WebhookDeliveryLog(w.ctx, w.org.ID, ep.ID, 10)
	if len(log) != 1 || len(log[0].Attempts) != 1 || log[0].Attempts[0].Error == "" {
		t.Fatalf("log %+v", log)
	}
	if _, _, err := (&outgoing.Endpoints{Store: w.st, Client: w.client, AllowHTTP: true}).Add(w.ctx, w.org.ID, outgoing.NewEndpoint{URL: srv.URL}); err == nil {
		t.Fatal("an endpoint on 127.0.0.1 was added")
	}
}

// An endpoint failing for five days: the next failed attempt asks for it
// to be disabled; disabling mails the owners once and turns it off; a
// second call (a retried activity after the change) does nothing.
func TestEndpointFailingFiveDaysIsDisabledAndOwnersMailed(t *testing.T) {
	w := newWorld(t, true)
	_, srv := newReceiver(t, 500, 500)
	ep, _ := w.endpoint(t, srv.URL, false, outgoing.MessageCreated)
	sixDaysAgo := time.Now().UTC().Add(-6 * 24 * time.Hour)
	must(t, w.db.Model(&models.WebhookEndpoint{}).Where("id = ?", ep.ID).Update("failing_since", sixDaysAgo).Error)
	must(t, w.st.EmitMessageEvent(w.ctx, w.org.ID, &w.msg, w.contact.ID))
	ds := w.claimAll(t)
	d := &outgoing.Deliverer{Store: w.st, Endpoints: w.client}
	res, err := d.Attempt(w.ctx, w.org.ID, ds[0].ID, false)
	if err != nil || res.Outcome != outgoing.OutcomeFailed || !res.Disable {
		t.Fatalf("attempt %+v (%v)", res, err)
	}
	var mailed []string
	notify := func(_ context.Context, org *models.Organization, owners []models.Account, got *models.WebhookEndpoint) error {
		for _, o := range owners {
			mailed = append(mailed, o.Email)
		}
		if org.ID != w.org.ID || got.ID != ep.ID {
			t.Errorf("notice about %d/%d", org.ID, got.ID)
		}
		return nil
	}
	done, err := d.DisableEndpoint(w.ctx, w.org.ID, ep.ID, notify)
	if err != nil || !done || len(mailed) != 1 {
		t.Fatalf("disabled %v (%v), mailed %v", done, err, mailed)
	}
	got, _ := w.st.WebhookEndpoint(w.ctx, w.org.ID, ep.ID)
	if got.Enabled || got.DisabledReason == "" {
		t.Fatalf("endpoint %+v", got)
	}
	if done, err := d.DisableEndpoint(w.ctx, w.org.ID, ep.ID, notify); err != nil || done || len(mailed) != 1 {
		t.Fatalf("second call: %v %v, mailed %v", done, err, mailed)
	}
	// A disabled endpoint is sent nothing more.
	if res, err := d.Attempt(w.ctx, w.org.ID, ds[0].ID, false); err != nil || res.Outcome != outgoing.OutcomeSkipped {
		t.Fatalf("attempt to a disabled endpoint %+v (%v)", res, err)
	}
}
