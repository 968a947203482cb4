package webhooks

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// Routing rule (never across organizations): the organizations a mail is
// addressed to are those whose support address is among its recipients
// (OriginalRecipient, To, Cc). A reply token (MailboxHash, or a
// reply+TOKEN@ recipient) or a Message-ID in In-Reply-To/References
// threads the mail into its conversation only when that conversation's
// organization is among them, or when the mail names no support address
// at all; and only when the sender is that conversation's contact. A mail
// that names another organization's support address starts a conversation
// there instead; an unknown token is never guessed at.

// routeInbound decides the organization a mail goes to and, when it
// continues a conversation, that conversation (see the rule at the top).
func (h *Handler) routeInbound(ctx context.Context, in *postmarkInboundMail, recipients []string, from string) (*models.Organization, *models.Conversation, error) {
	domain := h.Config.InboundDomain
	// The organizations addressed by their support address, in recipient
	// order (the original recipient first).
	var addressed []models.Organization
	for _, r := range recipients {
		if strings.HasSuffix(r, "@"+domain) {
			continue
		}
		org, err := h.Store.OrganizationBySupportAddressIndex(ctx, h.Keys.BlindIndex(r))
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, nil, err
		case !slices.ContainsFunc(addressed, func(o models.Organization) bool { return o.ID == org.ID }):
			addressed = append(addressed, *org)
		}
	}
	allowed := func(orgID uint64) bool {
		return len(addressed) == 0 || slices.ContainsFunc(addressed, func(o models.Organization) bool { return o.ID == orgID })
	}

	// Candidate conversations: by reply token first, then by the
	// Message-IDs the mail answers (the closest first).
	var candidates []struct{ orgID, convID uint64 }
	tokens := []string{}
	if h := strings.ToLower(strings.TrimSpace(in.MailboxHash)); mail.ValidReplyToken(h) {
		tokens = append(tokens, h)
	}
	for _, r := range recipients {
		if t, ok := mail.ParseReplyAddress(r, domain); ok && !slices.Contains(tokens, t) {
			tokens = append(tokens, t)
		}
	}
	for _, token := range tokens {
		t, err := h.Store.EmailThreadByReplyToken(ctx, token)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, nil, err
		default:
			candidates = append(candidates, struct{ orgID, convID uint64 }{t.OrganizationID, t.ConversationID})
		}
	}
	refs := mail.ParseMessageIDs(in.header("References"))
	refs = append(refs, mail.ParseMessageIDs(in.header("In-Reply-To"))...)
	slices.Reverse(refs) // In-Reply-To, then the closest ancestors
	matches, err := h.Store.EmailMessagesByHeaderIDs(ctx, refs)
	if err != nil {
		return nil, nil, err
	}
	byIndex := map[string][]models.EmailMessage{}
	for _, m := range matches {
		byIndex[m.HeaderIDIndex] = append(byIndex[m.HeaderIDIndex], m)
	}
	for _, ref := range refs {
		found := byIndex[h.Keys.BlindIndex(ref)]
		orgs := map[uint64]bool{}
		for _, m := range found {
			if allowed(m.OrganizationID) {
				orgs[m.OrganizationID] = true
			}
		}
		if len(orgs) != 1 {
			continue // none, or the same Message-ID in several organizations: never a guess
		}
		for _, m := range found {
			if orgs[m.OrganizationID] {
				candidates = append(candidates, struct{ orgID, convID uint64 }{m.OrganizationID, m.ConversationID})
				break
			}
		}
	}

	senderIndex := h.Keys.BlindIndex(from)
	var threadOrg *models.Organization
	for _, cand := range candidates {
		if !allowed(cand.orgID) {
			continue // addressed to another organization: never across
		}
		org, err := h.Store.Organization(ctx, cand.orgID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, nil, err
		}
		conv, err := h.Store.Conversation(ctx, cand.orgID, cand.convID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, nil, err
		}
		if org == nil || conv == nil {
			continue
		}
		contact, err := h.Store.Contact(ctx, org.ID, conv.ContactID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, nil, err
		}
		if contact != nil && contact.EmailIndex != "" && contact.EmailIndex == senderIndex {
			return org, conv, nil
		}
		// Someone else answered (a forward, a colleague): their own
		// conversation, with the organization the thread belongs to.
		if threadOrg == nil {
			threadOrg = org
		}
	}
	if threadOrg != nil {
		return threadOrg, nil, nil
	}
	if len(addressed) > 0 {
		return &addressed[0], nil, nil
	}
	return nil, nil, nil
}
