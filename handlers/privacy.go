package handlers

import (
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/crypto"
	convotmail "github.com/convot/convot/internal/mail"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
	"github.com/convot/convot/workflows"
)

// Data-subject requests (policy §9): the intake (a public page and a JSON
// API per organization for its End Users, one for Convot's own Customers,
// operators logging a request from the contact sidebar, and mail to the
// privacy address), identity verification by a one-time code, and the
// single-use download of an answer. Each request runs as the workflow
// dsr-<id> (workflows/privacy.go); the privacy officer's pages are in
// privacy_dashboard.go.

// PrivacyWorkflows starts, signals and queries request workflows: Temporal
// in every deployment; a recorder in tests that need no workflow to run.
type PrivacyWorkflows interface {
	Start(ctx context.Context, in workflows.PrivacyRequestInput) error
	Signal(ctx context.Context, requestID uint64, signal string, arg any) error
	Progress(ctx context.Context, requestID uint64) (workflows.DsrProgress, error)
}

// TemporalPrivacyWorkflows runs request workflows on Temporal.
type TemporalPrivacyWorkflows struct{ Client client.Client }

// Start starts the request's workflow; starting it again joins the first.
func (t TemporalPrivacyWorkflows) Start(ctx context.Context, in workflows.PrivacyRequestInput) error {
	_, err := t.Client.ExecuteWorkflow(ctx, workflows.PrivacyRequestStartOptions(in), workflows.PrivacyRequestWorkflowType, in)
	return err
}

// Signal sends a signal to the request's workflow.
func (t TemporalPrivacyWorkflows) Signal(ctx context.Context, requestID uint64, signal string, arg any) error {
	return t.Client.SignalWorkflow(ctx, workflows.PrivacyRequestWorkflowID(requestID), "", signal, arg)
}

// Progress queries the request's steps.
func (t TemporalPrivacyWorkflows) Progress(ctx context.Context, requestID uint64) (workflows.DsrProgress, error) {
	var p workflows.DsrProgress
	v, err := t.Client.QueryWorkflow(ctx, workflows.PrivacyRequestWorkflowID(requestID), "", workflows.QueryDsrProgress)
	if err != nil {
		return p, err
	}
	return p, v.Get(&p)
}

const (
	dsrCodeLifetime    = 24 * time.Hour
	dsrMaxCodeAttempts = 5
	dsrMaxCodesSent    = 3
	dsrMaxChange       = 500
)

func (s *Server) privacyRoutes(r *gin.Engine) {
	if s.PrivacyWorkflows == nil && s.Temporal != nil {
		s.PrivacyWorkflows = TemporalPrivacyWorkflows{Client: s.Temporal}
	}
	if s.PrivacyIntake == nil {
		s.PrivacyIntake = s.IntakePrivacyRequestFromMail
	}
	// The JSON API: no cookies, so no CSRF token; the code and the
	// download token are the credentials.
	api := r.Group("/api")
	api.POST("/privacy-requests", func(c *gin.Context) { s.privacyRequestAPI(c, "") })
	api.POST("/privacy-requests/:key", func(c *gin.Context) { s.privacyRequestAPI(c, c.Param("key")) })
	api.POST("/privacy-verification/:id", s.privacyVerifyAPI)
	api.POST("/privacy-verification/:id/resend", s.privacyResendAPI)
	api.POST("/privacy-downloads/:token", s.privacyDownload)

	// Pages: the double-submit CSRF cookie protects their forms. Requests
	// are answered while an organization is closed too (the grace period),
	// so these routes are outside the read-only guard.
	pages := r.Group("/", s.CSRF, s.LoadSession)
	pages.GET("/privacy-requests", func(c *gin.Context) { s.privacyRequestPage(c, "") })
	pages.POST("/privacy-requests", func(c *gin.Context) { s.privacyRequestForm(c, "") })
	pages.GET("/privacy-requests/:key", func(c *gin.Context) { s.privacyRequestPage(c, c.Param("key")) })
	pages.POST("/privacy-requests/:key", func(c *gin.Context) { s.privacyRequestForm(c, c.Param("key")) })
	pages.GET("/privacy-verification/:id", s.privacyVerifyPage)
	pages.POST("/privacy-verification/:id", s.privacyVerifyForm)
	pages.POST("/privacy-verification/:id/resend", s.privacyResendForm)
	pages.GET("/privacy-downloads/:token", s.privacyDownloadPage)
	pages.POST("/privacy-downloads/:token", s.privacyDownload)
	s.privacyDashboardRoutes(pages)
}

