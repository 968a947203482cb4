package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
)

// A data subject's preferences (restriction, objections, consents, the
// under-16 flag) are history rows of models.SubjectPreference; the egress
// gate and the mailer read them through SubjectContextForContact and
// SubjectContextForAccount, which check the organization first.

// recordPreference adds a preference row: the newest of its kind and value
// is in force from now on.
func recordPreference(tx *gorm.DB, p models.SubjectPreference) error {
	if (p.ContactID == 0) == (p.AccountID == 0) {
		return fmt.Errorf("preference: exactly one of contact and account is required")
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = time.Now().UTC()
	}
	return tx.Create(&p).Error
}

// subjectContext folds a subject's preference rows (by contact_id or
// account_id) into what the egress gate must know: restriction (or the
// under-16 flag), objections and consents, the newest row of each kind and
// value in force.
func subjectContext(ctx context.Context, db *gorm.DB, kind, column string, id uint64) (policies.SubjectContext, error) {
	sc := policies.SubjectContext{Kind: kind, Objections: []string{}, Consents: []string{}}
	if id == 0 {
		return sc, nil
	}
	var rows []models.SubjectPreference
	if err := db.WithContext(ctx).Where(column+" = ?", id).Order("id").Find(&rows).Error; err != nil {
		return sc, err
	}
	state := map[[2]string]bool{}
	for _, p := range rows {
		state[[2]string{p.Kind, p.Value}] = p.Active
	}
	for k, active := range state {
		if !active {
			continue
		}
		switch k[0] {
		case models.PreferenceRestriction, models.PreferenceUnder16:
			sc.Restricted = true
		case models.PreferenceObjection:
			sc.Objections = append(sc.Objections, k[1])
		case models.PreferenceConsent:
			sc.Consents = append(sc.Consents, k[1])
		}
	}
	slices.Sort(sc.Objections)
	slices.Sort(sc.Consents)
	return sc, nil
}

// flaggedUnder16 reports whether a contact is flagged as a child under 16.
func flaggedUnder16(ctx context.Context, db *gorm.DB, contactID uint64) (bool, error) {
	var p models.SubjectPreference
	err := db.WithContext(ctx).Where("contact_id = ? AND kind = ?", contactID, models.PreferenceUnder16).Order("id DESC").Limit(1).Find(&p).Error
	return p.ID != 0 && p.Active, err
}
