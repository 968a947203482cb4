package activities

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/realtime"
	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// openConversation creates an organization of Acme in region and an open
// conversation of its contact Alice.
func openConversation(db *testdb.DB, region string) (models.Organization, models.Conversation) {
	org := models.Organization{PublicKey: crypto.RandomToken(8), CompanyName: "Acme", Region: region, Status: models.OrgActive}
	db.Create(&org)
	contact := models.Contact{OrganizationID: org.ID, Name: "Alice"}
	db.Create(&contact)
	conv := models.Conversation{OrganizationID: org.ID, ContactID: contact.ID, DataKeyID: contact.DataKeyID, Status: "open", LastMessageAt: time.Now()}
	db.Create(&conv)
	return org, conv
}

func TestRecordConversationStatus(t *testing.T) {
	db := testdb.New(t)
	org, conv := openConversation(db, "us")
	a := &Activities{Store: store.New(db.DB, db.Keys)}
	env := testenv.ActivityEnv(a.RecordConversationStatus)
	record := func(ch workflows.ConversationStatusChange) error {
		_, err := env.ExecuteActivity(a.RecordConversationStatus, ch)
		return err
	}
	at := time.Now().UTC().Truncate(time.Second)
	until := at.Add(3 * time.Hour)

	steps := []workflows.ConversationStatusChange{
		{ConversationID: conv.ID, OrganizationID: org.ID, Status: "snoozed", AssigneeID: 7, SnoozedUntil: until, At: at},
		{ConversationID: conv.ID, OrganizationID: org.ID, Status: "resolved", AssigneeID: 7, At: at},
		{ConversationID: conv.ID, OrganizationID: org.ID, Status: "open", At: at},
	}
	check := []func(models.Conversation) bool{
		func(c models.Conversation) bool {
			return c.Status == "snoozed" && c.SnoozedUntil != nil && c.SnoozedUntil.Equal(until) && *c.AssigneeID == 7
		},
		func(c models.Conversation) bool {
			return c.Status == "resolved" && c.ResolvedAt != nil && c.SnoozedUntil == nil
		},
		func(c models.Conversation) bool {
			return c.Status == "open" && c.ResolvedAt == nil && c.AssigneeID == nil
		},
	}
	for i, step := range steps {
		for range 2 { // recording twice is the same as once
			if err := record(step); err != nil {
				t.Fatal(err)
			}
		}
		var got models.Conversation
		db.First(&got, conv.ID)
		if !check[i](got) {
			t.Fatalf("step %d: %+v", i, got)
		}
	}
	// Another organization's ID changes nothing.
	other := workflows.ConversationStatusChange{ConversationID: conv.ID, OrganizationID: org.ID + 1, Status: "resolved", At: at}
	if err := record(other); err != nil {
		t.Fatal(err)
	}
	var got models.Conversation
	db.First(&got, conv.ID)
	if got.Status != "open" {
		t.Fatalf("another organization's change applied: %s", got.Status)
	}
}

// A change the workflow makes on its own (an auto-resolve) reaches the
// operators' and the visitor's sockets.
func TestRecordConversationStatusAnnouncesTheChange(t *testing.T) {
	db := testdb.New(t)
	org, conv := openConversation(db, "eu")
	hub := realtime.NewLocal()
	ctx := context.Background()
	operators, stopOps, _ := hub.Subscribe(ctx, realtime.OrgTopic(org.ID))
	defer stopOps()
	visitor, stopVisitor, _ := hub.Subscribe(ctx, realtime.ConversationTopic(conv.ID))
	defer stopVisitor()

	a := &Activities{Store: store.New(db.DB, db.Keys), Hub: hub}
	env := testenv.ActivityEnv(a.RecordConversationStatus)
	_, err := env.ExecuteActivity(a.RecordConversationStatus, workflows.ConversationStatusChange{
		ConversationID: conv.ID, OrganizationID: org.ID, Status: "resolved", Cause: workflows.CauseInactivity, At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	for name, ch := range map[string]<-chan []byte{"operators": operators, "visitor": visitor} {
		select {
		case payload := <-ch:
			var e realtime.LiveEvent
			if err := json.Unmarshal(payload, &e); err != nil || e.Type != realtime.TypeConversation || e.Conversation.Status != "resolved" {
				t.Fatalf("%s got %s", name, payload)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("%s were not told of the auto-resolve", name)
		}
	}
}
