// Package webhooks serves what other services and mail clients post to
// Convot without a dashboard session: Stripe's signed events (the
// subscription, card, invoices and payments, and the account's
// cancellation or reactivation they start), Postmark's inbound mail (new
// email conversations, replies threaded by reply token or Message-ID,
// mail to the privacy address) and its bounce and complaint events, and
// the one-click unsubscribe links of marketing mail. What is kept of
// Stripe is package subscriptions', closing an account is package
// closure's and a conversation is package conversation's: this package
// authenticates the sender and reads its payload.
package webhooks

import (
	"context"

	"github.com/convot/convot/closure"
	"github.com/convot/convot/conversation"
	"github.com/convot/convot/dsr"
	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/security"
	"github.com/convot/convot/shopify"
	"github.com/convot/convot/subprocessors"
	"github.com/convot/convot/subscriptions"
)

// PrivacyIntake turns a mail to the privacy address into a data-subject
// request (policy §9, §14): dsr.Intake.ReceiveMail but in tests. An error
// makes Postmark deliver it again.
type PrivacyIntake func(ctx context.Context, m dsr.InboundMail) error

// Handler is what the webhooks need. The funcs are read at each request,
// not once: the composition root (and a test) may configure billing and
// the privacy intake after the routes are mounted.
type Handler struct {
	*site.Site
	// Conversations takes inbound mail as messages of conversations.
	Conversations *conversation.Service
	// Keys gives the blind indexes that find support addresses, contacts
	// and Message-IDs.
	Keys *models.KeyStore
	// Stripe returns the gated billing client, or nil when billing is
	// off (a new card is then recorded but not made the default).
	Stripe func() *subprocessors.Stripe
	// Accounts closes and reactivates accounts as Stripe's events say.
	Accounts func() *closure.Accounts
	// PrivacyIntake returns what takes mail to the privacy address, or
	// nil: such mail is then refused with 503 and Postmark tries again.
	PrivacyIntake func() PrivacyIntake
	// ShopifyApp returns the Convot Shopify app (nil: off) and
	// ShopifyIntake what turns its privacy webhooks into requests.
	ShopifyApp    func() *shopify.App
	ShopifyIntake func() *dsr.Intake
	// VulnerabilityReports takes mail to the security address (nil, or
	// without workflows: refused with 503 and delivered again).
	VulnerabilityReports func() *security.Reports
}

// billingURL is the billing page's address, for mail; read at each call
// (the base URL may be known only once the server listens).
func (h *Handler) billingURL() string { return subscriptions.PageURL(h.Config.BaseURL, "") }
