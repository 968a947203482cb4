package store

import (
	"context"
	"errors"
	"time"

	"github.com/convot/convot/models"
	"gorm.io/gorm"
)

// SupportTickets lists the organization's latest support tickets, most
// recently active first (at most 200).
func (s *Store) SupportTickets(ctx context.Context, orgID uint64) ([]models.SupportTicket, error) {
	var list []models.SupportTicket
	err := s.with(ctx).Where("organization_id = ?", orgID).Order("updated_at DESC, id DESC").Limit(200).Find(&list).Error
	return list, err
}

// SupportTicket loads one of the organization's support tickets, or
// ErrNotFound.
func (s *Store) SupportTicket(ctx context.Context, orgID, id uint64) (*models.SupportTicket, error) {
	return one[models.SupportTicket](s.with(ctx).Where("id = ? AND organization_id = ?", id, orgID))
}

// CreateSupportTicket writes a new ticket; its OrganizationID says whose.
func (s *Store) CreateSupportTicket(ctx context.Context, t *models.SupportTicket) error {
	return s.with(ctx).Create(t).Error
}

// OpenSupportTicketByMail writes a ticket and its first message from a
// mail to Convot's support address (t.OrganizationID and m say whose),
// once per mail: the blind index of messageID is unique, so a mail
// delivered again, even at the same moment, opens nothing and opened is
// false.
func (s *Store) OpenSupportTicketByMail(ctx context.Context, t *models.SupportTicket, m *models.SupportMessage, messageID string) (opened bool, err error) {
	index := s.keys.BlindIndex("support-mail\x00" + messageID)
	t.MailIndex = &index
	err = s.Tx(ctx, func(tx *Store) error {
		if err := tx.with(ctx).Create(t).Error; err != nil {
			return err
		}
		m.TicketID, m.OrganizationID, m.DataKeyID = t.ID, t.OrganizationID, t.DataKeyID
		return tx.with(ctx).Create(m).Error
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return false, nil
	}
	return err == nil, err
}

// CreateSupportMessage writes a message of a ticket; its OrganizationID
// says whose.
func (s *Store) CreateSupportMessage(ctx context.Context, m *models.SupportMessage) error {
	return s.with(ctx).Create(m).Error
}

// SupportMessages lists the messages of one of the organization's
// tickets, oldest first.
func (s *Store) SupportMessages(ctx context.Context, orgID, ticketID uint64) ([]models.SupportMessage, error) {
	var list []models.SupportMessage
	err := s.with(ctx).Where("ticket_id = ? AND organization_id = ?", ticketID, orgID).Order("id").Find(&list).Error
	return list, err
}

// ReopenSupportTicket sets one of the organization's tickets open again
// (a closed ticket's retention starts over when it closes again).
func (s *Store) ReopenSupportTicket(ctx context.Context, orgID, id uint64, at time.Time) error {
	return s.with(ctx).Model(&models.SupportTicket{}).Where("id = ? AND organization_id = ?", id, orgID).
		Updates(map[string]any{"status": models.TicketOpen, "closed_at": nil, "updated_at": at}).Error
}

// CloseSupportTicket closes one of the organization's tickets at at.
func (s *Store) CloseSupportTicket(ctx context.Context, orgID, id uint64, at time.Time) error {
	return s.with(ctx).Model(&models.SupportTicket{}).Where("id = ? AND organization_id = ?", id, orgID).
		Updates(map[string]any{"status": models.TicketClosed, "closed_at": at, "updated_at": at}).Error
}

// Convot's support team's side of support tickets (`convot support`): the
// team answers every organization's tickets, named by ticket ID.

// RecentSupportTickets lists up to limit tickets of every organization,
// most recently updated first.
func (s *Store) RecentSupportTickets(ctx context.Context, limit int) ([]models.SupportTicket, error) {
	var list []models.SupportTicket
	err := s.with(ctx).Order("updated_at DESC").Limit(limit).Find(&list).Error
	return list, err
}

// SupportTicketByID loads a ticket, or ErrNotFound.
func (s *Store) SupportTicketByID(ctx context.Context, ticketID uint64) (*models.SupportTicket, error) {
	return one[models.SupportTicket](s.with(ctx).Where("id = ?", ticketID))
}

// SupportMessagesByTicketID lists a ticket's messages, oldest first.
func (s *Store) SupportMessagesByTicketID(ctx context.Context, ticketID uint64) ([]models.SupportMessage, error) {
	var msgs []models.SupportMessage
	err := s.with(ctx).Where("ticket_id = ?", ticketID).Order("id").Find(&msgs).Error
	return msgs, err
}

// AnswerSupportTicketByID marks a ticket answered by support (and open
// again if it was closed).
func (s *Store) AnswerSupportTicketByID(ctx context.Context, ticketID uint64, at time.Time) error {
	return s.with(ctx).Model(&models.SupportTicket{}).Where("id = ?", ticketID).
		Updates(map[string]any{"status": models.TicketAnswered, "closed_at": nil, "updated_at": at}).Error
}

// CloseSupportTicketByID closes a ticket that is not closed already.
func (s *Store) CloseSupportTicketByID(ctx context.Context, ticketID uint64, at time.Time) error {
	return s.with(ctx).Model(&models.SupportTicket{}).Where("id = ? AND status <> ?", ticketID, models.TicketClosed).
		Updates(map[string]any{"status": models.TicketClosed, "closed_at": at, "updated_at": at}).Error
}
