package store

import (
	"errors"
	"testing"
	"time"

	"github.com/convot/convot/models"
)

// Cross-tenant cases of the conversations surfaces: contacts,
// conversations, messages, attachments, visitor tokens, plan-limit
// counters, presence, and what the widget reads and writes of accounts and
// organizations.

func init() {
	isolationCases = append(isolationCases,
		// Conversations.
		isolationCase{"Conversation", func(t *testing.T, f *fixture) {
			if _, err := f.store.Conversation(f.ctx, f.B.Org.ID, f.A.Conversation.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B loaded A's conversation: %v", err)
			}
		}},
		isolationCase{"ConversationHeader", func(t *testing.T, f *fixture) {
			if _, err := f.store.ConversationHeader(f.ctx, f.B.Org.ID, f.A.Conversation.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B loaded A's conversation: %v", err)
			}
		}},
		isolationCase{"ContactConversation", func(t *testing.T, f *fixture) {
			if _, err := f.store.ContactConversation(f.ctx, f.B.Org.ID, f.A.Contact.ID, f.A.Conversation.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B loaded A's conversation: %v", err)
			}
		}},
		isolationCase{"ContactConversations", func(t *testing.T, f *fixture) {
			list, err := f.store.ContactConversations(f.ctx, f.B.Org.ID, f.A.Contact.ID, 0, 50)
			must(t, err)
			if len(list) != 0 {
				t.Fatalf("B listed %d of A's conversations", len(list))
			}
		}},
		isolationCase{"Conversations", func(t *testing.T, f *fixture) {
			list, err := f.store.Conversations(f.ctx, f.B.Org.ID, ConversationQuery{Status: models.ConversationOpen, Limit: 50})
			must(t, err)
			if len(list) != 1 || list[0].ID != f.B.Conversation.ID {
				t.Fatalf("B's list is %+v, want B's conversation only", list)
			}
		}},
		isolationCase{"UpdateConversation", func(t *testing.T, f *fixture) {
			must(t, f.store.UpdateConversation(f.ctx, f.B.Org.ID, f.A.Conversation.ID, map[string]any{"status": models.ConversationResolved}))
			if conv, _ := f.store.Conversation(f.ctx, f.A.Org.ID, f.A.Conversation.ID); conv.Status != models.ConversationOpen {
				t.Fatal("B resolved A's conversation")
			}
		}},
		isolationCase{"DeleteConversation", func(t *testing.T, f *fixture) {
			deleted, err := f.store.DeleteConversation(f.ctx, f.B.Org.ID, f.A.Conversation.ID)
			must(t, err)
			if _, err := f.store.Conversation(f.ctx, f.A.Org.ID, f.A.Conversation.ID); deleted || err != nil {
				t.Fatalf("B deleted A's conversation: %v", err)
			}
		}},

		// Contacts.
		isolationCase{"Contact", func(t *testing.T, f *fixture) {
			if _, err := f.store.Contact(f.ctx, f.B.Org.ID, f.A.Contact.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B loaded A's contact: %v", err)
			}
		}},
		isolationCase{"SaveContactFields", func(t *testing.T, f *fixture) {
			ct := f.A.Contact
			ct.Name = "changed"
			must(t, f.store.SaveContactFields(f.ctx, f.B.Org.ID, &ct, "name"))
			if got, _ := f.store.Contact(f.ctx, f.A.Org.ID, f.A.Contact.ID); got.Name != f.A.Contact.Name {
				t.Fatal("B renamed A's contact")
			}
		}},
		isolationCase{"TouchContact", func(t *testing.T, f *fixture) {
			must(t, f.store.TouchContact(f.ctx, f.B.Org.ID, f.A.Contact.ID, f.now))
			if got, _ := f.store.Contact(f.ctx, f.A.Org.ID, f.A.Contact.ID); got.LastSeenAt != nil {
				t.Fatal("B touched A's contact")
			}
		}},
		isolationCase{"ContactByExternalID", func(t *testing.T, f *fixture) {
			ct := models.Contact{OrganizationID: f.A.Org.ID, ExternalID: "user-42"}
			must(t, f.store.CreateContact(f.ctx, &ct))
			if _, err := f.store.ContactByExternalID(f.ctx, f.A.Org.ID, "user-42", 0); err != nil {
				t.Fatalf("A's own lookup: %v", err)
			}
			if _, err := f.store.ContactByExternalID(f.ctx, f.B.Org.ID, "user-42", 0); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B found A's contact: %v", err)
			}
		}},
		isolationCase{"ContactByEmail", func(t *testing.T, f *fixture) {
			if _, err := f.store.ContactByEmail(f.ctx, f.B.Org.ID, f.A.Contact.Email, 0, false); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B found A's contact: %v", err)
			}
		}},
		isolationCase{"ContactLabels", func(t *testing.T, f *fixture) {
			list, err := f.store.ContactLabels(f.ctx, f.B.Org.ID, []uint64{f.A.Contact.ID})
			must(t, err)
			if len(list) != 0 {
				t.Fatal("B read A's contact")
			}
		}},
		isolationCase{"ContactList", func(t *testing.T, f *fixture) {
			list, err := f.store.ContactList(f.ctx, f.B.Org.ID, 0, 50)
			must(t, err)
			if len(list) != 1 || list[0].ID != f.B.Contact.ID {
				t.Fatalf("B's list is %+v, want B's contact only", list)
			}
		}},
		isolationCase{"ContactsWithEmail", func(t *testing.T, f *fixture) {
			list, err := f.store.ContactsWithEmail(f.ctx, f.B.Org.ID, f.A.Contact.Email, 0, 50)
			must(t, err)
			if len(list) != 0 {
				t.Fatal("B found A's contact by email")
			}
		}},
		isolationCase{"ContactBatch", func(t *testing.T, f *fixture) {
			list, err := f.store.ContactBatch(f.ctx, f.B.Org.ID, 0, 50)
			must(t, err)
			if len(list) != 1 || list[0].ID != f.B.Contact.ID {
				t.Fatalf("B's batch is %+v, want B's contact only", list)
			}
		}},

		// Messages.
		isolationCase{"Messages", func(t *testing.T, f *fixture) {
			list, err := f.store.Messages(f.ctx, f.B.Org.ID, f.A.Conversation.ID, true, 0, 100)
			must(t, err)
			if len(list) != 0 {
				t.Fatal("B read A's messages")
			}
		}},
		isolationCase{"LatestMessageIDs", func(t *testing.T, f *fixture) {
			ids, err := f.store.LatestMessageIDs(f.ctx, f.B.Org.ID, f.A.Conversation.ID, 10)
			must(t, err)
			if len(ids) != 0 {
				t.Fatal("B listed A's messages")
			}
		}},
		isolationCase{"PublicMessageExists", func(t *testing.T, f *fixture) {
			ok, err := f.store.PublicMessageExists(f.ctx, f.B.Org.ID, f.A.Conversation.ID, f.A.Message.ID)
			must(t, err)
			if ok {
				t.Fatal("A's message exists for B")
			}
		}},
		isolationCase{"MarkRead", func(t *testing.T, f *fixture) {
			n, err := f.store.MarkRead(f.ctx, f.B.Org.ID, f.A.Conversation.ID, f.A.Message.ID, false, f.now)
			must(t, err)
			msgs, _ := f.store.Messages(f.ctx, f.A.Org.ID, f.A.Conversation.ID, true, 0, 10)
			if n != 0 || len(msgs) != 1 || msgs[0].ReadAt != nil {
				t.Fatal("B marked A's message read")
			}
		}},
		isolationCase{"UnreadCounts", func(t *testing.T, f *fixture) {
			counts, err := f.store.UnreadCounts(f.ctx, f.B.Org.ID, []uint64{f.A.Conversation.ID})
			must(t, err)
			if len(counts) != 0 {
				t.Fatalf("B counted A's unread messages: %v", counts)
			}
			if own, _ := f.store.UnreadCounts(f.ctx, f.A.Org.ID, []uint64{f.A.Conversation.ID}); own[f.A.Conversation.ID] != 1 {
				t.Fatalf("A's own count is %v", own)
			}
		}},

		// Attachments.
		isolationCase{"Attachment", func(t *testing.T, f *fixture) {
			att := f.fileOfA(t, false)
			if _, err := f.store.Attachment(f.ctx, f.B.Org.ID, f.A.Conversation.ID, att.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B loaded A's file: %v", err)
			}
		}},
		isolationCase{"SentAttachment", func(t *testing.T, f *fixture) {
			att := f.fileOfA(t, true)
			if _, err := f.store.SentAttachment(f.ctx, f.B.Org.ID, f.A.Conversation.ID, att.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B loaded A's file: %v", err)
			}
		}},
		isolationCase{"ConversationAttachments", func(t *testing.T, f *fixture) {
			f.fileOfA(t, true)
			list, err := f.store.ConversationAttachments(f.ctx, f.B.Org.ID, f.A.Conversation.ID)
			must(t, err)
			if len(list) != 0 {
				t.Fatal("B listed A's files")
			}
		}},
		isolationCase{"AttachToMessage", func(t *testing.T, f *fixture) {
			att := f.fileOfA(t, false)
			n, err := f.store.AttachToMessage(f.ctx, f.B.Org.ID, f.A.Conversation.ID, f.A.Message.ID, []uint64{att.ID})
			must(t, err)
			if got, _ := f.store.Attachment(f.ctx, f.A.Org.ID, f.A.Conversation.ID, att.ID); n != 0 || got.MessageID != 0 {
				t.Fatal("B sent A's file")
			}
		}},
		isolationCase{"MessageAttachments", func(t *testing.T, f *fixture) {
			f.fileOfA(t, true)
			list, err := f.store.MessageAttachments(f.ctx, f.B.Org.ID, f.A.Message.ID)
			must(t, err)
			if len(list) != 0 {
				t.Fatal("B listed A's files")
			}
		}},
		isolationCase{"DeleteUnsentAttachment", func(t *testing.T, f *fixture) {
			att := f.fileOfA(t, false)
			must(t, f.store.DeleteUnsentAttachment(f.ctx, f.B.Org.ID, att.ID))
			if _, err := f.store.Attachment(f.ctx, f.A.Org.ID, f.A.Conversation.ID, att.ID); err != nil {
				t.Fatalf("B deleted A's file: %v", err)
			}
		}},

		// Visitor tokens.
		isolationCase{"VisitorToken", func(t *testing.T, f *fixture) {
			vt := f.visitorTokenOfA(t)
			if _, err := f.store.VisitorToken(f.ctx, f.B.Org.ID, vt.TokenHash); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B found A's visitor token: %v", err)
			}
		}},
		isolationCase{"VisitorConversation", func(t *testing.T, f *fixture) {
			vt := f.visitorTokenOfA(t)
			if _, _, err := f.store.VisitorConversation(f.ctx, f.B.Org.ID, vt.TokenHash, f.A.Conversation.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B found A's visitor token: %v", err)
			}
			got, conv, err := f.store.VisitorConversation(f.ctx, f.A.Org.ID, vt.TokenHash, f.B.Conversation.ID)
			must(t, err)
			if got.ID != vt.ID || conv != nil {
				t.Fatalf("A's token opened B's conversation: %+v", conv)
			}
			got, conv, err = f.store.VisitorConversation(f.ctx, f.A.Org.ID, vt.TokenHash, f.A.Conversation.ID)
			must(t, err)
			if got.ContactID != f.A.Contact.ID || conv == nil || conv.ID != f.A.Conversation.ID || conv.DataKeyID != f.A.Conversation.DataKeyID {
				t.Fatalf("A's token and conversation: %+v, %+v", got, conv)
			}
		}},
		isolationCase{"TouchVisitorToken", func(t *testing.T, f *fixture) {
			vt := f.visitorTokenOfA(t)
			must(t, f.store.TouchVisitorToken(f.ctx, f.B.Org.ID, vt.ID, f.now.Add(time.Hour)))
			if got, _ := f.store.VisitorToken(f.ctx, f.A.Org.ID, vt.TokenHash); !got.LastSeenAt.Equal(vt.LastSeenAt) {
				t.Fatal("B touched A's visitor token")
			}
		}},
		isolationCase{"MoveVisitorToken", func(t *testing.T, f *fixture) {
			vt := f.visitorTokenOfA(t)
			must(t, f.store.MoveVisitorToken(f.ctx, f.B.Org.ID, vt.ID, f.B.Contact.ID))
			if got, _ := f.store.VisitorToken(f.ctx, f.A.Org.ID, vt.TokenHash); got.ContactID != f.A.Contact.ID {
				t.Fatal("B moved A's visitor token")
			}
		}},
		isolationCase{"VisitorHoldsConversation", func(t *testing.T, f *fixture) {
			vt := f.visitorTokenOfA(t)
			if own, _ := f.store.VisitorHoldsConversation(f.ctx, f.A.Org.ID, f.A.Conversation.ID, vt.ID); !own {
				t.Fatal("A's visitor does not hold A's conversation")
			}
			held, err := f.store.VisitorHoldsConversation(f.ctx, f.B.Org.ID, f.A.Conversation.ID, vt.ID)
			must(t, err)
			if held {
				t.Fatal("A's conversation counts as held in B")
			}
		}},

		// Plan limits.
		isolationCase{"LockOrganization", func(t *testing.T, f *fixture) {
			// Nothing comes back; B's lock must not be A's row (a later
			// update of A in the same transaction still goes through).
			must(t, f.store.Tx(f.ctx, func(tx *Store) error {
				if err := tx.LockOrganization(f.ctx, f.B.Org.ID); err != nil {
					return err
				}
				return tx.with(f.ctx).Model(&models.Organization{}).Where("id = ?", f.A.Org.ID).Update("company_name", "Org a").Error
			}))
		}},
		isolationCase{"CountConversationStart", func(t *testing.T, f *fixture) {
			f.conversationUsageOfA(t, 5)
			must(t, f.store.CountConversationStart(f.ctx, f.B.Org.ID, f.now, -1, 0))
			if n, _ := f.store.ConversationsStarted(f.ctx, f.A.Org.ID, f.now); n != 5 {
				t.Fatalf("A's count is %d after B's start", n)
			}
		}},
		isolationCase{"UncountConversationStart", func(t *testing.T, f *fixture) {
			f.conversationUsageOfA(t, 5)
			must(t, f.store.UncountConversationStart(f.ctx, f.B.Org.ID, f.now, 0))
			if n, _ := f.store.ConversationsStarted(f.ctx, f.A.Org.ID, f.now); n != 5 {
				t.Fatalf("A's count is %d after B's uncount", n)
			}
		}},
		isolationCase{"MarkConversationLimitReached", func(t *testing.T, f *fixture) {
			f.conversationUsageOfA(t, 5)
			_, err := f.store.MarkConversationLimitReached(f.ctx, f.B.Org.ID, f.now)
			must(t, err)
			if first, _ := f.store.MarkConversationLimitReached(f.ctx, f.A.Org.ID, f.now); !first {
				t.Fatal("B marked A's limit reached")
			}
		}},
		isolationCase{"ConversationsStarted", func(t *testing.T, f *fixture) {
			f.conversationUsageOfA(t, 5)
			n, err := f.store.ConversationsStarted(f.ctx, f.B.Org.ID, f.now)
			must(t, err)
			if n != 1 {
				t.Fatalf("B started %d conversations, want its own 1", n)
			}
		}},

		// Presence.
		isolationCase{"OperatorsOnline", func(t *testing.T, f *fixture) {
			must(t, f.store.RecordPresence(f.ctx, f.A.Org.ID, f.A.Owner.ID, f.now))
			online, err := f.store.OperatorsOnline(f.ctx, f.B.Org.ID, f.now.Add(-time.Minute))
			must(t, err)
			if own, _ := f.store.OperatorsOnline(f.ctx, f.A.Org.ID, f.now.Add(-time.Minute)); online || !own {
				t.Fatalf("online in B: %v, in A: %v", online, own)
			}
		}},
		isolationCase{"RecordPresence", func(t *testing.T, f *fixture) {
			must(t, f.store.RecordPresence(f.ctx, f.B.Org.ID, f.A.Owner.ID, f.now))
			if online, _ := f.store.OperatorsOnline(f.ctx, f.A.Org.ID, f.now.Add(-time.Minute)); online {
				t.Fatal("B recorded A's operator as online")
			}
		}},

		// Accounts and organizations as the widget and inbox use them.
		isolationCase{"OperatorAccount", func(t *testing.T, f *fixture) {
			if _, err := f.store.OperatorAccount(f.ctx, f.B.Org.ID, f.A.Owner.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B loaded A's operator: %v", err)
			}
		}},
		isolationCase{"ActiveAccountNames", func(t *testing.T, f *fixture) {
			list, err := f.store.ActiveAccountNames(f.ctx, f.B.Org.ID)
			must(t, err)
			if len(list) != 1 || list[0].ID != f.B.Owner.ID {
				t.Fatalf("B's accounts are %+v, want B's owner only", list)
			}
		}},
		isolationCase{"ActiveOwners", func(t *testing.T, f *fixture) {
			list, err := f.store.ActiveOwners(f.ctx, f.B.Org.ID)
			must(t, err)
			if len(list) != 1 || list[0].ID != f.B.Owner.ID {
				t.Fatalf("B's owners are %+v, want B's owner only", list)
			}
		}},
		isolationCase{"SaveWidgetSettings", func(t *testing.T, f *fixture) {
			o := f.A.Org
			o.WidgetGreeting = "changed"
			must(t, f.store.SaveWidgetSettings(f.ctx, f.B.Org.ID, &o))
			if got, _ := f.store.WidgetOrganization(f.ctx, f.A.Org.PublicKey); got.WidgetGreeting != f.A.Org.WidgetGreeting {
				t.Fatal("B changed A's widget settings")
			}
		}},
		isolationCase{"SaveIdentitySecret", func(t *testing.T, f *fixture) {
			o := f.A.Org
			o.IdentitySecret = "changed"
			must(t, f.store.SaveIdentitySecret(f.ctx, f.B.Org.ID, &o))
			if got, _ := f.store.WidgetOrganization(f.ctx, f.A.Org.PublicKey); got.IdentitySecret != f.A.Org.IdentitySecret {
				t.Fatal("B changed A's identity secret")
			}
		}},
	)
}

