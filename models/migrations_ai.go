package models

func init() {
	addMigration(40, "AI assistance: per-organization feature switches, the contact's language, AI outputs, embeddings, help articles", `
ALTER TABLE organizations ADD COLUMN ai_settings TEXT NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN language TEXT NOT NULL DEFAULT '';
CREATE TABLE ai_outputs (
	id {{id}},
	organization_id BIGINT NOT NULL,
	conversation_id BIGINT NOT NULL,
	contact_id BIGINT NOT NULL,
	message_id BIGINT NOT NULL DEFAULT 0,
	data_key_id BIGINT NOT NULL,
	kind TEXT NOT NULL,
	provider TEXT NOT NULL,
	language TEXT NOT NULL DEFAULT '',
	text TEXT NOT NULL DEFAULT '',
	created_at {{time}} NOT NULL
);
CREATE INDEX idx_ai_outputs_organization_id ON ai_outputs (organization_id);
CREATE INDEX idx_ai_outputs_conversation_id ON ai_outputs (conversation_id);
CREATE INDEX idx_ai_outputs_contact_id ON ai_outputs (contact_id);
CREATE TABLE ai_embeddings (
	id {{id}},
	organization_id BIGINT NOT NULL,
	conversation_id BIGINT NOT NULL,
	contact_id BIGINT NOT NULL,
	data_key_id BIGINT NOT NULL,
	model TEXT NOT NULL,
	vector TEXT NOT NULL DEFAULT '',
	updated_at {{time}} NOT NULL
);
CREATE UNIQUE INDEX idx_ai_embeddings_conversation ON ai_embeddings (organization_id, conversation_id);
CREATE INDEX idx_ai_embeddings_contact_id ON ai_embeddings (contact_id);
CREATE TABLE help_articles (
	id {{id}},
	organization_id BIGINT NOT NULL,
	title TEXT NOT NULL,
	body TEXT NOT NULL,
	created_at {{time}} NOT NULL,
	updated_at {{time}} NOT NULL
);
CREATE INDEX idx_help_articles_organization_id ON help_articles (organization_id)
`)
}
