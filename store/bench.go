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

// CreateInsertBaseline creates the table of the load test's PostgreSQL
// baseline (pgbench inserting one row per transaction) in the schema.
func (s *Store) CreateInsertBaseline(ctx context.Context, schema string) error {
	return s.with(ctx).Exec(`CREATE TABLE "` + schema + `".baseline_rows (id bigserial PRIMARY KEY, n bigint NOT NULL, body text NOT NULL)`).Error
}

// BackendPIDs returns the process IDs of the PostgreSQL backends serving
// connections named applicationName (the load test reads their CPU time).
func (s *Store) BackendPIDs(ctx context.Context, applicationName string) ([]int, error) {
	var pids []int
	err := s.with(ctx).Raw(`SELECT pid FROM pg_stat_activity WHERE application_name = ?`, applicationName).Scan(&pids).Error
	return pids, err
}
