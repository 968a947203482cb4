package models

func init() {
	addMigration(30, "shopify app: installs with sealed tokens, single-use OAuth states, delivered privacy webhooks", `
CREATE TABLE shopify_installs (
	id {{id}},
	organization_id BIGINT NOT NULL,
	shop TEXT NOT NULL,
	data_key_id BIGINT NOT NULL,
	access_token TEXT NOT NULL DEFAULT '',
	scopes TEXT NOT NULL DEFAULT '',
	connected_at {{time}} NOT NULL,
	disconnected_at {{time}},
	last_webhook_topic TEXT NOT NULL DEFAULT '',
	last_webhook_at {{time}},
	created_at {{time}} NOT NULL,
	updated_at {{time}} NOT NULL
);
CREATE UNIQUE INDEX idx_shopify_installs_organization_id ON shopify_installs (organization_id);
CREATE UNIQUE INDEX idx_shopify_installs_shop ON shopify_installs (shop);
CREATE TABLE shopify_oauth_states (
	id {{id}},
	organization_id BIGINT NOT NULL,
	account_id BIGINT NOT NULL,
	state_hash TEXT NOT NULL,
	session_hash TEXT NOT NULL,
	shop TEXT NOT NULL,
	scopes TEXT NOT NULL,
	expires_at {{time}} NOT NULL,
	used_at {{time}},
	created_at {{time}} NOT NULL
);
CREATE UNIQUE INDEX idx_shopify_oauth_states_state_hash ON shopify_oauth_states (state_hash);
CREATE INDEX idx_shopify_oauth_states_organization_id ON shopify_oauth_states (organization_id);
CREATE TABLE shopify_webhooks (
	id {{id}},
	webhook_id TEXT NOT NULL,
	organization_id BIGINT NOT NULL,
	shop TEXT NOT NULL,
	topic TEXT NOT NULL,
	request_id BIGINT NOT NULL DEFAULT 0,
	workflow_id TEXT NOT NULL DEFAULT '',
	received_at {{time}} NOT NULL
);
CREATE UNIQUE INDEX idx_shopify_webhooks_webhook_id ON shopify_webhooks (webhook_id);
CREATE INDEX idx_shopify_webhooks_organization_id ON shopify_webhooks (organization_id);
`)
}
