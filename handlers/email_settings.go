package handlers

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/store"
)

// unsubscribePage asks before it unsubscribes: a GET never changes
// anything (mail scanners follow links).
func (s *Server) unsubscribePage(c *gin.Context) {
	tok, err := s.Store.UnsubscribeTokenByToken(c, c.Param("token"))
	if errors.Is(err, store.ErrNotFound) {
		s.Fail(c, http.StatusNotFound, "Unknown link", "This unsubscribe link is not valid.")
		return
	}
	if err != nil {
		s.Internal(c, err)
		return
	}
	current, err := s.Store.MarketingConsent(c, tok.OrganizationID, tok.AccountID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.Internal(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
	s.Render(c, http.StatusOK, "unsubscribe", s.Page(c, "Unsubscribe", "", gin.H{"Token": c.Param("token"), "Subscribed": current != nil, "Done": false}))
}

// unsubscribe withdraws the marketing consent the token was issued for, at
// once and recorded: RFC 8058 one-click (a mail client POSTs
// List-Unsubscribe=One-Click) or the button of the page. No session and no
// CSRF token: the unguessable token is the credential, and it can do
// nothing but this.
func (s *Server) unsubscribe(c *gin.Context) {
	source := "unsubscribe_page"
	if c.PostForm("List-Unsubscribe") == "One-Click" {
		source = "one_click"
	}
	found, err := s.withdrawByToken(c, c.Param("token"), source)
	if err != nil {
		s.Internal(c, err)
		return
	}
	if !found {
		s.Fail(c, http.StatusNotFound, "Unknown link", "This unsubscribe link is not valid.")
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
	if site.WantsJSON(c) {
		c.JSON(http.StatusOK, gin.H{"status": "unsubscribed"})
		return
	}
	s.Render(c, http.StatusOK, "unsubscribe", s.Page(c, "Unsubscribed", "", gin.H{"Done": true}))
}

// withdrawByToken withdraws the marketing consent of the token's account;
// found is false for an unknown token. Withdrawing twice is harmless.
func (s *Server) withdrawByToken(c *gin.Context, token, source string) (bool, error) {
	tok, err := s.Store.UnsubscribeTokenByToken(c, token)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	now := s.now().UTC()
	withdrawn, err := s.Store.WithdrawMarketingConsent(c, tok.OrganizationID, tok.AccountID, source, now)
	if err != nil {
		return true, err
	}
	if err := s.Store.MarkUnsubscribeTokenUsed(c, tok.ID, now); err != nil {
		return true, err
	}
	if withdrawn {
		var keyID uint64 // 0 when the account is gone
		switch a, err := s.Store.Account(c, tok.OrganizationID, tok.AccountID); {
		case err == nil:
			keyID = a.DataKeyID
		case !errors.Is(err, store.ErrNotFound):
			return true, err
		}
		return true, s.Audit(s.Store, c, tok.OrganizationID, tok.AccountID, keyID, "marketing.consent_withdrawn", site.Target("account", tok.AccountID), source)
	}
	return true, nil
}
