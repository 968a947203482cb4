package models

import (
	"time"

	"gorm.io/gorm"
)

// The Convot Shopify app (policy §6): a shop connected to an organization
// by OAuth, the single-use states of installs in progress, and the
// privacy webhooks Shopify sent. Nothing a shop's customers are is stored
// here: their records are read through the gate when an operator looks,
// and kept in memory briefly.

// ShopifyInstall is one shop connected to one organization. The access
// token is sealed under the install's own data key, which disconnecting
// or uninstalling destroys (the token is unreadable at once, in backups
// too). The row itself stays, without a token, until Shopify's
// shop/redact, because Shopify's privacy webhooks for the shop arrive after
// the uninstall and name only the shop.
type ShopifyInstall struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64 `gorm:"uniqueIndex"`
	// Shop is the shop's permanent *.myshopify.com domain.
	Shop      string `gorm:"uniqueIndex" privacy:"none"`
	DataKeyID uint64
	// AccessToken is Shopify's offline access token; empty once destroyed.
	AccessToken string `gorm:"serializer:sealed" privacy:"category=user.authorization.credentials subject=customer retention=account purpose=essential.service.operations.support"`
	// Scopes are the scopes Shopify granted, comma-separated (what the gate
	// sees as organization.shopify_scopes while a token is held).
	Scopes           string `privacy:"none"`
	ConnectedAt      time.Time
	DisconnectedAt   *time.Time
	LastWebhookTopic string `privacy:"none"`
	LastWebhookAt    *time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// BeforeCreate gives a new install its data key.
func (i *ShopifyInstall) BeforeCreate(tx *gorm.DB) error {
	return ensureDataKey(tx, &i.DataKeyID, "shopify")
}

// ShopifyOAuthState is an install in progress: the random state sent to
// Shopify (stored as its hash, unique), bound to the owner's session, the
// shop and the scopes the owner chose. It is used once, by a single
// statement.
type ShopifyOAuthState struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64 `gorm:"index"`
	AccountID      uint64
	StateHash      string `gorm:"uniqueIndex" privacy:"none"` // a hash of random bytes
	SessionHash    string `privacy:"category=user.authorization.credentials subject=customer retention=session purpose=essential.service.security form=hash"`
	Shop           string `privacy:"none"`
	Scopes         string `privacy:"none"`
	ExpiresAt      time.Time
	UsedAt         *time.Time
	CreatedAt      time.Time
}

// ShopifyWebhook is one webhook Shopify delivered, by its
// X-Shopify-Webhook-Id (unique: a replay is refused), with the workflow it
// started. It holds no customer data: a data request's or a redaction's
// identifiers are in the privacy request it created, sealed.
type ShopifyWebhook struct {
	ID             uint64 `gorm:"primaryKey"`
	WebhookID      string `gorm:"uniqueIndex" privacy:"none"`
	OrganizationID uint64 `gorm:"index"`
	Shop           string `privacy:"none"`
	Topic          string `privacy:"none"`
	RequestID      uint64 // the privacy request it became, if any
	WorkflowID     string `privacy:"none"`
	ReceivedAt     time.Time
}

// TableName is the table's name (GORM would split OAuth).
func (ShopifyOAuthState) TableName() string { return "shopify_oauth_states" }
