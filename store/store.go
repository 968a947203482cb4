// Package store is every query of Convot's data. A method that reads or
// writes an organization's data takes that organization's ID first (after
// the context) and filters every query by it, so tenant isolation is a
// property of this API rather than of each caller's attention:
// isolation_test.go calls each such method with another organization's IDs
// and expects nothing back. Methods without an organization (a session by
// its token, an organization by its widget key, a Stripe customer) are named
// for the credential they look up by.
//
// Handlers, activities and commands never build a query; they call a
// method here, and compose several in one transaction with Tx.
package store

import (
	"context"
	"errors"

	"github.com/convot/convot/models"
	"gorm.io/gorm"
)

// Store reads and writes Convot's database.
type Store struct {
	db   *gorm.DB
	keys *models.KeyStore
	// plans is the message path's pool (generic_plans.go); nil unless
	// opened, and always in a transaction.
	plans *gorm.DB
}

// New wraps a database opened by models.Setup (or models.Open) and its key
// store.
func New(db *gorm.DB, keys *models.KeyStore) *Store {
	return &Store{db: db, keys: keys}
}

// Keys is the key store that seals personal fields.
func (s *Store) Keys() *models.KeyStore { return s.keys }

// ErrNotFound is returned by methods that look up one row when there is
// none (in the organization asked for).
var ErrNotFound = errors.New("store: not found")

// Tx runs fn in one transaction: every method of the Store it is given
// runs inside it, and the whole is rolled back when fn returns an error.
func (s *Store) Tx(ctx context.Context, fn func(tx *Store) error) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return fn(&Store{db: tx, keys: s.keys})
	})
}

// Ping checks that the database answers (readiness and liveness probes).
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// Postgres reports whether the database is PostgreSQL (else SQLite), for
// the few callers whose behaviour differs (bench output, locks).
func (s *Store) Postgres() bool { return s.db.Name() == "postgres" } // the dialector's name

// with returns the database bound to ctx.
func (s *Store) with(ctx context.Context) *gorm.DB { return s.db.WithContext(ctx) }

// found turns an empty result of a one-row lookup into ErrNotFound.
func found(rows int64, err error) error {
	if err != nil {
		return err
	}
	if rows == 0 {
		return ErrNotFound
	}
	return nil
}

// one loads the single row q finds (the first, in q's order), or
// ErrNotFound.
func one[T any](q *gorm.DB) (*T, error) {
	var row T
	res := q.Limit(1).Find(&row)
	if err := found(res.RowsAffected, res.Error); err != nil {
		return nil, err
	}
	return &row, nil
}
