package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/convot/convot/models"
)

// notFound turns gorm's missing row into ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	return err
}

// CreateWebhookEndpoint adds an endpoint to the organization; its secrets
// are sealed under the organization's data key.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, orgID uint64, ep *models.WebhookEndpoint) error {
	var org models.Organization
	if err := s.with(ctx).Select("id", "data_key_id").Where("id = ?", orgID).Take(&org).Error; err != nil {
		return notFound(err)
	}
	ep.ID, ep.OrganizationID, ep.DataKeyID = 0, orgID, org.DataKeyID
	return s.with(ctx).Create(ep).Error
}

// WebhookEndpoints lists the organization's endpoints, oldest first.
func (s *Store) WebhookEndpoints(ctx context.Context, orgID uint64) ([]models.WebhookEndpoint, error) {
	var out []models.WebhookEndpoint
	err := s.with(ctx).Where("organization_id = ?", orgID).Order("id").Find(&out).Error
	return out, err
}

// WebhookEndpoint is one of the organization's endpoints.
func (s *Store) WebhookEndpoint(ctx context.Context, orgID, id uint64) (*models.WebhookEndpoint, error) {
	var ep models.WebhookEndpoint
	if err := s.with(ctx).Where("id = ? AND organization_id = ?", id, orgID).Take(&ep).Error; err != nil {
		return nil, notFound(err)
	}
	return &ep, nil
}

// RotateWebhookSecret replaces an endpoint's secret: previous keeps
// signing until until.
func (s *Store) RotateWebhookSecret(ctx context.Context, orgID, id uint64, current, previous string, until time.Time) error {
	ep, err := s.WebhookEndpoint(ctx, orgID, id)
	if err != nil {
		return err
	}
	ep.Secret, ep.PreviousSecret, ep.PreviousUntil = current, previous, &until
	res := s.with(ctx).Model(ep).Where("organization_id = ?", orgID).
		Select("secret", "previous_secret", "previous_until", "updated_at").Updates(ep)
	return found(res.RowsAffected, res.Error)
}

// SetWebhookEndpointEnabled turns an endpoint on (clearing its failure
// clock) or off with a reason.
func (s *Store) SetWebhookEndpointEnabled(ctx context.Context, orgID, id uint64, enabled bool, reason string) error {
	res := s.with(ctx).Exec(`UPDATE webhook_endpoints SET enabled = ?, disabled_reason = ?, failing_since = NULL, updated_at = ?
WHERE id = ? AND organization_id = ?`, enabled, reason, time.Now().UTC(), id, orgID)
	return found(res.RowsAffected, res.Error)
}

// DeleteWebhookEndpoint removes an endpoint and its deliveries' log.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, orgID, id uint64) error {
	return s.Tx(ctx, func(tx *Store) error {
		res := tx.with(ctx).Exec(`DELETE FROM webhook_endpoints WHERE id = ? AND organization_id = ?`, id, orgID)
		if err := found(res.RowsAffected, res.Error); err != nil {
			return err
		}
		if err := tx.with(ctx).Exec(`DELETE FROM webhook_attempts WHERE organization_id = ? AND delivery_id IN (SELECT id FROM webhook_deliveries WHERE endpoint_id = ?)`, orgID, id).Error; err != nil {
			return err
		}
		return tx.with(ctx).Exec(`DELETE FROM webhook_deliveries WHERE organization_id = ? AND endpoint_id = ?`, orgID, id).Error
	})
}

