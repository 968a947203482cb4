package conversation

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// A file is judged by its bytes, and each refusal says which problem it
// is: the inbound-mail webhook notes each one differently.
func TestCheckAttachment(t *testing.T) {
	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 64)...)
	for _, c := range []struct {
		name    string
		data    []byte
		want    string
		problem AttachmentProblem
	}{
		{"photo.png", png, "image/png", 0},
		{"notes.txt", []byte("hello"), "text/plain", 0},
		{"table.csv", []byte("a,b\n1,2\n"), "text/csv", 0},
		{"photo.png", []byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"), "", AttachmentTypeRefused},
		{"empty.txt", nil, "", AttachmentEmpty},
		{"big.txt", bytes.Repeat([]byte("a"), MaxAttachmentBytes+1), "", AttachmentTooLarge},
	} {
		got, err := CheckAttachment(c.name, c.data)
		var bad ErrBadAttachment
		switch {
		case c.want != "" && (err != nil || got != c.want):
			t.Errorf("%s: %q, %v; want %q", c.name, got, err, c.want)
		case c.want == "" && (!errors.As(err, &bad) || bad.Problem != c.problem || bad.Msg == ""):
			t.Errorf("%s: %v; want problem %d", c.name, err, c.problem)
		}
	}
}

// A stored name has no path, no control or markup characters, and the
// extension of the type its bytes show.
func TestSanitizeFileName(t *testing.T) {
	for _, c := range []struct{ name, contentType, want string }{
		{`C:\Users\ada\report.pdf`, "application/pdf", "report.pdf"},
		{"../../etc/passwd", "text/plain", "passwd.txt"},
		{"<script>.png", "image/png", "_script_.png"},
		{"invoice\u202egnp.exe", "image/png", "invoicegnp.exe.png"},
		{"holiday.jpeg", "image/jpeg", "holiday.jpeg"},
		{"...", "image/png", "file.png"},
		{fmt.Sprintf("%0200d.png", 7), "image/png", fmt.Sprintf("%0116d.png", 7)},
	} {
		if got := sanitizeFileName(c.name, c.contentType); got != c.want {
			t.Errorf("sanitizeFileName(%q, %s) = %q, want %q", c.name, c.contentType, got, c.want)
		}
	}
}
