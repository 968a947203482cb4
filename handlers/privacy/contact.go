package privacy

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/dsr"
	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// The contact sidebar's privacy links: an operator logs a request a
// contact made, or flags a contact as a child under 16.

// sidebarContact loads the contact the path names, of the signed-in
// operator's organization; false when it answered the request.
func (h *Handler) sidebarContact(c *gin.Context) (*models.Contact, bool) {
	return site.OwnRow(h.Site, c, "contact", h.Store.Contact)
}

// contactPageData is the sidebar's form with the contact's requests.
type contactPageData struct {
	Contact  *models.Contact
	Label    string
	Types    []struct{ Type, Label string }
	Grounds  []string
	Consents []string
	Fields   []models.Field
	Open     []requestRow
}

func (h *Handler) contactPageData(c *gin.Context, ct *models.Contact) (contactPageData, error) {
	d := contactPageData{Contact: ct, Label: h.ContactLabel(ct), Types: obligations.DsrTypes, Grounds: models.ObjectionGrounds(),
		Consents: models.ConsentNames(), Fields: dsr.RectifiableFields(models.SubjectEndUser)}
	open, err := h.Store.PrivacyRequestsOfContact(c, ct.OrganizationID, ct.ID)
	for _, r := range open {
		d.Open = append(d.Open, h.requestRow(r))
	}
	return d, err
}

func (h *Handler) contactPage(c *gin.Context) {
	ct, ok := h.sidebarContact(c)
	if !ok {
		return
	}
	d, err := h.contactPageData(c, ct)
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.Render(c, http.StatusOK, "privacy_contact", h.Page(c, "Privacy request for a contact", "contacts", d))
}

// contactLog is an operator logging a request the contact made (in a
// conversation, by phone): the operator attests having verified who they
// are, so no code is mailed; the answer goes to the contact's address.
func (h *Handler) contactLog(c *gin.Context) {
	ct, ok := h.sidebarContact(c)
	if !ok {
		return
	}
	refuse := func(status int, msg string) {
		if site.WantsJSON(c) {
			c.AbortWithStatusJSON(status, gin.H{"error": msg})
			return
		}
		d, err := h.contactPageData(c, ct)
		if err != nil {
			h.Internal(c, err)
			return
		}
		h.RenderForm(c, status, "privacy_contact", "Privacy request for a contact", "contacts", d, msg)
	}
	if c.PostForm("attest") != "on" {
		refuse(http.StatusBadRequest, "Confirm that you verified the person's identity (for example, they wrote from the identified chat or answered from the address on file).")
		return
	}
	changes := map[string]string{}
	for _, f := range dsr.RectifiableFields(models.SubjectEndUser) {
		if v := c.PostForm("change_" + f.Column); v != "" {
			changes[f.Column] = v
		}
	}
	ground := c.PostForm("ground")
	if c.PostForm("type") == obligations.DsrConsentWithdrawal {
		ground = c.PostForm("consent")
	}
	email, _ := mail.CanonicalAddress(ct.Email)
	res, err := h.Intake.Receive(c, dsr.Submission{Org: site.CurrentOrg(c), Type: c.PostForm("type"), Ground: ground, Email: email,
		Changes: changes, Source: models.DsrSourceOperator, ContactID: ct.ID, LoggedBy: site.CurrentAccount(c).ID, Attested: true})
	if status, msg, ok := refusal(err); ok {
		refuse(status, msg)
		return
	}
	if h.failed(c, err) {
		return
	}
	if site.WantsJSON(c) {
		c.JSON(http.StatusAccepted, intakeAnswer(res))
		return
	}
	msg := fmt.Sprintf("The %s request %s is recorded; the privacy officers are told when it needs them.", strings.ReplaceAll(res.Request.Type, "_", " "), res.Request.WorkflowID())
	if res.Joined {
		msg = fmt.Sprintf("This contact already has an open %s request: %s.", strings.ReplaceAll(res.Request.Type, "_", " "), res.Request.WorkflowID())
	}
	h.Render(c, http.StatusOK, "message", h.Page(c, "Privacy request recorded", "contacts", msg))
}

// contactUnder16 flags a contact as a child under 16 (policy §12): the flag
// restricts the contact at once, and an erasure runs promptly, without a
// decision and without the month.
func (h *Handler) contactUnder16(c *gin.Context) {
	ct, ok := h.sidebarContact(c)
	if !ok {
		return
	}
	if c.PostForm("confirm") != "on" {
		h.fail(c, http.StatusBadRequest, "Confirm that the contact is under 16: their data will be erased at once and cannot be recovered.")
		return
	}
	org, a := site.CurrentOrg(c), site.CurrentAccount(c)
	err := h.Store.Tx(c, func(tx *store.Store) error {
		return tx.RecordPreference(c, models.SubjectPreference{OrganizationID: org.ID, ContactID: ct.ID, Kind: models.PreferenceUnder16,
			Active: true, Source: "operator", CreatedAt: h.Now().UTC()})
	})
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.ForgetLiveSubject(ct.ID)
	res, err := h.Intake.Receive(c, dsr.Submission{Org: org, Type: obligations.DsrErasure, ForChild: true, Source: models.DsrSourceChildFlag,
		ContactID: ct.ID, LoggedBy: a.ID, Attested: true, Prompt: true})
	if h.failed(c, err) {
		return
	}
	if site.WantsJSON(c) {
		c.JSON(http.StatusAccepted, intakeAnswer(res))
		return
	}
	h.Render(c, http.StatusOK, "message", h.Page(c, "Flagged as under 16", "contacts",
		fmt.Sprintf("The contact is flagged as under 16 and its data is being erased now (request %s).", res.Request.WorkflowID())))
}
