package conversation

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"unicode"

	"github.com/convot/convot/internal/blob"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
)

// Attachments are sealed under the contact's data key before they reach
// the blob store (local disk or S3): erasing the contact shreds them too.

// MaxAttachmentBytes bounds one file.
const MaxAttachmentBytes = 10 << 20

// attachmentTypes is the allow-list of content types, checked against the
// file's own bytes, never against what the sender claims.
var attachmentTypes = map[string]string{
	"image/png":       ".png",
	"image/jpeg":      ".jpg",
	"image/gif":       ".gif",
	"image/webp":      ".webp",
	"application/pdf": ".pdf",
	"text/plain":      ".txt",
	"text/csv":        ".csv",
	"application/zip": ".zip",
}

// AttachmentColumn is the column name attachments are sealed under: what
// opens a stored file (serving it, exporting it) names it too.
const AttachmentColumn = "attachments.content"

// AttachmentProblem is what is wrong with a file, so that each surface can
// answer it in its own way (an HTTP status, a note in the conversation).
type AttachmentProblem int

const (
	// AttachmentUnreadable: no file could be read from what was sent.
	AttachmentUnreadable AttachmentProblem = iota
	// AttachmentEmpty: the file has no bytes.
	AttachmentEmpty
	// AttachmentTooLarge: the file is over MaxAttachmentBytes.
	AttachmentTooLarge
	// AttachmentTypeRefused: the file's bytes are of a type not accepted.
	AttachmentTypeRefused
)

// ErrBadAttachment is a file the sender must fix; Msg says how, in words
// for the sender.
type ErrBadAttachment struct {
	Problem AttachmentProblem
	Msg     string
}

func (e ErrBadAttachment) Error() string { return e.Msg }

// ErrAttachmentTooLarge is the refusal of a file over MaxAttachmentBytes,
// wherever the size is found out (reading an upload, storing the file).
var ErrAttachmentTooLarge = ErrBadAttachment{AttachmentTooLarge, fmt.Sprintf("The file is larger than %d MB.", MaxAttachmentBytes>>20)}

// CheckAttachment refuses a file before anything is stored for it, and
// returns the content type its bytes show.
func CheckAttachment(name string, data []byte) (string, error) {
	if len(data) == 0 {
		return "", ErrBadAttachment{AttachmentEmpty, "The file is empty."}
	}
	if len(data) > MaxAttachmentBytes {
		return "", ErrAttachmentTooLarge
	}
	return sniffType(name, data)
}

// sniffType decides the content type from the bytes. Text is accepted as
// text/plain, or text/csv when the name says so.
func sniffType(name string, data []byte) (string, error) {
	detected, _, _ := mime.ParseMediaType(http.DetectContentType(data))
	if detected == "text/plain" && strings.EqualFold(path.Ext(name), ".csv") {
		detected = "text/csv"
	}
	if _, ok := attachmentTypes[detected]; !ok {
		return "", ErrBadAttachment{AttachmentTypeRefused, "This type of file is not accepted. Send an image (PNG, JPEG, GIF, WebP), a PDF, a text or CSV file, or a ZIP archive."}
	}
	return detected, nil
}

// sanitizeFileName keeps a file name printable and short, with no path, no
// control or markup characters, and an extension that matches its type.
func sanitizeFileName(name, contentType string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base(name)
	var b strings.Builder
	for _, r := range name {
		switch {
		case r == '/' || r == '"' || r == '<' || r == '>' || r == '`' || r == '\'' || r == '&' || r == ';':
			b.WriteRune('_')
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r): // incl. bidi overrides
		case unicode.IsPrint(r):
			b.WriteRune(r)
		}
	}
	name = strings.Trim(strings.TrimSpace(b.String()), ".")
	want := attachmentTypes[contentType]
	ext := strings.ToLower(path.Ext(name))
	if ext == ".jpeg" && want == ".jpg" {
		want = ".jpeg"
	}
	if ext != want {
		name += want
	}
	if r := []rune(name); len(r) > 120 {
		name = string(r[len(r)-120:])
	}
	if strings.TrimSuffix(name, want) == "" {
		name = "file" + want
	}
	return name
}

// AttachmentStorage is what the blob store (and the gate, for S3) is told
// of an organization's attachments.
func AttachmentStorage(org *models.Organization) subprocessors.StorageContext {
	return subprocessors.StorageContext{
		Organization: org.GateContext(),
		Subject:      policies.SubjectContext{Kind: models.SubjectEndUser},
		Categories:   []string{"user.content.attachment"},
	}
}

// StoreAttachment checks, seals and stores a file for a conversation. It
// is not part of a message until Post links it.
func (s *Service) StoreAttachment(ctx context.Context, org *models.Organization, conv *models.Conversation, name string, data []byte) (*models.Attachment, error) {
	return s.StoreAttachmentIn(ctx, s.Store, org, conv, name, data)
}

// StoreAttachmentIn is StoreAttachment with the attachment's row written
// in st (the caller's transaction). Should that transaction roll back,
// the caller deletes the blob (DeleteAttachmentBlob).
func (s *Service) StoreAttachmentIn(ctx context.Context, st *store.Store, org *models.Organization, conv *models.Conversation, name string, data []byte) (*models.Attachment, error) {
	contentType, err := CheckAttachment(name, data)
	if err != nil {
		return nil, err
	}
	sealed, err := s.Keys.Seal(ctx, conv.DataKeyID, AttachmentColumn, data)
	if err != nil {
		return nil, err
	}
	key := "attachments/" + strconv.FormatUint(org.ID, 10) + "/" + crypto.RandomToken(24)
	if err := s.Blobs.Put(ctx, AttachmentStorage(org), key, []byte(sealed)); err != nil {
		return nil, err
	}
	att := &models.Attachment{
		OrganizationID: org.ID, ConversationID: conv.ID, DataKeyID: conv.DataKeyID,
		FileName: sanitizeFileName(name, contentType), ContentType: contentType, Size: int64(len(data)), BlobKey: key,
	}
	if err := st.CreateAttachment(ctx, att); err != nil {
		_ = s.Blobs.Delete(ctx, AttachmentStorage(org), key)
		return nil, err
	}
	return att, nil
}

// DeleteAttachmentBlob removes a stored file (erasure, cancelled upload);
// a file already gone is no error.
func (s *Service) DeleteAttachmentBlob(ctx context.Context, org *models.Organization, att *models.Attachment) error {
	err := s.Blobs.Delete(ctx, AttachmentStorage(org), att.BlobKey)
	if errors.Is(err, blob.ErrNotFound) {
		return nil
	}
	return err
}

// ErrAttachmentGone is a file that can no longer be read: its blob was
// removed, or its data key destroyed (an erased contact).
var ErrAttachmentGone = errors.New("conversation: the attachment is no longer available")

// OpenAttachment reads and unseals a stored file, after the caller checked
// that the reader may see it.
func (s *Service) OpenAttachment(ctx context.Context, org *models.Organization, att *models.Attachment) ([]byte, error) {
	sealed, err := s.Blobs.Get(ctx, AttachmentStorage(org), att.BlobKey)
	if errors.Is(err, blob.ErrNotFound) {
		return nil, ErrAttachmentGone
	}
	if err != nil {
		return nil, err
	}
	data, err := s.Keys.Open(ctx, AttachmentColumn, string(sealed))
	if err != nil {
		// A destroyed key (an erased contact) reads as gone.
		return nil, ErrAttachmentGone
	}
	return data, nil
}
