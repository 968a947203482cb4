package models

func init() {
	addMigration(41, "AI routing rules: example texts per operator", `
CREATE TABLE routing_examples (
	id {{id}},
	organization_id BIGINT NOT NULL,
	account_id BIGINT NOT NULL,
	text TEXT NOT NULL,
	created_at {{time}} NOT NULL
);
CREATE INDEX idx_routing_examples_organization_id ON routing_examples (organization_id)
`)
}