// --- intake ----------------------------------------------------------------------

// privacyIntake is one request as it arrives, from any intake.
type privacyIntake struct {
	Org      *models.Organization // nil: Convot's own Customers (Convot is the controller)
	Type     string
	Ground   string            // objection ground or consent name
	Email    string            // where the code and the answer go
	ForChild bool              // a parent or guardian asks for a child under 16
	Child    string            // the child's address, for a parent's request
	Changes  map[string]string // rectification: corrected values by column
	Source   string
	// An operator logs a request for a contact and attests the identity.
	ContactID uint64
	LoggedBy  uint64
	Attested  bool
	Prompt    bool   // erase at once (a child flagged by an operator)
	SourceRef string // a mail's Message-ID hash
}

// errPrivacyInput is a request the requester must fix (a 4xx).
type errPrivacyInput struct {
	status int
	msg    string
}

func (e errPrivacyInput) Error() string { return e.msg }

var errPrivacyUnavailable = errors.New("privacy requests are unavailable")

func badPrivacy(status int, format string, args ...any) error {
	return errPrivacyInput{status, fmt.Sprintf(format, args...)}
}

// checkPrivacyIntake validates what a requester sent.
func (s *Server) checkPrivacyIntake(in *privacyIntake) error {
	in.Type = strings.TrimSpace(in.Type)
	if in.ForChild && in.Type == "" {
		in.Type = models.DsrErasure
	}
	if !models.ValidDsrType(in.Type) {
		var types []string
		for _, t := range models.DsrTypes {
			types = append(types, t.Type)
		}
		return badPrivacy(http.StatusBadRequest, "Unknown request type %q: choose one of %s.", in.Type, strings.Join(types, ", "))
	}
	switch in.Type {
	case models.DsrObjection:
		if !contains(models.ObjectionGrounds(), in.Ground) {
			return badPrivacy(http.StatusBadRequest, "An objection needs its ground: one of %s.", strings.Join(models.ObjectionGrounds(), ", "))
		}
	case models.DsrConsentWithdrawal:
		if !contains(models.ConsentNames(), in.Ground) {
			return badPrivacy(http.StatusBadRequest, "Say which consent you withdraw: one of %s.", strings.Join(models.ConsentNames(), ", "))
		}
	default:
		in.Ground = ""
	}
	kind := models.SubjectEndUser
	if in.Org == nil {
		kind = models.SubjectCustomer
	}
	if in.Type == models.DsrRectification {
		allowed := map[string]bool{}
		var names []string
		for _, f := range models.RectifiableFields(kind) {
			allowed[f.Column] = true
			names = append(names, f.Column)
		}
		clean := map[string]string{}
		for k, v := range in.Changes {
			v = strings.TrimSpace(v)
			if v == "" {
				continue
			}
			if !allowed[k] {
				return badPrivacy(http.StatusBadRequest, "%q cannot be corrected by a request: correct one of %s.", k, strings.Join(names, ", "))
			}
			if len([]rune(v)) > dsrMaxChange {
				return badPrivacy(http.StatusBadRequest, "The corrected %s is longer than %d characters.", k, dsrMaxChange)
			}
			if k == "email" {
				e, err := validEmail(v)
				if err != nil {
					return badPrivacy(http.StatusBadRequest, "The corrected email: %s", err.Error())
				}
				v = e
			}
			clean[k] = v
		}
		if len(clean) == 0 {
			return badPrivacy(http.StatusBadRequest, "Say what to correct: the corrected value of at least one of %s.", strings.Join(names, ", "))
		}
		in.Changes = clean
	} else {
		in.Changes = nil
	}
	if in.ForChild {
		if in.Org == nil {
			return badPrivacy(http.StatusBadRequest, "A child's data is held by the organization whose website they used: send the request on its privacy-request page.")
		}
		if in.Type != models.DsrErasure {
			return badPrivacy(http.StatusBadRequest, "A parent's or guardian's request is for the erasure of the child's data (policy §12).")
		}
		if in.ContactID == 0 {
			child, err := validEmail(in.Child)
			if err != nil {
				return badPrivacy(http.StatusBadRequest, "Give the email address your child used: %s", err.Error())
			}
			in.Child = child
		}
	}
	if in.Email != "" || !in.Attested {
		e, err := validEmail(in.Email)
		if err != nil {
			return badPrivacy(http.StatusUnprocessableEntity, "%s", err.Error())
		}
		in.Email = e
	}
	return nil
}

