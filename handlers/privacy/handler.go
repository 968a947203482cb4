// Package privacy serves data-subject requests (policy §9) over HTTP: the
// public intake (a page and a JSON API per organization for its End
// Users, one for Convot's own Customers), identity verification by the
// mailed code, the single-use download of an answer, and the privacy
// officer's pages (an organization's requests, their progress and
// evidence, the decisions sent to the workflow) with the contact
// sidebar's links to log a request for a contact or flag them as under
// 16. What a request is and how it is taken is package dsr's; this
// package reads the forms and answers in pages and JSON.
package privacy

import (
	"github.com/convot/convot/dsr"
	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/blob"
	"github.com/convot/convot/models"
)

// Handler is what the privacy pages need.
type Handler struct {
	*site.Site
	// Intake takes, verifies and reissues the codes of requests.
	Intake *dsr.Intake
	// Workflows carries the officer's decisions to request workflows and
	// reads their progress; nil: decisions are refused (503) and pages
	// show the last recorded status.
	Workflows dsr.Workflows
	// Keys opens sealed exports; Blobs holds them.
	Keys  *models.KeyStore
	Blobs blob.Store
	// WorkflowURL links a workflow in the Temporal UI; "" without one.
	WorkflowURL func(workflowID string) string
	// ContactLabel names a contact as the inbox does.
	ContactLabel func(ct *models.Contact) string
	// ForgetLiveSubject drops this node's cached subject context of a
	// contact whose preferences changed here (a child's flag restricts at
	// once).
	ForgetLiveSubject func(contactID uint64)
}
