package models

func init() {
	// The drain takes each conversation's oldest row: (conversation_id, id).
	addMigration(12, "lifecycle outbox: signals to conversation workflows, written with their change", `
CREATE TABLE lifecycle_outbox (
	id {{id}},
	organization_id BIGINT NOT NULL,
	conversation_id BIGINT NOT NULL,
	inactivity_hours BIGINT NOT NULL,
	signal TEXT NOT NULL,
	arg TEXT NOT NULL,
	created_at {{time}} NOT NULL
);
CREATE INDEX idx_lifecycle_outbox_conversation ON lifecycle_outbox (conversation_id, id);
`)
}