// intakeResult is a request taken, or the open request it joined.
type intakeResult struct {
	Request *models.PrivacyRequest
	Joined  bool
}

// intakePrivacyRequest records a request, starts its workflow and mails
// its code (unless an operator attested the identity). A second open
// request of the same type (and ground) for the same subject joins the
// open one: the answer is that request.
func (s *Server) intakePrivacyRequest(ctx context.Context, in privacyIntake) (*intakeResult, error) {
	if err := s.checkPrivacyIntake(&in); err != nil {
		return nil, err
	}
	if s.PrivacyWorkflows == nil {
		return nil, errPrivacyUnavailable
	}
	now := s.now().UTC()
	r := &models.PrivacyRequest{Type: in.Type, Ground: in.Ground, ForChild: in.ForChild, Source: in.Source, SourceRef: in.SourceRef,
		RequesterEmail: in.Email, Changes: in.Changes, Status: models.DsrReceived, ReceivedAt: now, Deadline: workflows.DsrDueDate(now),
		LoggedByID: in.LoggedBy, SubjectID: in.ContactID}
	subjectEmail := in.Email
	if in.ForChild {
		subjectEmail = in.Child
	}
	if in.Org != nil {
		r.OrganizationID, r.Controller, r.SubjectKind = in.Org.ID, models.ControllerOrganization, models.SubjectEndUser
	} else {
		r.Controller, r.SubjectKind = models.ControllerConvot, models.SubjectCustomer
	}
	if subjectEmail != "" {
		r.EmailIndex = s.Keys.BlindIndex(subjectEmail)
	}
	var code string
	if in.Attested {
		r.VerificationMethod, r.VerifiedAt = models.VerifiedByOperator, &now
	} else {
		code = newDsrCode()
		expires := now.Add(dsrCodeLifetime)
		r.CodeExpiresAt, r.CodesSent = &expires, 1
	}
	var joined *models.PrivacyRequest
	err := s.Store.Tx(ctx, func(tx *store.Store) error {
		if in.Org == nil && r.EmailIndex != "" {
			// An address no account has: a request to Convot about no organization.
			orgID, err := tx.OrganizationOfAccountEmail(ctx, r.EmailIndex)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			r.OrganizationID = orgID
		}
		if in.Org != nil && in.ContactID != 0 && r.EmailIndex == "" {
			index, err := tx.ContactEmailIndex(ctx, in.Org.ID, in.ContactID)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			r.EmailIndex = index
		}
		if err := tx.LockPrivacyIntake(ctx, dsrLockKey(r)); err != nil {
			return err
		}
		// A child flagged by an operator is erased at once, even while
		// another request of the contact waits for a decision.
		if !in.Prompt {
			open, err := tx.OpenDuplicatePrivacyRequest(ctx, r)
			if !errors.Is(err, store.ErrNotFound) {
				joined = open
				return err
			}
		}
		if err := tx.CreatePrivacyRequest(ctx, r); err != nil {
			return err
		}
		if code != "" {
			r.CodeHash = s.dsrCodeHash(r.ID, code)
			if err := tx.SetPrivacyRequestCodeHash(ctx, r); err != nil {
				return err
			}
		}
		return s.privacyAuditTx(ctx, tx, r, in.LoggedBy, "privacy.request_received", fmt.Sprintf("%s via %s", r.Type, r.Source))
	})
	if err != nil {
		return nil, err
	}
	if joined != nil {
		return &intakeResult{Request: joined, Joined: true}, nil
	}
	input := workflows.PrivacyRequestInput{RequestID: r.ID, OrganizationID: r.OrganizationID, Type: r.Type, Ground: r.Ground,
		ReceivedAt: r.ReceivedAt, Verified: in.Attested, Prompt: in.Prompt}
	if err := s.PrivacyWorkflows.Start(ctx, input); err != nil {
		// Nothing half-done is left behind: the requester tries again.
		slog.Error("privacy request workflow not started", "request", r.ID, "err", err)
		s.Store.DeletePrivacyRequest(context.WithoutCancel(ctx), r.OrganizationID, r.ID)
		return nil, errPrivacyUnavailable
	}
	if code != "" {
		s.mailDsrCode(ctx, r, in.Org, code)
	}
	return &intakeResult{Request: r}, nil
}

