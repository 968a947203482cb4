// Package web holds the dashboard's templates and static files, embedded in
// the binary, and renders pages.
package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Static serves /static/.
func Static() http.FileSystem {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	return http.FS(sub)
}

// Page is what every template receives.
type Page struct {
	Title   string
	CSRF    string
	Account any // *models.Account when signed in
	Org     any // *models.Organization when signed in
	Role    string
	Can     map[string]bool
	Flash   string
	Error   string
	Dev     bool
	Nav     string
	Data    any
	// PolicyNotice announces a material change of the privacy policy
	// (*handlers.PolicyNotice), from its publication until shortly after
	// it takes effect; nil otherwise.
	PolicyNotice any
	// Staff says the account is one of Convot's own staff: the layout
	// links the staff console.
	Staff bool
}

// Templates renders named pages inside the layout.
type Templates struct {
	pages map[string]*template.Template
}

var funcs = template.FuncMap{
	"date": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return ""
			}
			return v.UTC().Format("2006-01-02 15:04 UTC")
		case *time.Time:
			if v == nil {
				return ""
			}
			return v.UTC().Format("2006-01-02 15:04 UTC")
		}
		return ""
	},
	// isImage says whether a content type is an image the dashboard may
	// show inline (attachments are checked on upload).
	"isImage": func(contentType string) bool { return strings.HasPrefix(contentType, "image/") },
	"title": func(s string) string {
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
}

// Load parses the embedded templates.
func Load() (*Templates, error) {
	t := &Templates{pages: map[string]*template.Template{}}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	// Partials (_name.html) define pieces several pages show; every page
	// can use them.
	if _, err := layout.ParseFS(templateFS, "templates/_*.html"); err != nil {
		return nil, err
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")
		if base == "layout" || strings.HasPrefix(base, "_") {
			continue
		}
		clone, err := layout.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := clone.ParseFS(templateFS, name); err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		t.pages[base] = clone
	}
	return t, nil
}

// Render writes a page with the given status.
func (t *Templates) Render(w http.ResponseWriter, status int, name string, p Page) error {
	tmpl, ok := t.pages[name]
	if !ok {
		return fmt.Errorf("no template %q", name)
	}
	var buf bytes.Buffer
	if err := tmpl.ExecuteTemplate(&buf, "layout", p); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := buf.WriteTo(w)
	return err
}
