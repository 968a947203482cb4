package models

// Vulnerability reports (policy §10, §14), the Data Processing Agreement's
// acceptances (§14) and the register of disclosures (§6), issue 15.
func init() {
	addMigration(80, "vulnerability reports: mail to the security address", `
CREATE TABLE vulnerability_reports (
	id {{id}},
	data_key_id BIGINT NOT NULL,
	mail_index TEXT NOT NULL,
	reporter_email TEXT NOT NULL DEFAULT '',
	reporter_name TEXT NOT NULL DEFAULT '',
	email_index TEXT NOT NULL DEFAULT '',
	subject TEXT NOT NULL DEFAULT '',
	body TEXT NOT NULL DEFAULT '',
	status TEXT NOT NULL DEFAULT 'received',
	severity TEXT NOT NULL DEFAULT '',
	outcome TEXT NOT NULL DEFAULT '',
	received_at {{time}} NOT NULL,
	acknowledge_due_at {{time}} NOT NULL,
	acknowledged_at {{time}},
	escalated_at {{time}},
	triaged_at {{time}},
	triaged_by_id BIGINT NOT NULL DEFAULT 0,
	fixed_at {{time}},
	closed_at {{time}},
	closed_by_id BIGINT NOT NULL DEFAULT 0,
	reporter_informed_at {{time}},
	created_at {{time}} NOT NULL,
	updated_at {{time}} NOT NULL
);
CREATE UNIQUE INDEX idx_vulnerability_reports_mail_index ON vulnerability_reports (mail_index);
CREATE INDEX idx_vulnerability_reports_email_index ON vulnerability_reports (email_index);
CREATE INDEX idx_vulnerability_reports_closed_at ON vulnerability_reports (closed_at);
`)
	addMigration(81, "the Data Processing Agreement's acceptances", `
CREATE TABLE dpa_acceptances (
	id {{id}},
	organization_id BIGINT NOT NULL,
	version TEXT NOT NULL,
	text_sha256 TEXT NOT NULL DEFAULT '',
	accepted_by_id BIGINT NOT NULL DEFAULT 0,
	accepted_at {{time}} NOT NULL
);
CREATE UNIQUE INDEX idx_dpa_acceptances_org_version ON dpa_acceptances (organization_id, version);
`)
	addMigration(82, "the register of disclosures", `
CREATE TABLE disclosure_requests (
	id {{id}},
	organization_id BIGINT NOT NULL,
	data_key_id BIGINT NOT NULL,
	kind TEXT NOT NULL,
	requested_by TEXT NOT NULL DEFAULT '',
	legal_basis TEXT NOT NULL DEFAULT '',
	recipient TEXT NOT NULL DEFAULT '',
	recipient_address TEXT NOT NULL DEFAULT '',
	subject_kind TEXT NOT NULL DEFAULT '',
	subject_id BIGINT NOT NULL DEFAULT 0,
	categories TEXT NOT NULL DEFAULT '[]',
	notice_forbidden BOOLEAN NOT NULL DEFAULT FALSE,
	notice_forbidden_reason TEXT NOT NULL DEFAULT '',
	status TEXT NOT NULL DEFAULT 'received',
	due_at {{time}} NOT NULL,
	created_by_id BIGINT NOT NULL DEFAULT 0,
	approved_by_id BIGINT NOT NULL DEFAULT 0,
	decided_at {{time}},
	refusal_reason TEXT NOT NULL DEFAULT '',
	disclosed_at {{time}},
	disclosed_digest TEXT NOT NULL DEFAULT '',
	disclosed_fields BIGINT NOT NULL DEFAULT 0,
	gate_reason TEXT NOT NULL DEFAULT '',
	notified_at {{time}},
	notified BIGINT NOT NULL DEFAULT 0,
	closed_at {{time}},
	created_at {{time}} NOT NULL,
	updated_at {{time}} NOT NULL
);
CREATE INDEX idx_disclosure_requests_organization_id ON disclosure_requests (organization_id);
`)
}
