package policies

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
)

// FuzzGateInput: any JSON flow an auditor (or a caller's bug) hands the
// gate is decided without panicking, and an allowed flow names its
// subprocessor and says why; a flow is decided the same way twice.
func FuzzGateInput(f *testing.F) {
	f.Add([]byte(`{"subprocessor":"postmark","purpose":"essential.service.notifications.email","categories":["user.contact.email"],"organization":{"id":1,"region":"eu"},"subject":{"kind":"end_user"}}`))
	f.Add([]byte(`{"subprocessor":"openai","purpose":"functional.service.improve","categories":["user.content.message"],"feature":"reply_suggestions","subject":{"kind":"end_user","objections":["functional.service.improve"]}}`))
	f.Add([]byte(`{"subprocessor":"","categories":null}`))
	f.Add([]byte(`{"subprocessor":"aws_s3","destination_region":"us","organization":{"region":"eu","deployment":true}}`))
	ctx := context.Background()
	gate, err := NewGate(ctx, NewMemoryLog(), WithDecisionCache(0))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var flow Flow
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if dec.Decode(&flow) != nil {
			return
		}
		d, err := gate.Authorize(ctx, flow)
		if err != nil {
			return
		}
		if d.Allow && (flow.Subprocessor == "" || d.Reason == "") {
			t.Fatalf("allowed %+v: %+v", flow, d)
		}
		again, err := gate.Authorize(ctx, flow)
		if err != nil || again.Allow != d.Allow {
			t.Fatalf("%+v decided %v, then %v (%v)", flow, d.Allow, again.Allow, err)
		}
	})
}
