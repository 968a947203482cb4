package store

import (
	"context"
	"slices"

	"github.com/convot/convot/models"
)

// LocateEndUser finds the End User behind a request to the organization:
// the contact given and every contact of the organization with the same
// email (an email alone when no contact is given).
func (s *Store) LocateEndUser(ctx context.Context, orgID, contactID uint64, emailIndex string) (*models.Subject, error) {
	subj := &models.Subject{Kind: models.SubjectEndUser, OrganizationID: orgID}
	db := s.with(ctx)
	if contactID != 0 {
		var c models.Contact
		if err := db.Select("id", "email_index").Where("id = ? AND organization_id = ?", contactID, orgID).Limit(1).Find(&c).Error; err != nil {
			return nil, err
		}
		if c.ID == 0 {
			return subj, nil
		}
		if emailIndex == "" {
			emailIndex = c.EmailIndex
		}
	}
	q := db.Select("id", "data_key_id", "email_index").Where("organization_id = ?", orgID)
	switch {
	case contactID != 0 && emailIndex != "":
		q = q.Where("id = ? OR email_index = ?", contactID, emailIndex)
	case contactID != 0:
		q = q.Where("id = ?", contactID)
	case emailIndex != "":
		q = q.Where("email_index = ?", emailIndex)
	default:
		return subj, nil
	}
	var contacts []models.Contact
	if err := q.Order("id").Find(&contacts).Error; err != nil {
		return nil, err
	}
	for _, c := range contacts {
		subj.IDs = append(subj.IDs, c.ID)
		subj.KeyIDs = append(subj.KeyIDs, c.DataKeyID)
		if c.EmailIndex != "" && !slices.Contains(subj.EmailIndexes, c.EmailIndex) {
			subj.EmailIndexes = append(subj.EmailIndexes, c.EmailIndex)
		}
	}
	return subj, nil
}

// LocateCustomer finds a Customer's operator by account or by the blind
// index of their email, in whichever organization they are.
func (s *Store) LocateCustomer(ctx context.Context, accountID uint64, emailIndex string) (*models.Subject, error) {
	subj := &models.Subject{Kind: models.SubjectCustomer}
	q := s.with(ctx).Select("id", "organization_id", "data_key_id", "email_index", "role")
	switch {
	case accountID != 0:
		q = q.Where("id = ?", accountID)
	case emailIndex != "":
		q = q.Where("email_index = ?", emailIndex)
	default:
		return subj, nil
	}
	var a models.Account
	if err := q.Limit(1).Find(&a).Error; err != nil {
		return nil, err
	}
	if a.ID == 0 {
		return subj, nil
	}
	subj.OrganizationID, subj.IDs, subj.KeyIDs, subj.Owner = a.OrganizationID, []uint64{a.ID}, []uint64{a.DataKeyID}, a.Role == models.RoleOwner
	if a.EmailIndex != "" {
		subj.EmailIndexes = []string{a.EmailIndex}
	}
	return subj, nil
}
