package site

import "github.com/convot/convot/models"

// Permission is one thing an operator may do in the dashboard.
type Permission struct {
	Name        string
	Description string
	Roles       []string
}

// Permissions is the one source of who may do what: the routes check it,
// and the team page shows it to every owner and admin.
var Permissions = []Permission{
	{"dashboard_view", "See the overview, own profile and security settings", []string{models.RoleOwner, models.RoleAdmin, models.RoleAgent, models.RoleAuditor}},
	{"inbox_use", "Read and answer conversations, manage contacts", []string{models.RoleOwner, models.RoleAdmin, models.RoleAgent}},
	{"labels_manage", "Create and delete the labels conversations are sorted by", []string{models.RoleOwner, models.RoleAdmin}},
	{"canned_manage", "Write, edit and delete the team's canned responses", []string{models.RoleOwner, models.RoleAdmin}},
	{"team_view", "See the team and pending invitations", []string{models.RoleOwner, models.RoleAdmin}},
	{"team_invite", "Invite admins, agents and auditors", []string{models.RoleOwner, models.RoleAdmin}},
	{"team_remove", "Remove members (never the owner)", []string{models.RoleOwner, models.RoleAdmin}},
	{"team_change_role", "Change a member's role", []string{models.RoleOwner}},
	{"organization_edit", "Edit company details and billing address", []string{models.RoleOwner, models.RoleAdmin}},
	{"widget_edit", "Configure the chat widget: allowed sites, identity verification, appearance, inactivity period", []string{models.RoleOwner, models.RoleAdmin}},
	{"organization_require_mfa", "Require two-factor authentication for everyone", []string{models.RoleOwner}},
	{"audit_log_view", "Read the audit log of sign-ins and changes", []string{models.RoleOwner, models.RoleAdmin, models.RoleAuditor}},
	{"auditor_view", "Read the policies, decision log, subprocessors, record of processing and promise ledger", []string{models.RoleOwner, models.RoleAdmin, models.RoleAuditor}},
	{"dpa_accept", "Accept the Data Processing Agreement for the organization", []string{models.RoleOwner}},
	{"billing_manage", "Manage the subscription and payment method", []string{models.RoleOwner}},
	{"account_close", "Close the organization's account", []string{models.RoleOwner}},
	{"privacy_requests_view", "See data-subject requests, their progress and evidence", []string{models.RoleOwner, models.RoleAdmin, models.RoleAuditor}},
	{"privacy_requests_manage", "Decide data-subject requests as privacy officer: approve, reject, extend, retry", []string{models.RoleOwner, models.RoleAdmin}},
	{"privacy_requests_log", "Log a data-subject request for a contact, or flag a contact as under 16", []string{models.RoleOwner, models.RoleAdmin, models.RoleAgent}},
	{"incident_manage", "Record personal data breaches, assess their risk and mark the authority's notice sent", []string{models.RoleOwner, models.RoleAdmin}},
	{"reports_view", "See the reports: conversations, response and resolution times, ratings", []string{models.RoleOwner, models.RoleAdmin}},
	{"support_contact", "Open support tickets with Convot and read the replies", []string{models.RoleOwner, models.RoleAdmin}},
}

// Can reports whether a role holds a permission.
func Can(role, permission string) bool {
	for _, p := range Permissions {
		if p.Name == permission {
			for _, r := range p.Roles {
				if r == role {
					return true
				}
			}
			return false
		}
	}
	return false
}

func PermissionsOf(role string) map[string]bool {
	out := map[string]bool{}
	for _, p := range Permissions {
		out[p.Name] = Can(role, p.Name)
	}
	return out
}
