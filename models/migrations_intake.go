package models

// Convot's contact addresses and their intake (issue 15): the policy text
// names its contact addresses by placeholder, filled from settings when
// served.
func init() {
	// Version 1 of the policy, seeded from the embedded text before this
	// change, holds an e-mail-obfuscation artefact where its six contact
	// addresses belong; each becomes the placeholder its context names
	// (§9 rights and §12 children: privacy; §10: security; §14: each).
	addMigration(70, "policy text: contact addresses as placeholders", `
UPDATE policy_versions SET text = REPLACE(text, 'please contact us at [email protected]. We will respond', 'please contact us at {{privacy_address}}. We will respond');
UPDATE policy_versions SET text = REPLACE(text, 'report it responsibly to [email protected].', 'report it responsibly to {{security_address}}.');
UPDATE policy_versions SET text = REPLACE(text, 'please contact us at [email protected] and we will promptly delete it', 'please contact us at {{privacy_address}} and we will promptly delete it');
UPDATE policy_versions SET text = REPLACE(text, 'data subject requests: [email protected]', 'data subject requests: {{privacy_address}}');
UPDATE policy_versions SET text = REPLACE(text, 'Security vulnerability reports: [email protected]', 'Security vulnerability reports: {{security_address}}');
UPDATE policy_versions SET text = REPLACE(text, 'General support: [email protected]', 'General support: {{support_address}}');
`)
	// Mail to Convot's support address opens a ticket, once per mail.
	addMigration(71, "support tickets: opened by mail", `
ALTER TABLE support_tickets ADD COLUMN mail_index TEXT;
CREATE UNIQUE INDEX idx_support_tickets_mail_index ON support_tickets (mail_index);
`)
}
