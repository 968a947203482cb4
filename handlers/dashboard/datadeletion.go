package dashboard

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/workflows"
)

// dataDeletionPage is the Data Deletion page the policy (§9) points to:
// how a Customer closes its account (read-only for the grace period, then
// deleted) and how an End User asks for erasure, with links to both flows.
// A signed-in owner may start the closure from it (the form posts to the
// billing closure, which asks for the password).
type dataDeletionPage struct {
	GraceDays int
	CanClose  bool
	Closed    bool
}

func (h *Handler) dataDeletionPage(c *gin.Context) {
	d := dataDeletionPage{GraceDays: int(workflows.CancellationGracePeriod.Hours() / 24)}
	if a := site.CurrentAccount(c); a != nil {
		d.CanClose = site.PermissionsOf(a.Role)["account_close"]
		if o := site.CurrentOrg(c); o != nil && o.Status == models.OrgCancelled {
			d.Closed = true
		}
	}
	h.Render(c, http.StatusOK, "data_deletion", h.Page(c, "Data deletion", "", d))
}
