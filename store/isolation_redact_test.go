package store

import (
	"errors"
	"testing"

	"github.com/convot/convot/models"
)

func init() {
	isolationCases = append(isolationCases,
		isolationCase{"RemnantText", func(t *testing.T, f *fixture) {
			if _, err := f.store.RemnantText(f.ctx, f.B.Org.ID, "Message", "body", f.A.Message.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B read A's message text as a remnant: %v", err)
			}
		}},
		isolationCase{"RedactRemnant", func(t *testing.T, f *fixture) {
			if err := f.store.RedactRemnant(f.ctx, f.B.Org.ID, "Message", "body", f.A.Message.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B redacted A's message: %v", err)
			}
			var m models.Message
			must(t, f.store.with(f.ctx).Where("id = ?", f.A.Message.ID).Take(&m).Error)
			if m.Body == RedactionMarker || m.Body == "" {
				t.Fatalf("A's message after B's redaction: %q", m.Body)
			}
		}},
	)
}
