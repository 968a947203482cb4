package handlers

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
)

// The Temporal UI's codec calls decode payloads for an owner's session, and
// for nobody else.
func TestCodecEndpointServesOfficersOnly(t *testing.T) {
	ts := newTestServer(t)
	p, err := converter.GetDefaultDataConverter().ToPayload(map[string]uint64{"ConversationID": 42})
	if err != nil {
		t.Fatal(err)
	}
	encoded, err := ts.codec.Encode([]*commonpb.Payload{p})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := protojson.Marshal(&commonpb.Payloads{Payloads: encoded})
	decode := func(b *browser, origin string) (int, string) {
		req, _ := http.NewRequest("POST", ts.URL+"/codec/decode", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Namespace", "default")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := b.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r := b.read(resp)
		return r.status, r.body
	}
	owner := ts.browser(t)
	owner.signup("olivia@acme.test", "Acme")
	if status, out := decode(owner, "http://localhost:8233"); status != 200 || !strings.Contains(out, "eyJDb252ZXJzYXRpb25JRCI6NDJ9") /* base64 of {"ConversationID":42} */ {
		t.Fatalf("owner decode: %d %s", status, out)
	}
	if status, _ := decode(owner, "https://evil.example"); status != http.StatusForbidden {
		t.Fatalf("decode from another origin: %d", status)
	}
	if status, _ := decode(ts.browser(t), "http://localhost:8233"); status != http.StatusUnauthorized {
		t.Fatalf("decode without a session: %d", status)
	}
	agent := inviteAndJoin(t, ts, owner, "adam@acme.test", "agent")
	if status, _ := decode(agent, "http://localhost:8233"); status != http.StatusUnauthorized {
		t.Fatalf("decode as an agent: %d", status)
	}
}
