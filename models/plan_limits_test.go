package models_test

import (
	"context"
	"errors"
	"strings"
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
	org := countedOrganization(t, db.DB, "Counted")
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
	if err := models.UncountConversationStart(db.DB, org.ID, dec, 0); err != nil {
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
	org := countedOrganization(t, db.DB, "Earlier")
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

// countedOrganization is a new active organization named name.
func countedOrganization(t testing.TB, db *gorm.DB, name string) models.Organization {
	t.Helper()
	org := models.Organization{CompanyName: name, Status: models.OrgActive, PublicKey: "pk_" + strings.ToLower(name)}
	if err := db.Create(&org).Error; err != nil {
		t.Fatal(err)
	}
	return org
}

// startCountedConversation writes a conversation and counts it, by its ID,
// as the widget does: the count is the transaction's last statement.
func startCountedConversation(db *gorm.DB, orgID uint64, at time.Time, limit int64) error {
	return db.Transaction(func(tx *gorm.DB) error {
		c := models.Conversation{OrganizationID: orgID, Channel: "widget", Status: models.ConversationOpen, LastMessageAt: at, CreatedAt: at}
		if err := tx.Create(&c).Error; err != nil {
			return err
		}
		return models.CountConversationStart(tx, orgID, at, limit, c.ID)
	})
}

// raceStarts starts tries conversations at once and says how many passed;
// any error but the limit fails t.
func raceStarts(t *testing.T, db *gorm.DB, orgID uint64, at time.Time, limit int64, tries int) int {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	passed := 0
	for range tries {
		wg.Go(func() {
			err := startCountedConversation(db, orgID, at, limit)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				passed++
			case !errors.Is(err, models.ErrConversationLimit):
				t.Error(err)
			}
		})
	}
	wg.Wait()
	return passed
}

// The month's counter is sharded by conversation, and stays exact: starts
// racing over every shard pass up to the limit and no further, a larger
// limit (an upgrade in the month) lets exactly the difference through, a
// smaller one (a downgrade) none, and each start counts once.
func TestShardedConversationCounterIsExact(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	org := countedOrganization(t, db.DB, "Sharded")
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, step := range []struct {
		limit        int64
		tries, wantN int
	}{
		{37, 120, 37}, // split over 16 shards, most of them with 2 or 3
		{50, 40, 13},  // upgraded: the difference, split again
		{40, 20, 0},   // downgraded below what is counted
		{-1, 5, 5},    // no limit (email)
	} {
		if got := raceStarts(t, db.DB, org.ID, at, step.limit, step.tries); got != step.wantN {
			t.Fatalf("limit %d: %d of %d passed, want %d", step.limit, got, step.tries, step.wantN)
		}
	}
	var written int64
	db.Model(&models.Conversation{}).Where("organization_id = ?", org.ID).Count(&written)
	if n, err := models.ConversationsStarted(ctx, db.DB, org.ID, at); err != nil || n != 55 || written != 55 {
		t.Fatalf("started %d (%v), %d conversations written, want 55", n, err, written)
	}
	var counting int64
	db.Model(&models.ConversationUsage{}).Where("organization_id = ? AND started > 0", org.ID).Count(&counting)
	if counting < 2 {
		t.Fatalf("%d shards counted: the starts queued on one row", counting)
	}
}

// BenchmarkConversationStartsInOneOrganization: conversations started at
// once in one organization (64 at a time), each written and counted in its
// own transaction, as the widget does; a plan's limit far away.
// go test -run '^$' -bench ConversationStartsInOneOrganization ./models
func BenchmarkConversationStartsInOneOrganization(b *testing.B) {
	db := testdb.New(b)
	org := countedOrganization(b, db.DB, "Busy")
	at := time.Now()
	b.SetParallelism(32) // × GOMAXPROCS (2 here): 64 at once
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := startCountedConversation(db.DB, org.ID, at, 1<<40); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "starts/s")
}
