package models

func init() {
	addMigration(3, "conversations: widget settings, visitor tokens, canned responses, presence", `
ALTER TABLE organizations ADD COLUMN allowed_origins TEXT NOT NULL DEFAULT '';
ALTER TABLE organizations ADD COLUMN identity_verification BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE organizations ADD COLUMN identity_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE organizations ADD COLUMN inactivity_hours BIGINT NOT NULL DEFAULT 24;
ALTER TABLE organizations ADD COLUMN widget_color TEXT NOT NULL DEFAULT '#2f6f4f';
ALTER TABLE organizations ADD COLUMN widget_greeting TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN presence_at {{time}};
DROP INDEX idx_contacts_visitor_token_hash;
ALTER TABLE contacts DROP COLUMN visitor_token_hash;
CREATE TABLE visitor_tokens (
	id {{id}},
	organization_id BIGINT NOT NULL,
	contact_id BIGINT NOT NULL,
	token_hash TEXT NOT NULL,
	created_at {{time}} NOT NULL,
	last_seen_at {{time}} NOT NULL
);
CREATE UNIQUE INDEX idx_visitor_tokens_token_hash ON visitor_tokens (token_hash);
CREATE INDEX idx_visitor_tokens_organization_id ON visitor_tokens (organization_id);
CREATE INDEX idx_visitor_tokens_contact_id ON visitor_tokens (contact_id);
CREATE TABLE canned_responses (
	id {{id}},
	organization_id BIGINT NOT NULL,
	shortcut TEXT NOT NULL,
	body TEXT NOT NULL,
	created_at {{time}} NOT NULL,
	updated_at {{time}} NOT NULL
);
CREATE INDEX idx_canned_responses_organization_id ON canned_responses (organization_id);
CREATE INDEX idx_conversations_org_status ON conversations (organization_id, status, last_message_at);
`)
}
