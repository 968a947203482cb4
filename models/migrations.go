package models

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"
)

// SchemaMigration records an applied migration.
type SchemaMigration struct {
	Version   int    `gorm:"primaryKey;autoIncrement:false"`
	Name      string `privacy:"none"`
	AppliedAt time.Time
}

type migration struct {
	version int
	name    string
	sql     string
}

// The same statements run on SQLite and PostgreSQL; {{id}}, {{time}} and
// {{bytes}} are the only words that differ. Later migrations live beside
// the models they create (migrations_*.go) and join through addMigration.
var migrations = []migration{
	{1, "initial schema", `
CREATE TABLE data_keys (
	id {{id}},
	subject TEXT NOT NULL,
	master_version BIGINT NOT NULL,
	wrapped {{bytes}},
	created_at {{time}} NOT NULL,
	destroyed_at {{time}}
);
CREATE INDEX idx_data_keys_subject ON data_keys (subject);
CREATE INDEX idx_data_keys_master_version ON data_keys (master_version);
CREATE TABLE instance_keys (
	name TEXT PRIMARY KEY,
	master_version BIGINT NOT NULL,
	wrapped {{bytes}} NOT NULL,
	created_at {{time}} NOT NULL
);
CREATE TABLE organizations (
	id {{id}},
	public_key TEXT NOT NULL,
	data_key_id BIGINT NOT NULL,
	company_name TEXT NOT NULL DEFAULT '',
	website TEXT NOT NULL DEFAULT '',
	industry TEXT NOT NULL DEFAULT '',
	team_size BIGINT NOT NULL DEFAULT 0,
	billing_address TEXT NOT NULL DEFAULT '',
	tax_identifier TEXT NOT NULL DEFAULT '',
	region TEXT NOT NULL DEFAULT 'us',
	status TEXT NOT NULL DEFAULT 'active',
	require_mfa BOOLEAN NOT NULL DEFAULT FALSE,
	created_at {{time}} NOT NULL,
	updated_at {{time}} NOT NULL
);
CREATE UNIQUE INDEX idx_organizations_public_key ON organizations (public_key);
CREATE TABLE accounts (
	id {{id}},
	organization_id BIGINT NOT NULL,
	data_key_id BIGINT NOT NULL,
	full_name TEXT NOT NULL DEFAULT '',
	email TEXT NOT NULL DEFAULT '',
	email_index TEXT NOT NULL,
	password_hash TEXT NOT NULL DEFAULT '',
	display_name TEXT NOT NULL DEFAULT '',
	avatar_url TEXT NOT NULL DEFAULT '',
	role TEXT NOT NULL,
	time_zone TEXT NOT NULL DEFAULT 'UTC',
	language TEXT NOT NULL DEFAULT 'en',
	totp_secret TEXT NOT NULL DEFAULT '',
	totp_enabled BOOLEAN NOT NULL DEFAULT FALSE,
	totp_last_step BIGINT NOT NULL DEFAULT 0,
	failed_logins BIGINT NOT NULL DEFAULT 0,
	locked_until {{time}},
	status TEXT NOT NULL DEFAULT 'active',
	last_login_at {{time}},
	created_at {{time}} NOT NULL,
	updated_at {{time}} NOT NULL
);
CREATE INDEX idx_accounts_organization_id ON accounts (organization_id);
CREATE UNIQUE INDEX idx_accounts_email_index ON accounts (email_index);
CREATE TABLE sessions (
	id {{id}},
	token_hash TEXT NOT NULL,
	account_id BIGINT NOT NULL,
	organization_id BIGINT NOT NULL,
	data_key_id BIGINT NOT NULL,
	mfa_pending BOOLEAN NOT NULL DEFAULT FALSE,
	ip TEXT NOT NULL DEFAULT '',
	user_agent TEXT NOT NULL DEFAULT '',
	created_at {{time}} NOT NULL,
	last_seen_at {{time}} NOT NULL,
	expires_at {{time}} NOT NULL
);
CREATE UNIQUE INDEX idx_sessions_token_hash ON sessions (token_hash);
CREATE INDEX idx_sessions_account_id ON sessions (account_id);
CREATE INDEX idx_sessions_organization_id ON sessions (organization_id);
CREATE INDEX idx_sessions_expires_at ON sessions (expires_at);
CREATE TABLE invitations (
	id {{id}},
	organization_id BIGINT NOT NULL,
	data_key_id BIGINT NOT NULL,
	email TEXT NOT NULL DEFAULT '',
	email_index TEXT NOT NULL DEFAULT '',
	role TEXT NOT NULL,
	token_hash TEXT NOT NULL,
	invited_by_id BIGINT NOT NULL DEFAULT 0,
	expires_at {{time}} NOT NULL,
	accepted_at {{time}},
	created_at {{time}} NOT NULL
);
CREATE INDEX idx_invitations_organization_id ON invitations (organization_id);
CREATE INDEX idx_invitations_email_index ON invitations (email_index);
CREATE UNIQUE INDEX idx_invitations_token_hash ON invitations (token_hash);
CREATE TABLE password_resets (
	id {{id}},
	account_id BIGINT NOT NULL,
	token_hash TEXT NOT NULL,
	expires_at {{time}} NOT NULL,
	used_at {{time}},
	created_at {{time}} NOT NULL
);
CREATE INDEX idx_password_resets_account_id ON password_resets (account_id);
CREATE UNIQUE INDEX idx_password_resets_token_hash ON password_resets (token_hash);
CREATE TABLE recovery_codes (
	id {{id}},
	account_id BIGINT NOT NULL,
	code_hash TEXT NOT NULL,
	used_at {{time}},
	created_at {{time}} NOT NULL
);
CREATE INDEX idx_recovery_codes_account_id ON recovery_codes (account_id);
CREATE TABLE contacts (
	id {{id}},
	organization_id BIGINT NOT NULL,
	data_key_id BIGINT NOT NULL,
	name TEXT NOT NULL DEFAULT '',
	email TEXT NOT NULL DEFAULT '',
	email_index TEXT NOT NULL DEFAULT '',
	phone TEXT NOT NULL DEFAULT '',
	external_id TEXT NOT NULL DEFAULT '',
	external_id_index TEXT NOT NULL DEFAULT '',
	custom_attributes TEXT NOT NULL DEFAULT '',
	visitor_token_hash TEXT NOT NULL DEFAULT '',
	ip TEXT NOT NULL DEFAULT '',
	user_agent TEXT NOT NULL DEFAULT '',
	browser_language TEXT NOT NULL DEFAULT '',
	page_url TEXT NOT NULL DEFAULT '',
	device_type TEXT NOT NULL DEFAULT '',
	country TEXT NOT NULL DEFAULT '',
	created_at {{time}} NOT NULL,
	updated_at {{time}} NOT NULL,
	last_seen_at {{time}}
);
CREATE INDEX idx_contacts_organization_id ON contacts (organization_id);
CREATE INDEX idx_contacts_email_index ON contacts (email_index);
CREATE INDEX idx_contacts_external_id_index ON contacts (external_id_index);
CREATE INDEX idx_contacts_visitor_token_hash ON contacts (visitor_token_hash);
CREATE TABLE conversations (
	id {{id}},
	organization_id BIGINT NOT NULL,
	contact_id BIGINT NOT NULL,
	data_key_id BIGINT NOT NULL,
	subject TEXT NOT NULL DEFAULT '',
	channel TEXT NOT NULL DEFAULT 'widget',
	status TEXT NOT NULL DEFAULT 'open',
	assignee_id BIGINT,
	snoozed_until {{time}},
	resolved_at {{time}},
	last_message_at {{time}} NOT NULL,
	created_at {{time}} NOT NULL,
	updated_at {{time}} NOT NULL
);
CREATE INDEX idx_conversations_organization_id ON conversations (organization_id);
CREATE INDEX idx_conversations_contact_id ON conversations (contact_id);
CREATE TABLE messages (
	id {{id}},
	organization_id BIGINT NOT NULL,
	conversation_id BIGINT NOT NULL,
	data_key_id BIGINT NOT NULL,
	author_type TEXT NOT NULL,
	author_id BIGINT NOT NULL DEFAULT 0,
	body TEXT NOT NULL DEFAULT '',
	private BOOLEAN NOT NULL DEFAULT FALSE,
	delivery_status TEXT NOT NULL DEFAULT 'sent',
	created_at {{time}} NOT NULL,
	read_at {{time}}
);
CREATE INDEX idx_messages_organization_id ON messages (organization_id);
CREATE INDEX idx_messages_conversation_id ON messages (conversation_id);
CREATE TABLE attachments (
	id {{id}},
	organization_id BIGINT NOT NULL,
	conversation_id BIGINT NOT NULL,
	message_id BIGINT NOT NULL DEFAULT 0,
	data_key_id BIGINT NOT NULL,
	file_name TEXT NOT NULL DEFAULT '',
	content_type TEXT NOT NULL,
	size BIGINT NOT NULL,
	blob_key TEXT NOT NULL,
	created_at {{time}} NOT NULL
);
CREATE INDEX idx_attachments_organization_id ON attachments (organization_id);
CREATE INDEX idx_attachments_conversation_id ON attachments (conversation_id);
CREATE INDEX idx_attachments_message_id ON attachments (message_id);
CREATE TABLE audit_events (
	id {{id}},
	organization_id BIGINT NOT NULL DEFAULT 0,
	actor_id BIGINT NOT NULL DEFAULT 0,
	data_key_id BIGINT NOT NULL,
	action TEXT NOT NULL,
	target TEXT NOT NULL DEFAULT '',
	detail TEXT NOT NULL DEFAULT '',
	ip TEXT NOT NULL DEFAULT '',
	user_agent TEXT NOT NULL DEFAULT '',
	created_at {{time}} NOT NULL
);
CREATE INDEX idx_audit_events_organization_id ON audit_events (organization_id);
CREATE INDEX idx_audit_events_actor_id ON audit_events (actor_id);
CREATE INDEX idx_audit_events_action ON audit_events (action);
CREATE INDEX idx_audit_events_created_at ON audit_events (created_at);
CREATE TABLE usage_events (
	id {{id}},
	organization_id BIGINT NOT NULL,
	account_id BIGINT NOT NULL,
	data_key_id BIGINT NOT NULL,
	page TEXT NOT NULL DEFAULT '',
	feature TEXT NOT NULL DEFAULT '',
	browser TEXT NOT NULL DEFAULT '',
	os TEXT NOT NULL DEFAULT '',
	device_type TEXT NOT NULL DEFAULT '',
	ip TEXT NOT NULL DEFAULT '',
	referrer TEXT NOT NULL DEFAULT '',
	occurred_at {{time}} NOT NULL
);
CREATE INDEX idx_usage_events_organization_id ON usage_events (organization_id);
CREATE INDEX idx_usage_events_account_id ON usage_events (account_id);
CREATE INDEX idx_usage_events_occurred_at ON usage_events (occurred_at);
`},
	{2, "egress decision log", `
CREATE TABLE egress_decisions (
	id {{id}},
	organization_id BIGINT NOT NULL DEFAULT 0,
	subprocessor TEXT NOT NULL,
	purpose TEXT NOT NULL,
	categories TEXT NOT NULL DEFAULT '',
	allow BOOLEAN NOT NULL,
	reason TEXT NOT NULL DEFAULT '',
	drop_categories TEXT NOT NULL DEFAULT '',
	redact_categories TEXT NOT NULL DEFAULT '',
	policy_revision TEXT NOT NULL,
	created_at {{time}} NOT NULL
);
CREATE INDEX idx_egress_decisions_organization_id ON egress_decisions (organization_id);
CREATE INDEX idx_egress_decisions_subprocessor ON egress_decisions (subprocessor);
CREATE INDEX idx_egress_decisions_created_at ON egress_decisions (created_at);
`},
}

