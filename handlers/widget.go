package handlers

import "github.com/gin-gonic/gin"

// widgetRoutes serves the widget script and its API.
func (s *Server) widgetRoutes(r *gin.Engine) {
}
