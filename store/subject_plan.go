package store

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"gorm.io/gorm"

	"github.com/convot/convot/models"
)

// identifierCategories are the categories whose values identify a person:
// the erasure scanner searches every classified column for them.
var identifierCategories = map[string]bool{
	"user.name": true, "user.contact.email": true, "user.contact.phone_number": true, "user.unique_id": true,
}

// ErasurePlan is what erasure must do outside the database before the rows
// go: blobs to delete, Stripe customers to delete, conversation workflows
// to cancel; and the identifiers the scanner will search for afterwards.
type ErasurePlan struct {
	BlobKeys          []string
	StripeCustomerIDs []string
	ConversationIDs   []uint64
	Terms             []string
	// Counts says, per model, how many of the subject's rows erasure
	// deletes, anonymizes or keeps, and the categories of data they hold:
	// what the officer confirms before approving.
	Counts []PlanCount
}

// PlanCount is what erasure does to the subject's rows of one model.
type PlanCount struct {
	Model      string   // e.g. Message
	Categories []string // the data categories of its personal fields (fideslang names)
	Rows       int64
	Action     string // PlanDelete, PlanAnonymize or PlanKeep
}

// What erasure does to a located row.
const (
	PlanDelete    = "deleted"
	PlanAnonymize = "anonymized (the row stays, its personal fields are emptied)"
	PlanKeep      = "kept by law (billing records, seven years)"
)

// PlanErasure reads what erasure needs before anything is deleted: the
// files and Stripe customers to delete, the conversations to announce,
// and what the scanner must look for afterwards.
func (s *Store) PlanErasure(ctx context.Context, orgID uint64, subject *models.Subject) (*ErasurePlan, error) {
	if err := ofOrganization(orgID, subject); err != nil {
		return nil, err
	}
	return planErasure(ctx, s.db, subject)
}

func planErasure(ctx context.Context, db *gorm.DB, s *models.Subject) (*ErasurePlan, error) {
	infos, err := describedOnce()
	if err != nil {
		return nil, err
	}
	p := &ErasurePlan{}
	if !s.Found() {
		return p, nil
	}
	db = db.WithContext(ctx)
	for _, m := range infos {
		where, args, ok := m.condition(s)
		if !ok {
			continue
		}
		if m.has("stripe_customer_id") {
			var found []string
			if err := db.Table(m.table).Where(where, args...).Where("stripe_customer_id <> ''").Distinct().Pluck("stripe_customer_id", &found).Error; err != nil {
				return nil, err
			}
			p.StripeCustomerIDs = append(p.StripeCustomerIDs, found...)
		}
		if len(m.fields) > 0 {
			var n int64
			if err := db.Table(m.table).Where(where, args...).Count(&n).Error; err != nil {
				return nil, err
			}
			if n > 0 {
				c := PlanCount{Model: m.name, Rows: n, Action: PlanDelete}
				switch {
				case m.retained:
					c.Action = PlanKeep
				case m.anonymize:
					c.Action = PlanAnonymize
				}
				for _, f := range m.fields {
					if f.Subject == s.Kind && !slices.Contains(c.Categories, f.Category) {
						c.Categories = append(c.Categories, f.Category)
					}
				}
				sort.Strings(c.Categories)
				p.Counts = append(p.Counts, c)
			}
		}
		if m.retained {
			continue
		}
		if m.has("blob_key") {
			var keys []string
			if err := db.Table(m.table).Where(where, args...).Where("blob_key <> ''").Pluck("blob_key", &keys).Error; err != nil {
				return nil, err
			}
			p.BlobKeys = append(p.BlobKeys, keys...)
		}
		if m.typ == reflect.TypeFor[models.Conversation]() {
			if err := db.Table(m.table).Where(where, args...).Order("id").Pluck("id", &p.ConversationIDs).Error; err != nil {
				return nil, err
			}
		}
	}
	slices.Sort(p.StripeCustomerIDs)
	p.StripeCustomerIDs = slices.Compact(p.StripeCustomerIDs)
	p.Terms, err = subjectTerms(ctx, db, s)
	return p, err
}

// subjectTerms are the subject's identifiers as the scanner searches for
// them: lower-cased, at least five characters, names only when whole
// (two words or more), so that a common first name is not a finding.
func subjectTerms(ctx context.Context, db *gorm.DB, s *models.Subject) ([]string, error) {
	proto := subjectModel(s.Kind)
	if proto == nil || !s.Found() {
		return nil, nil
	}
	infos, err := describedOnce()
	if err != nil {
		return nil, err
	}
	var m *modelInfo
	for _, i := range infos {
		if i.table == subjectTable(s.Kind) {
			m = i
		}
	}
	if m == nil {
		return nil, fmt.Errorf("no model for subject kind %s", s.Kind)
	}
	rows := m.newSlice()
	if err := db.WithContext(ctx).Table(m.table).Where("id IN ?", s.IDs).Find(rows.Interface()).Error; err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var terms []string
	for i := 0; i < rows.Elem().Len(); i++ {
		row := rows.Elem().Index(i)
		for _, f := range m.fields {
			if !identifierCategories[f.Category] || f.Form == models.FormHash || f.Form == models.FormIndex {
				continue
			}
			v := normalizeTerm(fieldText(row.FieldByName(f.Field)))
			if len([]rune(v)) < 5 || (f.Category == "user.name" && len(strings.Fields(v)) < 2) || seen[v] {
				continue
			}
			seen[v] = true
			terms = append(terms, v)
		}
	}
	sort.Strings(terms)
	return terms, nil
}
