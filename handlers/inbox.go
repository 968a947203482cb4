package handlers

import "github.com/gin-gonic/gin"

// inboxRoutes serves the operator inbox.
func (s *Server) inboxRoutes(r *gin.RouterGroup) {
}
