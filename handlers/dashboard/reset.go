package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/crypto"
	convotmail "github.com/convot/convot/internal/mail"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

func (h *Handler) forgotPage(c *gin.Context) {
	h.Render(c, http.StatusOK, "forgot", h.Page(c, "Reset your password", "", nil))
}

// forgot answers the same whether or not the account exists, so the form
// cannot be used to discover who has an account.
func (h *Handler) forgot(c *gin.Context) {
	email, err := validEmail(c.PostForm("email"))
	if err != nil {
		h.RenderForm(c, http.StatusUnprocessableEntity, "forgot", "Reset your password", "", nil, err.Error())
		return
	}
	if !h.AllowAttempt(c, "reset:"+c.ClientIP()) {
		h.Fail(c, http.StatusTooManyRequests, "Too many requests", "Too many reset requests. Wait a few minutes and try again.")
		return
	}
	account, err := h.Store.ActiveAccountByEmail(c, email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		h.Internal(c, err)
		return
	}
	if account != nil {
		token := crypto.RandomToken(32)
		reset := models.PasswordReset{AccountID: account.ID, TokenHash: crypto.HashToken(token), ExpiresAt: h.Now().Add(resetLifetime).UTC(), CreatedAt: h.Now().UTC()}
		if err := h.Store.CreatePasswordReset(c, &reset); err != nil {
			h.Internal(c, err)
			return
		}
		h.auditAuth(c, account.OrganizationID, account.ID, account.DataKeyID, "auth.password_reset_requested", site.Target("account", account.ID), "")
		h.Send(c, convotmail.Message{
			To: account.Email, Subject: "Reset your Convot password", Tag: "password_reset", Org: h.OrgContext(c, account.OrganizationID),
			Text: fmt.Sprintf("Someone asked to reset the password of your Convot account.\n\nChoose a new password within one hour: %s/password/reset?token=%s\n\nIf this was not you, ignore this email; your password stays as it is.", h.Config.BaseURL, token),
		})
	}
	h.RedirectWithFlash(c, "/login", "reset_sent")
}

func (h *Handler) findReset(c *gin.Context, token string) (*models.PasswordReset, bool) {
	return findLiveToken(h, c, token, h.Store.PasswordResetByTokenHash,
		func(r *models.PasswordReset) (bool, time.Time) { return r.UsedAt != nil, r.ExpiresAt },
		"Link expired", "This reset link is invalid, used or expired. Ask for a new one.")
}

// claimed turns a single-use row's claim into errBadCode when it was used
// already, so two concurrent uses cannot both pass.
func claimed(ok bool, err error) error {
	if err == nil && !ok {
		return errBadCode
	}
	return err
}

// findLiveToken loads the row whose token hash matches a single-use link's
// token. A link that matches none, was used or has expired is answered
// 410 with title and message; false then.
func findLiveToken[T any](h *Handler, c *gin.Context, token string, byHash func(context.Context, string) (*T, error), state func(*T) (used bool, expires time.Time), title, message string) (*T, bool) {
	if token != "" {
		if row, err := byHash(c, crypto.HashToken(token)); err == nil {
			if used, expires := state(row); !used && !h.Now().After(expires) {
				return row, true
			}
		}
	}
	h.Fail(c, http.StatusGone, title, message)
	return nil, false
}

func (h *Handler) resetPage(c *gin.Context) {
	token := c.Query("token")
	if _, ok := h.findReset(c, token); !ok {
		return
	}
	h.Render(c, http.StatusOK, "reset", h.Page(c, "Choose a new password", "", gin.H{"Token": token}))
}

func (h *Handler) reset(c *gin.Context) {
	token := c.PostForm("token")
	reset, ok := h.findReset(c, token)
	if !ok {
		return
	}
	password := c.PostForm("password")
	if msg := checkPassword(password); msg != "" {
		h.RenderForm(c, http.StatusUnprocessableEntity, "reset", "Choose a new password", "", gin.H{"Token": token}, msg)
		return
	}
	hash, err := HashPassword(password)
	if err != nil {
		h.Internal(c, err)
		return
	}
	var account *models.Account
	err = h.Store.Tx(c, func(tx *store.Store) error {
		if err := claimed(tx.ClaimPasswordReset(c, reset.ID, h.Now().UTC())); err != nil {
			return err
		}
		var err error
		if account, err = tx.PasswordResetAccount(c, reset); err != nil {
			return err
		}
		if err := tx.ResetPassword(c, account.OrganizationID, account.ID, hash); err != nil {
			return err
		}
		// Every signed-in browser must sign in again with the new password.
		if err := tx.DeleteSessions(c, account.OrganizationID, account.ID); err != nil {
			return err
		}
		return h.Audit(tx, c, account.OrganizationID, account.ID, account.DataKeyID, "auth.password_reset", site.Target("account", account.ID), "")
	})
	if errors.Is(err, errBadCode) {
		h.Fail(c, http.StatusGone, "Link expired", "This reset link was already used.")
		return
	}
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.sendSecurityAlert(c, account, "Your Convot password was changed", "The password of your Convot account was just reset. If this was not you, contact support@convot.io at once.")
	h.RedirectWithFlash(c, "/login", "password_reset")
}