// dsrLockKey serialises intakes of one subject and type on PostgreSQL.
func dsrLockKey(r *models.PrivacyRequest) int64 {
	h := sha256.Sum256([]byte(fmt.Sprintf("dsr|%s|%d|%s|%s|%d|%s", r.SubjectKind, r.OrganizationID, r.Type, r.Ground, r.SubjectID, r.EmailIndex)))
	return int64(binary.BigEndian.Uint64(h[:8]) >> 1)
}

// newDsrCode is an eight-digit one-time code.
func newDsrCode() string {
	n, err := crand.Int(crand.Reader, big.NewInt(100_000_000))
	if err != nil {
		panic(err) // the system's random source failed
	}
	return fmt.Sprintf("%08d", n.Int64())
}

// dsrCodeHash is the code's keyed hash, bound to its request.
func (s *Server) dsrCodeHash(id uint64, code string) string {
	return s.Keys.BlindIndex(fmt.Sprintf("dsr-code|%d|%s", id, code))
}

func (s *Server) mailDsrCode(ctx context.Context, r *models.PrivacyRequest, org *models.Organization, code string) {
	who := "Convot.io"
	// Without an organization the request is to Convot, the controller.
	oc := policies.OrgContext{ID: r.OrganizationID, Region: "eu", Deployment: r.OrganizationID == 0}
	if org != nil {
		who, oc = org.CompanyName, org.GateContext()
	}
	link := fmt.Sprintf("%s/privacy-verification/%d", strings.TrimSuffix(s.Config.BaseURL.String(), "/"), r.ID)
	text := fmt.Sprintf("We received a %s request (%s) for the personal data %s holds about this address.\n\n"+
		"To confirm it is you, enter this code within 24 hours:\n\n    %s\n\nat %s\n\n"+
		"Without confirmation the request expires in 7 days and nothing is done. If you did not ask for this, ignore this mail.\n",
		strings.ReplaceAll(r.Type, "_", " "), r.WorkflowID(), who, code, link)
	if r.ForChild {
		text = "You asked, as a parent or guardian, for the erasure of your child's data.\n\n" + text
	}
	err := s.Mail.Send(ctx, convotmail.Message{From: s.Config.MailFrom, To: r.RequesterEmail, Subject: "Your privacy request code: " + r.WorkflowID(),
		Text: text, Stream: convotmail.Transactional, Tag: "privacy_request_code", Org: oc, Recipient: policies.SubjectContext{Kind: r.SubjectKind}})
	if err != nil {
		slog.Warn("privacy request code not sent", "request", r.ID, "err", err)
	}
}

func (s *Server) privacyAuditTx(ctx context.Context, tx *store.Store, r *models.PrivacyRequest, actor uint64, action, detail string) error {
	return tx.CreateAuditEvent(ctx, &models.AuditEvent{OrganizationID: r.OrganizationID, ActorID: actor, DataKeyID: s.Keys.SystemKey(),
		Action: action, Target: site.Target("privacy_request", r.ID), Detail: detail, CreatedAt: s.now().UTC()})
}

// intakeOrg resolves an organization's public key; "" is Convot's own page.
func (s *Server) intakeOrg(c *gin.Context, key string) (*models.Organization, bool) {
	if key == "" {
		return nil, true
	}
	if len(key) > 100 {
		return nil, false
	}
	org, err := s.Store.LiveOrganizationByPublicKey(c, key)
	if err != nil {
		return nil, false
	}
	return org, true
}

// privacyRequestBody is the JSON API's request.
type privacyRequestBody struct {
	Type       string            `json:"type"`
	Email      string            `json:"email"`
	Ground     string            `json:"ground"`
	Changes    map[string]string `json:"changes"`
	ForChild   bool              `json:"for_child"`
	ChildEmail string            `json:"child_email"`
}

