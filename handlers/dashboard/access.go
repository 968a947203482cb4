package dashboard

import "github.com/convot/convot/models"

// invitableRoles are the roles an inviter may hand out: never owner.
func invitableRoles() []string {
	return []string{models.RoleAdmin, models.RoleAgent, models.RoleAuditor}
}
