package store

import (
	"errors"
	"testing"

	"github.com/convot/convot/models"
)

func init() {
	isolationCases = append(isolationCases,
		isolationCase{"Subscription", func(t *testing.T, f *fixture) {
			f.subscriptionOfA(t)
			if _, err := f.store.Subscription(f.ctx, f.B.Org.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B loaded A's subscription: %v", err)
			}
		}},
		isolationCase{"ClaimStripeCustomer", func(t *testing.T, f *fixture) {
			sub := f.subscriptionOfA(t)
			must(t, f.store.with(f.ctx).Model(sub).Update("stripe_customer_id", "").Error)
			must(t, f.store.ClaimStripeCustomer(f.ctx, f.B.Org.ID, sub.ID, "cus_b"))
			if got, _ := f.store.Subscription(f.ctx, f.A.Org.ID); got.StripeCustomerID != "" {
				t.Fatal("B gave A's subscription a customer")
			}
		}},
		isolationCase{"SetStripeCustomer", func(t *testing.T, f *fixture) {
			sub := f.subscriptionOfA(t)
			must(t, f.store.SetStripeCustomer(f.ctx, f.B.Org.ID, sub.ID, "cus_b"))
			if got, _ := f.store.Subscription(f.ctx, f.A.Org.ID); got.StripeCustomerID != sub.StripeCustomerID {
				t.Fatal("B changed A's Stripe customer")
			}
		}},
		isolationCase{"UpdateSubscription", func(t *testing.T, f *fixture) {
			sub := f.subscriptionOfA(t)
			must(t, f.store.UpdateSubscription(f.ctx, f.B.Org.ID, sub.ID, SubscriptionState{StripeSubscriptionID: "sub_b", Status: "canceled", Plan: models.PlanFree, UpdatedAt: f.now}))
			if got, _ := f.store.Subscription(f.ctx, f.A.Org.ID); got.Status != sub.Status || got.StripeSubscriptionID != sub.StripeSubscriptionID {
				t.Fatal("B changed A's subscription")
			}
		}},
		isolationCase{"Usage", func(t *testing.T, f *fixture) {
			must(t, f.store.with(f.ctx).Create(&models.Account{OrganizationID: f.A.Org.ID, FullName: "Agent a", Email: "agent-a@example.com",
				Role: models.RoleAgent, Status: "active"}).Error)
			u, err := f.store.Usage(f.ctx, f.B.Org.ID, f.now)
			must(t, err)
			if u.Seats != 1 || u.ConversationsThisMonth != 1 {
				t.Fatalf("B's usage counts A's: %+v", u)
			}
		}},
		isolationCase{"PaymentMethod", func(t *testing.T, f *fixture) {
			f.cardOfA(t)
			if _, err := f.store.PaymentMethod(f.ctx, f.B.Org.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B loaded A's card: %v", err)
			}
		}},
		isolationCase{"HasPaymentMethod", func(t *testing.T, f *fixture) {
			f.cardOfA(t)
			has, err := f.store.HasPaymentMethod(f.ctx, f.B.Org.ID)
			must(t, err)
			if has {
				t.Fatal("A's card counts as B's")
			}
		}},
		isolationCase{"SavePaymentMethod", func(t *testing.T, f *fixture) {
			pm := f.cardOfA(t)
			changed := *pm
			changed.OrganizationID, changed.CardLast4 = f.B.Org.ID, "0000"
			must(t, f.store.SavePaymentMethod(f.ctx, f.B.Org.ID, &changed))
			got, err := f.store.PaymentMethod(f.ctx, f.A.Org.ID)
			must(t, err)
			if got.CardLast4 != pm.CardLast4 || got.ID != pm.ID {
				t.Fatal("B changed A's card")
			}
			if has, _ := f.store.HasPaymentMethod(f.ctx, f.B.Org.ID); has {
				t.Fatal("saving A's card as B's inserted one")
			}
		}},
		isolationCase{"Invoices", func(t *testing.T, f *fixture) {
			f.invoiceOfA(t)
			list, err := f.store.Invoices(f.ctx, f.B.Org.ID, 100)
			must(t, err)
			if len(list) != 0 {
				t.Fatalf("B listed %d of A's invoices", len(list))
			}
		}},
		isolationCase{"SaveInvoice", func(t *testing.T, f *fixture) {
			in := f.invoiceOfA(t)
			changed := *in
			changed.OrganizationID, changed.Number = f.B.Org.ID, "B-1"
			must(t, f.store.SaveInvoice(f.ctx, f.B.Org.ID, &changed))
			got, err := f.store.InvoiceByStripeID(f.ctx, in.StripeInvoiceID)
			must(t, err)
			if got.Number != in.Number || got.OrganizationID != f.A.Org.ID {
				t.Fatal("B changed A's invoice")
			}
		}},
	)
}

func (f *fixture) subscriptionOfA(t *testing.T) *models.Subscription {
	t.Helper()
	sub := &models.Subscription{OrganizationID: f.A.Org.ID, StripeCustomerID: "cus_a", StripeSubscriptionID: "sub_a", Plan: models.PlanFree,
		Status: "active", CreatedAt: f.now, UpdatedAt: f.now}
	must(t, f.store.CreateSubscription(f.ctx, sub))
	return sub
}

func (f *fixture) cardOfA(t *testing.T) *models.PaymentMethod {
	t.Helper()
	pm := &models.PaymentMethod{OrganizationID: f.A.Org.ID, DataKeyID: f.A.Org.DataKeyID, CardBrand: "visa", CardLast4: "4242", CreatedAt: f.now, UpdatedAt: f.now}
	must(t, f.store.CreatePaymentMethod(f.ctx, pm))
	return pm
}

func (f *fixture) invoiceOfA(t *testing.T) *models.Invoice {
	t.Helper()
	in := &models.Invoice{OrganizationID: f.A.Org.ID, StripeInvoiceID: "in_a", Number: "A-1", Status: "paid", Currency: "eur",
		AmountDue: 1900, IssuedAt: f.now, CreatedAt: f.now, UpdatedAt: f.now}
	must(t, f.store.CreateInvoice(f.ctx, in))
	return in
}