var dialectWords = map[string]map[string]string{
	"postgres": {"{{id}}": "BIGSERIAL PRIMARY KEY", "{{time}}": "TIMESTAMPTZ", "{{bytes}}": "BYTEA"},
	"sqlite":   {"{{id}}": "INTEGER PRIMARY KEY AUTOINCREMENT", "{{time}}": "DATETIME", "{{bytes}}": "BLOB"},
}

// Migrate applies every migration not yet recorded, each in its own
// transaction, and returns the versions it applied. Concurrent callers on
// PostgreSQL are serialised by an advisory lock.
func Migrate(ctx context.Context, db *gorm.DB) ([]int, error) {
	return migrateUpTo(ctx, db, LatestMigration())
}

// migrateUpTo is Migrate without the migrations after version last (a
// migration's test starts from the schema before it).
func migrateUpTo(ctx context.Context, db *gorm.DB, last int) ([]int, error) {
	dialect := db.Name()
	words, ok := dialectWords[dialect]
	if !ok {
		return nil, fmt.Errorf("migrations: unsupported database %q", dialect)
	}
	db = db.WithContext(ctx)
	if err := db.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at ` + words["{{time}}"] + ` NOT NULL)`).Error; err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	var applied []int
	err := db.Transaction(func(tx *gorm.DB) error {
		if dialect == "postgres" {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(7261420)").Error; err != nil {
				return err
			}
		}
		var done []int
		if err := tx.Model(&SchemaMigration{}).Pluck("version", &done).Error; err != nil {
			return err
		}
		have := map[int]bool{}
		for _, v := range done {
			have[v] = true
		}
		for _, m := range migrations {
			if have[m.version] || m.version > last {
				continue
			}
			sql := m.sql
			for word, replacement := range words {
				sql = strings.ReplaceAll(sql, word, replacement)
			}
			for _, stmt := range strings.Split(sql, ";") {
				if strings.TrimSpace(stmt) == "" {
					continue
				}
				if err := tx.Exec(stmt).Error; err != nil {
					return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
				}
			}
			if err := tx.Create(&SchemaMigration{Version: m.version, Name: m.name, AppliedAt: time.Now().UTC()}).Error; err != nil {
				return err
			}
			applied = append(applied, m.version)
		}
		return nil
	})
	return applied, err
}

// addMigration registers a migration from the file of its models. Versions
// are unique; they apply in order of version whatever the file order.
func addMigration(version int, name, sql string) {
	for _, m := range migrations {
		if m.version == version {
			panic(fmt.Sprintf("migrations: version %d used twice (%s, %s)", version, m.name, name))
		}
	}
	migrations = append(migrations, migration{version, name, sql})
	sort.Slice(migrations, func(i, j int) bool { return migrations[i].version < migrations[j].version })
}

// LatestMigration is the schema version this binary expects.
func LatestMigration() int { return migrations[len(migrations)-1].version }
