package shopify

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
)

// Scopes an owner may grant the app: customers always, orders optionally.
const (
	ScopeCustomers = "read_customers"
	ScopeOrders    = "read_orders"
)

// Time limits of installs and signed requests.
const (
	StateLifetime = 10 * time.Minute
	// MaxSkew bounds how old (or how far in the future) a signed install
	// or callback timestamp may be.
	MaxSkew = 10 * time.Minute
)

// App is the Convot Shopify app of one deployment.
type App struct {
	Store  *store.Store
	Client *subprocessors.Shopify
	// APIKey and Secret are the app's credentials from Shopify's partner
	// dashboard; without both the app is off.
	APIKey, Secret string
	// CallbackURL is where Shopify sends the owner back
	// (BASE_URL/settings/shopify/callback).
	CallbackURL string
	// Workflows starts the workflows of shop-level webhooks; without it
	// they are refused with 503 for Shopify to deliver again.
	Workflows WebhookWorkflows
	Now       func() time.Time
	cache     *contextCache
}

// Configured reports whether the app can run on this deployment.
func (a *App) Configured() bool {
	return a != nil && a.APIKey != "" && a.Secret != "" && a.Client != nil && a.Store != nil
}

func (a *App) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// ChosenScopes checks the scopes an owner chose on Convot's page:
// read_customers, and read_orders if wanted, nothing else.
func ChosenScopes(orders bool) []string {
	if orders {
		return []string{ScopeCustomers, ScopeOrders}
	}
	return []string{ScopeCustomers}
}

// grantedScopes keeps of what Shopify granted the scopes Convot knows and
// the owner chose (Shopify may answer write_ scopes implied by others).
func grantedScopes(granted string, chosen []string) []string {
	var out []string
	for _, s := range strings.Split(granted, ",") {
		s = strings.TrimSpace(s)
		if slices.Contains(chosen, s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// VerifyInstall checks Shopify's install request (the app's URL opened
// from the shop's admin): a valid hmac, a fresh timestamp and a
// myshopify.com shop. It returns the shop.
func (a *App) VerifyInstall(q url.Values) (string, error) {
	if !a.Configured() {
		return "", ErrNotConfigured
	}
	return a.verifySigned(q)
}

func (a *App) verifySigned(q url.Values) (string, error) {
	if err := VerifyQuery(a.Secret, q); err != nil {
		return "", err
	}
	shop, err := ValidShop(q.Get("shop"))
	if err != nil {
		return "", err
	}
	ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
	if err != nil {
		return "", ErrStale
	}
	if d := a.now().Sub(time.Unix(ts, 0)); d > MaxSkew || d < -MaxSkew {
		return "", ErrStale
	}
	return shop, nil
}

// Begin starts an install for the signed-in owner: it stores a single-use
// state bound to the owner's session, the shop and the scopes chosen, and
// returns the shop's authorization URL to send the owner to.
func (a *App) Begin(ctx context.Context, orgID, accountID uint64, sessionToken, shop string, scopes []string) (string, error) {
	if !a.Configured() {
		return "", ErrNotConfigured
	}
	shop, err := ValidShop(shop)
	if err != nil {
		return "", err
	}
	if len(scopes) == 0 || scopes[0] != ScopeCustomers {
		return "", errors.New("read_customers is required")
	}
	state := crypto.RandomToken(32)
	now := a.now()
	if err := a.Store.CreateShopifyOAuthState(ctx, &models.ShopifyOAuthState{OrganizationID: orgID, AccountID: accountID,
		StateHash: crypto.HashToken(state), SessionHash: crypto.HashToken(sessionToken), Shop: shop,
		Scopes: strings.Join(scopes, ","), ExpiresAt: now.UTC().Add(StateLifetime), CreatedAt: now.UTC()}); err != nil {
		return "", err
	}
	q := url.Values{"client_id": {a.APIKey}, "scope": {strings.Join(scopes, ",")}, "redirect_uri": {a.CallbackURL}, "state": {state}}
	return a.Client.ShopifyAuthorizeURL(shop) + "?" + q.Encode(), nil
}

// Complete handles Shopify's OAuth callback for the signed-in owner: the
// hmac, shop and timestamp are checked again, the state is used once
// (bound to this session and shop), and the code is exchanged for an
// offline token through the gated client; the granted scopes are stored
// with the token, sealed. Nothing is changed when any check fails.
func (a *App) Complete(ctx context.Context, org policies.OrgContext, sessionToken string, q url.Values) (*models.ShopifyInstall, error) {
	if !a.Configured() {
		return nil, ErrNotConfigured
	}
	shop, err := a.verifySigned(q)
	if err != nil {
		return nil, err
	}
	if q.Get("state") == "" || q.Get("code") == "" {
		return nil, ErrBadState
	}
	st, err := a.Store.UseShopifyOAuthState(ctx, org.ID, crypto.HashToken(q.Get("state")), crypto.HashToken(sessionToken), shop, a.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrBadState
	}
	if err != nil {
		return nil, err
	}
	chosen := strings.Split(st.Scopes, ",")
	org.ShopifyScopes = chosen
	tok, err := a.Client.ExchangeShopifyCode(ctx, org, shop, a.APIKey, a.Secret, q.Get("code"))
	if err != nil {
		return nil, fmt.Errorf("shopify: token exchange: %w", err)
	}
	granted := grantedScopes(tok.Scope, chosen)
	if !slices.Contains(granted, ScopeCustomers) {
		return nil, errors.New("shopify: the shop did not grant read_customers")
	}
	var in *models.ShopifyInstall
	err = a.Store.Tx(ctx, func(tx *store.Store) error {
		var err error
		in, err = tx.SaveShopifyInstall(ctx, org.ID, shop, tok.AccessToken, granted, a.now())
		return err
	})
	if err != nil {
		return nil, err
	}
	a.forget(org.ID)
	return in, nil
}

// Disconnect destroys the organization's token (its key is destroyed).
func (a *App) Disconnect(ctx context.Context, orgID uint64) (bool, error) {
	var done bool
	err := a.Store.Tx(ctx, func(tx *store.Store) error {
		var err error
		done, err = tx.DisconnectShopify(ctx, orgID, a.now())
		return err
	})
	a.forget(orgID)
	return done, err
}

// Scopes are the scopes the organization granted while a token is held:
// what the gate sees as organization.shopify_scopes.
func (a *App) Scopes(ctx context.Context, orgID uint64) ([]string, error) {
	in, err := a.Store.ShopifyInstall(ctx, orgID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return InstallScopes(in), nil
}

// InstallScopes are an install's granted scopes, none once its token is
// destroyed.
func InstallScopes(in *models.ShopifyInstall) []string {
	if in == nil || in.AccessToken == "" || in.Scopes == "" {
		return nil
	}
	return strings.Split(in.Scopes, ",")
}
