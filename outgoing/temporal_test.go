package outgoing_test

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/convot/convot/activities"
	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/models"
	"github.com/convot/convot/outgoing"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// On a real Temporal dev server, from the outbox to the endpoint: an
// endpoint that fails three times then succeeds receives the event once
// successfully, under one webhook-id, every delivery verified by the
// Standard Webhooks library, and the log holds three failures and one
// success. The worker is stopped between the second and the third
// attempt; a new worker resumes the delivery where it was.
func TestWebhookDeliveryOnTemporalRetriesAndResumes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := testenv.TemporalDevServer(t, ctx, client.Options{Identity: "convot-webhook-test"})
	must(t, workflows.RegisterSearchAttributes(ctx, c, "default"))

	w := newWorld(t, true)
	recv, srv := newReceiver(t, 500, 500, 500)
	ep, secret := w.endpoint(t, srv.URL+"/hook", false, outgoing.MessageCreated)
	recv.setSecret(t, secret)
	// The message's event, written as the conversation service writes it.
	must(t, w.st.Tx(w.ctx, func(tx *store.Store) error { return tx.EmitMessageEvent(w.ctx, w.org.ID, &w.msg, w.contact.ID) }))

	waits := []time.Duration{time.Second, 4 * time.Second, time.Second, time.Second}
	d := &outgoing.Dispatcher{Store: w.st, Temporal: c, RetryWaits: waits}
	if n, err := d.Drain(ctx); err != nil || n == 0 {
		t.Fatalf("dispatched %d (%v)", n, err)
	}
	var del models.WebhookDelivery
	must(t, w.db.Where("endpoint_id = ?", ep.ID).Take(&del).Error)
	if !del.Started {
		t.Fatal("the delivery is not marked started")
	}

	acts := &activities.Activities{Store: w.st, Webhooks: w.client}
	newWorker := func() worker.Worker {
		wk := worker.New(c, workflows.TaskQueue, worker.Options{})
		workflows.Register(wk)
		activities.Register(wk, acts)
		must(t, wk.Start())
		return wk
	}
	attempts := func() []models.WebhookAttempt {
		var as []models.WebhookAttempt
		must(t, w.db.Where("delivery_id = ?", del.ID).Order("id").Find(&as).Error)
		return as
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	first := newWorker()
	waitFor("two attempts logged", func() bool { return len(attempts()) >= 2 })
	first.Stop()
	// The third attempt falls due while no worker runs: nothing happens.
	time.Sleep(5 * time.Second)
	if n := len(attempts()); n != 2 {
		t.Fatalf("%d attempts without a worker", n)
	}
	second := newWorker()
	defer second.Stop()

	run := c.GetWorkflow(ctx, workflows.WebhookDeliveryWorkflowID(del.ID, 0), "")
	var st workflows.WebhookDeliveryState
	must(t, run.Get(ctx, &st))
	if st.Outcome != workflows.WebhookOutcomeDelivered || len(st.Attempts) != 4 {
		t.Fatalf("workflow state %+v", st)
	}
	as := attempts()
	var failures, successes int
	for _, a := range as {
		switch a.StatusCode {
		case 500:
			failures++
		case 204:
			successes++
		}
	}
	if len(as) != 4 || failures != 3 || successes != 1 || as[3].StatusCode != 204 {
		t.Fatalf("attempts %+v", as)
	}
	bodies, verified, ids := recv.received()
	if len(bodies) != 4 {
		t.Fatalf("the endpoint received %d requests", len(bodies))
	}
	for i := range bodies {
		if verified[i] != nil || ids[i] != outgoing.MessageID(del.ID) {
			t.Fatalf("request %d: verification %v, id %s", i, verified[i], ids[i])
		}
	}
	must(t, w.db.First(&del, del.ID).Error)
	if del.Status != models.WebhookDelivered || del.Attempts != 4 || del.DeliveredAt == nil {
		t.Fatalf("delivery %+v", del)
	}
	var ep2 models.WebhookEndpoint
	must(t, w.db.First(&ep2, ep.ID).Error)
	if ep2.FailingSince != nil || !ep2.Enabled {
		t.Fatalf("endpoint after the success: %+v", ep2)
	}
}
