package dashboard

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

func (h *Handler) organizationData(o *models.Organization) gin.H {
	return gin.H{"CompanyName": o.CompanyName, "Website": o.Website, "Industry": o.Industry, "TeamSize": o.TeamSize,
		"BillingAddress": o.BillingAddress, "TaxIdentifier": o.TaxIdentifier, "Region": o.Region, "RequireMFA": o.RequireMFA, "AutoAssignOnReply": o.AutoAssignOnReply}
}

func (h *Handler) organizationPage(c *gin.Context) {
	h.Render(c, http.StatusOK, "organization", h.Page(c, "Organization", "organization", h.organizationData(site.CurrentOrg(c))))
}

func (h *Handler) saveOrganization(c *gin.Context) {
	a, o := site.CurrentAccount(c), *site.CurrentOrg(c)
	o.CompanyName = strings.TrimSpace(c.PostForm("company_name"))
	o.Website = strings.TrimSpace(c.PostForm("website"))
	o.Industry = strings.TrimSpace(c.PostForm("industry"))
	o.BillingAddress = strings.TrimSpace(c.PostForm("billing_address"))
	o.TaxIdentifier = strings.TrimSpace(c.PostForm("tax_identifier"))
	teamSize, err := strconv.Atoi(strings.TrimSpace(c.DefaultPostForm("team_size", "0")))
	msg := ""
	switch {
	case o.CompanyName == "" || len(o.CompanyName) > 200:
		msg = "Enter the company name (at most 200 characters)."
	case o.Website != "" && !httpURL(o.Website):
		msg = "The website must be an http:// or https:// URL."
	case len(o.Industry) > 100 || len(o.BillingAddress) > 1000 || len(o.TaxIdentifier) > 64:
		msg = "A field is too long."
	case err != nil || teamSize < 0 || teamSize > 1000000:
		msg = "Team size must be a whole number."
	}
	o.TeamSize = teamSize
	if msg != "" {
		h.RenderForm(c, http.StatusUnprocessableEntity, "organization", "Organization", "organization", h.organizationData(&o), msg)
		return
	}
	err = h.Store.Tx(c, func(tx *store.Store) error {
		if err := tx.SaveOrganizationProfile(c, o.ID, &o); err != nil {
			return err
		}
		return h.Audit(tx, c, o.ID, a.ID, a.DataKeyID, "organization.updated", site.Target("organization", o.ID), "")
	})
	h.Finish(c, err, "/settings/organization", "saved")
}

// saveAutoAssign turns on or off assigning a conversation to the operator
// who first replies in it.
func (h *Handler) saveAutoAssign(c *gin.Context) {
	a, o := site.CurrentAccount(c), site.CurrentOrg(c)
	on := c.PostForm("auto_assign_on_reply") == "1"
	err := h.Store.Tx(c, func(tx *store.Store) error {
		if err := tx.SetAutoAssignOnReply(c, o.ID, on); err != nil {
			return err
		}
		return h.Audit(tx, c, o.ID, a.ID, a.DataKeyID, "organization.auto_assign", site.Target("organization", o.ID), strconv.FormatBool(on))
	})
	h.Finish(c, err, "/settings/organization", "saved")
}

func (h *Handler) saveOrganizationMFA(c *gin.Context) {
	a, o := site.CurrentAccount(c), site.CurrentOrg(c)
	require := c.PostForm("require_mfa") == "1"
	if require && !a.TOTPEnabled {
		h.Fail(c, http.StatusConflict, "Organization", "Turn on two-factor authentication for yourself before requiring it of everyone.")
		return
	}
	err := h.Store.Tx(c, func(tx *store.Store) error {
		if err := tx.SetRequireMFA(c, o.ID, require); err != nil {
			return err
		}
		return h.Audit(tx, c, o.ID, a.ID, a.DataKeyID, "organization.mfa_required", site.Target("organization", o.ID), strconv.FormatBool(require))
	})
	h.Finish(c, err, "/settings/organization", "saved")
}
