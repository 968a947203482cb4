package privacy

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/dsr"
	"github.com/convot/convot/workflows"
)

// Identity verification: the requester enters the code mailed to them, on
// the page or through the API, or asks for a new one.

// requestID is the request the path names.
func requestID(c *gin.Context) (uint64, bool) {
	id, err := strconv.ParseUint(c.Param("id"), 10, 64)
	return id, err == nil && id > 0
}

func (h *Handler) verifyAPI(c *gin.Context) {
	id, ok := requestID(c)
	if !ok {
		c.JSON(http.StatusNotFound, gin.H{"error": "There is no such privacy request."})
		return
	}
	if !h.AllowAttempt(c, "dsr-code:"+c.ClientIP()) {
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
	r, err := h.Intake.Verify(c, id, body.Code)
	if h.failed(c, err) {
		return
	}
	c.JSON(http.StatusOK, gin.H{"id": r.ID, "request": r.WorkflowID(), "status": "verified", "deadline": r.Deadline,
		"message": "Confirmed. The answer will be mailed to you by the deadline."})
}

func (h *Handler) resendAPI(c *gin.Context) {
	id, ok := requestID(c)
	if !ok {
		c.JSON(http.StatusNotFound, gin.H{"error": "There is no such privacy request."})
		return
	}
	r, err := h.Intake.ReissueCode(c, id)
	if h.failed(c, err) {
		return
	}
	c.JSON(http.StatusOK, gin.H{"id": r.ID, "message": "A new code is on its way."})
}

// verifyPageData is what the verification page shows.
type verifyPageData struct {
	ID       uint64
	Request  string
	Done     bool
	Deadline time.Time
}

func (h *Handler) verifyPage(c *gin.Context) {
	id, ok := requestID(c)
	if !ok {
		h.Fail(c, http.StatusNotFound, "Not found", "There is no such privacy request.")
		return
	}
	h.Render(c, http.StatusOK, "privacy_verify", h.Page(c, "Confirm your privacy request", "", verifyPageData{ID: id, Request: workflows.PrivacyRequestWorkflowID(id)}))
}

func (h *Handler) verifyForm(c *gin.Context) {
	id, ok := requestID(c)
	if !ok {
		h.Fail(c, http.StatusNotFound, "Not found", "There is no such privacy request.")
		return
	}
	if !h.AllowAttempt(c, "dsr-code:"+c.ClientIP()) {
		h.Fail(c, http.StatusTooManyRequests, "Too many attempts", "Too many attempts from your network. Wait a few minutes and try again.")
		return
	}
	r, err := h.Intake.Verify(c, id, c.PostForm("code"))
	if h.verifyFormFailed(c, id, err) {
		return
	}
	h.Render(c, http.StatusOK, "privacy_verify", h.Page(c, "Privacy request confirmed", "", verifyPageData{ID: id, Request: r.WorkflowID(), Done: true, Deadline: r.Deadline}))
}

// verifyFormFailed answers a verification form whose action failed: the
// form again with what to correct, or the intake's error; false when err
// is nil.
func (h *Handler) verifyFormFailed(c *gin.Context, id uint64, err error) bool {
	if status, msg, ok := refusal(err); ok && !errors.Is(err, dsr.ErrNotFound) {
		h.RenderForm(c, status, "privacy_verify", "Confirm your privacy request", "", verifyPageData{ID: id, Request: workflows.PrivacyRequestWorkflowID(id)}, msg)
		return true
	}
	return h.failed(c, err)
}

func (h *Handler) resendForm(c *gin.Context) {
	id, ok := requestID(c)
	if !ok {
		h.Fail(c, http.StatusNotFound, "Not found", "There is no such privacy request.")
		return
	}
	_, err := h.Intake.ReissueCode(c, id)
	if h.verifyFormFailed(c, id, err) {
		return
	}
	p := h.Page(c, "Confirm your privacy request", "", verifyPageData{ID: id, Request: workflows.PrivacyRequestWorkflowID(id)})
	p.Flash = "A new code is on its way."
	h.Render(c, http.StatusOK, "privacy_verify", p)
}
