package conversation

import (
	"context"

	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// HandoverNotice is what the visitor reads when the automated answers hand
// their conversation to the team.
const HandoverNotice = "You're now talking to our team: a person will reply here as soon as they can."

// HandoverReasonText words a handover's reason (models.Handover…) for the
// operators' event line.
func HandoverReasonText(reason string) string {
	switch reason {
	case models.HandoverAsked:
		return "the visitor asked for a person"
	case models.HandoverNotConfident:
		return "the automated answers found no confident answer"
	case models.HandoverUnavailable:
		return "the AI provider did not answer"
	case models.HandoverRefused:
		return "the contact objected to automated processing or restricted it"
	}
	return "the automated answers stopped"
}

// HandOver hands a conversation from the automated answers to the team:
// it is marked handed over (the bot no longer answers it), the operators
// get the event line "Handed to the team: <reason>" (a note only they
// see) and the visitor a notice, both live; conv is reloaded. handed is
// false when it was handed over already (nothing written).
func (s *Service) HandOver(ctx context.Context, org *models.Organization, conv *models.Conversation, reason string) (handed bool, err error) {
	var announces []func()
	err = s.Store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if handed, err = tx.MarkHandedOver(ctx, org.ID, conv.ID, reason, s.Now().UTC()); err != nil || !handed {
			return err
		}
		system := Author{Kind: workflows.AuthorSystem}
		_, _, note, err := s.PostIn(ctx, tx, org, conv, system, "Handed to the team: "+HandoverReasonText(reason), true, nil)
		if err != nil {
			return err
		}
		_, _, notice, err := s.PostIn(ctx, tx, org, conv, system, HandoverNotice, false, nil)
		if err != nil {
			return err
		}
		announces = append(announces, note, notice)
		return nil
	})
	if err != nil || !handed {
		return handed, err
	}
	fresh, err := s.Store.Conversation(ctx, org.ID, conv.ID)
	if err != nil {
		return true, err
	}
	*conv = *fresh
	for _, announce := range announces {
		announce()
	}
	s.PublishConversation(ctx, org, conv)
	return true, nil
}

// PostAutomated posts an automated answer (author "bot", marked
// Automated): committed, then delivered live like an operator's reply.
func (s *Service) PostAutomated(ctx context.Context, org *models.Organization, conv *models.Conversation, body string) (*models.Message, error) {
	msg, _, err := s.Post(ctx, org, conv, Author{Kind: workflows.AuthorBot}, body, false, nil)
	return msg, err
}
