package models

func init() {
	addMigration(5, "email channel: support addresses, threads, Message-IDs, suppressions, unsubscribe tokens", `
ALTER TABLE organizations ADD COLUMN support_address TEXT NOT NULL DEFAULT '';
ALTER TABLE organizations ADD COLUMN support_address_index TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX idx_organizations_support_address_index ON organizations (support_address_index) WHERE support_address_index <> '';
CREATE TABLE email_threads (
	conversation_id BIGINT PRIMARY KEY,
	organization_id BIGINT NOT NULL,
	data_key_id BIGINT NOT NULL,
	reply_token TEXT NOT NULL,
	reply_token_index TEXT NOT NULL,
	notified_up_to BIGINT NOT NULL DEFAULT 0,
	created_at {{time}} NOT NULL,
	updated_at {{time}} NOT NULL
);
CREATE UNIQUE INDEX idx_email_threads_reply_token_index ON email_threads (reply_token_index);
CREATE INDEX idx_email_threads_organization_id ON email_threads (organization_id);
CREATE TABLE email_messages (
	id {{id}},
	organization_id BIGINT NOT NULL,
	conversation_id BIGINT NOT NULL,
	message_id BIGINT NOT NULL DEFAULT 0,
	data_key_id BIGINT NOT NULL,
	direction TEXT NOT NULL,
	header_id TEXT NOT NULL,
	header_id_index TEXT NOT NULL,
	created_at {{time}} NOT NULL
);
CREATE INDEX idx_email_messages_organization_id ON email_messages (organization_id);
CREATE INDEX idx_email_messages_conversation_id ON email_messages (conversation_id);
CREATE INDEX idx_email_messages_header_id_index ON email_messages (header_id_index);
CREATE TABLE email_suppressions (
	id {{id}},
	email_index TEXT NOT NULL,
	kind TEXT NOT NULL,
	bounce_type TEXT NOT NULL DEFAULT '',
	suppresses BOOLEAN NOT NULL DEFAULT FALSE,
	postmark_id BIGINT NOT NULL DEFAULT 0,
	stream TEXT NOT NULL DEFAULT '',
	occurred_at {{time}} NOT NULL,
	lifted_at {{time}},
	created_at {{time}} NOT NULL
);
CREATE INDEX idx_email_suppressions_email_index ON email_suppressions (email_index);
CREATE INDEX idx_email_suppressions_postmark_id ON email_suppressions (postmark_id);
CREATE TABLE unsubscribe_tokens (
	id {{id}},
	organization_id BIGINT NOT NULL,
	account_id BIGINT NOT NULL,
	consent_id BIGINT NOT NULL DEFAULT 0,
	token_hash TEXT NOT NULL,
	created_at {{time}} NOT NULL,
	used_at {{time}}
);
CREATE UNIQUE INDEX idx_unsubscribe_tokens_token_hash ON unsubscribe_tokens (token_hash);
CREATE INDEX idx_unsubscribe_tokens_organization_id ON unsubscribe_tokens (organization_id);
CREATE INDEX idx_unsubscribe_tokens_account_id ON unsubscribe_tokens (account_id);
`)
}

func init() {
	// Postmark delivers a mail again when it missed the answer, sometimes
	// while the first delivery is still running: one inbound mail per
	// organization and Message-ID is a constraint, not a check in Go.
	// Duplicates taken in before it are dropped (the oldest row stays, so
	// replies still thread into the first conversation).
	addMigration(10, "email channel: one inbound mail per organization and Message-ID", `
DELETE FROM email_messages WHERE direction = 'in' AND id NOT IN (
	SELECT MIN(id) FROM email_messages WHERE direction = 'in' GROUP BY organization_id, header_id_index
);
CREATE UNIQUE INDEX idx_email_messages_inbound ON email_messages (organization_id, header_id_index) WHERE direction = 'in';
`)
}