// EnqueueWebhookEvent records an event of the organization and a pending
// delivery for each enabled endpoint subscribed to its type, in one
// statement each. Call it inside the transaction of the change it
// announces: what is committed is delivered (the deliveries are the outbox
// of the WebhookDelivery workflows), what is rolled back never was. It
// returns how many deliveries it created (0 without a subscriber, and then
// the event is not kept).
func (s *Store) EnqueueWebhookEvent(ctx context.Context, orgID uint64, ev *models.WebhookEvent) (int64, error) {
	pattern := "%," + likeEscape(ev.Type) + ",%"
	var subscribed int64
	if err := s.with(ctx).Model(&models.WebhookEndpoint{}).
		Where("organization_id = ? AND enabled = ? AND events LIKE ? ESCAPE '\\'", orgID, true, pattern).Count(&subscribed).Error; err != nil {
		return 0, err
	}
	if subscribed == 0 {
		return 0, nil
	}
	ev.ID, ev.OrganizationID = 0, orgID
	if ev.CreatedAt.IsZero() {
		ev.CreatedAt = time.Now().UTC()
	}
	if err := s.with(ctx).Create(ev).Error; err != nil {
		return 0, err
	}
	res := s.with(ctx).Exec(`INSERT INTO webhook_deliveries (organization_id, endpoint_id, event_id, status, started, attempts, created_at)
SELECT organization_id, id, ?, ?, ?, 0, ? FROM webhook_endpoints
WHERE organization_id = ? AND enabled = ? AND events LIKE ? ESCAPE '\'`,
		ev.ID, models.WebhookPending, false, ev.CreatedAt, orgID, true, pattern)
	return res.RowsAffected, res.Error
}

// EnqueueWebhookDelivery records an event for one endpoint only (a test
// event, sent whatever the endpoint subscribed to) and returns its
// delivery.
func (s *Store) EnqueueWebhookDelivery(ctx context.Context, orgID, endpointID uint64, ev *models.WebhookEvent) (*models.WebhookDelivery, error) {
	var d models.WebhookDelivery
	err := s.Tx(ctx, func(tx *Store) error {
		if _, err := tx.WebhookEndpoint(ctx, orgID, endpointID); err != nil {
			return err
		}
		ev.ID, ev.OrganizationID = 0, orgID
		if ev.CreatedAt.IsZero() {
			ev.CreatedAt = time.Now().UTC()
		}
		if err := tx.with(ctx).Create(ev).Error; err != nil {
			return err
		}
		d = models.WebhookDelivery{OrganizationID: orgID, EndpointID: endpointID, EventID: ev.ID, Status: models.WebhookPending, CreatedAt: ev.CreatedAt}
		return tx.with(ctx).Create(&d).Error
	})
	return &d, err
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// ClaimWebhookDeliveries hands up to limit deliveries whose workflow is not
// started yet to start, oldest first, and marks those start returns as
// started, in one transaction (FOR UPDATE SKIP LOCKED on PostgreSQL: two
// nodes never claim the same row). start must be idempotent (a workflow ID
// per delivery): a node killed after starting and before the commit leaves
// the row to be started again, which finds the workflow running.
//
// The outbox spans organizations: it is drained by the system.
func (s *Store) ClaimWebhookDeliveries(ctx context.Context, limit int, start func([]models.WebhookDelivery) []uint64) (int, error) {
	claimed := 0
	err := s.Tx(ctx, func(tx *Store) error {
		q := tx.with(ctx).Where("started = ?", false).Order("id").Limit(limit)
		if s.Postgres() {
			q = q.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})
		}
		var rows []models.WebhookDelivery
		if err := q.Find(&rows).Error; err != nil {
			return err
		}
		claimed = len(rows)
		if claimed == 0 {
			return nil
		}
		done := start(rows)
		if len(done) == 0 {
			return nil
		}
		return tx.with(ctx).Model(&models.WebhookDelivery{}).Where("id IN ?", done).Update("started", true).Error
	})
	return claimed, err
}

// WebhookDeliveryForAttempt is what an attempt needs: the delivery, its
// event and its endpoint (secrets opened).
type WebhookDeliveryForAttempt struct {
	Delivery models.WebhookDelivery
	Event    models.WebhookEvent
	Endpoint models.WebhookEndpoint
}

// WebhookDeliveryForAttempt loads a delivery of the organization with its
// event and endpoint.
func (s *Store) WebhookDeliveryForAttempt(ctx context.Context, orgID, deliveryID uint64) (*WebhookDeliveryForAttempt, error) {
	var out WebhookDeliveryForAttempt
	if err := s.with(ctx).Where("id = ? AND organization_id = ?", deliveryID, orgID).Take(&out.Delivery).Error; err != nil {
		return nil, notFound(err)
	}
	if err := s.with(ctx).Where("id = ? AND organization_id = ?", out.Delivery.EventID, orgID).Take(&out.Event).Error; err != nil {
		return nil, notFound(err)
	}
	ep, err := s.WebhookEndpoint(ctx, orgID, out.Delivery.EndpointID)
	if err != nil {
		return nil, err
	}
	out.Endpoint = *ep
	return &out, nil
}

