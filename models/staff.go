package models

import "time"

// StaffMember is one of Convot's own staff: the people who answer
// Customers' support tickets, handle incidents and the requests people make
// to Convot itself as controller. A staff member is a dashboard account
// that an operator of the deployment named with `convot staff add`; policy
// §10 requires multi-factor authentication of all engineering and support
// staff, so the staff console refuses a staff account until it uses TOTP.
type StaffMember struct {
	ID        uint64 `gorm:"primaryKey"`
	AccountID uint64 `gorm:"uniqueIndex"` // once: adding the same account twice is refused by the index
	CreatedAt time.Time
}
