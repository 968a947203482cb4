package store

import (
	"errors"
	"testing"

	"github.com/convot/convot/models"
)

// Cases of the methods store-c added on other groups' entities (accounts,
// contacts, conversations, organizations).
func init() {
	isolationCases = append(isolationCases,
		isolationCase{"ContactEmailIndex", func(t *testing.T, f *fixture) {
			if _, err := f.store.ContactEmailIndex(f.ctx, f.B.Org.ID, f.A.Contact.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B read A's contact's email index: %v", err)
			}
		}},
		isolationCase{"ContactByEmailIndex", func(t *testing.T, f *fixture) {
			if _, err := f.store.ContactByEmailIndex(f.ctx, f.B.Org.ID, f.A.Contact.EmailIndex); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B found A's contact by its address: %v", err)
			}
		}},
		isolationCase{"SetConversationSubject", func(t *testing.T, f *fixture) {
			conv := f.A.Conversation
			conv.Subject = "changed by b"
			must(t, f.store.SetConversationSubject(f.ctx, f.B.Org.ID, &conv))
			if got, _ := f.store.Conversation(f.ctx, f.A.Org.ID, conv.ID); got.Subject != f.A.Conversation.Subject {
				t.Fatal("B changed A's conversation's subject")
			}
		}},
		isolationCase{"LiveOrganization", func(t *testing.T, f *fixture) {
			if org, err := f.store.LiveOrganization(f.ctx, f.B.Org.ID); err != nil || org.ID != f.B.Org.ID {
				t.Fatalf("B's organization is %+v, %v", org, err)
			}
		}},
		isolationCase{"OrganizationRegion", func(t *testing.T, f *fixture) {
			must(t, f.store.with(f.ctx).Model(&models.Organization{}).Where("id = ?", f.A.Org.ID).Update("region", "us").Error)
			if region, err := f.store.OrganizationRegion(f.ctx, f.B.Org.ID); err != nil || region != "eu" {
				t.Fatalf("B's region is %q, %v", region, err)
			}
		}},
	)
}
