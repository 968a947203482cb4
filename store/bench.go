package store

import "context"

// The load test (`convot bench`) works in a PostgreSQL schema of its own.

// CreateSchema creates a PostgreSQL schema.
func (s *Store) CreateSchema(ctx context.Context, name string) error {
	return s.with(ctx).Exec(`CREATE SCHEMA "` + name + `"`).Error
}

// DropSchema drops a PostgreSQL schema and everything in it.
func (s *Store) DropSchema(ctx context.Context, name string) error {
	return s.with(ctx).Exec(`DROP SCHEMA "` + name + `" CASCADE`).Error
}

// SetMaxConns sizes the connection pool: the load test runs many senders
// at once.
func (s *Store) SetMaxConns(n int) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	sqlDB.SetMaxOpenConns(n)
	sqlDB.SetMaxIdleConns(n)
	return nil
}
