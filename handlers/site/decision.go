package site

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/dsr"
	"github.com/convot/convot/store"
)

// DecisionSent reports whether an officer's decision on a privacy request
// went out (err nil); otherwise it answers what dsr refused (400 for bad
// input, 409 for a request in the wrong state) or could not send (503),
// and reports false. The organization's officer and Convot's staff answer
// alike.
func (s *Site) DecisionSent(c *gin.Context, err error) bool {
	var refusal *dsr.Refusal
	switch {
	case err == nil:
		return true
	case errors.Is(err, dsr.ErrUnavailable):
		s.Fail(c, http.StatusServiceUnavailable, "Unavailable", "The request's workflow could not be reached. Try again in a minute.")
	case errors.As(err, &refusal) && errors.Is(err, dsr.ErrInvalid):
		s.Fail(c, http.StatusBadRequest, "Cannot decide so", refusal.Message)
	case errors.As(err, &refusal):
		s.Fail(c, http.StatusConflict, "Cannot decide so", refusal.Message)
	default:
		s.Internal(c, err)
	}
	return false
}

// RemnantFromForm reads the remnant a redaction names (model, column, row).
func RemnantFromForm(c *gin.Context) store.ScanFinding {
	rowID, _ := strconv.ParseUint(c.PostForm("row"), 10, 64)
	return store.ScanFinding{Kind: "identifier_found", Model: c.PostForm("model"), Column: c.PostForm("column"), RowID: rowID}
}

// Redacted answers a redaction's error as DecisionSent does, with the
// store's refusals: a remnant that is not free text of the organization
// (422), a row that is gone (404). It reports whether the redaction was
// made.
func (s *Site) Redacted(c *gin.Context, err error) bool {
	switch {
	case errors.Is(err, store.ErrNotRedactable):
		s.Fail(c, http.StatusUnprocessableEntity, "Not redactable here", "This remnant is not free text of this organization: it cannot be redacted in the product.")
		return false
	case errors.Is(err, store.ErrNotFound):
		s.Fail(c, http.StatusNotFound, "Gone", "This row no longer exists: retry the scan.")
		return false
	}
	return s.DecisionSent(c, err)
}
