package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/convot/convot/models"
)

// ErrShopTaken is returned when a shop is connected, with a token, to
// another organization.
var ErrShopTaken = errors.New("store: the shop is connected to another organization")

// ShopifyInstall loads the organization's Shopify install (with or without
// a token), or ErrNotFound.
func (s *Store) ShopifyInstall(ctx context.Context, orgID uint64) (*models.ShopifyInstall, error) {
	return one[models.ShopifyInstall](s.with(ctx).Where("organization_id = ?", orgID))
}

// ShopifyInstallByShop loads the install of a shop domain, whichever
// organization it belongs to (webhooks name only the shop), or ErrNotFound.
func (s *Store) ShopifyInstallByShop(ctx context.Context, shop string) (*models.ShopifyInstall, error) {
	return one[models.ShopifyInstall](s.with(ctx).Where("shop = ?", shop))
}

// CreateShopifyOAuthState writes an install in progress.
func (s *Store) CreateShopifyOAuthState(ctx context.Context, st *models.ShopifyOAuthState) error {
	return s.with(ctx).Create(st).Error
}

// UseShopifyOAuthState marks the state with stateHash used, in one
// statement, if it is unused, unexpired, and bound to the organization,
// the session and the shop; it returns the state, or ErrNotFound (so of
// two callbacks racing with one state, one wins).
func (s *Store) UseShopifyOAuthState(ctx context.Context, orgID uint64, stateHash, sessionHash, shop string, now time.Time) (*models.ShopifyOAuthState, error) {
	res := s.with(ctx).Model(&models.ShopifyOAuthState{}).
		Where("state_hash = ? AND organization_id = ? AND session_hash = ? AND shop = ? AND used_at IS NULL AND expires_at > ?", stateHash, orgID, sessionHash, shop, now.UTC()).
		Update("used_at", now.UTC())
	if err := found(res.RowsAffected, res.Error); err != nil {
		return nil, err
	}
	return one[models.ShopifyOAuthState](s.with(ctx).Where("state_hash = ? AND organization_id = ?", stateHash, orgID))
}

// SaveShopifyInstall connects shop to the organization with a new token
// sealed under a new data key: any earlier install of the organization or
// of the shop (without a token) is replaced, its key destroyed. A shop
// connected with a token to another organization gives ErrShopTaken.
func (s *Store) SaveShopifyInstall(ctx context.Context, orgID uint64, shop, token string, scopes []string, now time.Time) (*models.ShopifyInstall, error) {
	var old []models.ShopifyInstall
	if err := s.with(ctx).Where("organization_id = ? OR shop = ?", orgID, shop).Find(&old).Error; err != nil {
		return nil, err
	}
	for _, o := range old {
		if o.OrganizationID != orgID && o.AccessToken != "" {
			return nil, ErrShopTaken
		}
	}
	for _, o := range old {
		if err := s.deleteShopifyInstall(ctx, &o); err != nil {
			return nil, err
		}
	}
	in := &models.ShopifyInstall{OrganizationID: orgID, Shop: shop, AccessToken: token, Scopes: strings.Join(scopes, ","), ConnectedAt: now}
	if err := s.with(ctx).Create(in).Error; err != nil {
		if IsDuplicate(err) {
			return nil, ErrShopTaken
		}
		return nil, err
	}
	return in, nil
}

func (s *Store) deleteShopifyInstall(ctx context.Context, in *models.ShopifyInstall) error {
	if err := s.keys.Destroy(s.with(ctx), in.DataKeyID); err != nil {
		return err
	}
	return s.with(ctx).Where("id = ?", in.ID).Delete(&models.ShopifyInstall{}).Error
}

// DisconnectShopify destroys the organization's Shopify token: its data key
// is destroyed and the column emptied, and no scope is granted any more.
// The row (shop and dates) stays for Shopify's later privacy webhooks. It
// returns false when nothing was connected.
func (s *Store) DisconnectShopify(ctx context.Context, orgID uint64, now time.Time) (bool, error) {
	in, err := s.ShopifyInstall(ctx, orgID)
	return s.disconnectShopify(ctx, in, err, now)
}

// DisconnectShopifyShop is DisconnectShopify when the install is of that
// shop (Shopify's app/uninstalled names the shop it concerns): a shop the
// organization replaced since is left alone.
func (s *Store) DisconnectShopifyShop(ctx context.Context, orgID uint64, shop string, now time.Time) (bool, error) {
	in, err := one[models.ShopifyInstall](s.with(ctx).Where("organization_id = ? AND shop = ?", orgID, shop))
	return s.disconnectShopify(ctx, in, err, now)
}

func (s *Store) disconnectShopify(ctx context.Context, in *models.ShopifyInstall, err error, now time.Time) (bool, error) {
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := s.keys.Destroy(s.with(ctx), in.DataKeyID); err != nil {
		return false, err
	}
	res := s.with(ctx).Model(&models.ShopifyInstall{}).Where("id = ? AND organization_id = ?", in.ID, in.OrganizationID).
		Updates(map[string]any{"access_token": "", "scopes": "", "disconnected_at": now, "updated_at": now})
	return in.AccessToken != "", res.Error
}

