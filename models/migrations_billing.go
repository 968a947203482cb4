package models

func init() {
	addMigration(4, "billing: subscriptions, payment methods, invoices, payments, processed Stripe events", `
CREATE TABLE subscriptions (
	id {{id}},
	organization_id BIGINT NOT NULL,
	stripe_customer_id TEXT NOT NULL DEFAULT '',
	stripe_subscription_id TEXT NOT NULL DEFAULT '',
	plan TEXT NOT NULL DEFAULT 'free',
	status TEXT NOT NULL DEFAULT '',
	current_period_end {{time}},
	cancel_at {{time}},
	cancel_at_period_end BOOLEAN NOT NULL DEFAULT FALSE,
	canceled_at {{time}},
	last_event_at {{time}},
	created_at {{time}} NOT NULL,
	updated_at {{time}} NOT NULL
);
CREATE UNIQUE INDEX idx_subscriptions_organization_id ON subscriptions (organization_id);
CREATE INDEX idx_subscriptions_stripe_customer_id ON subscriptions (stripe_customer_id);
CREATE INDEX idx_subscriptions_stripe_subscription_id ON subscriptions (stripe_subscription_id);
CREATE TABLE payment_methods (
	id {{id}},
	organization_id BIGINT NOT NULL,
	data_key_id BIGINT NOT NULL,
	card_brand TEXT NOT NULL DEFAULT '',
	card_last4 TEXT NOT NULL DEFAULT '',
	created_at {{time}} NOT NULL,
	updated_at {{time}} NOT NULL
);
CREATE UNIQUE INDEX idx_payment_methods_organization_id ON payment_methods (organization_id);
CREATE TABLE invoices (
	id {{id}},
	organization_id BIGINT NOT NULL,
	data_key_id BIGINT NOT NULL,
	stripe_invoice_id TEXT NOT NULL,
	number TEXT NOT NULL DEFAULT '',
	status TEXT NOT NULL DEFAULT '',
	currency TEXT NOT NULL DEFAULT '',
	amount_due BIGINT NOT NULL DEFAULT 0,
	amount_paid BIGINT NOT NULL DEFAULT 0,
	amount_remaining BIGINT NOT NULL DEFAULT 0,
	period_start {{time}},
	period_end {{time}},
	issued_at {{time}} NOT NULL,
	paid_at {{time}},
	hosted_invoice_url TEXT NOT NULL DEFAULT '',
	invoice_pdf TEXT NOT NULL DEFAULT '',
	created_at {{time}} NOT NULL,
	updated_at {{time}} NOT NULL
);
CREATE INDEX idx_invoices_organization_id ON invoices (organization_id, issued_at);
CREATE UNIQUE INDEX idx_invoices_stripe_invoice_id ON invoices (stripe_invoice_id);
CREATE TABLE payments (
	id {{id}},
	organization_id BIGINT NOT NULL,
	reference TEXT NOT NULL,
	stripe_invoice_id TEXT NOT NULL DEFAULT '',
	status TEXT NOT NULL,
	amount BIGINT NOT NULL DEFAULT 0,
	currency TEXT NOT NULL DEFAULT '',
	attempt_count BIGINT NOT NULL DEFAULT 0,
	attempted_at {{time}} NOT NULL,
	created_at {{time}} NOT NULL
);
CREATE INDEX idx_payments_organization_id ON payments (organization_id);
CREATE UNIQUE INDEX idx_payments_reference ON payments (reference);
CREATE INDEX idx_payments_stripe_invoice_id ON payments (stripe_invoice_id);
CREATE TABLE processed_stripe_events (
	id {{id}},
	event_id TEXT NOT NULL,
	type TEXT NOT NULL,
	organization_id BIGINT NOT NULL DEFAULT 0,
	processed_at {{time}} NOT NULL
);
CREATE UNIQUE INDEX idx_processed_stripe_events_event_id ON processed_stripe_events (event_id);
CREATE INDEX idx_processed_stripe_events_organization_id ON processed_stripe_events (organization_id);
CREATE INDEX idx_processed_stripe_events_processed_at ON processed_stripe_events (processed_at);
`)
	addMigration(8, "plan limits: conversations started per organization and month", `
CREATE TABLE conversation_usages (
	id {{id}},
	organization_id BIGINT NOT NULL,
	month TEXT NOT NULL,
	started BIGINT NOT NULL DEFAULT 0,
	limit_reached_at {{time}},
	updated_at {{time}} NOT NULL
);
CREATE UNIQUE INDEX idx_conversation_usages_month ON conversation_usages (organization_id, month);
CREATE INDEX idx_conversations_organization_created ON conversations (organization_id, created_at);
`)
	// The month's counter in shards, so that conversation starts in one
	// organization do not all wait for one row (issue 16); see
	// CountConversationStart.
	addMigration(86, "plan limits: the month's conversation counter in shards", `
ALTER TABLE conversation_usages ADD COLUMN shard INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversation_usages ADD COLUMN cap BIGINT NOT NULL DEFAULT 0;
ALTER TABLE conversation_usages ADD COLUMN split_limit BIGINT;
DROP INDEX idx_conversation_usages_month;
CREATE UNIQUE INDEX idx_conversation_usages_shard ON conversation_usages (organization_id, month, shard);
`)
	// A Stripe event for no known organization is kept for review, not
	// recorded as processed and forgotten.
	addMigration(11, "billing: Stripe events for no known organization kept for review", `
ALTER TABLE processed_stripe_events ADD COLUMN status TEXT NOT NULL DEFAULT 'processed';
ALTER TABLE processed_stripe_events ADD COLUMN reason TEXT NOT NULL DEFAULT '';
CREATE INDEX idx_processed_stripe_events_status ON processed_stripe_events (status);
`)
}
