package models

func init() {
	addMigration(42, "AI automated answers: a message the bot wrote; a conversation handed to the team, when and why", `
ALTER TABLE messages ADD COLUMN automated BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE conversations ADD COLUMN handed_over_at {{time}};
ALTER TABLE conversations ADD COLUMN handover_reason TEXT NOT NULL DEFAULT ''
`)
}
