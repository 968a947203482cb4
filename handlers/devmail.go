package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// The dev mailbox shows the outbox of the embedded default, as each
// recipient would see their mail. It exists only under `convot dev`.
func (s *Server) devMailRoutes(r *gin.RouterGroup) {
	r.GET("/dev/mailbox", s.mailbox)
	r.GET("/dev/mailbox/:id", s.mailMessage)
}

func (s *Server) mailbox(c *gin.Context) {
	msgs, err := s.Outbox.List()
	if err != nil {
		s.internal(c, err)
		return
	}
	s.render(c, http.StatusOK, "mailbox", s.page(c, "Dev mailbox", "mailbox", msgs))
}

func (s *Server) mailMessage(c *gin.Context) {
	m, err := s.Outbox.Get(c.Param("id"))
	if err != nil {
		s.fail(c, http.StatusNotFound, "Not found", "There is no such message.")
		return
	}
	s.render(c, http.StatusOK, "mail", s.page(c, m.Subject, "mailbox", m))
}
