package handlers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"strconv"
	"strings"
	"unicode"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/internal/blob"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
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

// inlineTypes may be shown in the page (images); everything else downloads.
var inlineTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

const attachmentColumn = "attachments.content"

// errBadAttachment is an attachment the sender must fix (a 4xx).
type errBadAttachment struct {
	status int
	msg    string
}

func (e errBadAttachment) Error() string { return e.msg }

// sniffType decides the content type from the bytes. Text is accepted as
// text/plain, or text/csv when the name says so.
func sniffType(name string, data []byte) (string, error) {
	detected, _, _ := mime.ParseMediaType(http.DetectContentType(data))
	if detected == "text/plain" && strings.EqualFold(path.Ext(name), ".csv") {
		detected = "text/csv"
	}
	if _, ok := attachmentTypes[detected]; !ok {
		return "", errBadAttachment{http.StatusUnsupportedMediaType, "This type of file is not accepted. Send an image (PNG, JPEG, GIF, WebP), a PDF, a text or CSV file, or a ZIP archive."}
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

// attachmentStorage is what the blob store (and the gate, for S3) is told.
func attachmentStorage(org *models.Organization) subprocessors.StorageContext {
	return subprocessors.StorageContext{
		Organization: org.GateContext(),
		Subject:      policies.SubjectContext{Kind: models.SubjectEndUser},
		Categories:   []string{"user.content.attachment"},
	}
}

// storeAttachment checks, seals and stores a file for a conversation. It is
// not part of a message until postMessage links it.
func (s *Server) storeAttachment(ctx context.Context, org *models.Organization, conv *models.Conversation, name string, data []byte) (*models.Attachment, error) {
	if len(data) == 0 {
		return nil, errBadAttachment{http.StatusBadRequest, "The file is empty."}
	}
	if len(data) > MaxAttachmentBytes {
		return nil, errBadAttachment{http.StatusRequestEntityTooLarge, fmt.Sprintf("The file is larger than %d MB.", MaxAttachmentBytes>>20)}
	}
	contentType, err := sniffType(name, data)
	if err != nil {
		return nil, err
	}
	sealed, err := s.Keys.Seal(ctx, conv.DataKeyID, attachmentColumn, data)
	if err != nil {
		return nil, err
	}
	key := "attachments/" + strconv.FormatUint(org.ID, 10) + "/" + crypto.RandomToken(24)
	if err := s.Blobs.Put(ctx, attachmentStorage(org), key, []byte(sealed)); err != nil {
		return nil, err
	}
	att := &models.Attachment{
		OrganizationID: org.ID, ConversationID: conv.ID, DataKeyID: conv.DataKeyID,
		FileName: sanitizeFileName(name, contentType), ContentType: contentType, Size: int64(len(data)), BlobKey: key,
	}
	if err := s.Store.CreateAttachment(ctx, att); err != nil {
		_ = s.Blobs.Delete(ctx, attachmentStorage(org), key)
		return nil, err
	}
	return att, nil
}

// readUpload reads the "file" field of a multipart upload within the limit.
func readUpload(c *gin.Context) (string, []byte, error) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, MaxAttachmentBytes+64<<10)
	fh, err := c.FormFile("file")
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) || errors.Is(err, multipart.ErrMessageTooLarge) {
			return "", nil, errBadAttachment{http.StatusRequestEntityTooLarge, fmt.Sprintf("The file is larger than %d MB.", MaxAttachmentBytes>>20)}
		}
		return "", nil, errBadAttachment{http.StatusBadRequest, "Send the file as multipart/form-data in the field \"file\"."}
	}
	if fh.Size > MaxAttachmentBytes {
		return "", nil, errBadAttachment{http.StatusRequestEntityTooLarge, fmt.Sprintf("The file is larger than %d MB.", MaxAttachmentBytes>>20)}
	}
	f, err := fh.Open()
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxAttachmentBytes+1))
	if err != nil {
		return "", nil, err
	}
	return fh.Filename, data, nil
}

// serveAttachment answers with an attachment's bytes, after the caller
// checked that the reader may see it. Files are never rendered as active
// content: a strict sandbox, nosniff, and download unless an image.
func (s *Server) serveAttachment(c *gin.Context, org *models.Organization, att *models.Attachment) {
	sealed, err := s.Blobs.Get(c, attachmentStorage(org), att.BlobKey)
	if errors.Is(err, blob.ErrNotFound) {
		s.Fail(c, http.StatusNotFound, "Not found", "This file is no longer available.")
		return
	}
	if err != nil {
		s.Internal(c, err)
		return
	}
	data, err := s.Keys.Open(c, attachmentColumn, string(sealed))
	if err != nil {
		// A destroyed key (an erased contact) reads as gone.
		s.Fail(c, http.StatusNotFound, "Not found", "This file is no longer available.")
		return
	}
	disposition := "attachment"
	if inlineTypes[att.ContentType] {
		disposition = "inline"
	}
	h := c.Writer.Header()
	h.Set("Content-Disposition", mime.FormatMediaType(disposition, map[string]string{"filename": att.FileName}))
	h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; sandbox")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, no-store")
	c.Data(http.StatusOK, att.ContentType, data)
}

// deleteAttachmentBlob removes a stored file (erasure, cancelled upload).
func (s *Server) deleteAttachmentBlob(ctx context.Context, org *models.Organization, att *models.Attachment) error {
	err := s.Blobs.Delete(ctx, attachmentStorage(org), att.BlobKey)
	if errors.Is(err, blob.ErrNotFound) {
		return nil
	}
	return err
}
