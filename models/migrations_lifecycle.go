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
	// A signal that may wait (a contact's message the lifecycle can hear of
	// late) waits for its conversation's next delivery, or for the drain's
	// deferral to run out; rows from before are all due at once.
	addMigration(85, "lifecycle outbox: signals that may wait", `
ALTER TABLE lifecycle_outbox ADD COLUMN may_wait BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX idx_lifecycle_outbox_due ON lifecycle_outbox (conversation_id) WHERE NOT may_wait;
`)
	// A drain finds the signals whose wait ran out without reading those
	// still waiting (issue 16: at 1,000 messages/s, 4,096 rows read at each
	// of a node's ten drains a second).
	addMigration(87, "lifecycle outbox: signals by age", `
CREATE INDEX idx_lifecycle_outbox_created ON lifecycle_outbox (created_at);
`)
}
