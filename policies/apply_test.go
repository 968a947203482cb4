package policies

import (
	"context"
	"maps"
	"testing"
)

func TestApplySentryEventScrubbed(t *testing.T) {
	g, _ := newTestGate(t)
	d, err := g.Authorize(context.Background(), errorEventFlow())
	if err != nil || !d.Allow {
		t.Fatalf("allow=%v err=%v", d.Allow, err)
	}
	event := map[string]Field{
		"exception":     {Category: "system.operations", Value: "nil pointer dereference in handlers.inbox"},
		"duration_ms":   {Category: "system.operations", Value: 12},
		"user.email":    {Category: "user.contact.email", Value: "ana@example.com"},
		"request.ip":    {Category: "user.device.ip_address", Value: "203.0.113.7"},
		"authorization": {Category: "user.authorization.credentials", Value: "Bearer abc"},
		"cookie":        {Category: "user.device.cookie_id", Value: "visitor=123"},
		"body":          {Category: "user.content.message", Value: "my order never came"},
	}
	orig := maps.Clone(event)
	out := Apply(d, event)
	want := map[string]Field{
		"exception":   event["exception"],
		"duration_ms": event["duration_ms"],
	}
	if !maps.Equal(out, want) {
		t.Errorf("Apply = %v, want %v", out, want)
	}
	if !maps.Equal(event, orig) {
		t.Error("Apply changed its input")
	}
}

func TestApplyAIRedacts(t *testing.T) {
	g, _ := newTestGate(t)
	f := summaryFlow()
	f.Categories = []string{"user.content.message", "user.name", "user.contact.email", "user.contact.phone_number", "user.unique_id"}
	d, err := g.Authorize(context.Background(), f)
	if err != nil || !d.Allow {
		t.Fatalf("allow=%v err=%v %s", d.Allow, err, d.Reason)
	}
	out := Apply(d, map[string]Field{
		"messages":    {Category: "user.content.message", Value: []string{"hi", "where is my parcel?"}},
		"name":        {Category: "user.name", Value: "Ana"},
		"email":       {Category: "user.contact.email", Value: "ana@example.com"},
		"phone":       {Category: "user.contact.phone_number", Value: "+33 6 00 00 00 00"},
		"external_id": {Category: "user.unique_id", Value: "cust_981"},
		"ip":          {Category: "user.device.ip_address", Value: "203.0.113.7"}, // not declared
		"untagged":    {Value: "?"},
	})
	if len(out) != 5 {
		t.Fatalf("Apply kept %d fields: %v", len(out), out)
	}
	for _, name := range []string{"email", "phone", "external_id"} {
		if out[name].Value != RedactedValue {
			t.Errorf("%s = %v, want redacted", name, out[name].Value)
		}
	}
	if out["name"].Value != "Ana" || out["messages"].Category != "user.content.message" {
		t.Errorf("kept fields changed: %v", out)
	}
	if _, ok := out["ip"]; ok {
		t.Error("an undeclared category left")
	}
	if _, ok := out["untagged"]; ok {
		t.Error("an untagged field left")
	}
}

func TestApplyDeniedSendsNothing(t *testing.T) {
	g, _ := newTestGate(t)
	f := summaryFlow()
	f.Subject.Restricted = true
	d, _ := g.Authorize(context.Background(), f)
	if d.Allow {
		t.Fatal("restricted subject allowed")
	}
	out := Apply(d, map[string]Field{"messages": {Category: "user.content.message", Value: "hi"}})
	if out == nil || len(out) != 0 {
		t.Errorf("denied decision let %v through", out)
	}
	if got := Apply(Decision{}, nil); got == nil || len(got) != 0 {
		t.Errorf("zero decision: %v", got)
	}
}

func TestTreatment(t *testing.T) {
	d := Decision{
		Allow:      true,
		Categories: []string{"user.contact", "system.operations", "user.content.message"},
		Drop:       []string{"user.content"},
		Redact:     []string{"user.contact.email"},
	}
	cases := map[string]Treatment{
		"user.contact.email":        Redact,   // redacted category
		"user.contact":              Redact,   // parent of a redacted one
		"user.contact.phone_number": Send,     // child of a declared category
		"system.operations":         Send,     //
		"system.operations.trace":   Send,     // child of declared
		"system":                    Withhold, // parent of declared: not declared
		"user.content.message":      Withhold, // dropped (child of a dropped one)
		"user.contactless":          Withhold, // a prefix, not a child
		"":                          Withhold,
	}
	for c, want := range cases {
		if got := d.Treatment(c); got != want {
			t.Errorf("Treatment(%q) = %v, want %v", c, got, want)
		}
	}
	d.Allow = false
	if d.Treatment("system.operations") != Withhold {
		t.Error("denied decision sends")
	}
}
