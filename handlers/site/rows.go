package site

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/convot/convot/store"
	"github.com/gin-gonic/gin"
)

// PathID reads the numeric path parameter name; anything else, and 0, is
// false (no row has id 0).
func PathID(c *gin.Context, name string) (uint64, bool) {
	id, err := strconv.ParseUint(c.Param(name), 10, 64)
	return id, err == nil && id > 0
}

// OwnRow loads, with load, the row of the current organization that the
// path's :id names: a malformed id, a missing row and another
// organization's row all answer 404 "There is no such <what>.", never a
// hint that the row exists. False when it answered the request.
func OwnRow[T any](s *Site, c *gin.Context, what string, load func(ctx context.Context, orgID, id uint64) (*T, error)) (*T, bool) {
	id, ok := PathID(c, "id")
	if !ok {
		s.Fail(c, http.StatusNotFound, "Not found", "There is no such "+what+".")
		return nil, false
	}
	row, err := load(c, CurrentOrg(c).ID, id)
	return Found(s, c, what, row, err)
}

// Found answers the lookup of a what that returned row and err:
// store.ErrNotFound is 404 "There is no such <what>.", another error 500.
// False when it answered the request.
func Found[T any](s *Site, c *gin.Context, what string, row *T, err error) (*T, bool) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.Fail(c, http.StatusNotFound, "Not found", "There is no such "+what+".")
		return nil, false
	case err != nil:
		s.Internal(c, err)
		return nil, false
	}
	return row, true
}
