package store

import (
	"errors"
	"testing"

	"github.com/convot/convot/models"
)

func init() {
	isolationCases = append(isolationCases,
		isolationCase{"InboundMailSeen", func(t *testing.T, f *fixture) {
			m := f.inboundMailOfA(t)
			seen, err := f.store.InboundMailSeen(f.ctx, f.B.Org.ID, m.HeaderID)
			must(t, err)
			if seen {
				t.Fatal("A's mail counts as seen by B")
			}
		}},
		isolationCase{"SetInboundMailMessage", func(t *testing.T, f *fixture) {
			m := f.inboundMailOfA(t)
			must(t, f.store.SetInboundMailMessage(f.ctx, f.B.Org.ID, m.ID, f.B.Conversation.ID, f.B.Message.ID))
			rows, err := f.store.EmailMessagesByHeaderIDs(f.ctx, []string{m.HeaderID})
			must(t, err)
			if len(rows) != 1 {
				t.Fatalf("%d rows", len(rows))
			}
			if row := rows[0]; row.ConversationID != f.A.Conversation.ID || row.MessageID != f.A.Message.ID {
				t.Fatal("B pointed A's mail at its own conversation")
			}
		}},
		isolationCase{"SetSupportAddress", func(t *testing.T, f *fixture) {
			must(t, f.store.SetSupportAddress(f.ctx, f.A.Org.ID, f.A.Org.DataKeyID, "help@a.example", "index-a"))
			must(t, f.store.SetSupportAddress(f.ctx, f.B.Org.ID, f.B.Org.DataKeyID, "help@b.example", "index-b"))
			if org, _ := f.store.Organization(f.ctx, f.A.Org.ID); org.SupportAddress != "help@a.example" || org.SupportAddressIndex != "index-a" {
				t.Fatal("B changed A's support address")
			}
		}},
		isolationCase{"MarketingConsent", func(t *testing.T, f *fixture) {
			f.marketingConsentOfA(t)
			if _, err := f.store.MarketingConsent(f.ctx, f.B.Org.ID, f.A.Owner.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B read A's owner's consent: %v", err)
			}
		}},
		isolationCase{"MarketingConsentHistory", func(t *testing.T, f *fixture) {
			f.marketingConsentOfA(t)
			list, err := f.store.MarketingConsentHistory(f.ctx, f.B.Org.ID, f.A.Owner.ID)
			must(t, err)
			if len(list) != 0 {
				t.Fatalf("B listed %d of A's owner's consents", len(list))
			}
		}},
		isolationCase{"GiveMarketingConsent", func(t *testing.T, f *fixture) {
			if _, err := f.store.GiveMarketingConsent(f.ctx, f.B.Org.ID, f.A.Owner.ID, "test", f.now); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B gave consent for A's owner: %v", err)
			}
			if _, err := f.store.MarketingConsent(f.ctx, f.A.Org.ID, f.A.Owner.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("A's owner has a consent B gave: %v", err)
			}
		}},
		isolationCase{"WithdrawMarketingConsent", func(t *testing.T, f *fixture) {
			f.marketingConsentOfA(t)
			withdrawn, err := f.store.WithdrawMarketingConsent(f.ctx, f.B.Org.ID, f.A.Owner.ID, "test", f.now)
			must(t, err)
			if _, err := f.store.MarketingConsent(f.ctx, f.A.Org.ID, f.A.Owner.ID); withdrawn || err != nil {
				t.Fatalf("B withdrew A's owner's consent: %v", err)
			}
		}},
		isolationCase{"SubjectContextForAccount", func(t *testing.T, f *fixture) {
			f.marketingConsentOfA(t)
			if sc, err := f.store.SubjectContextForAccount(f.ctx, f.B.Org.ID, f.A.Owner.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B read A's owner's preferences: %+v, %v", sc, err)
			}
		}},
		isolationCase{"IssueUnsubscribeToken", func(t *testing.T, f *fixture) {
			consent := f.marketingConsentOfA(t)
			if _, err := f.store.IssueUnsubscribeToken(f.ctx, f.B.Org.ID, f.A.Owner.ID, consent.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B issued a token for A's owner: %v", err)
			}
		}},
		isolationCase{"CloseOrganization", func(t *testing.T, f *fixture) {
			must(t, f.store.CloseOrganization(f.ctx, f.B.Org.ID, f.now))
			if status, _ := f.store.OrganizationStatus(f.ctx, f.A.Org.ID); status != models.OrgActive {
				t.Fatalf("B closed A: %s", status)
			}
		}},
		isolationCase{"OrganizationStatus", func(t *testing.T, f *fixture) {
			must(t, f.store.CloseOrganization(f.ctx, f.A.Org.ID, f.now))
			if status, _ := f.store.OrganizationStatus(f.ctx, f.B.Org.ID); status != models.OrgActive {
				t.Fatalf("B reads A's status: %s", status)
			}
		}},
	)
}

func (f *fixture) inboundMailOfA(t *testing.T) *models.EmailMessage {
	t.Helper()
	m := &models.EmailMessage{OrganizationID: f.A.Org.ID, ConversationID: f.A.Conversation.ID, MessageID: f.A.Message.ID,
		DataKeyID: f.A.Contact.DataKeyID, Direction: models.EmailInbound, HeaderID: "mail-1@a.example"}
	must(t, f.store.RecordEmailMessage(f.ctx, m))
	return m
}

func (f *fixture) marketingConsentOfA(t *testing.T) *models.SubjectPreference {
	t.Helper()
	p, err := f.store.GiveMarketingConsent(f.ctx, f.A.Org.ID, f.A.Owner.ID, "test", f.now)
	must(t, err)
	return p
}
