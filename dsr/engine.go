package dsr

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// Engine answers the rights of §9 on a request's data subject: it locates
// them, plans and performs their erasure, scans for what is left of them,
// collects their data for access and portability, and applies their
// corrections. The subject's rows are found by one rule over the data
// inventory (store/subject.go); the activities of the request workflow
// (activities/privacy*.go) call it step by step.
//
// Every method that acts on a located subject takes the organization the
// request is addressed to first; the store refuses a subject of another
// organization (store.ErrNotFound).
type Engine struct {
	Store *store.Store
}

// ErrUnknownSubjectKind is a request about neither an End User nor a
// Customer: nothing can be located for it.
var ErrUnknownSubjectKind = errors.New("dsr: unknown subject kind")

// Locate finds the request's subject: an End User's contacts within the
// request's organization (the one given and every one with the same
// email), or a Customer's account wherever it is.
func (e Engine) Locate(ctx context.Context, r *models.PrivacyRequest) (*models.Subject, error) {
	switch r.SubjectKind {
	case models.SubjectEndUser:
		return e.Store.LocateEndUser(ctx, r.OrganizationID, r.SubjectID, r.EmailIndex)
	case models.SubjectCustomer:
		return e.Store.LocateCustomer(ctx, r.SubjectID, r.EmailIndex)
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownSubjectKind, r.SubjectKind)
}

// Plan reads what erasing the subject must do outside the database before
// the rows go (files, Stripe customers, conversation workflows) and the
// identifiers the scanner will search for afterwards.
func (e Engine) Plan(ctx context.Context, orgID uint64, s *models.Subject) (*store.ErasurePlan, error) {
	return e.Store.PlanErasure(ctx, orgID, s)
}

// Erase deletes or anonymizes every row of the subject (billing records
// kept by law) and destroys their data keys, in one transaction.
func (e Engine) Erase(ctx context.Context, orgID uint64, s *models.Subject) (*store.ErasureResult, error) {
	return e.Store.EraseSubject(ctx, orgID, s)
}

// Scan searches for what is left of an erased subject: rows the rule still
// locates, their identifiers (terms) and blind indexes in every classified
// column, keys not destroyed. The blob store is the caller's to check.
func (e Engine) Scan(ctx context.Context, orgID uint64, s *models.Subject, terms []string) (*store.ScanReport, error) {
	return e.Store.ScanErasure(ctx, orgID, s, terms)
}

// Collect reads every row of the subject, decrypted, model by model into
// fn, and returns the subject's files in the blob store.
func (e Engine) Collect(ctx context.Context, orgID uint64, s *models.Subject, fn func(*store.ExportTable) error) ([]store.SubjectBlob, error) {
	return e.Store.CollectSubjectData(ctx, orgID, s, fn)
}

// Rectify applies corrected values (by column) to each of the subject's
// own rows and returns the columns it changed, sorted. A column that is
// not rectifiable (RectifiableFields) is ErrNotRectifiable, and nothing
// changes. The caller records the audit trail.
func (e Engine) Rectify(ctx context.Context, orgID uint64, s *models.Subject, changes map[string]string) ([]string, error) {
	allowed := map[string]bool{}
	for _, f := range RectifiableFields(s.Kind) {
		allowed[f.Column] = true
	}
	var columns []string
	for col := range changes {
		if !allowed[col] {
			return nil, fmt.Errorf("%w: %s", ErrNotRectifiable, col)
		}
		columns = append(columns, col)
	}
	sort.Strings(columns)
	if !s.Found() || len(columns) == 0 {
		return nil, nil
	}
	if err := e.Store.RectifySubject(ctx, orgID, s, changes); err != nil {
		return nil, err
	}
	return columns, nil
}
