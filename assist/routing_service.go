package assist

import (
	"context"
	"strconv"

	"github.com/convot/convot/policies"
	"github.com/convot/convot/subprocessors"
)

// MinRoutingScore is the similarity a conversation must reach with an
// operator's examples to be routed to them; below it, it stays unassigned.
const MinRoutingScore = 0.05

// RouteConversation picks the operator a new conversation goes to by its
// similarity to the routing examples the admin gave (Settings → AI), with
// the organization's embeddings provider. It returns 0 when there are no
// examples, when none is similar enough, or when the chosen operator is no
// longer active. Like every feature it goes through prepare: nothing when
// embeddings are off or the contact objected or restricted processing.
func (s *Service) RouteConversation(ctx context.Context, orgID, convID uint64) (uint64, error) {
	examples, err := s.Store.RoutingExamples(ctx, orgID)
	if err != nil || len(examples) == 0 {
		return 0, err
	}
	c, err := s.prepare(ctx, orgID, convID, FeatureEmbeddings)
	if err != nil {
		return 0, err
	}
	cctx, cancel := s.bounded(ctx)
	defer cancel()
	vec, err := c.provider.Embed(cctx, c.req)
	if err != nil {
		return 0, wrap(c.provider, err)
	}
	// The examples are the admin's own text (a customer's data subject),
	// embedded like a search query.
	var rows []RoutingExample
	for _, ex := range examples {
		req := subprocessors.AIRequest{Org: c.req.Org,
			Subject: policies.SubjectContext{Kind: "customer", Objections: []string{}, Consents: []string{}},
			Content: []subprocessors.AIField{subprocessors.AIMessage(subprocessors.AIAuthorOperator, ex.Text)}}
		v, err := c.provider.Embed(cctx, req)
		if err != nil {
			return 0, wrap(c.provider, err)
		}
		rows = append(rows, RoutingExample{Target: strconv.FormatUint(ex.AccountID, 10), Vector: v})
	}
	target, _ := Route(rows, vec, MinRoutingScore)
	if target == "" {
		return 0, nil
	}
	id, err := strconv.ParseUint(target, 10, 64)
	if err != nil {
		return 0, err
	}
	members, err := s.Store.ActiveMembers(ctx, orgID)
	if err != nil {
		return 0, err
	}
	for _, m := range members {
		if m.ID == id {
			return id, nil
		}
	}
	return 0, nil
}
