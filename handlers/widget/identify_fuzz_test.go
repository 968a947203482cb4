package widget

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/mail"
)

// FuzzIdentifyPayload: decoding and checking identify's JSON never panics,
// and a payload it accepts holds only printable, bounded text and a
// canonical email address.
func FuzzIdentifyPayload(f *testing.F) {
	f.Add([]byte(`{"name":"Ada Lovelace","email":"ada@example.com","custom_attributes":{"plan":"pro","seats":3,"trial":false,"x":null}}`))
	f.Add([]byte(`{"external_id":"u-42","user_hash":"00ff"}`))
	f.Add([]byte(`{"email":"Ada <ada@example.com>"}`))
	f.Add([]byte(`{"name":"\u202eevil","custom_attributes":{"":1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var req identifyRequest
		if json.Unmarshal(data, &req) != nil {
			return
		}
		id, msg := checkIdentity(req)
		if msg != "" {
			return
		}
		for _, s := range []string{id.name, id.phone, id.externalID} {
			if !site.Printable(s) || utf8.RuneCountInString(s) > MaxContactName+maxExternalID {
				t.Fatalf("accepted %q", s)
			}
		}
		if id.email != "" {
			if canonical, err := mail.CanonicalAddress(id.email); err != nil || canonical != id.email {
				t.Fatalf("accepted email %q", id.email)
			}
		}
		if len(id.attrs) > MaxCustomAttributes {
			t.Fatalf("%d attributes", len(id.attrs))
		}
		for k, v := range id.attrs {
			if k == "" || !site.Printable(k) || (v != nil && (!site.Printable(*v) || utf8.RuneCountInString(*v) > maxCustomAttrValue)) {
				t.Fatalf("attribute %q", k)
			}
		}
	})
}
