package models

import "time"

// AuditEvent records a security-relevant action: sign-ins, failures, role
// and MFA changes. It is kept as a security log (policy §8: 12 months).
type AuditEvent struct {
	ID             uint64    `gorm:"primaryKey"`
	OrganizationID uint64    `gorm:"index"`
	ActorID        uint64    `gorm:"index"` // the account acting, 0 when unknown
	DataKeyID      uint64    // the actor's, else the system key
	Action         string    `gorm:"index" privacy:"none"` // e.g. auth.login, auth.login_failed, account.role_changed
	Target         string    `privacy:"none"`              // what was acted on, as kind:id, never a name or email
	Detail         string    `privacy:"none"`              // non-personal detail such as "agent -> admin"
	IP             string    `gorm:"serializer:sealed" privacy:"category=user.device.ip_address subject=customer retention=security_log purpose=essential.service.security,essential.fraud_detection"`
	UserAgent      string    `gorm:"serializer:sealed" privacy:"category=user.device subject=customer retention=security_log purpose=essential.service.security"`
	CreatedAt      time.Time `gorm:"index"`
}

// UsageEvent is one use of the dashboard by an operator (policy §2.1 usage
// data), kept 12 months.
type UsageEvent struct {
	ID             uint64    `gorm:"primaryKey"`
	OrganizationID uint64    `gorm:"index"`
	AccountID      uint64    `gorm:"index"`
	DataKeyID      uint64    // the account's
	Page           string    `gorm:"serializer:sealed" privacy:"category=user.behavior.browsing_history subject=customer retention=security_log purpose=analytics.reporting.system.performance,functional.service.improve"`
	Feature        string    `privacy:"category=user.behavior subject=customer retention=security_log purpose=functional.service.improve form=clear"`
	Browser        string    `gorm:"serializer:sealed" privacy:"category=user.device subject=customer retention=security_log purpose=analytics.reporting.system.performance"`
	OS             string    `gorm:"serializer:sealed" privacy:"category=user.device subject=customer retention=security_log purpose=analytics.reporting.system.performance"`
	DeviceType     string    `gorm:"serializer:sealed" privacy:"category=user.device subject=customer retention=security_log purpose=analytics.reporting.system.performance"`
	IP             string    `gorm:"serializer:sealed" privacy:"category=user.device.ip_address subject=customer retention=security_log purpose=essential.fraud_detection"`
	Referrer       string    `gorm:"serializer:sealed" privacy:"category=user.behavior.browsing_history subject=customer retention=security_log purpose=analytics.reporting.system.performance"`
	OccurredAt     time.Time `gorm:"index"`
}
