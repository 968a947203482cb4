package widget

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/convot/convot/conversation"
	"github.com/convot/convot/internal/blob"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// identifyVisitor applies an identity to the visitor (see "Who the
// visitor becomes" in identify.go) and returns the contact the visitor
// now is.
func (h *Handler) identifyVisitor(ctx context.Context, org *models.Organization, vt *models.VisitorToken, current *models.Contact, id identity) (*models.Contact, bool, error) {
	target, err := h.knownContact(ctx, org, current, id)
	if err != nil {
		return nil, false, err
	}
	compatible := (current.ExternalID == "" || id.externalID == "" || current.ExternalID == id.externalID) &&
		(current.Email == "" || id.email == "" || strings.EqualFold(current.Email, id.email))
	now := h.Now().UTC()
	switch {
	case target != nil && current.ExternalID == "" && compatible:
		if err := h.mergeVisitor(ctx, org, current, target, id); err != nil {
			return nil, false, err
		}
		return target, true, nil
	case target != nil:
		copyTechnical(current, target)
		applyIdentity(target, id, now)
		err := h.Store.Tx(ctx, func(tx *store.Store) error {
			if err := saveIdentity(ctx, tx, org, target); err != nil {
				return err
			}
			return tx.MoveVisitorToken(ctx, org.ID, vt.ID, target.ID)
		})
		return target, false, err
	case compatible:
		applyIdentity(current, id, now)
		return current, false, saveIdentity(ctx, h.Store, org, current)
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
		return fresh, false, err
	}
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

// mergeVisitor merges the anonymous visitor's contact into the known one
// in one transaction, then removes the blobs the merge replaced.
func (h *Handler) mergeVisitor(ctx context.Context, org *models.Organization, from, into *models.Contact, id identity) error {
	// Both data keys are read inside the transaction: load them first.
	for _, keyID := range []uint64{from.DataKeyID, into.DataKeyID} {
		if _, err := h.Keys.Seal(ctx, keyID, "merge", nil); err != nil {
			return err
		}
	}
	copyTechnical(from, into)
	applyIdentity(into, id, h.Now().UTC())
	var res *models.MergeResult
	err := h.Store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if res, err = tx.MergeContacts(ctx, from, into, h.attachmentBlobMover(org)); err != nil {
			return err
		}
		return saveIdentity(ctx, tx, org, into)
	})
	cleanup := context.WithoutCancel(ctx)
	if err != nil {
		if res != nil {
			h.deleteBlobs(cleanup, org, res.NewBlobKeys)
		}
		return err
	}
	h.deleteBlobs(cleanup, org, res.OldBlobKeys)
	// Operators see the conversations under their new contact.
	for _, convID := range res.Conversations {
		if conv, err := h.Store.Conversation(cleanup, org.ID, convID); err == nil {
			h.Conversations.PublishConversation(cleanup, org, conv)
		}
	}
	return nil
}

// attachmentBlobMover re-seals an attachment's bytes under another data
// key, in a new blob.
func (h *Handler) attachmentBlobMover(org *models.Organization) models.BlobMover {
	return func(ctx context.Context, att *models.Attachment, toKeyID uint64) (string, error) {
		sealed, err := h.Blobs.Get(ctx, conversation.AttachmentStorage(org), att.BlobKey)
		if errors.Is(err, blob.ErrNotFound) {
			return att.BlobKey, nil // already gone: nothing to move
		}
		if err != nil {
			return "", err
		}
		data, err := h.Keys.Open(ctx, conversation.AttachmentColumn, string(sealed))
		if err != nil {
			return "", err
		}
		resealed, err := h.Keys.Seal(ctx, toKeyID, conversation.AttachmentColumn, data)
		if err != nil {
			return "", err
		}
		key := "attachments/" + strconv.FormatUint(org.ID, 10) + "/" + crypto.RandomToken(24)
		if err := h.Blobs.Put(ctx, conversation.AttachmentStorage(org), key, []byte(resealed)); err != nil {
			return "", err
		}
		return key, nil
	}
}

func (h *Handler) deleteBlobs(ctx context.Context, org *models.Organization, keys []string) {
	for _, k := range keys {
		if err := h.Blobs.Delete(ctx, conversation.AttachmentStorage(org), k); err != nil && !errors.Is(err, blob.ErrNotFound) {
			slog.Warn("blob not removed after merge", "err", err)
		}
	}
}
