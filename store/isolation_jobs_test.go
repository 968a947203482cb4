package store

import (
	"errors"
	"testing"
	"time"

	"github.com/convot/convot/models"
)

// The cross-tenant cases of the methods the workflows' activities and the
// commands use (the jobs_*.go files).
func init() {
	isolationCases = append(isolationCases,
		isolationCase{"OrganizationGateContext", func(t *testing.T, f *fixture) {
			oc, err := f.store.OrganizationGateContext(f.ctx, f.B.Org.ID)
			must(t, err)
			if oc.ID != f.B.Org.ID {
				t.Fatalf("B's ID gave the gate context of organization %d", oc.ID)
			}
		}},
		isolationCase{"SetOrganizationStatus", func(t *testing.T, f *fixture) {
			_, err := f.store.SetOrganizationStatus(f.ctx, f.B.Org.ID, models.OrgActive, models.OrgCancelled, f.now)
			must(t, err)
			if org, _ := f.store.Organization(f.ctx, f.A.Org.ID); org.Status != models.OrgActive {
				t.Fatalf("B's cancellation made A %s", org.Status)
			}
		}},
		isolationCase{"DeleteOrganizationData", func(t *testing.T, f *fixture) {
			must(t, f.store.with(f.ctx).Model(&models.Organization{}).Where("id = ?", f.B.Org.ID).Update("status", models.OrgCancelled).Error)
			_, _, err := f.store.DeleteOrganizationData(f.ctx, f.B.Org.ID, 0, models.DeletionProgress{}, nil, nil)
			must(t, err)
			if _, err := f.store.Conversation(f.ctx, f.A.Org.ID, f.A.Conversation.ID); err != nil {
				t.Fatalf("deleting B's data deleted A's conversation: %v", err)
			}
			if _, err := f.store.Contact(f.ctx, f.A.Org.ID, f.A.Contact.ID); err != nil {
				t.Fatalf("deleting B's data deleted A's contact: %v", err)
			}
		}},
		isolationCase{"ActiveAccountsInRoles", func(t *testing.T, f *fixture) {
			list, err := f.store.ActiveAccountsInRoles(f.ctx, f.B.Org.ID, models.RoleOwner, models.RoleAdmin)
			must(t, err)
			jobsOnlyOf(t, f, "account", list, func(a models.Account) uint64 { return a.OrganizationID })
		}},
		isolationCase{"ActiveAccountsPage", func(t *testing.T, f *fixture) {
			list, err := f.store.ActiveAccountsPage(f.ctx, f.B.Org.ID, 0, 100)
			must(t, err)
			jobsOnlyOf(t, f, "account", list, func(a models.Account) uint64 { return a.OrganizationID })
		}},
		isolationCase{"AccountsByID", func(t *testing.T, f *fixture) {
			list, err := f.store.AccountsByID(f.ctx, f.B.Org.ID, []uint64{f.A.Owner.ID})
			must(t, err)
			if len(list) != 0 {
				t.Fatal("B loaded A's owner")
			}
		}},
		isolationCase{"ContactsWithEmailPage", func(t *testing.T, f *fixture) {
			list, err := f.store.ContactsWithEmailPage(f.ctx, f.B.Org.ID, 0, 100)
			must(t, err)
			jobsOnlyOf(t, f, "contact", list, func(c models.Contact) uint64 { return c.OrganizationID })
		}},
		isolationCase{"SubjectContextForContact", func(t *testing.T, f *fixture) {
			f.preferenceOfA(t, models.PreferenceRestriction)
			sc, err := f.store.SubjectContextForContact(f.ctx, f.B.Org.ID, f.A.Contact.ID)
			if !errors.Is(err, ErrNotFound) || sc.Restricted {
				t.Fatalf("B read A's contact's preferences: %+v, %v", sc, err)
			}
		}},
		isolationCase{"FlaggedUnder16", func(t *testing.T, f *fixture) {
			f.preferenceOfA(t, models.PreferenceUnder16)
			flagged, err := f.store.FlaggedUnder16(f.ctx, f.B.Org.ID, f.A.Contact.ID)
			if !errors.Is(err, ErrNotFound) || flagged {
				t.Fatalf("B read A's contact's flag: %v, %v", flagged, err)
			}
		}},
		isolationCase{"LocateEndUser", func(t *testing.T, f *fixture) {
			s, err := f.store.LocateEndUser(f.ctx, f.B.Org.ID, f.A.Contact.ID, f.A.Contact.EmailIndex)
			must(t, err)
			if s.Found() {
				t.Fatalf("B located A's contact: %v", s.IDs)
			}
		}},
		isolationCase{"SetConversationStatus", func(t *testing.T, f *fixture) {
			changed, err := f.store.SetConversationStatus(f.ctx, f.B.Org.ID, f.A.Conversation.ID, models.ConversationResolved, 0, time.Time{}, f.now)
			must(t, err)
			if conv, _ := f.store.Conversation(f.ctx, f.A.Org.ID, f.A.Conversation.ID); changed || conv.Status != models.ConversationOpen {
				t.Fatalf("B resolved A's conversation (%s)", conv.Status)
			}
		}},
		isolationCase{"UnreadReplies", func(t *testing.T, f *fixture) {
			f.replyOfA(t)
			list, err := f.store.UnreadReplies(f.ctx, f.B.Org.ID, f.A.Conversation.ID, "operator", 0, 50)
			must(t, err)
			if len(list) != 0 {
				t.Fatalf("B listed %d of A's replies", len(list))
			}
		}},
		isolationCase{"AttachmentsOfMessages", func(t *testing.T, f *fixture) {
			must(t, f.store.with(f.ctx).Create(&models.Attachment{OrganizationID: f.A.Org.ID, ConversationID: f.A.Conversation.ID,
				MessageID: f.A.Message.ID, DataKeyID: f.A.Contact.DataKeyID, FileName: "a.pdf", BlobKey: "k", CreatedAt: f.now}).Error)
			list, err := f.store.AttachmentsOfMessages(f.ctx, f.B.Org.ID, []uint64{f.A.Message.ID})
			must(t, err)
			if len(list) != 0 {
				t.Fatal("B listed A's attachment")
			}
		}},
		isolationCase{"EmailThreadNotifiedUpTo", func(t *testing.T, f *fixture) {
			f.threadOfA(t)
			n, err := f.store.EmailThreadNotifiedUpTo(f.ctx, f.B.Org.ID, f.A.Conversation.ID)
			must(t, err)
			if n != 0 {
				t.Fatalf("B read A's thread: notified up to %d", n)
			}
		}},
		isolationCase{"AdvanceEmailThreadNotified", func(t *testing.T, f *fixture) {
			f.threadOfA(t)
			must(t, f.store.AdvanceEmailThreadNotified(f.ctx, f.B.Org.ID, f.A.Conversation.ID, 99, f.now))
			if n, _ := f.store.EmailThreadNotifiedUpTo(f.ctx, f.A.Org.ID, f.A.Conversation.ID); n != 7 {
				t.Fatalf("B moved A's thread to %d", n)
			}
		}},
		isolationCase{"EmailThreadMessageIDs", func(t *testing.T, f *fixture) {
			must(t, f.store.RecordEmailMessage(f.ctx, &models.EmailMessage{OrganizationID: f.A.Org.ID, ConversationID: f.A.Conversation.ID,
				MessageID: f.A.Message.ID, DataKeyID: f.A.Contact.DataKeyID, Direction: models.EmailOutbound, HeaderID: "a@convot.test"}))
			ids, err := f.store.EmailThreadMessageIDs(f.ctx, f.B.Org.ID, f.A.Conversation.ID, 10)
			must(t, err)
			if len(ids) != 0 {
				t.Fatalf("B read A's Message-IDs: %v", ids)
			}
		}},
	)
}

