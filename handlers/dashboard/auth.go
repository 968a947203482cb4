package dashboard

import (
	"crypto/subtle"
	"fmt"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/crypto/bcrypt"

	convotmail "github.com/convot/convot/internal/mail"
	"github.com/convot/convot/models"
)

// BcryptCost is the work factor of password hashes (policy §10).
const BcryptCost = 12

const (
	maxFailedLogins    = 5
	lockoutDuration    = 15 * time.Minute
	resetLifetime      = time.Hour
	invitationLifetime = 7 * 24 * time.Hour
	minPasswordLength  = 10
)

// A hash to compare against when the email is unknown, so that a wrong
// email takes as long as a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("convot-timing-equaliser"), BcryptCost)

// sendSecurityAlert sends a transactional security alert (policy §4).
func (h *Handler) sendSecurityAlert(c *gin.Context, account *models.Account, subject, text string) {
	h.Send(c, convotmail.Message{To: account.Email, Subject: subject, Text: text, Tag: "security_alert",
		Org: h.OrgContext(c, account.OrganizationID)})
}

// validEmail is the address as Convot keeps it (convotmail.CanonicalAddress).
func validEmail(s string) (string, error) { return convotmail.CanonicalAddress(s) }

func checkPassword(p string) string {
	switch {
	case len([]rune(p)) < minPasswordLength:
		return fmt.Sprintf("Choose a password of at least %d characters.", minPasswordLength)
	case len(p) > 72:
		return "Choose a password of at most 72 bytes."
	}
	return ""
}

func firstName(full string) string {
	if f := strings.Fields(full); len(f) > 0 {
		return f[0]
	}
	return full
}

// timingSafeEqual compares secrets.
func timingSafeEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// HashPassword hashes a password with the work factor Convot uses.
func HashPassword(p string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(p), BcryptCost)
	return string(h), err
}