func (s *Server) privacyRequestAPI(c *gin.Context, key string) {
	org, ok := s.intakeOrg(c, key)
	if !ok {
		c.JSON(http.StatusNotFound, gin.H{"error": "Unknown organization."})
		return
	}
	if !s.AllowAttempt(c, "dsr:"+c.ClientIP()) {
		c.JSON(http.StatusTooManyRequests, gin.H{"error": "Too many requests from your network. Wait a few minutes and try again."})
		return
	}
	var body privacyRequestBody
	dec := json.NewDecoder(c.Request.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": "Send a JSON object with type and email (and ground, changes, for_child, child_email where they apply)."})
		return
	}
	res, err := s.intakePrivacyRequest(c, privacyIntake{Org: org, Type: body.Type, Ground: body.Ground, Email: body.Email,
		Changes: body.Changes, ForChild: body.ForChild, Child: body.ChildEmail, Source: models.DsrSourceAPI})
	if s.privacyIntakeFailed(c, err) {
		return
	}
	c.JSON(http.StatusAccepted, s.intakeAnswer(res))
}

func (s *Server) intakeAnswer(res *intakeResult) gin.H {
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

// privacyIntakeFailed answers an intake error; false when there was none.
func (s *Server) privacyIntakeFailed(c *gin.Context, err error) bool {
	var bad errPrivacyInput
	switch {
	case err == nil:
		return false
	case errors.As(err, &bad):
		s.privacyFail(c, bad.status, bad.msg)
	case errors.Is(err, errPrivacyUnavailable):
		s.privacyFail(c, http.StatusServiceUnavailable, "Privacy requests cannot be taken at the moment. Please try again in a few minutes.")
	default:
		s.Internal(c, err)
	}
	return true
}

func (s *Server) privacyFail(c *gin.Context, status int, msg string) {
	if strings.HasPrefix(c.FullPath(), "/api/") {
		c.AbortWithStatusJSON(status, gin.H{"error": msg})
		return
	}
	s.Fail(c, status, http.StatusText(status), msg)
}

// privacyForm is what the public page shows.
type privacyForm struct {
	Key, Controller string
	Types           []struct{ Type, Label string }
	Grounds         []string
	Consents        []string
	Fields          []models.Field
	Customer        bool
	Sent            *models.PrivacyRequest
	Joined          bool
}

func (s *Server) privacyFormData(org *models.Organization, key string) privacyForm {
	f := privacyForm{Key: key, Controller: "Convot.io", Types: models.DsrTypes, Grounds: models.ObjectionGrounds(), Consents: models.ConsentNames(), Customer: org == nil}
	kind := models.SubjectCustomer
	if org != nil {
		f.Controller, kind = org.CompanyName, models.SubjectEndUser
	}
	f.Fields = models.RectifiableFields(kind)
	return f
}

func (s *Server) privacyRequestPage(c *gin.Context, key string) {
	org, ok := s.intakeOrg(c, key)
	if !ok {
		s.Fail(c, http.StatusNotFound, "Not found", "There is no organization at this address.")
		return
	}
	f := s.privacyFormData(org, key)
	s.Render(c, http.StatusOK, "privacy_request_form", s.Page(c, "Privacy request", "", f))
}

func (s *Server) privacyRequestForm(c *gin.Context, key string) {
	org, ok := s.intakeOrg(c, key)
	if !ok {
		s.Fail(c, http.StatusNotFound, "Not found", "There is no organization at this address.")
		return
	}
	if !s.AllowAttempt(c, "dsr:"+c.ClientIP()) {
		s.Fail(c, http.StatusTooManyRequests, "Too many requests", "Too many requests from your network. Wait a few minutes and try again.")
		return
	}
	changes := map[string]string{}
	for _, f := range models.RectifiableFields(map[bool]string{true: models.SubjectCustomer, false: models.SubjectEndUser}[org == nil]) {
		if v := c.PostForm("change_" + f.Column); v != "" {
			changes[f.Column] = v
		}
	}
	in := privacyIntake{Org: org, Type: c.PostForm("type"), Ground: c.PostForm("ground"), Email: c.PostForm("email"),
		Changes: changes, ForChild: c.PostForm("for_child") == "on", Child: c.PostForm("child_email"), Source: models.DsrSourceWeb}
	if in.Type == models.DsrConsentWithdrawal {
		in.Ground = c.PostForm("consent")
	}
	res, err := s.intakePrivacyRequest(c, in)
	var bad errPrivacyInput
	if errors.As(err, &bad) {
		p := s.Page(c, "Privacy request", "", s.privacyFormData(org, key))
		p.Error = bad.msg
		s.Render(c, bad.status, "privacy_request_form", p)
		return
	}
	if s.privacyIntakeFailed(c, err) {
		return
	}
	if res.Joined && res.Request.Status != models.DsrAwaitingVerification && res.Request.Status != models.DsrReceived {
		f := s.privacyFormData(org, key)
		f.Sent, f.Joined = res.Request, true
		s.Render(c, http.StatusOK, "privacy_request_form", s.Page(c, "Privacy request", "", f))
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/privacy-verification/%d", res.Request.ID))
}

// --- verification ----------------------------------------------------------------

// verifyDsrCode checks a requester's code: right, unused, in time, within
// the attempts; then tells the workflow.
func (s *Server) verifyDsrCode(ctx context.Context, id uint64, code string) (*models.PrivacyRequest, error) {
	r, err := s.Store.PrivacyRequestByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, badPrivacy(http.StatusNotFound, "There is no such privacy request.")
	}
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	code = strings.Join(strings.Fields(code), "")
	switch {
	case r.VerifiedAt != nil:
		return r, badPrivacy(http.StatusConflict, "This request is already confirmed: its code was used.")
	case r.Status == models.DsrExpired:
		return r, badPrivacy(http.StatusGone, "This request expired because it was not confirmed within 7 days. Submit a new one.")
	case models.DsrClosed(r.Status):
		return r, badPrivacy(http.StatusGone, "This request is closed.")
	case r.CodeAttempts >= dsrMaxCodeAttempts:
		return r, badPrivacy(http.StatusTooManyRequests, "Too many wrong codes. Ask for a new code.")
	case r.CodeExpiresAt == nil || now.After(*r.CodeExpiresAt):
		return r, badPrivacy(http.StatusGone, "This code has expired. Ask for a new code.")
	case len(code) != 8 || r.CodeHash == "" || subtle.ConstantTimeCompare([]byte(s.dsrCodeHash(r.ID, code)), []byte(r.CodeHash)) != 1:
		s.Store.CountWrongDsrCode(ctx, r.ID)
		left := dsrMaxCodeAttempts - r.CodeAttempts - 1
		if left <= 0 {
			return r, badPrivacy(http.StatusTooManyRequests, "Wrong code, and no attempts are left. Ask for a new code.")
		}
		return r, badPrivacy(http.StatusBadRequest, "Wrong code. %d attempts left.", left)
	}
	// The conditional update makes the code single-use under races.
	claimed, err := s.Store.ClaimDsrCode(ctx, r.ID, r.CodeHash, now)
	if err != nil {
		return nil, err
	}
	if !claimed {
		return r, badPrivacy(http.StatusConflict, "This request is already confirmed: its code was used.")
	}
	if s.PrivacyWorkflows == nil {
		return nil, errPrivacyUnavailable
	}
	if err := s.PrivacyWorkflows.Signal(ctx, r.ID, workflows.SignalDsrVerified, workflows.DsrVerifiedSignal{Method: models.VerifiedByCode}); err != nil {
		// Undo, so that the same code confirms it once the workflow is back.
		s.Store.UnclaimDsrCode(context.WithoutCancel(ctx), r.ID, r.CodeHash)
		slog.Error("privacy request not signalled verified", "request", r.ID, "err", err)
		return nil, errPrivacyUnavailable
	}
	s.Store.Tx(ctx, func(tx *store.Store) error {
		return s.privacyAuditTx(ctx, tx, r, 0, "privacy.request_verified", "one-time code")
	})
	r.VerifiedAt, r.VerificationMethod = &now, models.VerifiedByCode
	return r, nil
}

// resendDsrCode mails a new code (at most dsrMaxCodesSent in all); the
// old one stops working.
func (s *Server) resendDsrCode(ctx context.Context, id uint64) (*models.PrivacyRequest, error) {
	r, err := s.Store.PrivacyRequestByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, badPrivacy(http.StatusNotFound, "There is no such privacy request.")
	}
	if err != nil {
		return nil, err
	}
	switch {
	case r.VerifiedAt != nil:
		return r, badPrivacy(http.StatusConflict, "This request is already confirmed.")
	case models.DsrClosed(r.Status):
		return r, badPrivacy(http.StatusGone, "This request is closed; submit a new one.")
	case r.CodesSent >= dsrMaxCodesSent:
		return r, badPrivacy(http.StatusTooManyRequests, "No more codes can be sent for this request. Submit a new one.")
	}
	code := newDsrCode()
	expires := s.now().UTC().Add(dsrCodeLifetime)
	reissued, err := s.Store.ReissueDsrCode(ctx, r.ID, r.CodesSent, s.dsrCodeHash(r.ID, code), expires)
	if err != nil {
		return nil, err
	}
	if !reissued {
		return r, badPrivacy(http.StatusConflict, "A new code was just sent. Check your mail.")
	}
	var org *models.Organization
	if r.Controller == models.ControllerOrganization {
		if o, err := s.Store.Organization(ctx, r.OrganizationID); err == nil {
			org = o
		}
	}
	s.mailDsrCode(ctx, r, org, code)
	return r, nil
}

