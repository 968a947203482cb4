package policies

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

type gateCase struct {
	name   string
	flow   Flow
	allow  bool
	reason string   // substring of Decision.Reason
	drop   []string // nil: not checked
	redact []string // nil: not checked
}

func with(f Flow, edit func(*Flow)) Flow { edit(&f); return f }

func runCases(t *testing.T, g *Gate, cases []gateCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := g.Authorize(context.Background(), tc.flow)
			if err != nil {
				t.Fatalf("Authorize: %v (a policy denial is not an error)", err)
			}
			if d.Allow != tc.allow {
				t.Fatalf("allow = %v, want %v; reason: %s", d.Allow, tc.allow, d.Reason)
			}
			if d.Reason == "" || len(d.Reasons) == 0 {
				t.Fatalf("decision without a reason: %+v", d)
			}
			if !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("reason %q does not mention %q", d.Reason, tc.reason)
			}
			if tc.drop != nil && !slices.Equal(d.Drop, tc.drop) {
				t.Errorf("drop = %v, want %v", d.Drop, tc.drop)
			}
			if tc.redact != nil && !slices.Equal(d.Redact, tc.redact) {
				t.Errorf("redact = %v, want %v", d.Redact, tc.redact)
			}
			if d.PolicyRevision != g.Revision() {
				t.Errorf("policy revision %q, want %q", d.PolicyRevision, g.Revision())
			}
		})
	}
}

func TestAuthorizeRealisticFlowsAllowed(t *testing.T) {
	g, _ := newTestGate(t)
	runCases(t, g, []gateCase{
		{name: "anthropic summary, email redacted", flow: summaryFlow(), allow: true,
			reason: "anthropic may receive user.contact.email, user.content.message, user.name for functional.ai.summary",
			drop:   []string{}, redact: []string{"user.contact.email"}},
		{name: "openai embeddings", flow: embeddingsFlow(), allow: true, reason: "openai may receive user.content.message", redact: []string{}},
		{name: "aws attachment in eu", flow: attachmentFlow(), allow: true, reason: "aws may receive user.content.attachment"},
		{name: "stripe invoice", flow: invoiceFlow(), allow: true, reason: "stripe may receive"},
		{name: "postmark security alert", flow: securityAlertFlow(), allow: true, reason: "postmark may receive"},
		{name: "sentry error event scrubbed", flow: errorEventFlow(), allow: true,
			reason: "sentry may receive system.operations for analytics.reporting.system.performance; scrubbed before sending",
			drop: []string{"user.authorization.credentials", "user.contact.email", "user.content.message",
				"user.device.cookie_id", "user.device.ip_address"},
			redact: []string{}},
		{name: "redis in the organization's region", flow: realtimeFlow(), allow: true, reason: "redis may receive"},
		{name: "shopify within authorized scope", flow: orderLookupFlow(), allow: true, reason: "shopify may receive user.contact.email"},
		{name: "postmark mail from Convot as controller", flow: deploymentMailFlow(), allow: true, reason: "postmark may receive"},
	})
}

