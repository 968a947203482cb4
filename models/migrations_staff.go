package models

func init() {
	addMigration(75, "staff: Convot's own staff members, each a dashboard account", `
CREATE TABLE staff_members (
	id {{id}},
	account_id BIGINT NOT NULL,
	created_at {{time}} NOT NULL
);
CREATE UNIQUE INDEX idx_staff_members_account_id ON staff_members (account_id);
`)
}
