package store

import (
	"errors"
	"testing"

	"github.com/convot/convot/models"
)

func init() {
	isolationCases = append(isolationCases,
		isolationCase{"ShopifyInstall", func(t *testing.T, f *fixture) {
			f.shopOfA(t)
			if _, err := f.store.ShopifyInstall(f.ctx, f.B.Org.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B loaded A's install: %v", err)
			}
		}},
		isolationCase{"UseShopifyOAuthState", func(t *testing.T, f *fixture) {
			st := models.ShopifyOAuthState{OrganizationID: f.A.Org.ID, AccountID: f.A.Owner.ID, StateHash: "h", SessionHash: "s",
				Shop: "a.myshopify.com", Scopes: "read_customers", ExpiresAt: f.now.Add(600e9), CreatedAt: f.now}
			must(t, f.store.CreateShopifyOAuthState(f.ctx, &st))
			if _, err := f.store.UseShopifyOAuthState(f.ctx, f.B.Org.ID, "h", "s", "a.myshopify.com", f.now); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B used A's state: %v", err)
			}
			if _, err := f.store.UseShopifyOAuthState(f.ctx, f.A.Org.ID, "h", "s", "a.myshopify.com", f.now); err != nil {
				t.Fatalf("A's state was spent by B: %v", err)
			}
		}},
		isolationCase{"SaveShopifyInstall", func(t *testing.T, f *fixture) {
			f.shopOfA(t)
			if _, err := f.store.SaveShopifyInstall(f.ctx, f.B.Org.ID, "a.myshopify.com", "tok-b", []string{"read_customers"}, f.now); !errors.Is(err, ErrShopTaken) {
				t.Fatalf("B took A's shop: %v", err)
			}
			if in, err := f.store.ShopifyInstall(f.ctx, f.A.Org.ID); err != nil || in.AccessToken != "tok-a" {
				t.Fatalf("A's install changed: %v", err)
			}
		}},
		isolationCase{"DisconnectShopify", func(t *testing.T, f *fixture) {
			f.shopOfA(t)
			done, err := f.store.DisconnectShopify(f.ctx, f.B.Org.ID, f.now)
			must(t, err)
			if in, err := f.store.ShopifyInstall(f.ctx, f.A.Org.ID); done || err != nil || in.AccessToken != "tok-a" {
				t.Fatalf("B disconnected A: %v", err)
			}
		}},
		isolationCase{"DisconnectShopifyShop", func(t *testing.T, f *fixture) {
			f.shopOfA(t)
			done, err := f.store.DisconnectShopifyShop(f.ctx, f.B.Org.ID, "a.myshopify.com", f.now)
			must(t, err)
			if in, err := f.store.ShopifyInstall(f.ctx, f.A.Org.ID); done || err != nil || in.AccessToken != "tok-a" {
				t.Fatalf("B disconnected A's shop: %v", err)
			}
		}},
		isolationCase{"DeleteShopifyShop", func(t *testing.T, f *fixture) {
			f.shopOfA(t)
			n, err := f.store.DeleteShopifyShop(f.ctx, f.B.Org.ID, "a.myshopify.com")
			must(t, err)
			if _, err := f.store.ShopifyInstall(f.ctx, f.A.Org.ID); n != 0 || err != nil {
				t.Fatalf("B deleted A's shop: %d %v", n, err)
			}
		}},
		isolationCase{"DeleteShopifyShopTx", func(t *testing.T, f *fixture) {
			f.shopOfA(t)
			n, err := f.store.DeleteShopifyShopTx(f.ctx, f.B.Org.ID, "a.myshopify.com")
			must(t, err)
			if _, err := f.store.ShopifyInstall(f.ctx, f.A.Org.ID); n != 0 || err != nil {
				t.Fatalf("B deleted A's shop: %d %v", n, err)
			}
		}},
		isolationCase{"ShopifyWebhook", func(t *testing.T, f *fixture) {
			w := f.webhookOfA(t)
			if _, err := f.store.ShopifyWebhook(f.ctx, f.B.Org.ID, w.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B loaded A's webhook: %v", err)
			}
		}},
		isolationCase{"SetShopifyWebhookWorkflow", func(t *testing.T, f *fixture) {
			w := f.webhookOfA(t)
			must(t, f.store.SetShopifyWebhookWorkflow(f.ctx, f.B.Org.ID, w.ID, 9, "x"))
			if got, _ := f.store.ShopifyWebhook(f.ctx, f.A.Org.ID, w.ID); got.WorkflowID != "" {
				t.Fatal("B changed A's webhook")
			}
		}},
		isolationCase{"DeleteShopifyWebhookRecord", func(t *testing.T, f *fixture) {
			w := f.webhookOfA(t)
			n, err := f.store.DeleteShopifyWebhookRecord(f.ctx, f.B.Org.ID, w.ID)
			must(t, err)
			if _, err := f.store.ShopifyWebhook(f.ctx, f.A.Org.ID, w.ID); n != 0 || err != nil {
				t.Fatalf("B deleted A's webhook: %v", err)
			}
		}},
		isolationCase{"ContactsMatchingShopifyCustomer", func(t *testing.T, f *fixture) {
			ids, err := f.store.ContactsMatchingShopifyCustomer(f.ctx, f.B.Org.ID, []string{f.A.Contact.EmailIndex}, nil, "")
			must(t, err)
			if len(ids) != 0 {
				t.Fatalf("B matched A's contacts %v", ids)
			}
		}},
	)
}

func (f *fixture) shopOfA(t *testing.T) {
	t.Helper()
	_, err := f.store.SaveShopifyInstall(f.ctx, f.A.Org.ID, "a.myshopify.com", "tok-a", []string{"read_customers"}, f.now)
	must(t, err)
}

func (f *fixture) webhookOfA(t *testing.T) models.ShopifyWebhook {
	t.Helper()
	w := models.ShopifyWebhook{WebhookID: "wh-a", OrganizationID: f.A.Org.ID, Shop: "a.myshopify.com", Topic: "customers/redact", ReceivedAt: f.now}
	must(t, f.store.RecordShopifyWebhook(f.ctx, &w))
	return w
}