// RecordWebhookAttempt logs one attempt of a delivery and sets the
// delivery's status (delivered, failed, denied or still pending) and the
// endpoint's failure clock: a success stops it, the first failure since
// the last success starts it. It returns the endpoint's FailingSince after
// the attempt (nil when it is not failing).
func (s *Store) RecordWebhookAttempt(ctx context.Context, orgID uint64, a *models.WebhookAttempt, status string) (*time.Time, error) {
	var failingSince *time.Time
	err := s.Tx(ctx, func(tx *Store) error {
		var d models.WebhookDelivery
		if err := tx.with(ctx).Where("id = ? AND organization_id = ?", a.DeliveryID, orgID).Take(&d).Error; err != nil {
			return notFound(err)
		}
		a.ID, a.OrganizationID = 0, orgID
		if err := tx.with(ctx).Create(a).Error; err != nil {
			return err
		}
		upd := map[string]any{"attempts": gorm.Expr("attempts + 1"), "last_attempt_at": a.AttemptedAt, "status": status}
		if status == models.WebhookDelivered {
			upd["delivered_at"] = a.AttemptedAt
		}
		if err := tx.with(ctx).Model(&models.WebhookDelivery{}).Where("id = ?", d.ID).Updates(upd).Error; err != nil {
			return err
		}
		switch status {
		case models.WebhookDelivered:
			if err := tx.with(ctx).Exec(`UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ? AND organization_id = ?`, d.EndpointID, orgID).Error; err != nil {
				return err
			}
		case models.WebhookDenied:
		default:
			if err := tx.with(ctx).Exec(`UPDATE webhook_endpoints SET failing_since = ? WHERE id = ? AND organization_id = ? AND failing_since IS NULL`,
				a.AttemptedAt, d.EndpointID, orgID).Error; err != nil {
				return err
			}
		}
		var ep models.WebhookEndpoint
		if err := tx.with(ctx).Select("id", "failing_since").Where("id = ?", d.EndpointID).Take(&ep).Error; err != nil {
			return notFound(err)
		}
		failingSince = ep.FailingSince
		return nil
	})
	return failingSince, err
}

// WebhookLogEntry is a delivery with its event type and attempts, newest
// attempt first.
type WebhookLogEntry struct {
	Delivery  models.WebhookDelivery
	EventType string
	Attempts  []models.WebhookAttempt
}

// WebhookDeliveryLog lists an endpoint's latest deliveries (at most limit)
// with their attempts.
func (s *Store) WebhookDeliveryLog(ctx context.Context, orgID, endpointID uint64, limit int) ([]WebhookLogEntry, error) {
	var ds []models.WebhookDelivery
	if err := s.with(ctx).Where("organization_id = ? AND endpoint_id = ?", orgID, endpointID).Order("id DESC").Limit(limit).Find(&ds).Error; err != nil {
		return nil, err
	}
	out := make([]WebhookLogEntry, 0, len(ds))
	for _, d := range ds {
		e := WebhookLogEntry{Delivery: d}
		var ev models.WebhookEvent
		if err := s.with(ctx).Select("type").Where("id = ? AND organization_id = ?", d.EventID, orgID).Take(&ev).Error; err == nil {
			e.EventType = ev.Type
		}
		if err := s.with(ctx).Where("delivery_id = ? AND organization_id = ?", d.ID, orgID).Order("id DESC").Find(&e.Attempts).Error; err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// WebhookOwnerAccounts are the accounts to mail when an endpoint is
// disabled: the organization's owners.
func (s *Store) WebhookOwnerAccounts(ctx context.Context, orgID uint64) ([]uint64, error) {
	var ids []uint64
	err := s.with(ctx).Model(&models.Account{}).Where("organization_id = ? AND role = ?", orgID, models.RoleOwner).Order("id").Pluck("id", &ids).Error
	return ids, err
}
