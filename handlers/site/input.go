package site

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/conversation"
)

// What every request's body and text may be, checked once for every
// surface before any handler reads them: each route's body limit
// (BodyLimits, else the configured CONVOT_MAX_BODY_BYTES), and text
// without NUL characters or invalid UTF-8.

const (
	// UploadBodyLimit is one file (conversation.MaxAttachmentBytes) and
	// the multipart form around it.
	UploadBodyLimit = conversation.MaxAttachmentBytes + 64<<10
	// APIBodyLimit bounds the JSON of the widget's and the privacy API:
	// a message of conversation.MaxMessageRunes characters fits (4 bytes
	// each at most), with room for the rest.
	APIBodyLimit = 64 << 10
)

// LimitBody refuses a body over its route's limit with 413: by its
// Content-Length before a byte is read, else once the limit is read.
func (s *Site) LimitBody(c *gin.Context) {
	limit := s.Config.MaxBodyBytes
	if n, ok := s.BodyLimits[c.FullPath()]; ok {
		limit = n
	}
	if c.Request.ContentLength > limit {
		s.tooLarge(c, limit)
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	c.Next()
}

// LimitBodies gives every route of r under prefix mounted so far, and
// without a limit of its own yet, the body limit limit.
func (s *Site) LimitBodies(r *gin.Engine, prefix string, limit int64) {
	for _, route := range r.Routes() {
		if _, set := s.BodyLimits[route.Path]; !set && strings.HasPrefix(route.Path, prefix) {
			s.BodyLimits[route.Path] = limit
		}
	}
}

func (s *Site) tooLarge(c *gin.Context, limit int64) {
	size := fmt.Sprintf("%d KB", limit>>10)
	if limit >= 1<<20 {
		size = fmt.Sprintf("%d MB", limit>>20)
	}
	s.Fail(c, http.StatusRequestEntityTooLarge, "Too large", "The request body is larger than "+size+".")
}

// CheckText refuses with 400 a NUL character or invalid UTF-8 in the
// query string, a form or any other body (JSON: raw, or escaped as
// \u0000 or a lone surrogate), so that no handler stores or acts on text
// that nobody typed (PostgreSQL refuses NUL in text: a 500). Multipart
// bodies are read by their handlers, in memory (a file never lands
// unencrypted on disk); their text goes through the same checks there
// (conversation.CleanBody). Routes in RawBodies are skipped: signed
// payloads read as they came, and mail, which is cleaned, not refused.
func (s *Site) CheckText(c *gin.Context) {
	if s.RawBodies[c.FullPath()] {
		c.Next()
		return
	}
	query, err := url.ParseQuery(c.Request.URL.RawQuery)
	if err == nil && !validValues(query) {
		s.badText(c)
		return
	}
	switch contentType := c.ContentType(); {
	case c.Request.Body == nil || c.Request.Body == http.NoBody:
	case contentType == "application/x-www-form-urlencoded":
		if err := c.Request.ParseForm(); err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				s.tooLarge(c, tooLarge.Limit)
			} else {
				s.Fail(c, http.StatusBadRequest, "Bad request", "The form could not be read.")
			}
			return
		}
		if !validValues(c.Request.PostForm) {
			s.badText(c)
			return
		}
	case strings.HasPrefix(contentType, "multipart/"):
	default:
		body, err := io.ReadAll(c.Request.Body)
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				s.tooLarge(c, tooLarge.Limit)
			} else {
				s.Fail(c, http.StatusBadRequest, "Bad request", "The request body could not be read.")
			}
			return
		}
		if !ValidJSONText(body) {
			s.badText(c)
			return
		}
		c.Request.Body = io.NopCloser(bytes.NewReader(body))
	}
	c.Next()
}

func (s *Site) badText(c *gin.Context) {
	s.Fail(c, http.StatusBadRequest, "Bad request", "The text sent holds a NUL character or is not valid UTF-8.")
}

// ValidText is text a person could have typed as far as encoding goes:
// valid UTF-8 without NUL.
func ValidText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

func validValues(v url.Values) bool {
	for k, list := range v {
		if !ValidText(k) {
			return false
		}
		for _, s := range list {
			if !ValidText(s) {
				return false
			}
		}
	}
	return true
}

// ValidJSONText reports whether a body is valid UTF-8 without NUL, and,
// read as JSON, its strings escape neither a NUL (\u0000) nor a lone
// UTF-16 surrogate (which a decoder would quietly turn into U+FFFD). It
// does not check that the body is JSON: its reader does.
func ValidJSONText(body []byte) bool {
	if !utf8.Valid(body) || bytes.IndexByte(body, 0) >= 0 {
		return false
	}
	inString := false
	for i := 0; i < len(body); i++ {
		switch b := body[i]; {
		case b == '"':
			inString = !inString
		case b == '\\' && inString && i+1 < len(body):
			i++
			if body[i] != 'u' {
				continue
			}
			r, ok := hex4(body, i+1)
			if !ok {
				continue // not JSON: its reader refuses it
			}
			i += 4
			switch {
			case r == 0:
				return false
			case r >= 0xDC00 && r <= 0xDFFF:
				return false // a low surrogate alone
			case r >= 0xD800 && r <= 0xDBFF:
				low, ok := rune(0), i+2 < len(body) && body[i+1] == '\\' && body[i+2] == 'u'
				if ok {
					low, ok = hex4(body, i+3)
				}
				if !ok || low < 0xDC00 || low > 0xDFFF {
					return false // a high surrogate alone
				}
				i += 6
			}
		}
	}
	return true
}

// hex4 reads the four hex digits at body[i:].
func hex4(body []byte, i int) (rune, bool) {
	if i+4 > len(body) {
		return 0, false
	}
	var r rune
	for _, c := range body[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
