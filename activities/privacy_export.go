package activities

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"path"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/convot/convot/dsr"
	"github.com/convot/convot/internal/blob"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
	"github.com/convot/convot/workflows"
)

// ExportPrivacySubject prepares the answer to an access request (a
// readable report with purposes, sources, recipients and retention, and
// the subject's files) or a portability request (JSON, CSV per category
// and the files), as a zip sealed under the subject's data key in the blob
// store. NotifyPrivacyRequester mails its single-use link.
func (a *Activities) ExportPrivacySubject(ctx context.Context, ref workflows.DsrRef) (workflows.DsrOutcome, error) {
	if a.Keys == nil || a.Blobs == nil {
		return workflows.DsrOutcome{}, temporal.NewNonRetryableApplicationError("exports need the key store and the blob store", "NotConfigured", nil)
	}
	r, err := a.privacyRequest(ctx, ref.RequestID)
	if err != nil {
		return workflows.DsrOutcome{}, err
	}
	format := models.ExportAccessReport
	if r.Type == obligations.DsrPortability {
		format = models.ExportPortabilityArchive
	}
	org, err := a.requestOrg(ctx, r)
	if err != nil {
		return workflows.DsrOutcome{}, err
	}
	controller := "Convot.io"
	if r.Controller == models.ControllerOrganization {
		if o, err := a.organization(ctx, r.OrganizationID); err == nil && o.CompanyName != "" {
			controller = o.CompanyName
		}
	}
	s := r.Subject()
	data, stats, err := a.BuildExport(ctx, s, format, ExportHeader{Request: r.WorkflowID(), Controller: controller,
		ControllerRole: r.Controller, Org: org, Generated: time.Now().UTC()})
	if err != nil {
		return workflows.DsrOutcome{}, err
	}
	key := r.DataKeyID
	if len(s.KeyIDs) > 0 {
		key = s.KeyIDs[0]
	}
	column := models.BlobColumn("privacy_exports")
	sealed, err := a.Keys.Seal(ctx, key, column, data)
	if err != nil {
		return workflows.DsrOutcome{}, err
	}
	sc := subprocessors.StorageContext{Organization: org, Subject: policies.SubjectContext{Kind: r.SubjectKind}, Categories: []string{"user"}}
	blobKey := fmt.Sprintf("privacy-exports/%d/%s", r.OrganizationID, crypto.RandomToken(24))
	if err := a.Blobs.Put(ctx, sc, blobKey, []byte(sealed)); err != nil {
		return workflows.DsrOutcome{}, err
	}
	e := models.PrivacyExport{OrganizationID: r.OrganizationID, RequestID: r.ID, DataKeyID: key, Format: format,
		FileName: fmt.Sprintf("convot-%s-%s.zip", strings.ReplaceAll(format, "_", "-"), r.WorkflowID()), ContentType: "application/zip",
		BlobKey: blobKey, Size: int64(len(data)),
		// No link yet: NotifyPrivacyRequester issues one with the mail.
		TokenHash: crypto.HashToken(crypto.RandomToken(32)),
		ExpiresAt: time.Now().UTC().Add(a.exportLifetime()), CreatedAt: time.Now().UTC()}
	if err := a.Store.CreatePrivacyExport(ctx, &e); err != nil {
		_ = a.Blobs.Delete(ctx, sc, blobKey)
		return workflows.DsrOutcome{}, err
	}
	// A retry's earlier exports go.
	older, err := a.Store.PrivacyExportsOfRequest(ctx, r.ID, e.ID)
	if err != nil {
		return workflows.DsrOutcome{}, err
	}
	for _, o := range older {
		if err := a.Blobs.Delete(ctx, sc, o.BlobKey); err != nil && !errors.Is(err, blob.ErrNotFound) {
			return workflows.DsrOutcome{}, err
		}
		if err := a.Store.DeletePrivacyExport(ctx, o.ID); err != nil {
			return workflows.DsrOutcome{}, err
		}
	}
	detail := fmt.Sprintf("%s: %d records in %d categories, %d files, %d bytes", format, stats.Rows, stats.Categories, stats.Files, len(data))
	res, _ := json.Marshal(map[string]any{"export": format, "records": stats.Rows, "categories": stats.Categories, "files": stats.Files, "bytes": len(data)})
	if err := a.updateRequest(ctx, r.ID, map[string]any{"result": string(res)}); err != nil {
		return workflows.DsrOutcome{}, err
	}
	if err := a.privacyAudit(ctx, r, "privacy.exported", detail); err != nil {
		return workflows.DsrOutcome{}, err
	}
	return workflows.DsrOutcome{Found: s.Found(), Rows: stats.Rows, Files: stats.Files, Bytes: int64(len(data)), Detail: detail}, nil
}

// ExportHeader is what an export says of itself.
type ExportHeader struct {
	Request        string `json:"request"`
	Controller     string `json:"controller"`
	ControllerRole string `json:"-"`
	// Org is the organization whose blob store holds the files.
	Org       policies.OrgContext `json:"-"`
	Generated time.Time           `json:"generated_at"`
}

