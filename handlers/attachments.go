package handlers

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/conversation"
	"github.com/convot/convot/internal/blob"
	"github.com/convot/convot/models"
)

// The HTTP side of attachments: reading an upload, serving a file. Checking,
// sealing and storing them is package conversation's.

// inlineTypes may be shown in the page (images); everything else downloads.
var inlineTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// attachmentStatus is the HTTP answer to a file the sender must fix.
func attachmentStatus(p conversation.AttachmentProblem) int {
	switch p {
	case conversation.AttachmentTooLarge:
		return http.StatusRequestEntityTooLarge
	case conversation.AttachmentTypeRefused:
		return http.StatusUnsupportedMediaType
	default:
		return http.StatusBadRequest
	}
}

// readUpload reads the "file" field of a multipart upload within the limit.
func readUpload(c *gin.Context) (string, []byte, error) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, conversation.MaxAttachmentBytes+64<<10)
	fh, err := c.FormFile("file")
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) || errors.Is(err, multipart.ErrMessageTooLarge) {
			return "", nil, conversation.ErrAttachmentTooLarge
		}
		return "", nil, conversation.ErrBadAttachment{Problem: conversation.AttachmentUnreadable, Msg: "Send the file as multipart/form-data in the field \"file\"."}
	}
	if fh.Size > conversation.MaxAttachmentBytes {
		return "", nil, conversation.ErrAttachmentTooLarge
	}
	f, err := fh.Open()
	if err != nil {
		return "", nil, err
	}
	defer func() { _ = f.Close() }() // read only: nothing to lose
	data, err := io.ReadAll(io.LimitReader(f, conversation.MaxAttachmentBytes+1))
	if err != nil {
		return "", nil, err
	}
	return fh.Filename, data, nil
}

// serveAttachment answers with an attachment's bytes, after the caller
// checked that the reader may see it. Files are never rendered as active
// content: a strict sandbox, nosniff, and download unless an image.
func (s *Server) serveAttachment(c *gin.Context, org *models.Organization, att *models.Attachment) {
	sealed, err := s.Blobs.Get(c, conversation.AttachmentStorage(org), att.BlobKey)
	if errors.Is(err, blob.ErrNotFound) {
		s.Fail(c, http.StatusNotFound, "Not found", "This file is no longer available.")
		return
	}
	if err != nil {
		s.Internal(c, err)
		return
	}
	data, err := s.Keys.Open(c, conversation.AttachmentColumn, string(sealed))
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
