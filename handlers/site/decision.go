package site

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/dsr"
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
