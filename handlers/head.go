package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// headAsGet answers a HEAD that matched no route through the GET route of
// the same path, its middleware included (load balancers probe /healthz
// with HEAD): gin routes HEAD only where it was registered. net/http then
// sends the status and headers without the body, since the connection's
// request is still a HEAD. It reports whether it answered.
func headAsGet(r *gin.Engine, c *gin.Context) bool {
	if c.Request.Method != http.MethodHead {
		return false
	}
	c.Request.Method = http.MethodGet
	r.HandleContext(c)
	return true
}
