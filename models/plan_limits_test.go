package models_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/models"
)

func startCounted(db *gorm.DB, orgID uint64, at time.Time, limit int64) error {
	return db.Transaction(func(tx *gorm.DB) error {
		if err := models.CountConversationStart(tx, orgID, at, limit, 0); err != nil {
			return err
		}
		return tx.Create(&models.Conversation{OrganizationID: orgID, Channel: "widget", Status: models.ConversationOpen, LastMessageAt: at, CreatedAt: at}).Error
	})
}

// A month's conversations are counted against the plan's limit exactly:
// with starts racing on many connections, no more than the limit pass;
// the next month counts from zero; a conversation counted and rolled back
// is not counted; a discarded one is given back.
func TestConversationStartsCountAgainstTheMonthlyLimit(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	org := models.Organization{CompanyName: "Counted", Status: models.OrgActive, PublicKey: "pk_counted"}
	if err := db.Create(&org).Error; err != nil {
		t.Fatal(err)
	}
	nov := time.Date(2026, 11, 29, 23, 0, 0, 0, time.UTC)

	const limit, tries = 7, 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	passed, refused := 0, 0
	for i := 0; i < tries; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := startCounted(db.DB, org.ID, nov, limit)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				passed++
			case errors.Is(err, models.ErrConversationLimit):
				refused++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if passed != limit || refused != tries-limit {
		t.Fatalf("%d passed and %d refused of %d against a limit of %d", passed, refused, tries, limit)
	}
	if n, err := models.ConversationsStarted(ctx, db.DB, org.ID, nov); err != nil || n != limit {
		t.Fatalf("started %d, %v", n, err)
	}
	var rows int64
	db.Model(&models.Conversation{}).Where("organization_id = ?", org.ID).Count(&rows)
	if rows != limit {
		t.Fatalf("%d conversations written", rows)
	}

	// Told once a month.
	first, err := models.MarkConversationLimitReached(db.DB, org.ID, nov)
	again, err2 := models.MarkConversationLimitReached(db.DB, org.ID, nov)
	if !first || again || err != nil || err2 != nil {
		t.Fatalf("limit reached: first %v, again %v (%v %v)", first, again, err, err2)
	}

	// December starts from zero.
	dec := time.Date(2026, 12, 1, 0, 0, 1, 0, time.UTC)
	if err := startCounted(db.DB, org.ID, dec, limit); err != nil {
		t.Fatalf("first of the month: %v", err)
	}
	if n, _ := models.ConversationsStarted(ctx, db.DB, org.ID, dec); n != 1 {
		t.Fatalf("december: %d", n)
	}

	// Rolled back: not counted. Discarded: given back.
	boom := errors.New("the insert failed")
	err = db.Transaction(func(tx *gorm.DB) error {
		if err := models.CountConversationStart(tx, org.ID, dec, limit, 0); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if n, _ := models.ConversationsStarted(ctx, db.DB, org.ID, dec); n != 1 {
		t.Fatalf("after a rollback: %d", n)
	}
	if err := models.UncountConversationStart(db.DB, org.ID, dec); err != nil {
		t.Fatal(err)
	}
	if n, _ := models.ConversationsStarted(ctx, db.DB, org.ID, dec); n != 0 {
		t.Fatalf("after a discard: %d", n)
	}

	// Without a limit (email) everything counts.
	for i := 0; i < limit+2; i++ {
		if err := startCounted(db.DB, org.ID, dec, -1); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := models.ConversationsStarted(ctx, db.DB, org.ID, dec); n != limit+2 {
		t.Fatalf("unlimited: %d", n)
	}
}

// Conversations started before the month's counter existed count: the
// counter starts from them.
func TestConversationCounterStartsFromTheMonthsConversations(t *testing.T) {
	db := testdb.New(t)
	org := models.Organization{CompanyName: "Earlier", Status: models.OrgActive, PublicKey: "pk_earlier"}
	if err := db.Create(&org).Error; err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	for _, created := range []time.Time{at.AddDate(0, -1, 0), at.AddDate(0, 0, -10), at.AddDate(0, 0, -1)} {
		if err := db.Create(&models.Conversation{OrganizationID: org.ID, Channel: "widget", Status: models.ConversationOpen, LastMessageAt: created, CreatedAt: created}).Error; err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := models.ConversationsStarted(context.Background(), db.DB, org.ID, at); n != 2 {
		t.Fatalf("before the counter: %d, want the 2 of November", n)
	}
	if err := startCounted(db.DB, org.ID, at, 3); err != nil {
		t.Fatal(err)
	}
	if err := startCounted(db.DB, org.ID, at, 3); !errors.Is(err, models.ErrConversationLimit) {
		t.Fatalf("the fourth of a limit of 3: %v", err)
	}
}
