package privacy

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/dsr"
)

// refusalStatus is the HTTP status of each kind of dsr.Refusal.
var refusalStatus = []struct {
	kind   error
	status int
}{
	{dsr.ErrInvalid, http.StatusBadRequest},
	{dsr.ErrInvalidAddress, http.StatusUnprocessableEntity},
	{dsr.ErrNotFound, http.StatusNotFound},
	{dsr.ErrAlreadyDone, http.StatusConflict},
	{dsr.ErrGone, http.StatusGone},
	{dsr.ErrLimitReached, http.StatusTooManyRequests},
}

// refusal reports whether err is a dsr.Refusal, with its status and the
// message for the requester.
func refusal(err error) (status int, msg string, ok bool) {
	var r *dsr.Refusal
	if !errors.As(err, &r) {
		return 0, "", false
	}
	for _, k := range refusalStatus {
		if errors.Is(r.Kind, k.kind) {
			return k.status, r.Message, true
		}
	}
	return http.StatusBadRequest, r.Message, true
}

// failed answers an error of the intake; false when there was none.
func (h *Handler) failed(c *gin.Context, err error) bool {
	if err == nil {
		return false
	}
	if status, msg, ok := refusal(err); ok {
		h.fail(c, status, msg)
		return true
	}
	if errors.Is(err, dsr.ErrUnavailable) {
		h.fail(c, http.StatusServiceUnavailable, "Privacy requests cannot be taken at the moment. Please try again in a few minutes.")
		return true
	}
	h.Internal(c, err)
	return true
}

// fail answers the API in JSON and the pages with the message page.
func (h *Handler) fail(c *gin.Context, status int, msg string) {
	if strings.HasPrefix(c.FullPath(), "/api/") {
		c.AbortWithStatusJSON(status, gin.H{"error": msg})
		return
	}
	h.Fail(c, status, http.StatusText(status), msg)
}
