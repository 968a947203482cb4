// Package dashboard serves the operator dashboard: signing up and in (with
// a second factor), password resets and invitations, the profile, security
// and organization settings, the team, the inbox and its contacts and
// canned responses, the widget and email settings, the auditor's pages,
// incidents, support tickets, the dev mailbox, and the published privacy
// policy. Conversations are package conversation's and plan limits
// package plans': this package reads the forms and answers in pages.
package dashboard

import (
	"context"

	"github.com/convot/convot/assist"
	"github.com/convot/convot/contacts"
	"github.com/convot/convot/conversation"
	"github.com/convot/convot/disclosures"
	"github.com/convot/convot/dsr"
	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/internal/realtime"
	"github.com/convot/convot/models"
	"github.com/convot/convot/outgoing"
	"github.com/convot/convot/plans"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/security"
	"github.com/convot/convot/shopify"
)

// Handler is what the dashboard needs. The fields a test may swap on the
// Server after New (the hub, the breach workflows) are read through funcs
// at each request.
type Handler struct {
	*site.Site
	// Conversations lists, answers and changes conversations for the
	// inbox; Plans counts seats and conversations against the plan.
	Conversations *conversation.Service
	Plans         *plans.Limits
	// Keys seals and indexes personal data (blind indexes of addresses,
	// the system key of audit events about unknown accounts).
	Keys *models.KeyStore
	// Contacts merges a contact claiming another into it, on an
	// operator's decision.
	Contacts *contacts.Service
	// Assist runs the AI features (Settings → AI, Summarize, Suggest).
	Assist *assist.Service
	// Hub carries live events to the inbox's sockets.
	Hub func() realtime.Hub
	// Breaches returns what starts and signals incident workflows, or nil
	// (recording an incident then answers 503).
	Breaches func() BreachWorkflows
	// TemporalUIURL links an incident's workflow in the Temporal UI (empty:
	// no link).
	TemporalUIURL string
	// Outbox is the embedded default's mail, shown by the dev mailbox; nil
	// elsewhere, and the dev mailbox is not mounted.
	Outbox *mail.Outbox
	// ForgetOrganization drops the widget API's cached copy of an
	// organization (by public key) after its widget settings change.
	ForgetOrganization func(publicKey string)
	// OrgContext is an organization's context for the egress gate (the
	// zero context when it cannot be read), for mail about an account
	// found outside a session (password resets, security alerts).
	OrgContext func(ctx context.Context, orgID uint64) policies.OrgContext
	// ShopifyApp returns the Convot Shopify app (nil or unconfigured: off).
	ShopifyApp func() *shopify.App
	// VulnerabilityReports carries staff actions on vulnerability reports
	// to their workflows (staff console).
	VulnerabilityReports func() *security.Reports
	// Disclosures is the register of disclosure requests (staff console).
	Disclosures func() *disclosures.Register
	// PrivacyIntake decides requests to Convot as controller (staff
	// console); nil, or returning nil: decisions answer 503.
	PrivacyIntake func() *dsr.Intake
	// Webhooks manages Customers' webhook endpoints (nil, or returning
	// nil: none can be added).
	Webhooks func() *outgoing.Endpoints
}
