package dashboard

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// Email settings: the organization's support address (where inbound mail
// for it is recognized), each operator's marketing consent (policy §3,
// §4), one-click unsubscribe (RFC 8058), and the marketing send itself.

func (h *Handler) emailSettingsData(org *models.Organization, address string) gin.H {
	return gin.H{"SupportAddress": address, "InboundDomain": h.Config.InboundDomain, "Saved": org.SupportAddress}
}

func (h *Handler) emailSettingsPage(c *gin.Context) {
	org := site.CurrentOrg(c)
	h.Render(c, http.StatusOK, "email_settings", h.Page(c, "Email", "email", h.emailSettingsData(org, org.SupportAddress)))
}

func (h *Handler) saveEmailSettings(c *gin.Context) {
	org, a := site.CurrentOrg(c), site.CurrentAccount(c)
	raw := strings.TrimSpace(c.PostForm("support_address"))
	refuse := func(status int, msg string) {
		p := h.Page(c, "Email", "email", h.emailSettingsData(org, raw))
		p.Error = msg
		if site.WantsJSON(c) {
			c.JSON(status, gin.H{"error": msg})
			return
		}
		h.Render(c, status, "email_settings", p)
	}
	address := ""
	if raw != "" {
		var err error
		if address, err = validEmail(raw); err != nil {
			refuse(http.StatusUnprocessableEntity, err.Error())
			return
		}
		domain := address[strings.LastIndexByte(address, '@')+1:]
		if domain == h.Config.InboundDomain || strings.HasSuffix(domain, "."+h.Config.InboundDomain) || address == h.Config.PrivacyAddress || address == h.Config.SecurityAddress || address == h.Config.SupportAddress {
			refuse(http.StatusUnprocessableEntity, "Use your own support address; addresses at Convot's inbound domain and the privacy address are reserved.")
			return
		}
	}
	index := h.Keys.BlindIndex(address)
	err := h.Store.Tx(c, func(tx *store.Store) error {
		if index != "" {
			taken, err := tx.SupportAddressTaken(c, index, org.ID)
			if err != nil {
				return err
			}
			if taken {
				return errAddressTaken
			}
		}
		if err := tx.SetSupportAddress(c, org.ID, org.DataKeyID, address, index); err != nil {
			if store.IsDuplicate(err) {
				return errAddressTaken
			}
			return err
		}
		return h.Audit(tx, c, org.ID, a.ID, a.DataKeyID, "organization.support_address_changed", site.Target("organization", org.ID), "")
	})
	if errors.Is(err, errAddressTaken) {
		refuse(http.StatusConflict, "Another organization uses this support address already.")
		return
	}
	h.Finish(c, err, "/settings/email", "saved")
}

var errAddressTaken = errors.New("support address taken")
