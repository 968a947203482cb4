package dsr

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
)

// The vocabulary of the answers to §9, derived from the data inventory
// and the subprocessor registry: what the access report says of each data
// category, and which of a subject's fields a rectification may set.

// CategoryInfo is what the access report says of one data category (GDPR
// came from, who receives it, and how long it is kept.
type CategoryInfo struct {
	Category    string   `json:"category"`
	Description string   `json:"description"`
	Purposes    []string `json:"purposes"`
	LegalBases  []string `json:"legal_bases"`
	Source      string   `json:"source"`
	Recipients  []string `json:"recipients"`
	Retention   []string `json:"retention"`
}

// DescribeCategories derives the report's explanations from the inventory
// (purposes, legal bases, retention) and the subprocessor registry
// (recipients: only the subprocessors this deployment is configured to
// use, configured[name]) for the categories of a subject kind.
func DescribeCategories(kind string, categories []string, configured map[string]bool) ([]CategoryInfo, error) {
	reg, err := policies.LoadRegistry()
	if err != nil {
		return nil, err
	}
	var out []CategoryInfo
	for _, c := range categories {
		ci := CategoryInfo{Category: c, Description: models.Categories[c], Source: sourceOf(c)}
		purposes, bases, retention := map[string]bool{}, map[string]bool{}, map[string]bool{}
		for _, f := range models.Inventory() {
			if f.Category != c || f.Subject != kind {
				continue
			}
			for _, p := range f.Purposes {
				purposes[p] = true
			}
			for _, b := range f.LegalBases() {
				bases[b] = true
			}
			retention[models.Retention[f.Retention].Rule] = true
		}
		ci.Purposes, ci.LegalBases, ci.Retention = sortedSet(purposes), sortedSet(bases), sortedSet(retention)
		for _, name := range reg.SubprocessorNames() {
			sp := reg.Subprocessors[name]
			if !configured[name] || !slices.Contains(sp.Subjects, kind) || sp.ScrubPersonalData {
				continue
			}
			for _, allowed := range sp.Categories {
				if c == allowed || strings.HasPrefix(c+".", allowed+".") {
					ci.Recipients = append(ci.Recipients, fmt.Sprintf("%s (%s; %s)", sp.LegalName, sp.Service, strings.Join(sp.Locations, ", ")))
					break
				}
			}
		}
		out = append(out, ci)
	}
	return out, nil
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// sourceOf says where data of a category comes from, for the access
// report (GDPR Art. 15(1)(g)).
func sourceOf(category string) string {
	switch {
	case strings.HasPrefix(category, "user.device"), strings.HasPrefix(category, "user.behavior"),
		strings.HasPrefix(category, "user.location"):
		return "collected automatically by the Service when you used it"
	case category == "user.custom", category == "user.unique_id":
		return "passed by the organization through the identify API"
	case strings.HasPrefix(category, "user.content"):
		return "written or sent by you, and by the organization's operators who answered you"
	case strings.HasPrefix(category, "user.authorization"):
		return "created by the Service (hashes of sign-in secrets and tokens; consent records)"
	case strings.HasPrefix(category, "user.financial"), strings.HasPrefix(category, "user.payment"):
		return "Stripe, our payment processor, and invoices issued to you"
	}
	return "provided by you, or by the organization on your behalf"
}

// rectifiableCategories are what a person may correct about themselves:
// names and contact details. Technical data recorded by the Service is
// what it is.
var rectifiableCategories = map[string]bool{
	"user.name": true, "user.contact.email": true, "user.contact.phone_number": true, "user.contact.address": true,
}

// RectifiableFields are the subject's own fields a rectification may set,
// by column, from the inventory.
func RectifiableFields(kind string) []models.Field {
	var proto any
	switch kind {
	case models.SubjectEndUser:
		proto = &models.Contact{}
	case models.SubjectCustomer:
		proto = &models.Account{}
	default:
		return nil
	}
	var out []models.Field
	for _, f := range models.FieldsOf(proto) {
		if rectifiableCategories[f.Category] && (f.Form == models.FormEncrypted || f.Form == models.FormClear) {
			out = append(out, f)
		}
	}
	return out
}

// ErrNotRectifiable is returned for a change of a field that cannot be
// rectified.
var ErrNotRectifiable = errors.New("field cannot be rectified")