// ExportStats counts what an export holds.
type ExportStats struct {
	Rows       int64
	Categories int
	Files      int
}

// BuildExport builds the zip of an access report or a portability archive
// for a subject, from the inventory.
func (a *Activities) BuildExport(ctx context.Context, s *models.Subject, format string, h ExportHeader) ([]byte, ExportStats, error) {
	var stats ExportStats
	var tables []*store.ExportTable
	blobs, err := a.engine().Collect(ctx, h.Org.ID, s, func(t *store.ExportTable) error {
		tables = append(tables, t)
		stats.Rows += int64(len(t.Rows))
		return nil
	})
	if err != nil {
		return nil, stats, err
	}
	seen := map[string]bool{}
	var cats []string
	for _, t := range tables {
		for _, c := range t.Columns {
			if c.Category != "" && !seen[c.Category] {
				seen[c.Category] = true
				cats = append(cats, c.Category)
			}
		}
	}
	sort.Strings(cats)
	stats.Categories = len(cats)
	info, err := dsr.DescribeCategories(s.Kind, cats, a.Privacy.Subprocessors)
	if err != nil {
		return nil, stats, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	files, err := a.writeBlobs(ctx, zw, h.Org, s, blobs)
	if err != nil {
		return nil, stats, err
	}
	stats.Files = len(files)
	switch format {
	case models.ExportAccessReport:
		w, err := zw.Create("report.html")
		if err != nil {
			return nil, stats, err
		}
		if err := accessReport.Execute(w, reportData{Header: h, Kind: s.Kind, Found: s.Found(), Categories: info, Tables: tables, Files: files,
			Processor: h.ControllerRole == models.ControllerOrganization}); err != nil {
			return nil, stats, err
		}
	case models.ExportPortabilityArchive:
		if err := writePortability(zw, h, s, info, tables, files); err != nil {
			return nil, stats, err
		}
	default:
		return nil, stats, fmt.Errorf("unknown export format %q", format)
	}
	if err := zw.Close(); err != nil {
		return nil, stats, err
	}
	return buf.Bytes(), stats, nil
}

// exportFile is a file of the subject's in an export.
type exportFile struct {
	Path     string `json:"file"`
	Model    string `json:"model"`
	RecordID uint64 `json:"record_id"`
	Name     string `json:"name"`
	Size     int    `json:"size"`
	Missing  string `json:"missing,omitempty"`
}

func (a *Activities) writeBlobs(ctx context.Context, zw *zip.Writer, org policies.OrgContext, s *models.Subject, blobs []store.SubjectBlob) ([]exportFile, error) {
	var files []exportFile
	for _, b := range blobs {
		f := exportFile{Model: b.Model, RecordID: b.RowID, Name: b.Name}
		sc := subprocessors.StorageContext{Organization: org, Subject: policies.SubjectContext{Kind: s.Kind},
			Categories: []string{"user.content.attachment"}}
		sealed, err := a.Blobs.Get(ctx, sc, b.BlobKey)
		switch {
		case errors.Is(err, blob.ErrNotFound):
			f.Missing = "the file is no longer stored"
			files = append(files, f)
			continue
		case err != nil:
			return nil, err
		}
		data, err := a.Keys.Open(ctx, b.Column, string(sealed))
		if err != nil {
			f.Missing = "the file can no longer be read"
			files = append(files, f)
			continue
		}
		name := path.Base(strings.ReplaceAll(b.Name, "\\", "/"))
		if name == "" || name == "." || name == "/" {
			name = "file"
		}
		f.Path = fmt.Sprintf("attachments/%d-%s", b.RowID, name)
		f.Size = len(data)
		w, err := zw.Create(f.Path)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(data); err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

func writePortability(zw *zip.Writer, h ExportHeader, s *models.Subject, info []dsr.CategoryInfo, tables []*store.ExportTable, files []exportFile) error {
	records := map[string][]map[string]string{}
	perCategory := map[string][][]string{}
	for _, t := range tables {
		idCol := -1
		for i, c := range t.Columns {
			if c.Field == "ID" {
				idCol = i
			}
		}
		for _, row := range t.Rows {
			rec := make(map[string]string, len(t.Columns))
			for i, c := range t.Columns {
				rec[c.Column] = row[i]
				if c.Category != "" && row[i] != "" {
					id := ""
					if idCol >= 0 {
						id = row[idCol]
					}
					perCategory[c.Category] = append(perCategory[c.Category], []string{t.Table, id, c.Column, row[i]})
				}
			}
			records[t.Table] = append(records[t.Table], rec)
		}
	}
	doc := map[string]any{
		"request": h.Request, "controller": h.Controller, "generated_at": h.Generated, "subject_kind": s.Kind,
		"categories": info, "records": records, "files": files,
	}
	w, err := zw.Create("data.json")
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	cats := make([]string, 0, len(perCategory))
	for c := range perCategory {
		cats = append(cats, c)
	}
	sort.Strings(cats)
	for _, c := range cats {
		w, err := zw.Create("csv/" + c + ".csv")
		if err != nil {
			return err
		}
		cw := csv.NewWriter(w)
		if err := cw.Write([]string{"table", "record_id", "field", "value"}); err != nil {
			return err
		}
		if err := cw.WriteAll(perCategory[c]); err != nil {
			return err
		}
	}
	w, err = zw.Create("README.txt")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "Your personal data held by %s (request %s, %s).\n\n"+
		"data.json  every record, by table, with what each data category is, why it is processed, where it came from, who receives it and how long it is kept\n"+
		"csv/       one CSV file per data category: table, record_id, field, value\n"+
		"attachments/  the files you sent or received\n", h.Controller, h.Request, h.Generated.Format(time.RFC3339))
	return err
}

type reportData struct {
	Header     ExportHeader
	Kind       string
	Found      bool
	Processor  bool
	Categories []dsr.CategoryInfo
	Tables     []*store.ExportTable
	Files      []exportFile
}

var accessReport = template.Must(template.New("report").Funcs(template.FuncMap{
	"join":    strings.Join,
	"date":    func(t time.Time) string { return t.UTC().Format("2 January 2006 15:04 UTC") },
	"label":   columnLabel,
	"wide":    func(t *store.ExportTable) bool { return len(t.Columns) > maxReportColumns },
	"at":      func(row []string, i int) string { return row[i] },
	"purpose": purposeDescription,
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Your personal data · {{.Header.Request}}</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;color:#1d2b24}
table{border-collapse:collapse;width:100%;table-layout:fixed;margin:.5rem 0 1.5rem;font-size:13px}th,td{border:1px solid #cdd6d0;padding:.3rem .5rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#eef3f0}td{white-space:pre-wrap}h2{margin-top:2rem}table.record th{width:35%}
@page{size:A4;margin:15mm}@media print{body{max-width:none;margin:0;font-size:11pt}table{font-size:9pt;page-break-inside:auto}tr{page-break-inside:avoid}}</style></head>
<body>
<h1>Your personal data</h1>
<p>Request {{.Header.Request}}, answered on {{date .Header.Generated}} by {{.Header.Controller}}.
{{if .Processor}}{{.Header.Controller}} is the controller of this data; Convot.io processes it on its behalf (privacy policy §1).{{else}}Convot.io is the controller of this data (privacy policy §1).{{end}}</p>
{{if not .Found}}<p><strong>No personal data is held about you under the address you gave.</strong></p>{{else}}
<h2>What is held, why, where it came from, who receives it, and for how long</h2>
<table><thead><tr><th>Data</th><th>Purposes (legal basis)</th><th>Source</th><th>Recipients</th><th>Kept</th></tr></thead><tbody>
{{range .Categories}}<tr><td><strong>{{.Description}}</strong><br><small>{{.Category}}</small></td>
<td>{{range .Purposes}}{{purpose .}}<br>{{end}}<small>({{join .LegalBases ", "}})</small></td>
<td>{{.Source}}</td><td>{{if .Recipients}}{{range .Recipients}}{{.}}<br>{{end}}{{else}}nobody outside Convot{{end}}</td>
<td>{{range .Retention}}{{.}}<br>{{end}}</td></tr>
{{end}}</tbody></table>
<p>You may ask for this data to be corrected or erased, restrict or object to its processing, withdraw a consent, receive it in a machine-readable archive, and lodge a complaint with your data-protection authority (privacy policy §9).</p>
<h2>The data</h2>
{{range .Tables}}<h3>{{.Model}} <small>({{len .Rows}})</small></h3>
{{if wide .}}{{$t := .}}{{range $row := .Rows}}
<table class="record"><caption>{{$t.Model}}</caption><tbody>{{range $i, $c := $t.Columns}}<tr><th>{{label $c}}</th><td>{{at $row $i}}</td></tr>{{end}}</tbody></table>
{{end}}{{else}}
<table><thead><tr>{{range .Columns}}<th>{{label .}}</th>{{end}}</tr></thead><tbody>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</tbody></table>
{{end}}{{end}}
{{if .Files}}<h2>Files</h2><ul>{{range .Files}}<li>{{if .Path}}<a href="{{.Path}}">{{.Name}}</a> ({{.Size}} bytes){{else}}{{.Name}}: {{.Missing}}{{end}}</li>{{end}}</ul>{{end}}
{{end}}
</body></html>
`))

// maxReportColumns is the widest table the access report prints as a
// table; a model with more columns is printed one record at a time (field
// and value), so that the report fits the width of a page.
const maxReportColumns = 5

// columnLabel is a column as the access report names it: the data
// inventory's human label of its category (models.Categories), else the
// column's name in words ("created at").
func columnLabel(c store.ExportColumn) string {
	if l := models.Categories[c.Category]; l != "" {
		switch c.Form {
		case models.FormIndex:
			return l + " (keyed lookup index, not the value)"
		case models.FormHash:
			return l + " (one-way hash, not the value)"
		}
		return l
	}
	return strings.ReplaceAll(c.Column, "_", " ")
}

// purposeDescription says what a purpose means, from the registry.
func purposeDescription(name string) string {
	reg, err := policies.LoadRegistry()
	if err != nil {
		return name
	}
	if p, ok := reg.Purposes[name]; ok && p.Description != "" {
		return p.Description
	}
	return name
}
