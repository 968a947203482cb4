package models_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/models"
)

// A message written with InsertMessage (one statement on PostgreSQL) is
// sealed exactly as the models' serializer seals it, moves its
// conversation's last activity, reopens it when asked, and is refused
// whole when the conversation is not the organization's.
func TestInsertMessageWritesOneUnit(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	org := models.Organization{CompanyName: "Posting", Status: models.OrgActive, PublicKey: "pk_posting"}
	if err := db.Create(&org).Error; err != nil {
		t.Fatal(err)
	}
	key, err := db.Keys.NewKey(db.DB, "contact")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	resolved := t0.Add(-time.Hour)
	conv := models.Conversation{OrganizationID: org.ID, ContactID: 1, DataKeyID: key, Channel: "widget", Status: models.ConversationResolved, ResolvedAt: &resolved, LastMessageAt: t0, CreatedAt: t0}
	if err := db.Create(&conv).Error; err != nil {
		t.Fatal(err)
	}

	at := t0.Add(time.Minute)
	m := models.Message{OrganizationID: org.ID, ConversationID: conv.ID, DataKeyID: key, AuthorType: "operator", AuthorID: 3,
		Body: "Thank you, it is on its way", DeliveryStatus: "sent", CreatedAt: at}
	if err := models.InsertMessage(ctx, db.DB, db.Keys, &m, false); err != nil {
		t.Fatal(err)
	}
	var got models.Message
	if err := db.First(&got, m.ID).Error; err != nil {
		t.Fatal(err)
	}
	if got.Body != m.Body || got.AuthorType != "operator" || got.AuthorID != 3 || !got.CreatedAt.Equal(at) || got.DeliveryStatus != "sent" {
		t.Fatalf("read back %+v", got)
	}
	var raw string
	db.Raw("SELECT body FROM messages WHERE id = ?", m.ID).Scan(&raw)
	if raw == m.Body || raw == "" {
		t.Fatalf("the body is stored %q: not sealed", raw)
	}
	var after models.Conversation
	db.First(&after, conv.ID)
	if !after.LastMessageAt.Equal(at) || after.Status != models.ConversationResolved {
		t.Fatalf("conversation after an operator's message: %+v", after)
	}

	// The contact writes again: reopened.
	m2 := models.Message{OrganizationID: org.ID, ConversationID: conv.ID, DataKeyID: key, AuthorType: "contact", AuthorID: 1, Body: "Still not here", DeliveryStatus: "sent", CreatedAt: at.Add(time.Minute)}
	if err := models.InsertMessage(ctx, db.DB, db.Keys, &m2, true); err != nil {
		t.Fatal(err)
	}
	var reopened models.Conversation // fresh: scanning NULL leaves a filled field as it was
	db.First(&reopened, conv.ID)
	after = reopened
	if after.Status != models.ConversationOpen || after.ResolvedAt != nil || !after.LastMessageAt.Equal(m2.CreatedAt) {
		t.Fatalf("conversation after reopening: %+v", after)
	}

	// Another organization's conversation: nothing written.
	stray := models.Message{OrganizationID: org.ID + 1000, ConversationID: conv.ID, DataKeyID: key, AuthorType: "contact", Body: "stray", DeliveryStatus: "sent", CreatedAt: at}
	if err := models.InsertMessage(ctx, db.DB, db.Keys, &stray, false); !errors.Is(err, gorm.ErrRecordNotFound) {
		t.Fatalf("into another organization's conversation: %v", err)
	}
	var n int64
	db.Model(&models.Message{}).Where("conversation_id = ?", conv.ID).Count(&n)
	if n != 2 {
		t.Fatalf("%d messages", n)
	}
}
