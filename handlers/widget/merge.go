package widget

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/convot/convot/contacts"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// identifyVisitor applies an identity to the visitor (see "Who the
// visitor becomes" in identify.go) and returns the contact the visitor
// now is, whether it joined a known contact's history, and whether it
// only claims one (contacts.ProofNeeded).
func (h *Handler) identifyVisitor(ctx context.Context, org *models.Organization, vt *models.VisitorToken, current *models.Contact, id identity) (*models.Contact, identifyOutcome, error) {
	before := *current
	ct, outcome, err := h.applyIdentityOnce(ctx, org, vt, current, id)
	if errors.Is(err, store.ErrContactEmailHeld) {
		// A parallel identify took the address first: it is now a known
		// contact, and this one is decided again against it, from the
		// contact as it was (nothing of the failed attempt was saved).
		*current = before
		ct, outcome, err = h.applyIdentityOnce(ctx, org, vt, current, id)
	}
	return ct, outcome, err
}

// identifyOutcome is what identify did besides updating the contact.
type identifyOutcome struct {
	merged bool // the visitor joined a known contact's history
	// claimed: the identity named a known contact without proof; the
	// visitor's own contact records the claim (contacts.Service.Claim).
	claimed bool
}

func (h *Handler) applyIdentityOnce(ctx context.Context, org *models.Organization, vt *models.VisitorToken, current *models.Contact, id identity) (*models.Contact, identifyOutcome, error) {
	target, err := h.knownContact(ctx, org, current, id)
	if err != nil {
		return nil, identifyOutcome{}, err
	}
	compatible := (current.ExternalID == "" || id.externalID == "" || current.ExternalID == id.externalID) &&
		(current.Email == "" || id.email == "" || strings.EqualFold(current.Email, id.email))
	now := h.Now().UTC()
	switch {
	case target != nil && contacts.ProofNeeded(org):
		claimant, err := h.claimIdentity(ctx, org, vt, current, target, id, now)
		return claimant, identifyOutcome{claimed: err == nil}, err
	case target != nil && current.ExternalID == "" && compatible:
		copyTechnical(current, target)
		applyIdentity(target, id, now)
		if err := h.Contacts.Merge(ctx, org, current, target, nil, identityColumns...); err != nil {
			return nil, identifyOutcome{}, err
		}
		return target, identifyOutcome{merged: true}, nil
	case target != nil:
		copyTechnical(current, target)
		applyIdentity(target, id, now)
		err := h.Store.Tx(ctx, func(tx *store.Store) error {
			if err := saveIdentity(ctx, tx, org, target); err != nil {
				return err
			}
			return tx.MoveVisitorToken(ctx, org.ID, vt.ID, target.ID)
		})
		return target, identifyOutcome{}, err
	case compatible:
		applyIdentity(current, id, now)
		if current.ClaimedContactID == 0 || id.email == "" {
			return current, identifyOutcome{}, saveIdentity(ctx, h.Store, org, current)
		}
		// An address nobody else has: the earlier claim no longer stands.
		err := h.Store.Tx(ctx, func(tx *store.Store) error {
			if err := saveIdentity(ctx, tx, org, current); err != nil {
				return err
			}
			return tx.RecordContactClaim(ctx, org.ID, current.ID, 0)
		})
		current.ClaimedContactID = 0
		return current, identifyOutcome{}, err
	default:
		fresh := &models.Contact{OrganizationID: org.ID}
		copyTechnical(current, fresh)
		applyIdentity(fresh, id, now)
		err := h.Store.Tx(ctx, func(tx *store.Store) error {
			if err := tx.CreateContact(ctx, fresh); err != nil {
				return err
			}
			return tx.MoveVisitorToken(ctx, org.ID, vt.ID, fresh.ID)
		})
		return fresh, identifyOutcome{}, err
	}
}

