package models_test

import (
	"testing"

	"gorm.io/gorm"

	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/models"
)

type gormStatement = gorm.Statement

// reopenDB opens a second handle on the test database, with no key store
// attached yet.
func reopenDB(t *testing.T, db *testdb.DB) *gorm.DB {
	t.Helper()
	var fresh *gorm.DB
	var err error
	if db.URL != "" {
		fresh, err = models.Open(db.URL, "")
	} else {
		fresh, err = models.Open("", db.DataDir)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s, err := fresh.DB(); err == nil {
			_ = s.Close() // the test is over; its result stands either way
		}
	})
	return fresh
}