func requestID(c *gin.Context) (uint64, bool) {
	id, err := strconv.ParseUint(c.Param("id"), 10, 64)
	return id, err == nil && id > 0
}

func (s *Server) privacyVerifyAPI(c *gin.Context) {
	id, ok := requestID(c)
	if !ok {
		c.JSON(http.StatusNotFound, gin.H{"error": "There is no such privacy request."})
		return
	}
	if !s.AllowAttempt(c, "dsr-code:"+c.ClientIP()) {
		c.JSON(http.StatusTooManyRequests, gin.H{"error": "Too many attempts from your network. Wait a few minutes and try again."})
		return
	}
	var body struct {
		Code string `json:"code"`
	}
	if err := json.NewDecoder(c.Request.Body).Decode(&body); err != nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": "Send a JSON object with the code."})
		return
	}
	r, err := s.verifyDsrCode(c, id, body.Code)
	if s.privacyIntakeFailed(c, err) {
		return
	}
	c.JSON(http.StatusOK, gin.H{"id": r.ID, "request": r.WorkflowID(), "status": "verified", "deadline": r.Deadline,
		"message": "Confirmed. The answer will be mailed to you by the deadline."})
}

func (s *Server) privacyResendAPI(c *gin.Context) {
	id, ok := requestID(c)
	if !ok {
		c.JSON(http.StatusNotFound, gin.H{"error": "There is no such privacy request."})
		return
	}
	r, err := s.resendDsrCode(c, id)
	if s.privacyIntakeFailed(c, err) {
		return
	}
	c.JSON(http.StatusOK, gin.H{"id": r.ID, "message": "A new code is on its way."})
}

