package handlers

import (
	"context"

	"github.com/convot/convot/policies"
)

// orgContextByID is what the egress gate needs to know of an organization,
// loaded by ID (a zero context, which the gate refuses, when it is gone):
// mail sent before a session exists (a password reset) has no current
// organization to take it from.
func (s *Server) orgContextByID(ctx context.Context, id uint64) policies.OrgContext {
	org, err := s.Store.Organization(ctx, id)
	if err != nil {
		return policies.OrgContext{}
	}
	return org.GateContext()
}
