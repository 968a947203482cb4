package models

func init() {
	addMigration(20, "webhooks: Customers' endpoints, events, deliveries and attempts", `
CREATE TABLE webhook_endpoints (
	id {{id}},
	organization_id BIGINT NOT NULL,
	data_key_id BIGINT NOT NULL,
	url TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	events TEXT NOT NULL,
	include_content BOOLEAN NOT NULL DEFAULT FALSE,
	secret TEXT NOT NULL,
	previous_secret TEXT NOT NULL DEFAULT '',
	previous_until {{time}},
	enabled BOOLEAN NOT NULL DEFAULT TRUE,
	failing_since {{time}},
	disabled_reason TEXT NOT NULL DEFAULT '',
	created_at {{time}} NOT NULL,
	updated_at {{time}} NOT NULL
);
CREATE INDEX idx_webhook_endpoints_org ON webhook_endpoints (organization_id);
CREATE TABLE webhook_events (
	id {{id}},
	organization_id BIGINT NOT NULL,
	type TEXT NOT NULL,
	conversation_id BIGINT NOT NULL DEFAULT 0,
	message_id BIGINT NOT NULL DEFAULT 0,
	contact_id BIGINT NOT NULL DEFAULT 0,
	request_id BIGINT NOT NULL DEFAULT 0,
	created_at {{time}} NOT NULL
);
CREATE INDEX idx_webhook_events_org ON webhook_events (organization_id, id);
CREATE TABLE webhook_deliveries (
	id {{id}},
	organization_id BIGINT NOT NULL,
	endpoint_id BIGINT NOT NULL,
	event_id BIGINT NOT NULL,
	status TEXT NOT NULL DEFAULT 'pending',
	started BOOLEAN NOT NULL DEFAULT FALSE,
	attempts BIGINT NOT NULL DEFAULT 0,
	last_attempt_at {{time}},
	delivered_at {{time}},
	created_at {{time}} NOT NULL
);
CREATE UNIQUE INDEX idx_webhook_deliveries_once ON webhook_deliveries (endpoint_id, event_id);
CREATE INDEX idx_webhook_deliveries_unstarted ON webhook_deliveries (started, id);
CREATE TABLE webhook_attempts (
	id {{id}},
	organization_id BIGINT NOT NULL,
	delivery_id BIGINT NOT NULL,
	attempted_at {{time}} NOT NULL,
	status_code BIGINT NOT NULL DEFAULT 0,
	latency_millis BIGINT NOT NULL DEFAULT 0,
	error TEXT NOT NULL DEFAULT '',
	response_excerpt TEXT NOT NULL DEFAULT ''
);
CREATE INDEX idx_webhook_attempts_delivery ON webhook_attempts (delivery_id, id);
`)
}

func init() {
	// A contact.deleted event names the erased contact in a column of its
	// own: the erasure deletes every row whose contact_id is the subject's
	// (the event's own among them), and its completeness scan would find
	// the announcement of the deletion as a remnant. The ID names a row
	// that no longer exists; the Customer knows whom it named.
	addMigration(21, "webhooks: the contact a contact.deleted event names", `
ALTER TABLE webhook_events ADD COLUMN deleted_contact_id BIGINT NOT NULL DEFAULT 0;
`)
}