type verifyPage struct {
	ID       uint64
	Request  string
	Done     bool
	Deadline time.Time
}

func (s *Server) privacyVerifyPage(c *gin.Context) {
	id, ok := requestID(c)
	if !ok {
		s.Fail(c, http.StatusNotFound, "Not found", "There is no such privacy request.")
		return
	}
	s.Render(c, http.StatusOK, "privacy_verify", s.Page(c, "Confirm your privacy request", "", verifyPage{ID: id, Request: workflows.PrivacyRequestWorkflowID(id)}))
}

func (s *Server) privacyVerifyForm(c *gin.Context) {
	id, ok := requestID(c)
	if !ok {
		s.Fail(c, http.StatusNotFound, "Not found", "There is no such privacy request.")
		return
	}
	if !s.AllowAttempt(c, "dsr-code:"+c.ClientIP()) {
		s.Fail(c, http.StatusTooManyRequests, "Too many attempts", "Too many attempts from your network. Wait a few minutes and try again.")
		return
	}
	r, err := s.verifyDsrCode(c, id, c.PostForm("code"))
	if s.verifyFormFailed(c, id, err) {
		return
	}
	s.Render(c, http.StatusOK, "privacy_verify", s.Page(c, "Privacy request confirmed", "", verifyPage{ID: id, Request: r.WorkflowID(), Done: true, Deadline: r.Deadline}))
}

// verifyFormFailed answers a verification form whose action failed: the
// form again with what to correct, or the intake's error; false when err
// is nil.
func (s *Server) verifyFormFailed(c *gin.Context, id uint64, err error) bool {
	var bad errPrivacyInput
	if errors.As(err, &bad) && bad.status != http.StatusNotFound {
		p := s.Page(c, "Confirm your privacy request", "", verifyPage{ID: id, Request: workflows.PrivacyRequestWorkflowID(id)})
		p.Error = bad.msg
		s.Render(c, bad.status, "privacy_verify", p)
		return true
	}
	return s.privacyIntakeFailed(c, err)
}