// claimIdentity records, without merging, that the visitor says it is
// target: the visitor's contact takes the name, phone and attributes sent
// but not the address or external ID it cannot prove. A visitor already
// known as someone else gets a new contact for this browser.
func (h *Handler) claimIdentity(ctx context.Context, org *models.Organization, vt *models.VisitorToken, current, target *models.Contact, id identity, now time.Time) (*models.Contact, error) {
	unproven := id
	unproven.email, unproven.externalID = "", ""
	if current.Email == "" && current.ExternalID == "" {
		applyIdentity(current, unproven, now)
		err := h.Store.Tx(ctx, func(tx *store.Store) error {
			if err := saveIdentity(ctx, tx, org, current); err != nil {
				return err
			}
			return tx.RecordContactClaim(ctx, org.ID, current.ID, target.ID)
		})
		current.ClaimedContactID = target.ID
		return current, err
	}
	fresh := &models.Contact{OrganizationID: org.ID}
	copyTechnical(current, fresh)
	applyIdentity(fresh, unproven, now)
	err := h.Store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.CreateContact(ctx, fresh); err != nil {
			return err
		}
		if err := tx.RecordContactClaim(ctx, org.ID, fresh.ID, target.ID); err != nil {
			return err
		}
		return tx.MoveVisitorToken(ctx, org.ID, vt.ID, fresh.ID)
	})
	fresh.ClaimedContactID = target.ID
	return fresh, err
}

// knownContact finds another contact of the organization with the same
// external ID or, failing that, the same email (and no other external ID).
func (h *Handler) knownContact(ctx context.Context, org *models.Organization, current *models.Contact, id identity) (*models.Contact, error) {
	if id.externalID != "" {
		ct, err := h.Store.ContactByExternalID(ctx, org.ID, id.externalID, current.ID)
		if !errors.Is(err, store.ErrNotFound) {
			return ct, err
		}
	}
	if id.email != "" {
		ct, err := h.Store.ContactByEmail(ctx, org.ID, id.email, current.ID, id.externalID != "")
		if !errors.Is(err, store.ErrNotFound) {
			return ct, err
		}
	}
	return nil, nil
}

// copyTechnical gives a contact the technical information of the browser
// the visitor is using now.
func copyTechnical(from, to *models.Contact) {
	to.IP, to.UserAgent, to.BrowserLanguage, to.DeviceType, to.Country = from.IP, from.UserAgent, from.BrowserLanguage, from.DeviceType, from.Country
	if from.PageURL != "" {
		to.PageURL = from.PageURL
	}
	if from.LastSeenAt != nil {
		to.LastSeenAt = from.LastSeenAt
	}
}

func applyIdentity(ct *models.Contact, id identity, now time.Time) {
	if id.name != "" {
		ct.Name = id.name
	}
	if id.email != "" {
		ct.Email = id.email
	}
	if id.phone != "" {
		ct.Phone = id.phone
	}
	if id.externalID != "" && ct.ExternalID == "" {
		ct.ExternalID = id.externalID
	}
	if len(id.attrs) > 0 {
		attrs := map[string]string{}
		for k, v := range ct.CustomAttributes {
			attrs[k] = v
		}
		for k, v := range id.attrs {
			if v == nil {
				delete(attrs, k)
			} else {
				attrs[k] = *v
			}
		}
		// The bound holds for the merged set too: drop what does not fit,
		// keeping the attributes just sent.
		for k := range attrs {
			if len(attrs) <= MaxCustomAttributes {
				break
			}
			if _, sent := id.attrs[k]; !sent {
				delete(attrs, k)
			}
		}
		ct.CustomAttributes = attrs
	}
	ct.UpdatedAt = now
}

var identityColumns = append([]string{"name", "email", "email_index", "phone", "external_id", "external_id_index", "custom_attributes"}, technicalColumns...)

// saveIdentity writes what identify changes of the organization's contact,
// on st (the Store or a transaction).
func saveIdentity(ctx context.Context, st *store.Store, org *models.Organization, ct *models.Contact) error {
	return st.SaveContactFields(ctx, org.ID, ct, identityColumns...)
}
