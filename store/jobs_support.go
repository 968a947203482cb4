package store

import (
	"context"
	"time"

	"github.com/convot/convot/models"
)

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
