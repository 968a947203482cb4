package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// `convot search reindex` makes rows written before the index existed
// searchable, for every organization.
func TestSearchReindexIndexesOlderRows(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	st := store.New(db.DB, db.Keys)
	org := &models.Organization{PublicKey: crypto.RandomToken(12), CompanyName: "Acme", Region: "eu", Status: models.OrgActive}
	if err := db.Create(org).Error; err != nil {
		t.Fatal(err)
	}
	ct := &models.Contact{OrganizationID: org.ID, Name: "Grace Hopper", Email: "grace@example.com"}
	if err := st.CreateContact(ctx, ct); err != nil {
		t.Fatal(err)
	}
	conv := &models.Conversation{OrganizationID: org.ID, ContactID: ct.ID, DataKeyID: ct.DataKeyID, Channel: "widget", Status: "open", LastMessageAt: time.Now()}
	if err := db.Create(conv).Error; err != nil {
		t.Fatal(err)
	}
	m := &models.Message{OrganizationID: org.ID, ConversationID: conv.ID, DataKeyID: ct.DataKeyID, AuthorType: "contact", Body: "The compiler crashed", DeliveryStatus: "sent", CreatedAt: time.Now().UTC()}
	if err := st.InsertMessage(ctx, m, false); err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("DELETE FROM search_terms").Error; err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := reindexSearch(ctx, st, 0, &out); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("organization %d: 1 pages of contacts, 1 pages of messages reindexed", org.ID); !strings.Contains(out.String(), want) {
		t.Fatalf("said %q, want %q", out.String(), want)
	}
	r, err := st.Search(ctx, org.ID, "compiler", 10)
	if err != nil || len(r.Messages) != 1 || r.Messages[0].Message.ID != m.ID {
		t.Fatalf("after the reindex: %+v %v", r, err)
	}
	if err := runSearch(ctx, []string{"rebuild"}, &out); err == nil {
		t.Fatal("an unknown search command was accepted")
	}
}
