package models

func init() {
	addMigration(62, "ratings: a visitor's satisfaction rating of a resolved conversation, one per conversation", `
CREATE TABLE conversation_ratings (
	id {{id}},
	organization_id BIGINT NOT NULL,
	conversation_id BIGINT NOT NULL,
	contact_id BIGINT NOT NULL,
	data_key_id BIGINT NOT NULL,
	assignee_id BIGINT,
	score INTEGER NOT NULL,
	comment TEXT NOT NULL DEFAULT '',
	created_at {{time}} NOT NULL
);
CREATE UNIQUE INDEX idx_conversation_ratings_conversation ON conversation_ratings (conversation_id);
CREATE INDEX idx_conversation_ratings_organization ON conversation_ratings (organization_id, created_at);
CREATE INDEX idx_conversation_ratings_contact ON conversation_ratings (contact_id);
`)
}
