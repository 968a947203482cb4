package dashboard

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

type signupForm struct {
	FullName, Email, CompanyName, Region string
}

func (h *Handler) signupPage(c *gin.Context) {
	if site.CurrentAccount(c) != nil {
		c.Redirect(http.StatusSeeOther, "/")
		return
	}
	h.Render(c, http.StatusOK, "signup", h.Page(c, "Sign up", "", signupForm{Region: "us"}))
}

func (h *Handler) signup(c *gin.Context) {
	f := signupForm{
		FullName:    strings.TrimSpace(c.PostForm("full_name")),
		Email:       strings.TrimSpace(c.PostForm("email")),
		CompanyName: strings.TrimSpace(c.PostForm("company_name")),
		Region:      c.PostForm("region"),
	}
	password := c.PostForm("password")
	bad := func(msg string) {
		p := h.Page(c, "Sign up", "", f)
		p.Error = msg
		if site.WantsJSON(c) {
			c.JSON(http.StatusUnprocessableEntity, gin.H{"error": msg})
			return
		}
		h.Render(c, http.StatusUnprocessableEntity, "signup", p)
	}
	email, err := validEmail(f.Email)
	if err != nil {
		bad(err.Error())
		return
	}
	switch {
	case f.FullName == "" || len(f.FullName) > 200:
		bad("Enter your full name (at most 200 characters).")
		return
	case f.CompanyName == "" || len(f.CompanyName) > 200:
		bad("Enter your company name (at most 200 characters).")
		return
	case !slices.Contains(models.Regions, f.Region):
		bad("Choose where your data is processed: us, eu, uk or ch.")
		return
	}
	if msg := checkPassword(password); msg != "" {
		bad(msg)
		return
	}
	hash, err := HashPassword(password)
	if err != nil {
		h.Internal(c, err)
		return
	}
	var account models.Account
	err = h.Store.Tx(c, func(tx *store.Store) error {
		taken, err := tx.AccountEmailTaken(c, email)
		if err != nil {
			return err
		}
		if taken {
			return errDuplicateEmail
		}
		org := models.Organization{PublicKey: crypto.RandomToken(16), CompanyName: f.CompanyName, Region: f.Region, Status: models.OrgActive}
		if err := tx.CreateOrganization(c, &org); err != nil {
			return err
		}
		account = models.Account{
			OrganizationID: org.ID, FullName: f.FullName, DisplayName: firstName(f.FullName), Email: email,
			PasswordHash: hash, Role: models.RoleOwner, TimeZone: "UTC", Language: "en", Status: "active",
		}
		if err := tx.CreateAccount(c, &account); err != nil {
			if errors.Is(err, store.ErrEmailTaken) {
				return errDuplicateEmail
			}
			return err
		}
		return h.Audit(tx, c, org.ID, account.ID, account.DataKeyID, "auth.signup", site.Target("account", account.ID), "")
	})
	if errors.Is(err, errDuplicateEmail) {
		if site.WantsJSON(c) {
			c.JSON(http.StatusConflict, gin.H{"error": "An account with this email already exists."})
			return
		}
		h.RenderForm(c, http.StatusConflict, "signup", "Sign up", "", f, "An account with this email already exists. Sign in instead.")
		return
	}
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.Finish(c, h.startSession(c, &account, false), "/", "welcome")
}

var errDuplicateEmail = errors.New("duplicate email")