// TestInsertMessageRefusesAnotherOrganizationsConversation: a message of
// B naming A's conversation is not written, and A's conversation is not
// touched.
func TestInsertMessageRefusesAnotherOrganizationsConversation(t *testing.T) {
	f := newFixture(t)
	m := models.Message{OrganizationID: f.B.Org.ID, ConversationID: f.A.Conversation.ID, DataKeyID: f.B.Contact.DataKeyID,
		AuthorType: "contact", AuthorID: f.B.Contact.ID, Body: "hello", DeliveryStatus: "sent", CreatedAt: f.now.Add(time.Hour)}
	if err := f.store.InsertMessage(f.ctx, &m, true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("InsertMessage into A's conversation: %v", err)
	}
	msgs, _ := f.store.Messages(f.ctx, f.A.Org.ID, f.A.Conversation.ID, true, 0, 10)
	conv, _ := f.store.Conversation(f.ctx, f.A.Org.ID, f.A.Conversation.ID)
	if len(msgs) != 1 || !conv.LastMessageAt.Equal(f.A.Conversation.LastMessageAt) {
		t.Fatal("B's message reached A's conversation")
	}
}

// fileOfA stores an attachment of A's conversation, sent in A's message or
// not yet.
func (f *fixture) fileOfA(t *testing.T, sent bool) models.Attachment {
	t.Helper()
	att := models.Attachment{OrganizationID: f.A.Org.ID, ConversationID: f.A.Conversation.ID, DataKeyID: f.A.Contact.DataKeyID,
		FileName: "a.txt", ContentType: "text/plain", Size: 1, BlobKey: "attachments/a", CreatedAt: f.now}
	if sent {
		att.MessageID = f.A.Message.ID
	}
	must(t, f.store.CreateAttachment(f.ctx, &att))
	return att
}

// visitorTokenOfA binds a browser to A's contact.
func (f *fixture) visitorTokenOfA(t testing.TB) models.VisitorToken {
	t.Helper()
	vt := models.VisitorToken{OrganizationID: f.A.Org.ID, ContactID: f.A.Contact.ID, TokenHash: "visitor-a", CreatedAt: f.now, LastSeenAt: f.now}
	must(t, f.store.CreateVisitorToken(f.ctx, &vt))
	return vt
}

// conversationUsageOfA gives A this month's counter, at started.
func (f *fixture) conversationUsageOfA(t *testing.T, started int64) {
	t.Helper()
	must(t, f.store.with(f.ctx).Create(&models.ConversationUsage{OrganizationID: f.A.Org.ID, Month: f.now.UTC().Format("2006-01"),
		Started: started, UpdatedAt: f.now}).Error)
}
