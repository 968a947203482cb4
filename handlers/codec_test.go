package handlers

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/convot/convot/internal/payloads"
	"github.com/convot/convot/models"
	"github.com/convot/convot/workflows"
)

// The Temporal UI's codec calls decode payloads for an owner's session, and
// for nobody else.
func TestCodecEndpointServesOfficersOnly(t *testing.T) {
	ts := newTestServer(t)
	owner := ts.browser(t)
	owner.signup("olivia@acme.test", "Acme")
	var olivia models.Account
	if err := ts.db.Where("email_index = ?", ts.db.Keys.BlindIndex("olivia@acme.test")).First(&olivia).Error; err != nil {
		t.Fatal(err)
	}
	p, err := converter.GetDefaultDataConverter().ToPayload(map[string]uint64{"ConversationID": 42, "OrganizationID": olivia.OrganizationID})
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
	if status, out := decode(owner, "http://localhost:8233"); status != 200 || !strings.Contains(out, "eyJDb252ZXJzYXRpb25JRCI6NDIs") /* base64 of {"ConversationID":42, */ {
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

// The codec answers an officer for their own organization only: an owner
// of another organization gets Acme's payloads back still encrypted, from
// the proxied UI (same origin) as from anywhere.
func TestCodecDecodesOnlyTheOfficersOrganization(t *testing.T) {
	ts := newTestServer(t)
	acme := ts.browser(t)
	acme.signup("olivia@acme.test", "Acme")
	globex := ts.browser(t)
	globex.signup("gina@globex.test", "Globex")
	var olivia models.Account
	if err := ts.db.Where("email_index = ?", ts.db.Keys.BlindIndex("olivia@acme.test")).First(&olivia).Error; err != nil {
		t.Fatal(err)
	}
	in := workflows.PrivacyRequestInput{RequestID: 9, OrganizationID: olivia.OrganizationID, Type: "erasure", Ground: "acme-only-ground"}
	p, err := converter.GetDefaultDataConverter().ToPayload(in)
	if err != nil {
		t.Fatal(err)
	}
	encoded, err := ts.codec.Encode([]*commonpb.Payload{p})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := protojson.Marshal(&commonpb.Payloads{Payloads: encoded})
	decode := func(b *browser) string {
		req, _ := http.NewRequest("POST", ts.URL+"/codec/decode", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Namespace", "default")
		req.Header.Set("Origin", ts.URL) // the UI proxied under Convot's origin
		resp, err := b.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r := b.read(resp)
		if r.status != http.StatusOK {
			t.Fatalf("decode: %d %s", r.status, r.body)
		}
		var ps commonpb.Payloads
		if err := protojson.Unmarshal([]byte(r.body), &ps); err != nil || len(ps.Payloads) != 1 {
			t.Fatalf("decode answered %s", r.body)
		}
		return string(ps.Payloads[0].Metadata["encoding"]) + " " + string(ps.Payloads[0].Data)
	}
	if out := decode(acme); !strings.HasPrefix(out, "json/plain") || !strings.Contains(out, "acme-only-ground") {
		t.Fatalf("Acme's owner reads Acme's payload: %s", out)
	}
	if out := decode(globex); !strings.HasPrefix(out, payloads.EncodingEncrypted) || strings.Contains(out, "acme-only-ground") {
		t.Fatalf("Globex's owner read Acme's payload: %s", out)
	}
}