// DeleteShopifyShop deletes everything Convot holds from the organization's
// shop: the install (its key destroyed), the install states and the
// webhook records of the shop. It returns the rows deleted.
func (s *Store) DeleteShopifyShop(ctx context.Context, orgID uint64, shop string) (int64, error) {
	var n int64
	in, err := one[models.ShopifyInstall](s.with(ctx).Where("organization_id = ? AND shop = ?", orgID, shop))
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return 0, err
	default:
		if err := s.deleteShopifyInstall(ctx, in); err != nil {
			return 0, err
		}
		n++
	}
	res := s.with(ctx).Where("organization_id = ? AND shop = ?", orgID, shop).Delete(&models.ShopifyOAuthState{})
	if res.Error != nil {
		return 0, res.Error
	}
	n += res.RowsAffected
	res = s.with(ctx).Where("organization_id = ? AND shop = ?", orgID, shop).Delete(&models.ShopifyWebhook{})
	return n + res.RowsAffected, res.Error
}

// RecordShopifyWebhook writes a delivered webhook; a webhook ID received
// before gives an error IsDuplicate recognizes (the unique index decides,
// so two deliveries racing are one). It also notes the delivery on the
// organization's install.
func (s *Store) RecordShopifyWebhook(ctx context.Context, w *models.ShopifyWebhook) error {
	if err := s.with(ctx).Create(w).Error; err != nil {
		return err
	}
	return s.with(ctx).Model(&models.ShopifyInstall{}).Where("organization_id = ? AND shop = ?", w.OrganizationID, w.Shop).
		Updates(map[string]any{"last_webhook_topic": w.Topic, "last_webhook_at": w.ReceivedAt}).Error
}

// ShopifyWebhookByWebhookID loads a delivered webhook by Shopify's
// X-Shopify-Webhook-Id, or ErrNotFound.
func (s *Store) ShopifyWebhookByWebhookID(ctx context.Context, webhookID string) (*models.ShopifyWebhook, error) {
	return one[models.ShopifyWebhook](s.with(ctx).Where("webhook_id = ?", webhookID))
}

// ShopifyWebhook loads one of the organization's delivered webhooks, or
// ErrNotFound.
func (s *Store) ShopifyWebhook(ctx context.Context, orgID, id uint64) (*models.ShopifyWebhook, error) {
	return one[models.ShopifyWebhook](s.with(ctx).Where("id = ? AND organization_id = ?", id, orgID))
}

// SetShopifyWebhookWorkflow records the privacy request and workflow one
// of the organization's webhooks started.
func (s *Store) SetShopifyWebhookWorkflow(ctx context.Context, orgID, id, requestID uint64, workflowID string) error {
	return s.with(ctx).Model(&models.ShopifyWebhook{}).Where("id = ? AND organization_id = ?", id, orgID).
		Updates(map[string]any{"request_id": requestID, "workflow_id": workflowID}).Error
}

// DeleteShopifyWebhookRecord deletes one of the organization's webhook
// records (a delivery that could not be acted on, so that its retry is
// taken).
func (s *Store) DeleteShopifyWebhookRecord(ctx context.Context, orgID, id uint64) (int64, error) {
	res := s.with(ctx).Where("id = ? AND organization_id = ?", id, orgID).Delete(&models.ShopifyWebhook{})
	return res.RowsAffected, res.Error
}

// DeleteShopifyShopTx is DeleteShopifyShop in a transaction of its own.
func (s *Store) DeleteShopifyShopTx(ctx context.Context, orgID uint64, shop string) (int64, error) {
	var n int64
	err := s.Tx(ctx, func(tx *Store) error {
		var err error
		n, err = tx.DeleteShopifyShop(ctx, orgID, shop)
		return err
	})
	return n, err
}

// ContactsMatchingShopifyCustomer lists the organization's contacts with
// the email (by blind index), the external ID (by blind index) or the
// phone number given; phones are sealed, so they are compared opened.
func (s *Store) ContactsMatchingShopifyCustomer(ctx context.Context, orgID uint64, emailIndexes, externalIDIndexes []string, phone string) ([]uint64, error) {
	seen := map[uint64]bool{}
	var ids []uint64
	add := func(id uint64) {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(emailIndexes)+len(externalIDIndexes) > 0 {
		var rows []models.Contact
		q := s.with(ctx).Select("id").Where("organization_id = ?", orgID)
		switch {
		case len(emailIndexes) > 0 && len(externalIDIndexes) > 0:
			q = q.Where("email_index IN ? OR external_id_index IN ?", emailIndexes, externalIDIndexes)
		case len(emailIndexes) > 0:
			q = q.Where("email_index IN ?", emailIndexes)
		default:
			q = q.Where("external_id_index IN ?", externalIDIndexes)
		}
		if err := q.Order("id").Find(&rows).Error; err != nil {
			return nil, err
		}
		for _, c := range rows {
			add(c.ID)
		}
	}
	if phone = normalizePhone(phone); phone != "" {
		var rows []models.Contact
		if err := s.with(ctx).Select("id", "data_key_id", "phone").Where("organization_id = ? AND phone <> ''", orgID).Order("id").Find(&rows).Error; err != nil {
			return nil, err
		}
		for _, c := range rows {
			if normalizePhone(c.Phone) == phone {
				add(c.ID)
			}
		}
	}
	return ids, nil
}

// normalizePhone keeps a leading + and the digits.
func normalizePhone(p string) string {
	var b strings.Builder
	for i, r := range strings.TrimSpace(p) {
		if (r >= '0' && r <= '9') || (r == '+' && i == 0) {
			b.WriteRune(r)
		}
	}
	if b.Len() < 5 {
		return ""
	}
	return b.String()
}
