package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/convot/convot/activities"
	"github.com/convot/convot/closure"
	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// cancellationsOnTemporal is a test server whose cancellations run on a
// Temporal dev server, with a worker for them.
func cancellationsOnTemporal(t *testing.T) (*testServer, client.Client, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	c := testenv.TemporalDevServer(t, ctx, client.Options{})
	// The attributes this workflow uses (a SQL visibility store holds only
	// three of each date type; the full set is registered by convot migrate).
	_, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: "default",
		SearchAttributes: map[string]enumspb.IndexedValueType{
			workflows.ConvotOrgId.GetName():          enumspb.INDEXED_VALUE_TYPE_KEYWORD,
			workflows.CancellationDeleteAt.GetName(): enumspb.INDEXED_VALUE_TYPE_DATETIME,
		},
	})
	if err != nil {
		t.Fatal(err)
	}

	ts := newTestServer(t)
	ts.srv.Config.StripeWebhookSecret = testWebhookSecret
	ts.srv.Temporal = c
	w := worker.New(c, workflows.TaskQueue, worker.Options{})
	workflows.Register(w)
	activities.Register(w, &activities.Activities{Store: store.New(ts.db.DB, ts.db.Keys), Keys: ts.db.Keys, Mail: ts.outbox, MailFrom: "Convot <no-reply@convot.io>", BaseURL: ts.URL, Blobs: ts.blobs})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return ts, c, ctx
}

// A subscription Stripe cancelled (customer.subscription.deleted) starts
// the account's cancellation workflow on a real Temporal server: the
// organization turns read-only, the owner is told, the workflow is found in
// the Temporal UI's terms (ConvotOrgId, CancellationDeleteAt); the owner's
// reactivation from the dashboard signals it, and the account is active
// again.
func TestSubscriptionDeletedStartsCancellationOnTemporal(t *testing.T) {
	ts, c, ctx := cancellationsOnTemporal(t)
	org, owner := stripeCustomerOrg(t, ts, "olivia@temporal.test", "cus_temporal")
	now := time.Now()
	created := stripeEvent("evt_t_created", "customer.subscription.created", now.Add(-time.Minute), subscriptionObject("sub_temporal", "cus_temporal", "active", now.Add(time.Hour), ""))
	if r := postWebhook(t, ts, created, signStripe(created, now)); r.status != http.StatusOK {
		t.Fatalf("created: %d %s", r.status, r.body)
	}
	deleted := stripeEvent("evt_t_deleted", "customer.subscription.deleted", now, subscriptionObject("sub_temporal", "cus_temporal", "canceled", now, ""))
	if r := postWebhook(t, ts, deleted, signStripe(deleted, now)); r.status != http.StatusOK {
		t.Fatalf("deleted: %d %s", r.status, r.body)
	}
	// A replay joins the running workflow, starting nothing new.
	if r := postWebhook(t, ts, deleted, signStripe(deleted, time.Now())); r.status != http.StatusOK || !strings.Contains(r.body, "duplicate") {
		t.Fatalf("replay: %d %s", r.status, r.body)
	}

	billingEventually(t, 30*time.Second, "the organization is read-only", func() bool {
		var status string
		ts.db.Model(&models.Organization{}).Where("id = ?", org.ID).Pluck("status", &status)
		return status == models.OrgCancelled
	})
	billingEventually(t, 30*time.Second, "the owner is told", func() bool {
		msgs, _ := ts.outbox.List()
		for _, m := range msgs {
			if m.To == "olivia@temporal.test" && m.Tag == "cancellation_notice" {
				return true
			}
		}
		return false
	})
	id := workflows.CancellationWorkflowID(org.ID)
	desc, err := c.DescribeWorkflow(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := desc.RawResponse.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()[workflows.CancellationDeleteAt.GetName()]; !ok {
		t.Fatal("no CancellationDeleteAt search attribute")
	}
	query := fmt.Sprintf(`ConvotOrgId = "%d" AND WorkflowType = %q AND ExecutionStatus = "Running"`, org.ID, workflows.CancellationWorkflowType)
	billingEventually(t, 30*time.Second, "the workflow is listed by its search attributes", func() bool {
		res, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", Query: query})
		return err == nil && len(res.GetExecutions()) == 1 && res.GetExecutions()[0].GetExecution().GetWorkflowId() == id
	})
	st, err := (closure.TemporalCancellations{Client: c}).Status(ctx, org.ID)
	if err != nil || st.Status != workflows.CancellationGrace || st.Reason != workflows.CancellationSubscriptionEnded || st.DeleteAt.Sub(st.CancelledAt) != workflows.CancellationGracePeriod {
		t.Fatalf("status %+v %v", st, err)
	}

	// The owner sees the deletion date and reactivates.
	r := owner.get("/billing")
	if !strings.Contains(r.body, st.DeleteAt.UTC().Format("2006-01-02")) {
		t.Fatalf("billing page lacks the deletion date: %s", excerpt(r.body))
	}
	if r := owner.post("/billing/reactivate", nil); r.status != http.StatusSeeOther {
		t.Fatalf("reactivate: %d %s", r.status, excerpt(r.body))
	}
	var result workflows.CancellationState
	if err := c.GetWorkflow(ctx, id, "").Get(ctx, &result); err != nil {
		t.Fatal(err)
	}
	if result.Status != workflows.CancellationReactivated || result.ReactivatedBy == 0 {
		t.Fatalf("result %+v", result)
	}
	billingEventually(t, 10*time.Second, "the organization is active", func() bool {
		var status string
		ts.db.Model(&models.Organization{}).Where("id = ?", org.ID).Pluck("status", &status)
		return status == models.OrgActive
	})
	// Too late now: nothing to reactivate.
	if err := (closure.TemporalCancellations{Client: c}).Reactivate(ctx, org.ID, 1); !errors.Is(err, closure.ErrNotCancellable) {
		t.Fatalf("reactivating a finished cancellation: %v", err)
	}
}

func billingEventually(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A subscription Stripe gave up collecting (unpaid) closes the account on
// a real Temporal server; when the owner pays and the subscription bills
// again, the workflow is signalled and the account is active again, with
// no one pressing Reactivate.
func TestPaymentReactivatesUnpaidAccountOnTemporal(t *testing.T) {
	ts, c, ctx := cancellationsOnTemporal(t)
	org, _ := stripeCustomerOrg(t, ts, "olivia@repaid-temporal.test", "cus_repaid_t")
	now := time.Now()
	subscriptionUpdated(t, ts, "evt_rt_active", "sub_repaid_t", "cus_repaid_t", "active", now.Add(-3*time.Minute))
	subscriptionUpdated(t, ts, "evt_rt_unpaid", "sub_repaid_t", "cus_repaid_t", "unpaid", now.Add(-2*time.Minute))
	billingEventually(t, 30*time.Second, "the organization is read-only", func() bool { return orgStatus(ts, org.ID) == models.OrgCancelled })
	subscriptionUpdated(t, ts, "evt_rt_paid", "sub_repaid_t", "cus_repaid_t", "active", now.Add(-time.Minute))
	var result workflows.CancellationState
	if err := c.GetWorkflow(ctx, workflows.CancellationWorkflowID(org.ID), "").Get(ctx, &result); err != nil {
		t.Fatal(err)
	}
	if result.Status != workflows.CancellationReactivated || result.Reason != workflows.CancellationUnpaid || result.ReactivatedBy != 0 {
		t.Fatalf("result %+v", result)
	}
	billingEventually(t, 10*time.Second, "the organization is active", func() bool { return orgStatus(ts, org.ID) == models.OrgActive })
}
