package models

func init() {
	// Contacts holding an address are unique by organization and address
	// (among those without an external ID: a verified external ID tells
	// people apart), so concurrent identifies make one holder. Existing
	// duplicates are kept as contacts claiming the oldest holder's
	// address: they lose the address (the holder keeps it) and an
	// operator can merge them.
	addMigration(9, "contacts: unproven identity claims, one holder per address", `
ALTER TABLE contacts ADD COLUMN claimed_contact_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE contacts ADD COLUMN claim_code_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN claim_code_sent_at {{time}};
ALTER TABLE contacts ADD COLUMN claim_code_expires_at {{time}};
ALTER TABLE contacts ADD COLUMN claim_code_attempts BIGINT NOT NULL DEFAULT 0;
CREATE INDEX idx_contacts_claimed_contact_id ON contacts (claimed_contact_id);
UPDATE contacts SET
	claimed_contact_id = (SELECT MIN(o.id) FROM contacts o WHERE o.organization_id = contacts.organization_id AND o.email_index = contacts.email_index AND o.external_id_index = ''),
	email = '', email_index = ''
WHERE email_index <> '' AND external_id_index = ''
	AND id > (SELECT MIN(o.id) FROM contacts o WHERE o.organization_id = contacts.organization_id AND o.email_index = contacts.email_index AND o.external_id_index = '');
CREATE UNIQUE INDEX idx_contacts_email_holder ON contacts (organization_id, email_index) WHERE email_index <> '' AND external_id_index = ''
`)
}
