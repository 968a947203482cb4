package shopify

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
)

// CacheLifetime is how long a contact's Shopify context is kept in memory.
const CacheLifetime = 2 * time.Minute

// RecentOrders is how many orders the sidebar shows.
const RecentOrders = 5

// Context is what the inbox sidebar shows of a contact's Shopify
// customer: nothing of it is written to the database.
type Context struct {
	Connected bool
	Shop      string
	Found     bool
	Customer  subprocessors.ShopifyAppCustomer
	// OrdersGranted is false when the shop did not grant read_orders: the
	// sidebar then says so and no orders query is ever made.
	OrdersGranted bool
	Orders        []subprocessors.ShopifyAppOrder
}

type contextCache struct {
	mu      sync.Mutex
	entries map[string]cached
}

type cached struct {
	at  time.Time
	ctx Context
}

// ContactContext reads the Shopify customer matching the contact's email
// (or phone) and, with read_orders, their recent orders, within the scopes
// granted. The contact must be the organization's: the caller loaded it
// with the organization. A result is cached in memory for CacheLifetime.
func (a *App) ContactContext(ctx context.Context, org *models.Organization, contact *models.Contact, subject policies.SubjectContext) (Context, error) {
	if !a.Configured() {
		return Context{}, ErrNotConfigured
	}
	if contact.OrganizationID != org.ID {
		return Context{}, store.ErrNotFound
	}
	in, err := a.Store.ShopifyInstall(ctx, org.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && in.AccessToken == "") {
		return Context{}, nil
	}
	if err != nil {
		return Context{}, err
	}
	scopes := InstallScopes(in)
	key := strconv.FormatUint(org.ID, 10) + "/" + strconv.FormatUint(contact.ID, 10) + "/" + in.Scopes + "/" + strconv.FormatUint(in.ID, 10)
	if c, ok := a.cached(key); ok {
		return c, nil
	}
	out := Context{Connected: true, Shop: in.Shop, OrdersGranted: slices.Contains(scopes, ScopeOrders)}
	if contact.Email == "" && contact.Phone == "" {
		return out, nil
	}
	oc := org.GateContext()
	oc.ShopifyScopes = scopes
	cust, found, err := a.Client.FindShopifyCustomer(ctx, oc, subject, in.Shop, in.AccessToken, contact.Email, contact.Phone)
	if err != nil {
		return out, err
	}
	out.Found, out.Customer = found, cust
	if found && out.OrdersGranted {
		if out.Orders, err = a.Client.ShopifyCustomerOrders(ctx, oc, subject, in.Shop, in.AccessToken, cust.ID, RecentOrders); err != nil {
			return out, err
		}
	}
	a.remember(key, out)
	return out, nil
}

func (a *App) cached(key string) (Context, bool) {
	if a.cache == nil {
		return Context{}, false
	}
	a.cache.mu.Lock()
	defer a.cache.mu.Unlock()
	e, ok := a.cache.entries[key]
	if !ok || a.now().Sub(e.at) > CacheLifetime {
		delete(a.cache.entries, key)
		return Context{}, false
	}
	return e.ctx, true
}

func (a *App) remember(key string, c Context) {
	if a.cache == nil {
		return
	}
	a.cache.mu.Lock()
	defer a.cache.mu.Unlock()
	now := a.now()
	for k, e := range a.cache.entries { // bounded: expired entries go
		if now.Sub(e.at) > CacheLifetime {
			delete(a.cache.entries, k)
		}
	}
	a.cache.entries[key] = cached{at: now, ctx: c}
}

// forget drops the organization's cached contexts (after a disconnect or a
// new install).
func (a *App) forget(orgID uint64) {
	if a.cache == nil {
		return
	}
	prefix := strconv.FormatUint(orgID, 10) + "/"
	a.cache.mu.Lock()
	defer a.cache.mu.Unlock()
	for k := range a.cache.entries {
		if len(k) > len(prefix) && k[:len(prefix)] == prefix {
			delete(a.cache.entries, k)
		}
	}
}

// NewApp returns an app with its in-memory context cache.
func NewApp(st *store.Store, client *subprocessors.Shopify, apiKey, secret, callbackURL string) *App {
	return &App{Store: st, Client: client, APIKey: apiKey, Secret: secret, CallbackURL: callbackURL,
		cache: &contextCache{entries: map[string]cached{}}}
}