// jobsOnlyOf fails when a listing for B holds a row of another
// organization.
func jobsOnlyOf[T any](t *testing.T, f *fixture, what string, list []T, org func(T) uint64) {
	t.Helper()
	for _, row := range list {
		if o := org(row); o != f.B.Org.ID {
			t.Fatalf("B's listing holds a %s of organization %d", what, o)
		}
	}
}

// preferenceOfA records an active preference of the kind for A's contact.
func (f *fixture) preferenceOfA(t *testing.T, kind string) {
	t.Helper()
	must(t, f.store.RecordSubjectPreference(f.ctx, models.SubjectPreference{OrganizationID: f.A.Org.ID, ContactID: f.A.Contact.ID,
		Kind: kind, Active: true, Source: "test"}))
}

// replyOfA posts an unread operator reply in A's conversation.
func (f *fixture) replyOfA(t *testing.T) {
	t.Helper()
	must(t, f.store.with(f.ctx).Create(&models.Message{OrganizationID: f.A.Org.ID, ConversationID: f.A.Conversation.ID,
		DataKeyID: f.A.Contact.DataKeyID, AuthorType: "operator", AuthorID: f.A.Owner.ID, Body: "reply of a", DeliveryStatus: "sent", CreatedAt: f.now}).Error)
}

// threadOfA gives A's conversation a mail thread notified up to message 7.
func (f *fixture) threadOfA(t *testing.T) {
	t.Helper()
	_, err := f.store.EnsureEmailThread(f.ctx, &f.A.Conversation)
	must(t, err)
	must(t, f.store.with(f.ctx).Model(&models.EmailThread{}).Where("conversation_id = ?", f.A.Conversation.ID).Update("notified_up_to", 7).Error)
}
