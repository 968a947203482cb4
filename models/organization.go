package models

import (
	"time"

	"gorm.io/gorm"

	"github.com/convot/convot/policies"
)

// Organization is a Customer: the business that signs up and deploys the
// widget (policy §1, §2.1 organization information).
type Organization struct {
	ID             uint64 `gorm:"primaryKey"`
	PublicKey      string `gorm:"uniqueIndex" privacy:"none"` // the widget's data-org key, public by design
	DataKeyID      uint64
	CompanyName    string `gorm:"serializer:sealed" privacy:"category=user.workplace subject=customer retention=account purpose=essential.service"`
	Website        string `gorm:"serializer:sealed" privacy:"category=user.workplace subject=customer retention=account purpose=essential.service"`
	Industry       string `gorm:"serializer:sealed" privacy:"category=user.workplace subject=customer retention=account purpose=essential.service,functional.service.improve"`
	TeamSize       int
	BillingAddress string `gorm:"serializer:sealed" privacy:"category=user.contact.address subject=customer retention=account purpose=essential.service.payment_processing"`
	TaxIdentifier  string `gorm:"serializer:sealed" privacy:"category=user.financial subject=customer retention=account purpose=essential.service.payment_processing,essential.legal_obligation"`
	Region         string `privacy:"none"` // us or eu: where its data is processed
	Status         string `privacy:"none"` // active, cancelled, deleted
	RequireMFA     bool
	// AutoAssignOnReply assigns an unassigned conversation to the
	// operator who first replies in it.
	AutoAssignOnReply bool
	// Widget settings. AllowedOrigins (one per line) are the sites that may
	// embed the widget and call its API. With IdentityVerification on,
	// identify must carry an HMAC of the user's ID under IdentitySecret.
	AllowedOrigins       string `privacy:"none"`
	IdentityVerification bool
	IdentitySecret       string `gorm:"serializer:sealed" privacy:"none"`
	InactivityHours      int    // auto-resolve after this long without messages
	WidgetColor          string `privacy:"none"`
	WidgetGreeting       string `privacy:"none"`
	// SupportAddress is where the organization's customers write; mail
	// Postmark receives for it starts or continues a conversation (policy
	// §2.3). Looked up by its blind index, kept in step by the settings.
	SupportAddress      string `gorm:"serializer:sealed" privacy:"category=user.contact.email subject=customer retention=account purpose=essential.service"`
	SupportAddressIndex string `privacy:"category=user.contact.email subject=customer retention=account purpose=essential.service form=index"`
	CreatedAt           time.Time
	UpdatedAt           time.Time

	// AISettings names the provider of each AI feature the organization
	// turned on ("summary=local;translation=openai"); see AIFeatureProviders.
	AISettings string `privacy:"none"`
}

// Organization statuses.
const (
	OrgActive    = "active"
	OrgCancelled = "cancelled"
)

// Regions an organization may choose.
var Regions = []string{"us", "eu", "uk", "ch"}

// BeforeCreate gives a new organization its data key.
func (o *Organization) BeforeCreate(tx *gorm.DB) error {
	return ensureDataKey(tx, &o.DataKeyID, "organization")
}

func ensureDataKey(tx *gorm.DB, id *uint64, subject string) error {
	if *id != 0 {
		return nil
	}
	ks := KeysFrom(tx.Statement.Context)
	if ks == nil {
		return gorm.ErrInvalidDB
	}
	var err error
	*id, err = ks.NewKey(tx, subject)
	return err
}

// GateContext is what the egress gate needs to know of the organization.
func (o *Organization) GateContext() policies.OrgContext {
	return policies.OrgContext{ID: o.ID, Region: o.Region, AIFeatures: AIFeaturesOn(o.AISettings)}
}