func TestAuthorizeRules(t *testing.T) {
	g, _ := newTestGate(t)
	runCases(t, g, []gateCase{
		// registration: purposes and categories
		{name: "purpose not registered", allow: false,
			flow:   with(securityAlertFlow(), func(f *Flow) { f.Purpose = "essential.service.payment_processing" }),
			reason: "postmark is not registered for purpose essential.service.payment_processing"},
		{name: "summary is not an openai purpose", allow: false,
			flow:   with(summaryFlow(), func(f *Flow) { f.Subprocessor = "openai" }),
			reason: "openai is not registered for purpose functional.ai.summary"},
		{name: "category not registered", allow: false,
			flow:   with(securityAlertFlow(), func(f *Flow) { f.Categories = append(f.Categories, "user.device.ip_address") }),
			reason: "postmark may not receive user.device.ip_address"},
		{name: "child of a registered category", allow: true,
			flow:   with(realtimeFlow(), func(f *Flow) { f.Categories = []string{"user.contact.email", "user.contact.phone_number"} }),
			reason: "redis may receive user.contact.email, user.contact.phone_number"},
		{name: "parent of a registered category", allow: false,
			flow:   with(summaryFlow(), func(f *Flow) { f.Categories = []string{"user.contact"} }),
			reason: "anthropic may not receive user.contact"},

		// AI subprocessors
		{name: "AI feature off", allow: false,
			flow:   with(summaryFlow(), func(f *Flow) { f.Purpose, f.Feature = "functional.ai.automated_answer", "automated_answer" }),
			reason: "the organization has not turned on the AI feature automated_answer"},
		{name: "no AI features at all", allow: false,
			flow:   with(embeddingsFlow(), func(f *Flow) { f.Organization = usOrg() }),
			reason: "the organization has not turned on the AI feature embeddings"},
		{name: "feature does not match purpose", allow: false,
			flow:   with(summaryFlow(), func(f *Flow) { f.Feature = "translation" }),
			reason: "feature translation does not match purpose functional.ai.summary"},
		{name: "objection to automated processing", allow: false,
			flow:   with(summaryFlow(), func(f *Flow) { f.Subject.Objections = []string{"automated_decisions"} }),
			reason: "the data subject objected to automated_decisions"},
		{name: "AI for a restricted subject", allow: false,
			flow:   with(embeddingsFlow(), func(f *Flow) { f.Subject.Restricted = true }),
			reason: "processing of the data subject is restricted: stored, nothing more"},
		{name: "email, phone and external ID redacted", allow: true,
			flow: with(summaryFlow(), func(f *Flow) {
				f.Categories = []string{"user.content.message", "user.contact.phone_number", "user.unique_id", "user.contact.email", "user.name"}
			}),
			reason: "redacted before sending: user.contact.email, user.contact.phone_number, user.unique_id",
			redact: []string{"user.contact.email", "user.contact.phone_number", "user.unique_id"}},

		// Sentry
		{name: "sentry with only personal data", allow: false,
			flow:   with(errorEventFlow(), func(f *Flow) { f.Categories = []string{"user.contact.email", "user.device.ip_address"} }),
			reason: "nothing but personal data was to be sent to sentry"},
		{name: "sentry for a restricted subject is scrubbed, not refused", allow: true,
			flow:   with(errorEventFlow(), func(f *Flow) { f.Subject.Restricted = true }),
			reason: "scrubbed before sending"},

		// Stripe
		{name: "stripe gets no conversation content", allow: false,
			flow:   with(invoiceFlow(), func(f *Flow) { f.Categories = []string{"user.content.message"} }),
			reason: "stripe may not receive user.content.message"},
		{name: "stripe gets no IP address", allow: false,
			flow:   with(invoiceFlow(), func(f *Flow) { f.Categories = append(f.Categories, "user.device.ip_address") }),
			reason: "stripe may not receive user.device.ip_address"},
		{name: "stripe gets no end-user data", allow: false,
			flow:   with(invoiceFlow(), func(f *Flow) { f.Subject = endUser() }),
			reason: "stripe does not receive data of subject kind end_user"},

		// Shopify
		{name: "shopify scope not authorized", allow: false,
			flow: with(orderLookupFlow(), func(f *Flow) {
				f.Categories = []string{"user.contact.email", "user.behavior.purchase_history"}
			}),
			reason: "scope read_orders for user.behavior.purchase_history is not authorized by the organization"},
		{name: "shopify scope authorized", allow: true,
			flow: with(orderLookupFlow(), func(f *Flow) {
				f.Categories = []string{"user.contact.email", "user.behavior.purchase_history"}
				f.Organization.ShopifyScopes = []string{"read_customers", "read_orders"}
			}),
			reason: "shopify may receive"},
		{name: "shopify app not installed", allow: false,
			flow:   with(orderLookupFlow(), func(f *Flow) { f.Organization.ShopifyScopes = nil }),
			reason: "the organization has not authorized any shopify scope"},

		// regions and transfers
		{name: "EU data to aws in the US under SCCs", allow: true,
			flow:   with(attachmentFlow(), func(f *Flow) { f.DestinationRegion = "us" }),
			reason: "aws may receive"},
		{name: "destination region required", allow: false,
			flow:   with(attachmentFlow(), func(f *Flow) { f.DestinationRegion = "" }),
			reason: "destination region required: aws processes data in"},
		{name: "region the subprocessor does not process in", allow: false,
			flow:   with(securityAlertFlow(), func(f *Flow) { f.DestinationRegion = "eu" }),
			reason: "postmark does not process data in region eu"},
		{name: "redis outside the organization's region", allow: false,
			flow:   with(realtimeFlow(), func(f *Flow) { f.DestinationRegion = "us" }),
			reason: "redis traffic must stay in the organization's region eu, not us"},
		{name: "UK organization's data in the EU under an adequacy decision", allow: true,
			flow:   with(attachmentFlow(), func(f *Flow) { f.Organization = ukOrg() }),
			reason: "aws may receive"},
		{name: "UK organization's data to the US under the UK Addendum", allow: true,
			flow:   with(attachmentFlow(), func(f *Flow) { f.Organization, f.DestinationRegion = ukOrg(), "us" }),
			reason: "aws may receive"},
		{name: "Swiss organization's mail through postmark in the US", allow: true,
			flow:   with(securityAlertFlow(), func(f *Flow) { f.Organization = chOrg() }),
			reason: "postmark may receive"},
		{name: "redis for a Swiss organization in Switzerland", allow: true,
			flow:   with(realtimeFlow(), func(f *Flow) { f.Organization, f.DestinationRegion = chOrg(), "ch" }),
			reason: "redis may receive"},
		{name: "malformed subject country", allow: false,
			flow:   with(attachmentFlow(), func(f *Flow) { f.Subject.Country = "Germany" }),
			reason: "data subject country Germany is not an ISO 3166-1 alpha-2 code"},
		{name: "redis for a US organization in the US", allow: true,
			flow:   with(realtimeFlow(), func(f *Flow) { f.DestinationRegion, f.Organization = "us", usOrg() }),
			reason: "redis may receive"},

		// restriction: stored, nothing more
		{name: "restricted subject: storage allowed", allow: true,
			flow:   with(attachmentFlow(), func(f *Flow) { f.Subject.Restricted = true }),
			reason: "aws may receive"},
		{name: "restricted subject: nothing else", allow: false,
			flow:   with(realtimeFlow(), func(f *Flow) { f.Subject.Restricted = true }),
			reason: "processing of the data subject is restricted: stored, nothing more"},
		{name: "restricted customer: no billing", allow: false,
			flow:   with(invoiceFlow(), func(f *Flow) { f.Subject.Restricted = true }),
			reason: "restricted"},

		// marketing is registered with no subprocessor (policy §6)
		{name: "marketing email not registered", allow: false,
			flow: with(securityAlertFlow(), func(f *Flow) {
				f.Purpose = "marketing.communications.email"
				f.Subject.Consents = []string{"marketing_email"}
			}),
			reason: "postmark is not registered for purpose marketing.communications.email"},

		// data subject
		{name: "personal data without a data subject", allow: false,
			flow:   with(securityAlertFlow(), func(f *Flow) { f.Subject.Kind = "none" }),
			reason: "personal data declared without a data subject"},
		{name: "system data without a data subject", allow: true,
			flow: with(securityAlertFlow(), func(f *Flow) {
				f.Subject.Kind = "none"
				f.Categories = []string{"system.operations"}
			}),
			reason: "postmark may receive system.operations"},
		{name: "unknown objection", allow: false,
			flow:   with(securityAlertFlow(), func(f *Flow) { f.Subject.Objections = []string{"everything"} }),
			reason: "unknown objection everything"},
	})
}

