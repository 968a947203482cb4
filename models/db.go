package models

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/convot/convot/internal/crypto"
)

// Open connects to PostgreSQL when databaseURL is set, else to the SQLite
// file convot.db in dataDir (the embedded default).
func Open(databaseURL, dataDir string) (*gorm.DB, error) {
	cfg := &gorm.Config{
		// Parameterised SQL only: values (personal data) never reach the log.
		Logger:         logger.New(slogWriter{}, logger.Config{SlowThreshold: time.Second, LogLevel: logger.Warn, ParameterizedQueries: true, IgnoreRecordNotFoundError: true}),
		TranslateError: true,
		NowFunc:        func() time.Time { return time.Now().UTC() },
	}
	if databaseURL != "" {
		db, err := gorm.Open(postgres.Open(databaseURL), cfg)
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL: %w", err)
		}
		sqlDB, err := db.DB()
		if err != nil {
			return nil, err
		}
		sqlDB.SetMaxOpenConns(20)
		sqlDB.SetMaxIdleConns(10)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
		return db, nil
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	return OpenSQLite(filepath.Join(dataDir, "convot.db"))
}

// OpenGenericPlans opens a second, small pool to the PostgreSQL database
// db speaks to, whose connections plan each prepared statement once
// (plan_cache_mode=force_generic_plan) rather than again at every
// execution while PostgreSQL judges a custom plan cheaper. It serves the
// statements of the message path (see store), whose plans do not depend on
// their values.
func OpenGenericPlans(db *gorm.DB, maxConns int) (*gorm.DB, error) {
	d, ok := db.Dialector.(*postgres.Dialector)
	if !ok || d.Config == nil || d.DSN == "" {
		return nil, fmt.Errorf("generic plans: not a PostgreSQL database opened by DSN")
	}
	cfg, err := pgx.ParseConfig(d.DSN)
	if err != nil {
		return nil, fmt.Errorf("generic plans: %w", err)
	}
	cfg.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	sqlDB := stdlib.OpenDB(*cfg)
	sqlDB.SetMaxOpenConns(maxConns)
	sqlDB.SetMaxIdleConns(maxConns)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	// A Config of its own: gorm.Open writes its pool and callbacks into
	// the one it is given.
	hot, err := gorm.Open(postgres.New(postgres.Config{Conn: sqlDB}), &gorm.Config{
		Logger: db.Logger, TranslateError: db.TranslateError, NowFunc: db.NowFunc,
	})
	if err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("generic plans: %w", err)
	}
	return hot, nil
}

// OpenSQLite opens (creating) an SQLite database file.
func OpenSQLite(path string) (*gorm.DB, error) {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{
		Logger:         logger.New(slogWriter{}, logger.Config{SlowThreshold: time.Second, LogLevel: logger.Warn, ParameterizedQueries: true, IgnoreRecordNotFoundError: true}),
		TranslateError: true,
		NowFunc:        func() time.Time { return time.Now().UTC() },
	})
	if err != nil {
		return nil, fmt.Errorf("open SQLite %s: %w", path, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	// WAL lets readers run beside the one writer; a few connections let key
	// lookups proceed while a statement is scanning rows.
	sqlDB.SetMaxOpenConns(8)
	if err := os.Chmod(path, 0o600); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	return db, nil
}

// IsPostgres reports whether db speaks to PostgreSQL.
func IsPostgres(db *gorm.DB) bool { return db.Name() == "postgres" }

type slogWriter struct{}

func (slogWriter) Printf(format string, args ...any) {
	slog.Warn("database", "detail", fmt.Sprintf(format, args...))
}

// Setup opens the database, applies the migrations and attaches the key
// store: what every command that touches data needs.
func Setup(ctx context.Context, databaseURL, dataDir string, master *crypto.MasterKeys) (*gorm.DB, *KeyStore, error) {
	db, err := Open(databaseURL, dataDir)
	if err != nil {
		return nil, nil, err
	}
	if _, err := Migrate(ctx, db); err != nil {
		return nil, nil, err
	}
	ks, err := NewKeyStore(ctx, db, master)
	if err != nil {
		return nil, nil, err
	}
	return db, ks, nil
}
