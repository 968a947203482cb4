package models

func init() {
	addMigration(60, "labels: an organization's conversation labels; each conversation lists its labels", `
CREATE TABLE labels (
	id {{id}},
	organization_id BIGINT NOT NULL,
	name TEXT NOT NULL,
	created_at {{time}} NOT NULL
);
CREATE UNIQUE INDEX idx_labels_organization_name ON labels (organization_id, name);
ALTER TABLE conversations ADD COLUMN label_ids TEXT NOT NULL DEFAULT ',';
`)
	addMigration(61, "inbox: assign a conversation to the operator who first replies (an organization setting)", `
ALTER TABLE organizations ADD COLUMN auto_assign_on_reply BOOLEAN NOT NULL DEFAULT FALSE;
`)
}
