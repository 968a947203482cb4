package privacy

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/dsr"
	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/models"
)

// The public intake: a page and a JSON API per organization (its public
// key in the path) for its End Users, and one without a key for Convot's
// own Customers.

// intakeOrg resolves an organization's public key; "" is Convot's own page.
func (h *Handler) intakeOrg(c *gin.Context, key string) (*models.Organization, bool) {
	if key == "" {
		return nil, true
	}
	if len(key) > 100 {
		return nil, false
	}
	org, err := h.Store.LiveOrganizationByPublicKey(c, key)
	if err != nil {
		return nil, false
	}
	return org, true
}

// requestBody is the JSON API's request.
type requestBody struct {
	Type       string            `json:"type"`
	Email      string            `json:"email"`
	Ground     string            `json:"ground"`
	Changes    map[string]string `json:"changes"`
	ForChild   bool              `json:"for_child"`
	ChildEmail string            `json:"child_email"`
}

func (h *Handler) requestAPI(c *gin.Context, key string) {
	org, ok := h.intakeOrg(c, key)
	if !ok {
		c.JSON(http.StatusNotFound, gin.H{"error": "Unknown organization."})
		return
	}
	if !h.AllowAttempt(c, "dsr:"+c.ClientIP()) {
		c.JSON(http.StatusTooManyRequests, gin.H{"error": "Too many requests from your network. Wait a few minutes and try again."})
		return
	}
	var body requestBody
	dec := json.NewDecoder(c.Request.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": "Send a JSON object with type and email (and ground, changes, for_child, child_email where they apply)."})
		return
	}
	res, err := h.Intake.Receive(c, dsr.Submission{Org: org, Type: body.Type, Ground: body.Ground, Email: body.Email,
		Changes: body.Changes, ForChild: body.ForChild, Child: body.ChildEmail, Source: models.DsrSourceAPI})
	if h.failed(c, err) {
		return
	}
	c.JSON(http.StatusAccepted, intakeAnswer(res))
}

// intakeAnswer is the JSON answer to a request taken or joined.
func intakeAnswer(res *dsr.Received) gin.H {
	r := res.Request
	msg := "We mailed a code to the address you gave. Confirm the request with it within 24 hours."
	switch {
	case res.Joined:
		msg = "You already have an open request of this type: this is that request."
	case r.VerifiedAt != nil:
		msg = "The request is recorded."
	}
	return gin.H{"id": r.ID, "request": r.WorkflowID(), "type": r.Type, "status": r.Status, "joined": res.Joined,
		"deadline": r.Deadline, "verify_url": fmt.Sprintf("/api/privacy-verification/%d", r.ID), "message": msg}
}

// requestFormPage is what the public page shows.
type requestFormPage struct {
	Key, Controller string
	Types           []struct{ Type, Label string }
	Grounds         []string
	Consents        []string
	Fields          []models.Field
	Customer        bool
	Sent            *models.PrivacyRequest
	Joined          bool
}

func newRequestFormPage(org *models.Organization, key string) requestFormPage {
	f := requestFormPage{Key: key, Controller: "Convot.io", Types: obligations.DsrTypes, Grounds: models.ObjectionGrounds(), Consents: models.ConsentNames(), Customer: org == nil}
	kind := models.SubjectCustomer
	if org != nil {
		f.Controller, kind = org.CompanyName, models.SubjectEndUser
	}
	f.Fields = dsr.RectifiableFields(kind)
	return f
}

func (h *Handler) requestPage(c *gin.Context, key string) {
	org, ok := h.intakeOrg(c, key)
	if !ok {
		h.Fail(c, http.StatusNotFound, "Not found", "There is no organization at this address.")
		return
	}
	h.Render(c, http.StatusOK, "privacy_request_form", h.Page(c, "Privacy request", "", newRequestFormPage(org, key)))
}

func (h *Handler) requestForm(c *gin.Context, key string) {
	org, ok := h.intakeOrg(c, key)
	if !ok {
		h.Fail(c, http.StatusNotFound, "Not found", "There is no organization at this address.")
		return
	}
	if !h.AllowAttempt(c, "dsr:"+c.ClientIP()) {
		h.Fail(c, http.StatusTooManyRequests, "Too many requests", "Too many requests from your network. Wait a few minutes and try again.")
		return
	}
	kind := models.SubjectEndUser
	if org == nil {
		kind = models.SubjectCustomer
	}
	changes := map[string]string{}
	for _, f := range dsr.RectifiableFields(kind) {
		if v := c.PostForm("change_" + f.Column); v != "" {
			changes[f.Column] = v
		}
	}
	in := dsr.Submission{Org: org, Type: c.PostForm("type"), Ground: c.PostForm("ground"), Email: c.PostForm("email"),
		Changes: changes, ForChild: c.PostForm("for_child") == "on", Child: c.PostForm("child_email"), Source: models.DsrSourceWeb}
	if in.Type == obligations.DsrConsentWithdrawal {
		in.Ground = c.PostForm("consent")
	}
	res, err := h.Intake.Receive(c, in)
	if status, msg, ok := refusal(err); ok {
		h.RenderForm(c, status, "privacy_request_form", "Privacy request", "", newRequestFormPage(org, key), msg)
		return
	}
	if h.failed(c, err) {
		return
	}
	if res.Joined && res.Request.Status != obligations.DsrAwaitingVerification && res.Request.Status != obligations.DsrReceived {
		f := newRequestFormPage(org, key)
		f.Sent, f.Joined = res.Request, true
		h.Render(c, http.StatusOK, "privacy_request_form", h.Page(c, "Privacy request", "", f))
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/privacy-verification/%d", res.Request.ID))
}
