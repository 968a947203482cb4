package models

func init() {
	addMigration(76, "access events: operators opening personal data, kept as an access log", `
CREATE TABLE access_events (
	id {{id}},
	organization_id BIGINT NOT NULL,
	account_id BIGINT NOT NULL,
	action TEXT NOT NULL,
	target TEXT NOT NULL,
	created_at {{time}} NOT NULL
);
CREATE INDEX idx_access_events_organization_id ON access_events (organization_id, id);
CREATE INDEX idx_access_events_account_id ON access_events (account_id);
CREATE INDEX idx_access_events_created_at ON access_events (created_at);
`)
	addMigration(77, "test results: when each test cited by the promise ledger last passed", `
CREATE TABLE test_results (
	id {{id}},
	name TEXT NOT NULL,
	last_result TEXT NOT NULL,
	last_run_at {{time}} NOT NULL,
	last_passed_at {{time}},
	revision TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX idx_test_results_name ON test_results (name);
`)
}
