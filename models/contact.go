package models

import (
	"time"

	"gorm.io/gorm"
)

// Contact is an End User of a Customer's website (policy §2.2). The
// Customer is the controller of this data; Convot processes it.
type Contact struct {
	ID               uint64 `gorm:"primaryKey"`
	OrganizationID   uint64 `gorm:"index"`
	DataKeyID        uint64
	Name             string            `gorm:"serializer:sealed" privacy:"category=user.name subject=end_user retention=account purpose=essential.service"`
	Email            string            `gorm:"serializer:sealed" privacy:"category=user.contact.email subject=end_user retention=account purpose=essential.service,essential.service.notifications.email"`
	EmailIndex       string            `gorm:"index" privacy:"category=user.contact.email subject=end_user retention=account purpose=essential.service form=index"`
	Phone            string            `gorm:"serializer:sealed" privacy:"category=user.contact.phone_number subject=end_user retention=account purpose=essential.service"`
	ExternalID       string            `gorm:"serializer:sealed" privacy:"category=user.unique_id subject=end_user retention=account purpose=essential.service"`
	ExternalIDIndex  string            `gorm:"index" privacy:"category=user.unique_id subject=end_user retention=account purpose=essential.service form=index"`
	CustomAttributes map[string]string `gorm:"serializer:sealed" privacy:"category=user.custom subject=end_user retention=account purpose=essential.service"`
	IP               string            `gorm:"serializer:sealed" privacy:"category=user.device.ip_address subject=end_user retention=security_log purpose=essential.service,essential.fraud_detection"`
	UserAgent        string            `gorm:"serializer:sealed" privacy:"category=user.device subject=end_user retention=account purpose=essential.service"`
	BrowserLanguage  string            `gorm:"serializer:sealed" privacy:"category=user.device subject=end_user retention=account purpose=essential.service"`
	PageURL          string            `gorm:"serializer:sealed" privacy:"category=user.behavior.browsing_history subject=end_user retention=account purpose=essential.service"`
	DeviceType       string            `gorm:"serializer:sealed" privacy:"category=user.device subject=end_user retention=account purpose=essential.service"`
	Country          string            `gorm:"serializer:sealed" privacy:"category=user.location.imprecise subject=end_user retention=account purpose=essential.service"`
	CreatedAt        time.Time
	UpdatedAt        time.Time
	LastSeenAt       *time.Time

	// Language is the BCP 47 tag detected from the contact's messages
	// (AI language detection), empty until detected.
	Language string `gorm:"serializer:sealed" privacy:"category=user.account.settings subject=end_user retention=account purpose=functional.ai.language_detection,functional.ai.translation"`

	// ClaimedContactID is the contact this one says it is without proof
	// (identify naming another contact's address while identity
	// verification is off); 0 when none. The two are merged only after
	// the address is proven with ClaimCode or an operator merges them.
	ClaimedContactID uint64 `gorm:"index"`
	// ClaimCodeHash is the hash of the code last mailed to the claimed
	// address; it is good until ClaimCodeExpiresAt, for ClaimMaxAttempts
	// tries, and another is sent no sooner than a minute after
	// ClaimCodeSentAt.
	ClaimCodeHash      string `privacy:"category=user.authorization.credentials subject=end_user retention=account purpose=essential.service form=hash"`
	ClaimCodeSentAt    *time.Time
	ClaimCodeExpiresAt *time.Time
	ClaimCodeAttempts  int
}

// BeforeCreate gives a new contact its data key: erasing the contact
// destroys it, and with it every message sealed under it.
func (c *Contact) BeforeCreate(tx *gorm.DB) error {
	return ensureDataKey(tx, &c.DataKeyID, "contact")
}

// BeforeSave keeps the blind indexes in step.
func (c *Contact) BeforeSave(tx *gorm.DB) error {
	if ks := KeysFrom(tx.Statement.Context); ks != nil {
		c.EmailIndex = ks.BlindIndex(c.Email)
		c.ExternalIDIndex = ks.BlindIndex(c.ExternalID)
	}
	return nil
}