func (s *Server) privacyResendForm(c *gin.Context) {
	id, ok := requestID(c)
	if !ok {
		s.Fail(c, http.StatusNotFound, "Not found", "There is no such privacy request.")
		return
	}
	_, err := s.resendDsrCode(c, id)
	if s.verifyFormFailed(c, id, err) {
		return
	}
	p := s.Page(c, "Confirm your privacy request", "", verifyPage{ID: id, Request: workflows.PrivacyRequestWorkflowID(id)})
	p.Flash = "A new code is on its way."
	s.Render(c, http.StatusOK, "privacy_verify", p)
}

// --- downloads -----------------------------------------------------------------------

// liveExport finds the export a download link names, unless it was used
// or has expired.
func (s *Server) liveExport(c *gin.Context, token string) (*models.PrivacyExport, error) {
	if token == "" || len(token) > 100 {
		return nil, badPrivacy(http.StatusNotFound, "This download link is not valid.")
	}
	e, err := s.Store.PrivacyExportByTokenHash(c, crypto.HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, badPrivacy(http.StatusNotFound, "This download link is not valid.")
	}
	if err != nil {
		return nil, err
	}
	switch {
	case e.UsedAt != nil:
		return nil, badPrivacy(http.StatusGone, "This download link was used already: each link works once. Ask for your data again if you need another copy.")
	case s.now().After(e.ExpiresAt):
		return nil, badPrivacy(http.StatusGone, "This download link has expired. Ask for your data again if you need a copy.")
	}
	return e, nil
}

func (s *Server) privacyDownloadPage(c *gin.Context) {
	e, err := s.liveExport(c, c.Param("token"))
	if s.privacyIntakeFailed(c, err) {
		return
	}
	s.Render(c, http.StatusOK, "privacy_download", s.Page(c, "Your data", "", gin.H{"Token": c.Param("token"), "Export": e}))
}

// privacyDownload serves an export once: the link is claimed first, the
// file deleted from the blob store after.
func (s *Server) privacyDownload(c *gin.Context) {
	e, err := s.liveExport(c, c.Param("token"))
	if s.privacyIntakeFailed(c, err) {
		return
	}
	s.serveExport(c, e)
}

func (s *Server) serveExport(c *gin.Context, e *models.PrivacyExport) {
	now := s.now().UTC()
	claimed, err := s.Store.ClaimPrivacyExport(c, e.ID, now)
	if err != nil {
		s.Internal(c, err)
		return
	}
	if !claimed {
		s.privacyFail(c, http.StatusGone, "This download link was used already: each link works once.")
		return
	}
	// A request gone meanwhile leaves the kind empty: an End User's.
	kind, _ := s.Store.PrivacyRequestSubjectKind(c, e.RequestID)
	sc := exportStorage(e.OrganizationID, kind, s.regionOf(c, e.OrganizationID))
	sealed, err := s.Blobs.Get(c, sc, e.BlobKey)
	if err != nil {
		s.privacyFail(c, http.StatusGone, "This file is no longer available.")
		return
	}
	data, err := s.Keys.Open(c, models.BlobColumn("privacy_exports"), string(sealed))
	if err != nil {
		// The subject's key is destroyed (erased since): the file is gone.
		s.privacyFail(c, http.StatusGone, "This file is no longer available.")
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", e.FileName))
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, e.ContentType, data)
	if err := s.Blobs.Delete(context.WithoutCancel(c.Request.Context()), sc, e.BlobKey); err != nil {
		slog.Warn("downloaded export not deleted", "export", e.ID, "err", err)
	}
	s.Store.Tx(c, func(tx *store.Store) error {
		return s.privacyAuditTx(c, tx, &models.PrivacyRequest{ID: e.RequestID, OrganizationID: e.OrganizationID}, 0, "privacy.downloaded", e.Format)
	})
}

func exportStorage(orgID uint64, kind, region string) subprocessors.StorageContext {
	if kind == "" {
		kind = models.SubjectEndUser
	}
	return subprocessors.StorageContext{Organization: policies.OrgContext{ID: orgID, Region: region}, Subject: policies.SubjectContext{Kind: kind}, Categories: []string{"user"}}
}

func (s *Server) regionOf(c *gin.Context, orgID uint64) string {
	var region string
	if orgID != 0 {
		region, _ = s.Store.OrganizationRegion(c, orgID)
	}
	if region == "" {
		return "eu"
	}
	return region
}
