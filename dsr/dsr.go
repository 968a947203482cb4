// Package dsr takes data-subject requests (policy §9): it records a
// request from any intake (the public page and JSON API, an operator
// logging one for a contact, mail to the privacy address), joins it to
// an open duplicate, mails the one-time code that verifies the
// requester's identity, checks and reissues that code, and starts the
// request's workflow (dsr-<id>, workflows/privacy.go), which does the
// rest. It knows nothing of HTTP: handlers/privacy serves its pages and
// API and answers its errors.
package dsr

import (
	"time"

	"github.com/convot/convot/internal/config"
	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// Intake is what taking and verifying requests needs.
type Intake struct {
	Store *store.Store
	// Keys makes the blind indexes of addresses and codes, and gives audit
	// events their system key.
	Keys *models.KeyStore
	// Mail sends the codes and the answers to mail that cannot become a
	// request.
	Mail mail.Sender
	// Workflows starts and signals request workflows; nil: no request can
	// be taken or verified (ErrUnavailable).
	Workflows Workflows
	Now       func() time.Time
	// Config gives the mails' sender (MailFrom) and the links in them
	// (BaseURL). Read at each mail, not copied, so the address the server
	// is reached at counts even when it is known only after wiring.
	Config *config.Config
}

const (
	// codeLifetime is how long a mailed code verifies its request.
	codeLifetime = 24 * time.Hour
	// maxCodeAttempts wrong codes lock a code; maxCodesSent codes are
	// mailed for one request at most.
	maxCodeAttempts = 5
	maxCodesSent    = 3
	// maxChange bounds one corrected value of a rectification.
	maxChange = 500
)
