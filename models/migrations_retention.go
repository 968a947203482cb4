package models

// Retention and lifecycle obligations (issue #6): backups, Convot's own
// support tickets, breach incidents and privacy-policy versions.
func init() {
	addMigration(6, "retention: backups, support tickets, incidents, policy versions", `
CREATE TABLE backups (
	id {{id}},
	status TEXT NOT NULL,
	prefix TEXT NOT NULL DEFAULT '',
	taken_at {{time}} NOT NULL,
	completed_at {{time}},
	expires_at {{time}} NOT NULL,
	expired_at {{time}},
	table_count BIGINT NOT NULL DEFAULT 0,
	row_count BIGINT NOT NULL DEFAULT 0,
	bytes BIGINT NOT NULL DEFAULT 0,
	parts BIGINT NOT NULL DEFAULT 0,
	manifest_sha256 TEXT NOT NULL DEFAULT '',
	master_version BIGINT NOT NULL DEFAULT 0,
	schema_version BIGINT NOT NULL DEFAULT 0,
	keys_shredded_at {{time}},
	error TEXT NOT NULL DEFAULT '',
	created_at {{time}} NOT NULL,
	updated_at {{time}} NOT NULL
);
CREATE INDEX idx_backups_taken_at ON backups (taken_at);
CREATE TABLE support_tickets (
	id {{id}},
	organization_id BIGINT NOT NULL,
	account_id BIGINT NOT NULL,
	data_key_id BIGINT NOT NULL,
	subject TEXT NOT NULL DEFAULT '',
	status TEXT NOT NULL DEFAULT 'open',
	closed_at {{time}},
	created_at {{time}} NOT NULL,
	updated_at {{time}} NOT NULL
);
CREATE INDEX idx_support_tickets_organization_id ON support_tickets (organization_id);
CREATE INDEX idx_support_tickets_account_id ON support_tickets (account_id);
CREATE INDEX idx_support_tickets_closed_at ON support_tickets (closed_at);
CREATE TABLE support_messages (
	id {{id}},
	ticket_id BIGINT NOT NULL,
	organization_id BIGINT NOT NULL,
	data_key_id BIGINT NOT NULL,
	author_type TEXT NOT NULL,
	author_id BIGINT NOT NULL DEFAULT 0,
	body TEXT NOT NULL DEFAULT '',
	created_at {{time}} NOT NULL
);
CREATE INDEX idx_support_messages_ticket_id ON support_messages (ticket_id);
CREATE INDEX idx_support_messages_organization_id ON support_messages (organization_id);
CREATE TABLE incidents (
	id {{id}},
	organization_id BIGINT NOT NULL,
	recorded_by_id BIGINT NOT NULL DEFAULT 0,
	data_key_id BIGINT NOT NULL,
	affected_organizations TEXT NOT NULL DEFAULT '[]',
	aware_at {{time}} NOT NULL,
	occurred_at {{time}},
	nature TEXT NOT NULL DEFAULT '',
	categories TEXT NOT NULL DEFAULT '[]',
	subject_kinds TEXT NOT NULL DEFAULT '[]',
	approx_subjects BIGINT NOT NULL DEFAULT 0,
	approx_records BIGINT NOT NULL DEFAULT 0,
	consequences TEXT NOT NULL DEFAULT '',
	measures TEXT NOT NULL DEFAULT '',
	contact_name TEXT NOT NULL DEFAULT '',
	contact_email TEXT NOT NULL DEFAULT '',
	risk TEXT NOT NULL DEFAULT '',
	risk_reason TEXT NOT NULL DEFAULT '',
	status TEXT NOT NULL DEFAULT 'open',
	notice_due_at {{time}} NOT NULL,
	authority_notice TEXT NOT NULL DEFAULT '',
	notice_drafted_at {{time}},
	notice_sent_at {{time}},
	notice_late BOOLEAN NOT NULL DEFAULT FALSE,
	delay_reasons TEXT NOT NULL DEFAULT '',
	users_notified_at {{time}},
	users_notified BIGINT NOT NULL DEFAULT 0,
	closed_at {{time}},
	created_at {{time}} NOT NULL,
	updated_at {{time}} NOT NULL
);
CREATE INDEX idx_incidents_organization_id ON incidents (organization_id);
CREATE TABLE incident_steps (
	id {{id}},
	incident_id BIGINT NOT NULL,
	organization_id BIGINT NOT NULL,
	once_key TEXT NOT NULL DEFAULT '',
	step TEXT NOT NULL,
	detail TEXT NOT NULL DEFAULT '',
	actor_id BIGINT NOT NULL DEFAULT 0,
	at {{time}} NOT NULL
);
CREATE INDEX idx_incident_steps_incident_id ON incident_steps (incident_id);
CREATE INDEX idx_incident_steps_organization_id ON incident_steps (organization_id);
CREATE UNIQUE INDEX idx_incident_steps_once ON incident_steps (incident_id, once_key) WHERE once_key <> '';
CREATE TABLE incident_notices (
	id {{id}},
	incident_id BIGINT NOT NULL,
	recipient_kind TEXT NOT NULL,
	recipient_id BIGINT NOT NULL,
	sent_at {{time}} NOT NULL
);
CREATE INDEX idx_incident_notices_incident_id ON incident_notices (incident_id);
CREATE UNIQUE INDEX idx_incident_notices_once ON incident_notices (incident_id, recipient_kind, recipient_id);
CREATE TABLE policy_versions (
	id {{id}},
	version BIGINT NOT NULL,
	text TEXT NOT NULL,
	summary TEXT NOT NULL DEFAULT '',
	material BOOLEAN NOT NULL DEFAULT FALSE,
	published_at {{time}} NOT NULL,
	effective_at {{time}} NOT NULL,
	created_at {{time}} NOT NULL
);
CREATE UNIQUE INDEX idx_policy_versions_version ON policy_versions (version);
CREATE INDEX idx_policy_versions_effective_at ON policy_versions (effective_at);
CREATE TABLE policy_notices (
	id {{id}},
	version BIGINT NOT NULL,
	account_id BIGINT NOT NULL,
	sent_at {{time}} NOT NULL
);
CREATE INDEX idx_policy_notices_version ON policy_notices (version);
CREATE UNIQUE INDEX idx_policy_notices_once ON policy_notices (version, account_id);
`)
}