// Rules whose trigger is not in the shipped registry are proved on a gate
// over an edited registry.
func TestAuthorizeRulesOnEditedRegistry(t *testing.T) {
	marketing := with(securityAlertFlow(), func(f *Flow) { f.Purpose = "marketing.communications.email" })
	g, _ := gateWithRegistry(t, func(reg map[string]any) {
		pm := subprocessorEntry(reg, "postmark")
		pm["purposes"] = append(pm["purposes"].([]any), "marketing.communications.email", "functional.service.improve")
		subprocessorEntry(reg, "aws")["transfers"] = []any{}
		var noSwiss []any // postmark keeps every mechanism but Switzerland's
		for _, tr := range pm["transfers"].([]any) {
			if tr.(map[string]any)["from"] != "ch" {
				noSwiss = append(noSwiss, tr)
			}
		}
		pm["transfers"] = noSwiss
		subprocessorEntry(reg, "stripe")["dpa_signed"] = false
		reg["purposes"].(map[string]any)["functional.ai.summary"].(map[string]any)["needs_identifiers"] = []any{"user.contact.email"}
	})
	runCases(t, g, []gateCase{
		{name: "marketing with consent", allow: true,
			flow:   with(marketing, func(f *Flow) { f.Subject.Consents = []string{"marketing_email"} }),
			reason: "postmark may receive"},
		{name: "marketing without consent", allow: false, flow: marketing,
			reason: "no marketing_email consent from the data subject"},
		{name: "marketing after objection to direct marketing", allow: false,
			flow: with(marketing, func(f *Flow) {
				f.Subject.Consents = []string{"marketing_email"}
				f.Subject.Objections = []string{"direct_marketing"}
			}),
			reason: "the data subject objected to direct_marketing"},
		{name: "objection to legitimate interests", allow: false,
			flow: with(securityAlertFlow(), func(f *Flow) {
				f.Purpose = "functional.service.improve"
				f.Subject.Objections = []string{"legitimate_interests"}
			}),
			reason: "the data subject objected to legitimate_interests"},
		{name: "no objection to legitimate interests", allow: true,
			flow:   with(securityAlertFlow(), func(f *Flow) { f.Purpose = "functional.service.improve" }),
			reason: "postmark may receive"},
		{name: "EU data to the US without SCCs", allow: false,
			flow:   with(attachmentFlow(), func(f *Flow) { f.DestinationRegion = "us" }),
			reason: "no transfer mechanism (SCCs or adequacy decision) recorded for transfers of European Union (EEA) data to aws in us"},
		{name: "UK data in the EU without an adequacy record", allow: false,
			flow:   with(attachmentFlow(), func(f *Flow) { f.Organization = ukOrg() }),
			reason: "no transfer mechanism (SCCs or adequacy decision) recorded for transfers of United Kingdom data to aws in eu"},
		{name: "a US organization's contact in Switzerland: Swiss data needs a mechanism", allow: false,
			flow: with(securityAlertFlow(), func(f *Flow) {
				f.Organization, f.Subject.Country = usOrg(), "CH"
				f.Subject.Kind = "end_user"
			}),
			reason: "no transfer mechanism (SCCs or adequacy decision) recorded for transfers of Switzerland data to postmark in us"},
		{name: "an EU organization's contact in the US: no restricted transfer", allow: true,
			flow:   with(attachmentFlow(), func(f *Flow) { f.DestinationRegion, f.Subject.Country = "us", "US" }),
			reason: "aws may receive"},
		{name: "a US organization with no subject location: no restricted transfer", allow: true,
			flow:   with(securityAlertFlow(), func(f *Flow) { f.Organization = usOrg() }),
			reason: "postmark may receive"},
		{name: "US data to the US needs no SCCs", allow: true,
			flow:   with(attachmentFlow(), func(f *Flow) { f.DestinationRegion, f.Organization = "us", usOrg() }),
			reason: "aws may receive"},
		{name: "EU data in the EU needs no SCCs", allow: true, flow: attachmentFlow(), reason: "aws may receive"},
		{name: "no DPA", allow: false, flow: invoiceFlow(),
			reason: "no data processing agreement is recorded for stripe"},
		{name: "identifier the AI feature needs is kept", allow: true, flow: summaryFlow(),
			reason: "anthropic may receive", redact: []string{}},
	})
}

