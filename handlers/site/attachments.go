package site

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/conversation"
	"github.com/convot/convot/models"
)

// The HTTP side of attachments, for the inbox and the widget: reading an
// upload, serving a file. Checking, sealing and storing them is package
// conversation's.

// inlineTypes may be shown in the page (images); everything else downloads.
var inlineTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// AttachmentStatus is the HTTP answer to a file the sender must fix.
func AttachmentStatus(p conversation.AttachmentProblem) int {
	switch p {
	case conversation.AttachmentTooLarge:
		return http.StatusRequestEntityTooLarge
	case conversation.AttachmentTypeRefused:
		return http.StatusUnsupportedMediaType
	default:
		return http.StatusBadRequest
	}
}

// ReadUpload reads the "file" field of a multipart upload within the limit.
func ReadUpload(c *gin.Context) (string, []byte, error) {
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

// ServeAttachment answers with an attachment's bytes, after the caller
// checked that the reader may see it. Files are never rendered as active
// content: a strict sandbox, nosniff, and download unless an image.
func (s *Site) ServeAttachment(c *gin.Context, files *conversation.Service, org *models.Organization, att *models.Attachment) {
	data, err := files.OpenAttachment(c, org, att)
	if errors.Is(err, conversation.ErrAttachmentGone) {
		s.Fail(c, http.StatusNotFound, "Not found", "This file is no longer available.")
		return
	}
	if err != nil {
		s.Internal(c, err)
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
