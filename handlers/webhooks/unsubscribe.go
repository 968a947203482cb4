package webhooks

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/store"
)

// The one-click unsubscribe links of marketing mail (RFC 8058): the
// token in the link is the credential, for this one withdrawal only.

// unsubscribePage asks before it unsubscribes: a GET never changes
// anything (mail scanners follow links).
func (h *Handler) unsubscribePage(c *gin.Context) {
	tok, err := h.Store.UnsubscribeTokenByToken(c, c.Param("token"))
	if errors.Is(err, store.ErrNotFound) {
		h.Fail(c, http.StatusNotFound, "Unknown link", "This unsubscribe link is not valid.")
		return
	}
	if err != nil {
		h.Internal(c, err)
		return
	}
	current, err := h.Store.MarketingConsent(c, tok.OrganizationID, tok.AccountID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		h.Internal(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
	h.Render(c, http.StatusOK, "unsubscribe", h.Page(c, "Unsubscribe", "", gin.H{"Token": c.Param("token"), "Subscribed": current != nil, "Done": false}))
}

// unsubscribe withdraws the marketing consent the token was issued for, at
// once and recorded: RFC 8058 one-click (a mail client POSTs
// List-Unsubscribe=One-Click) or the button of the page. No session and no
// CSRF token: the unguessable token is the credential, and it can do
// nothing but this.
func (h *Handler) unsubscribe(c *gin.Context) {
	source := "unsubscribe_page"
	if c.PostForm("List-Unsubscribe") == "One-Click" {
		source = "one_click"
	}
	found, err := h.withdrawByToken(c, c.Param("token"), source)
	if err != nil {
		h.Internal(c, err)
		return
	}
	if !found {
		h.Fail(c, http.StatusNotFound, "Unknown link", "This unsubscribe link is not valid.")
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
	if site.WantsJSON(c) {
		c.JSON(http.StatusOK, gin.H{"status": "unsubscribed"})
		return
	}
	h.Render(c, http.StatusOK, "unsubscribe", h.Page(c, "Unsubscribed", "", gin.H{"Done": true}))
}

// withdrawByToken withdraws the marketing consent of the token's account;
// found is false for an unknown token. Withdrawing twice is harmless.
func (h *Handler) withdrawByToken(c *gin.Context, token, source string) (bool, error) {
	tok, err := h.Store.UnsubscribeTokenByToken(c, token)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	now := h.Now().UTC()
	withdrawn, err := h.Store.WithdrawMarketingConsent(c, tok.OrganizationID, tok.AccountID, source, now)
	if err != nil {
		return true, err
	}
	if err := h.Store.MarkUnsubscribeTokenUsed(c, tok.ID, now); err != nil {
		return true, err
	}
	if withdrawn {
		var keyID uint64 // 0 when the account is gone
		switch a, err := h.Store.Account(c, tok.OrganizationID, tok.AccountID); {
		case err == nil:
			keyID = a.DataKeyID
		case !errors.Is(err, store.ErrNotFound):
			return true, err
		}
		return true, h.Audit(h.Store, c, tok.OrganizationID, tok.AccountID, keyID, "marketing.consent_withdrawn", site.Target("account", tok.AccountID), source)
	}
	return true, nil
}