func TestAuthorizeMalformedFlowsDenied(t *testing.T) {
	g, log := newTestGate(t)
	cases := []gateCase{
		{name: "empty flow", flow: Flow{}, reason: "unknown subprocessor"},
		{name: "unknown subprocessor", flow: with(securityAlertFlow(), func(f *Flow) { f.Subprocessor = "mailchimp" }),
			reason: "unknown subprocessor mailchimp"},
		{name: "subprocessor name in another case", flow: with(securityAlertFlow(), func(f *Flow) { f.Subprocessor = "Postmark" }),
			reason: "unknown subprocessor Postmark"},
		{name: "unknown purpose", flow: with(securityAlertFlow(), func(f *Flow) { f.Purpose = "advertising" }),
			reason: "unknown purpose advertising"},
		{name: "missing purpose", flow: with(securityAlertFlow(), func(f *Flow) { f.Purpose = "" }),
			reason: "unknown purpose"},
		{name: "unknown category", flow: with(securityAlertFlow(), func(f *Flow) { f.Categories = append(f.Categories, "user.biometric") }),
			reason: "unknown data category user.biometric"},
		{name: "empty category", flow: with(securityAlertFlow(), func(f *Flow) { f.Categories = []string{""} }),
			reason: "unknown data category"},
		{name: "empty categories", flow: with(securityAlertFlow(), func(f *Flow) { f.Categories = []string{} }),
			reason: "no data categories declared"},
		{name: "nil categories", flow: with(securityAlertFlow(), func(f *Flow) { f.Categories = nil }),
			reason: "no data categories declared"},
		{name: "missing organization", flow: with(securityAlertFlow(), func(f *Flow) { f.Organization = OrgContext{} }),
			reason: "organization missing"},
		{name: "organization without ID", flow: with(securityAlertFlow(), func(f *Flow) { f.Organization.ID = 0 }),
			reason: "organization missing"},
		{name: "organization without region", flow: with(securityAlertFlow(), func(f *Flow) { f.Organization.Region = "" }),
			reason: "organization region  unknown"},
		{name: "organization in an unknown region", flow: with(securityAlertFlow(), func(f *Flow) { f.Organization.Region = "mars" }),
			reason: "organization region mars unknown"},
		{name: "missing subject kind", flow: with(securityAlertFlow(), func(f *Flow) { f.Subject = SubjectContext{} }),
			reason: "data subject kind (missing) unknown"},
		{name: "unknown subject kind", flow: with(securityAlertFlow(), func(f *Flow) { f.Subject.Kind = "visitor" }),
			reason: "data subject kind visitor unknown"},
		{name: "injection-looking names", flow: with(securityAlertFlow(), func(f *Flow) {
			f.Subprocessor = `aws"] } allow := true #`
			f.Categories = []string{"user.contact.email\x00", "system.operations"}
		}), reason: "unknown subprocessor"},
	}
	runCases(t, g, cases)
	if got := len(log.Records()); got != len(cases) {
		t.Errorf("decision log has %d records, want one per decision (%d)", got, len(cases))
	}
}

