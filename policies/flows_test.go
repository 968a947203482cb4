package policies

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
)

// Realistic flows, one per subprocessor use, shared by tests and benchmarks.

func euOrg() OrgContext {
	return OrgContext{
		ID: 42, Region: "eu",
		AIFeatures:    []string{"summary", "suggested_reply", "translation", "language_detection", "embeddings"},
		ShopifyScopes: []string{"read_customers"},
	}
}

func usOrg() OrgContext { return OrgContext{ID: 43, Region: "us"} }
func ukOrg() OrgContext { return OrgContext{ID: 46, Region: "uk"} }
func chOrg() OrgContext { return OrgContext{ID: 47, Region: "ch"} }

func endUser() SubjectContext  { return SubjectContext{Kind: "end_user"} }
func customer() SubjectContext { return SubjectContext{Kind: "customer"} }

// summaryFlow: a conversation sent to Anthropic for a summary.
func summaryFlow() Flow {
	return Flow{
		Subprocessor: "anthropic", Purpose: "functional.ai.summary", Feature: "summary",
		Categories:   []string{"user.content.message", "user.name", "user.contact.email"},
		Organization: euOrg(), Subject: endUser(),
	}
}

// embeddingsFlow: a message embedded by OpenAI for search.
func embeddingsFlow() Flow {
	return Flow{
		Subprocessor: "openai", Purpose: "functional.ai.embeddings",
		Categories:   []string{"user.content.message"},
		Organization: euOrg(), Subject: endUser(),
	}
}

// attachmentFlow: an attachment stored in S3 in the EU.
func attachmentFlow() Flow {
	return Flow{
		Subprocessor: "aws", Purpose: "essential.service.storage", DestinationRegion: "eu",
		Categories:   []string{"user.content.attachment"},
		Organization: euOrg(), Subject: endUser(),
	}
}

// invoiceFlow: a customer's billing details sent to Stripe.
func invoiceFlow() Flow {
	return Flow{
		Subprocessor: "stripe", Purpose: "essential.service.payment_processing", DestinationRegion: "eu",
		Categories:   []string{"user.name", "user.contact.email", "user.contact.address", "user.financial"},
		Organization: euOrg(), Subject: customer(),
	}
}

// securityAlertFlow: a transactional email through Postmark.
func securityAlertFlow() Flow {
	return Flow{
		Subprocessor: "postmark", Purpose: "essential.service.notifications.email",
		Categories:   []string{"user.contact.email", "user.name", "system.operations"},
		Organization: euOrg(), Subject: customer(),
	}
}

// errorEventFlow: an error event for Sentry, carrying what a request had.
func errorEventFlow() Flow {
	return Flow{
		Subprocessor: "sentry", Purpose: "analytics.reporting.system.performance",
		Categories: []string{"system.operations", "user.contact.email", "user.device.ip_address",
			"user.authorization.credentials", "user.content.message", "user.device.cookie_id"},
		Organization: euOrg(), Subject: endUser(),
	}
}

// realtimeFlow: a message fanned out through Redis in the organization's region.
func realtimeFlow() Flow {
	return Flow{
		Subprocessor: "redis", Purpose: "essential.service", DestinationRegion: "eu",
		Categories:   []string{"user.content.message", "user.name"},
		Organization: euOrg(), Subject: endUser(),
	}
}

// orderLookupFlow: looking up a visitor's Shopify customer record by email.
func orderLookupFlow() Flow {
	return Flow{
		Subprocessor: "shopify", Purpose: "essential.service.operations.support",
		Categories:   []string{"user.contact.email"},
		Organization: euOrg(), Subject: endUser(),
	}
}

func realisticFlows() []Flow {
	return []Flow{summaryFlow(), embeddingsFlow(), attachmentFlow(), invoiceFlow(),
		securityAlertFlow(), errorEventFlow(), realtimeFlow(), orderLookupFlow(), deploymentMailFlow()}
}

// deploymentMailFlow: Convot itself, controller of its own records (policy
// §1), mails a person who made a privacy request to Convot the code that
// verifies it.
func deploymentMailFlow() Flow {
	return Flow{
		Subprocessor: "postmark", Purpose: "essential.service.notifications.email",
		Categories:   []string{"user.contact.email"},
		Organization: OrgContext{Region: "eu", Deployment: true}, Subject: endUser(),
	}
}

// countLog counts decisions and keeps none (benchmarks).
type countLog struct{ n atomic.Int64 }

func (l *countLog) Record(context.Context, DecisionRecord) error { l.n.Add(1); return nil }

func newTestGate(t testing.TB) (*Gate, *MemoryLog) {
	t.Helper()
	log := NewMemoryLog()
	g, err := NewGate(context.Background(), log)
	if err != nil {
		t.Fatalf("NewGate: %v", err)
	}
	return g, log
}

// gateWithRegistry builds a gate over the embedded policy with the registry
// changed by edit (a JSON object tree of data.convot.registry).
func gateWithRegistry(t testing.TB, edit func(reg map[string]any)) (*Gate, *MemoryLog) {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(RegistryDocument(), &doc); err != nil {
		t.Fatal(err)
	}
	edit(doc["convot"].(map[string]any)["registry"].(map[string]any))
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	log := NewMemoryLog()
	g, err := newGate(context.Background(), log, gateConfig{query: DecisionQuery, modules: policyModules(), registry: b})
	if err != nil {
		t.Fatalf("newGate: %v", err)
	}
	return g, log
}

func subprocessorEntry(reg map[string]any, name string) map[string]any {
	return reg["subprocessors"].(map[string]any)[name].(map[string]any)
}
