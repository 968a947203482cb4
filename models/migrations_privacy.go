package models

func init() {
	addMigration(7, "data-subject requests: requests, exports, subject preferences; data key indexes for erasure", `
CREATE TABLE privacy_requests (
	id {{id}},
	organization_id BIGINT NOT NULL DEFAULT 0,
	data_key_id BIGINT NOT NULL,
	controller TEXT NOT NULL,
	subject_kind TEXT NOT NULL,
	subject_id BIGINT NOT NULL DEFAULT 0,
	subject_ids TEXT,
	subject_key_ids TEXT,
	subject_owner BOOLEAN NOT NULL DEFAULT FALSE,
	type TEXT NOT NULL,
	ground TEXT NOT NULL DEFAULT '',
	for_child BOOLEAN NOT NULL DEFAULT FALSE,
	source TEXT NOT NULL,
	source_ref TEXT NOT NULL DEFAULT '',
	requester_email TEXT NOT NULL DEFAULT '',
	email_index TEXT NOT NULL DEFAULT '',
	changes TEXT NOT NULL DEFAULT '',
	scan_terms TEXT NOT NULL DEFAULT '',
	scan_blob_keys TEXT,
	status TEXT NOT NULL,
	step TEXT NOT NULL DEFAULT '',
	received_at {{time}} NOT NULL,
	deadline {{time}} NOT NULL,
	extended BOOLEAN NOT NULL DEFAULT FALSE,
	extension_reason TEXT NOT NULL DEFAULT '',
	verification_method TEXT NOT NULL DEFAULT '',
	verified_at {{time}},
	code_hash TEXT NOT NULL DEFAULT '',
	code_expires_at {{time}},
	code_attempts BIGINT NOT NULL DEFAULT 0,
	codes_sent BIGINT NOT NULL DEFAULT 0,
	logged_by_id BIGINT NOT NULL DEFAULT 0,
	decided_by_id BIGINT NOT NULL DEFAULT 0,
	rejection_reason TEXT NOT NULL DEFAULT '',
	completed_at {{time}},
	result TEXT NOT NULL DEFAULT '',
	evidence TEXT NOT NULL DEFAULT '',
	created_at {{time}} NOT NULL,
	updated_at {{time}} NOT NULL
);
CREATE INDEX idx_privacy_requests_organization_id ON privacy_requests (organization_id);
CREATE INDEX idx_privacy_requests_subject_id ON privacy_requests (subject_id);
CREATE INDEX idx_privacy_requests_type ON privacy_requests (type);
CREATE INDEX idx_privacy_requests_email_index ON privacy_requests (email_index);
CREATE INDEX idx_privacy_requests_status ON privacy_requests (status);
CREATE INDEX idx_privacy_requests_deadline ON privacy_requests (deadline);
CREATE INDEX idx_privacy_requests_source_ref ON privacy_requests (source_ref);
CREATE TABLE privacy_exports (
	id {{id}},
	organization_id BIGINT NOT NULL DEFAULT 0,
	request_id BIGINT NOT NULL,
	data_key_id BIGINT NOT NULL,
	format TEXT NOT NULL,
	file_name TEXT NOT NULL,
	content_type TEXT NOT NULL,
	blob_key TEXT NOT NULL,
	size BIGINT NOT NULL DEFAULT 0,
	token_hash TEXT NOT NULL,
	expires_at {{time}} NOT NULL,
	used_at {{time}},
	created_at {{time}} NOT NULL
);
CREATE INDEX idx_privacy_exports_organization_id ON privacy_exports (organization_id);
CREATE INDEX idx_privacy_exports_request_id ON privacy_exports (request_id);
CREATE UNIQUE INDEX idx_privacy_exports_token_hash ON privacy_exports (token_hash);
CREATE INDEX idx_privacy_exports_data_key_id ON privacy_exports (data_key_id);
CREATE TABLE subject_preferences (
	id {{id}},
	organization_id BIGINT NOT NULL DEFAULT 0,
	contact_id BIGINT NOT NULL DEFAULT 0,
	account_id BIGINT NOT NULL DEFAULT 0,
	kind TEXT NOT NULL,
	value TEXT NOT NULL DEFAULT '',
	active BOOLEAN NOT NULL,
	source TEXT NOT NULL DEFAULT '',
	wording_version TEXT NOT NULL DEFAULT '',
	request_id BIGINT NOT NULL DEFAULT 0,
	created_at {{time}} NOT NULL
);
CREATE INDEX idx_subject_preferences_organization_id ON subject_preferences (organization_id);
CREATE INDEX idx_subject_preferences_contact_id ON subject_preferences (contact_id);
CREATE INDEX idx_subject_preferences_account_id ON subject_preferences (account_id);
CREATE INDEX idx_messages_data_key_id ON messages (data_key_id);
CREATE INDEX idx_conversations_data_key_id ON conversations (data_key_id);
CREATE INDEX idx_attachments_data_key_id ON attachments (data_key_id);
CREATE INDEX idx_sessions_data_key_id ON sessions (data_key_id);
CREATE INDEX idx_audit_events_data_key_id ON audit_events (data_key_id);
CREATE INDEX idx_usage_events_data_key_id ON usage_events (data_key_id);
`)
}
