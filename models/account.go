package models

import (
	"time"

	"gorm.io/gorm"
)

// Account is an operator of a Customer: owner, admin, agent or auditor
// (policy §2.1 account information).
type Account struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64 `gorm:"index"`
	DataKeyID      uint64
	FullName       string `gorm:"serializer:sealed" privacy:"category=user.name subject=customer retention=account purpose=essential.service"`
	Email          string `gorm:"serializer:sealed" privacy:"category=user.contact.email subject=customer retention=account purpose=essential.service,essential.service.notifications.email,essential.service.security"`
	EmailIndex     string `gorm:"uniqueIndex" privacy:"category=user.contact.email subject=customer retention=account purpose=essential.service.security form=index"`
	PasswordHash   string `privacy:"category=user.authorization.credentials subject=customer retention=account purpose=essential.service.security form=hash"`
	DisplayName    string `gorm:"serializer:sealed" privacy:"category=user.name subject=customer retention=account purpose=essential.service"`
	AvatarURL      string `gorm:"serializer:sealed" privacy:"category=user.content.self_image subject=customer retention=account purpose=essential.service"`
	Role           string `privacy:"category=user.account subject=customer retention=account purpose=essential.service.security form=clear"`
	TimeZone       string `privacy:"category=user.account.settings subject=customer retention=account purpose=essential.service form=clear"`
	Language       string `privacy:"category=user.account.settings subject=customer retention=account purpose=essential.service form=clear"`
	TOTPSecret     string `gorm:"serializer:sealed" privacy:"category=user.authorization.credentials subject=customer retention=account purpose=essential.service.security"`
	TOTPEnabled    bool
	TOTPLastStep   int64 // the last accepted TOTP time step: a code is never accepted twice
	FailedLogins   int
	LockedUntil    *time.Time
	Status         string `privacy:"none"` // active or disabled
	LastLoginAt    *time.Time
	// PresenceAt is when a dashboard socket of this operator last reported
	// in: the widget shows operators online when one did within a minute.
	PresenceAt *time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Roles, from most to least privileged; what each may do is in
// handlers/access.go.
const (
	RoleOwner   = "owner"
	RoleAdmin   = "admin"
	RoleAgent   = "agent"
	RoleAuditor = "auditor"
)

// Roles lists every role.
var Roles = []string{RoleOwner, RoleAdmin, RoleAgent, RoleAuditor}

// BeforeCreate gives a new account its data key.
func (a *Account) BeforeCreate(tx *gorm.DB) error {
	return ensureDataKey(tx, &a.DataKeyID, "account")
}

// BeforeSave keeps the blind index in step with the email.
func (a *Account) BeforeSave(tx *gorm.DB) error {
	if ks := KeysFrom(tx.Statement.Context); ks != nil {
		a.EmailIndex = ks.BlindIndex(a.Email)
	}
	return nil
}

// Session is a signed-in browser. Only the hash of its cookie is stored.
type Session struct {
	ID             uint64 `gorm:"primaryKey"`
	TokenHash      string `gorm:"uniqueIndex" privacy:"category=user.authorization.credentials subject=customer retention=session purpose=essential.service.security form=hash"`
	AccountID      uint64 `gorm:"index"`
	OrganizationID uint64 `gorm:"index"`
	DataKeyID      uint64 // the account's
	MFAPending     bool   // password accepted, second factor not yet
	IP             string `gorm:"serializer:sealed" privacy:"category=user.device.ip_address subject=customer retention=security_log purpose=essential.service.security,essential.fraud_detection"`
	UserAgent      string `gorm:"serializer:sealed" privacy:"category=user.device subject=customer retention=security_log purpose=essential.service.security"`
	CreatedAt      time.Time
	LastSeenAt     time.Time
	ExpiresAt      time.Time `gorm:"index"`
}

// Invitation asks someone to join an organization with a role.
type Invitation struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64 `gorm:"index"`
	DataKeyID      uint64
	Email          string `gorm:"serializer:sealed" privacy:"category=user.contact.email subject=customer retention=session purpose=essential.service.notifications.email"`
	EmailIndex     string `gorm:"index" privacy:"category=user.contact.email subject=customer retention=session purpose=essential.service form=index"`
	Role           string `privacy:"none"`
	TokenHash      string `gorm:"uniqueIndex" privacy:"category=user.authorization.credentials subject=customer retention=session purpose=essential.service.security form=hash"`
	InvitedByID    uint64
	ExpiresAt      time.Time
	AcceptedAt     *time.Time
	CreatedAt      time.Time
}

// BeforeCreate gives an invitation a data key of its own; it is destroyed
// with the invitation.
func (i *Invitation) BeforeCreate(tx *gorm.DB) error {
	return ensureDataKey(tx, &i.DataKeyID, "invitation")
}

// BeforeSave keeps the blind index in step with the email.
func (i *Invitation) BeforeSave(tx *gorm.DB) error {
	if ks := KeysFrom(tx.Statement.Context); ks != nil {
		i.EmailIndex = ks.BlindIndex(i.Email)
	}
	return nil
}

// PasswordReset is a single-use, short-lived reset link.
type PasswordReset struct {
	ID        uint64 `gorm:"primaryKey"`
	AccountID uint64 `gorm:"index"`
	TokenHash string `gorm:"uniqueIndex" privacy:"category=user.authorization.credentials subject=customer retention=session purpose=essential.service.security form=hash"`
	ExpiresAt time.Time
	UsedAt    *time.Time
	CreatedAt time.Time
}

// RecoveryCode is a single-use second factor for a lost authenticator.
type RecoveryCode struct {
	ID        uint64 `gorm:"primaryKey"`
	AccountID uint64 `gorm:"index"`
	CodeHash  string `privacy:"category=user.authorization.credentials subject=customer retention=account purpose=essential.service.security form=hash"`
	UsedAt    *time.Time
	CreatedAt time.Time
}