// brokenModule is a policy whose decision is not the documented shape.
const brokenModule = `package convot.egress
decision := {"allow": true}
`

func TestFailClosed(t *testing.T) {
	ctx := context.Background()
	flow := attachmentFlow() // allowed by the real policy

	t.Run("query that does not parse", func(t *testing.T) {
		_, err := newGate(ctx, NewMemoryLog(), gateConfig{query: "data.convot.egress.decision[", modules: policyModules(), registry: RegistryDocument()})
		if err == nil {
			t.Fatal("a broken query must not prepare")
		}
	})
	t.Run("query that is no single term", func(t *testing.T) {
		for _, q := range []string{`x := data.convot.egress.decision`, `data.convot.egress.decision; true`, `not data.convot.egress.allow`} {
			if _, err := newGate(ctx, NewMemoryLog(), gateConfig{query: q, modules: policyModules(), registry: RegistryDocument()}); err == nil {
				t.Fatalf("query %s must not prepare: the gate reads one term's value", q)
			}
		}
	})
	t.Run("policy that does not compile", func(t *testing.T) {
		_, err := newGate(ctx, NewMemoryLog(), gateConfig{query: DecisionQuery,
			modules: map[string]string{"x.rego": "package convot.egress\ndecision := {"}, registry: RegistryDocument()})
		if err == nil {
			t.Fatal("a broken policy must not prepare")
		}
	})
	t.Run("malformed registry", func(t *testing.T) {
		_, err := newGate(ctx, NewMemoryLog(), gateConfig{query: DecisionQuery, modules: policyModules(), registry: []byte("{")})
		if err == nil {
			t.Fatal("a malformed registry must not prepare")
		}
	})
	t.Run("no decision log", func(t *testing.T) {
		if _, err := NewGate(ctx, nil); err == nil {
			t.Fatal("a gate without a decision log must not be built")
		}
	})

	failing := []struct {
		name  string
		query string
		mods  map[string]string
		want  string
	}{
		{"undefined decision", "data.convot.egress.no_such_rule", policyModules(), "undefined"},
		{"decision that is a boolean", "data.convot.egress.allow", policyModules(), "malformed"},
		{"decision without reasons", DecisionQuery, map[string]string{"broken.rego": brokenModule}, "malformed"},
		{"decision with several results", `["a", "b"][_]`, policyModules(), "results"},
		{"decision with a non-string reason", DecisionQuery, map[string]string{"p.rego": "package convot.egress\ndecision := {\"allow\": true, \"reasons\": [1], \"drop\": [], \"redact\": []}\n"}, "reasons holds a"},
		{"decision with allow not a boolean", DecisionQuery, map[string]string{"p.rego": "package convot.egress\ndecision := {\"allow\": \"yes\", \"reasons\": [\"r\"], \"drop\": [], \"redact\": []}\n"}, "allow is not a boolean"},
		{"decision with drop not a list", DecisionQuery, map[string]string{"p.rego": "package convot.egress\ndecision := {\"allow\": true, \"reasons\": [\"r\"], \"drop\": \"user\", \"redact\": []}\n"}, "drop is not a list"},
		{"evaluation error", DecisionQuery, map[string]string{"err.rego": "package convot.egress\ndecision := {\"allow\": true, \"reasons\": [x], \"drop\": [], \"redact\": []} if { x := to_number(\"not a number\") }\n"}, "evaluation"},
		{"conflicting decisions", DecisionQuery, map[string]string{"conflict.rego": "package convot.egress\ndecision := {\"allow\": true, \"reasons\": [\"a\"], \"drop\": [], \"redact\": []}\ndecision := {\"allow\": false, \"reasons\": [\"b\"], \"drop\": [], \"redact\": []} if true\n"}, "evaluation"},
	}
	for _, tc := range failing {
		t.Run(tc.name, func(t *testing.T) {
			log := NewMemoryLog()
			g, err := newGate(ctx, log, gateConfig{query: tc.query, modules: tc.mods, registry: RegistryDocument()})
			if err != nil {
				t.Fatalf("newGate: %v", err)
			}
			d, err := g.Authorize(ctx, flow)
			if err == nil {
				t.Fatalf("want an error, got decision %+v", d)
			}
			if d.Allow {
				t.Fatalf("failed evaluation allowed the flow: %+v", d)
			}
			if !strings.Contains(d.Reason, "failed closed") || !strings.Contains(d.Reason, tc.want) {
				t.Errorf("reason %q should say the gate failed closed (%s)", d.Reason, tc.want)
			}
			if recs := log.Records(); len(recs) != 1 || recs[0].Allow || recs[0].Reason != d.Reason {
				t.Errorf("fail-closed decision not recorded: %+v", recs)
			}
		})
	}

	t.Run("cancelled context", func(t *testing.T) {
		g, log := newTestGate(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		d, err := g.Authorize(cctx, flow)
		if err == nil || !errors.Is(err, context.Canceled) {
			t.Fatalf("want context.Canceled, got %v", err)
		}
		if d.Allow || !strings.Contains(d.Reason, "failed closed") {
			t.Fatalf("cancelled evaluation did not fail closed: %+v", d)
		}
		if recs := log.Records(); len(recs) != 1 || recs[0].Allow {
			t.Errorf("cancelled decision not recorded as a denial: %+v", recs)
		}
	})
	t.Run("expired deadline", func(t *testing.T) {
		g, _ := newTestGate(t)
		dctx, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
		defer cancel()
		d, err := g.Authorize(dctx, flow)
		if err == nil || d.Allow {
			t.Fatalf("expired deadline: allow=%v err=%v", d.Allow, err)
		}
	})
	t.Run("nil gate", func(t *testing.T) {
		var g *Gate
		d, err := g.Authorize(ctx, flow)
		if err == nil || d.Allow {
			t.Fatalf("nil gate: allow=%v err=%v", d.Allow, err)
		}
	})
	t.Run("decision log failure", func(t *testing.T) {
		g, err := NewGate(ctx, failingLog{})
		if err != nil {
			t.Fatal(err)
		}
		d, err := g.Authorize(ctx, flow)
		if err == nil || d.Allow {
			t.Fatalf("an unrecorded decision must not allow: allow=%v err=%v", d.Allow, err)
		}
		if !strings.Contains(d.Reason, "could not be recorded") {
			t.Errorf("reason %q", d.Reason)
		}
	})
}

type failingLog struct{}

func (failingLog) Record(context.Context, DecisionRecord) error { return errors.New("disk full") }

func TestDecisionLogRecordsEveryDecision(t *testing.T) {
	g, log := newTestGate(t)
	fixed := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	g.now = func() time.Time { return fixed }
	ctx := context.Background()
	flows := append(realisticFlows(), with(summaryFlow(), func(f *Flow) { f.Subject.Restricted = true }))
	var decisions []Decision
	for _, f := range flows {
		d, err := g.Authorize(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		decisions = append(decisions, d)
	}
	recs := log.Records()
	if len(recs) != len(flows) {
		t.Fatalf("%d records for %d decisions", len(recs), len(flows))
	}
	rev := Revision()
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(rev) || g.Revision() != rev {
		t.Fatalf("revision %q / gate %q", rev, g.Revision())
	}
	for i, r := range recs {
		f, d := flows[i], decisions[i]
		if !r.Time.Equal(fixed) || r.OrganizationID != f.Organization.ID || r.Subprocessor != f.Subprocessor ||
			r.Purpose != f.Purpose || !slices.Equal(r.Categories, f.Categories) || r.Allow != d.Allow ||
			r.Reason != d.Reason || r.PolicyRevision != rev || !slices.Equal(r.Drop, d.Drop) || !slices.Equal(r.Redact, d.Redact) {
			t.Errorf("record %d = %+v, decision %+v, flow %+v", i, r, d, f)
		}
	}
	if last := recs[len(recs)-1]; last.Allow || !strings.Contains(last.Reason, "restricted") {
		t.Errorf("denial not recorded as such: %+v", last)
	}
}

func TestAuthorizeConcurrent(t *testing.T) {
	g, log := newTestGate(t)
	flows := realisticFlows()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 8 {
		wg.Go(func() {
			for i := range 50 {
				f := flows[(w+i)%len(flows)]
				d, err := g.Authorize(context.Background(), f)
				if err != nil || !d.Allow {
					errs <- fmt.Errorf("%s: allow=%v err=%w reason=%s", f.Subprocessor, d.Allow, err, d.Reason)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(log.Records()); n != 8*50 {
		t.Errorf("%d records, want %d", n, 8*50)
	}
}

// The JSON form of a Flow is the policy input: `convot policy eval` and
// `opa eval -i` see the same decision as Authorize.
func TestFlowJSONIsPolicyInput(t *testing.T) {
	for _, f := range append(realisticFlows(), Flow{}, with(summaryFlow(), func(f *Flow) { f.Subject = SubjectContext{} }),
		with(attachmentFlow(), func(f *Flow) { f.Subject.Country = "CH" }),
		// empty lists, not nil ones: [] in JSON, not null
		with(summaryFlow(), func(f *Flow) {
			f.Subject.Objections, f.Subject.Consents, f.Organization.ShopifyScopes = []string{}, []string{}, []string{}
		})) {
		b, err := jsonMarshal(f)
		if err != nil {
			t.Fatal(err)
		}
		v, err := astValueFromJSON(b)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.input(); got.Compare(v) != 0 {
			t.Errorf("input %v\n json %v", got, v)
		}
	}
}
