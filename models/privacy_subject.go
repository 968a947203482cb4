package models

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"

	"github.com/convot/convot/policies"
)

// The rights of §9 are derived from the data inventory, never from a list
// of tables. One rule says which rows are a data subject's, for every model
// of All():
//
//  1. the subject's own row: a Contact (End User) or an Account (Customer);
//  2. rows whose subject-ID column names them: contact_id for an End User,
//     account_id for a Customer;
//  3. rows sealed under the subject's data key (data_key_id): everything
//     encrypted for the subject — conversations, messages, attachments,
//     sessions, usage and audit events, support tickets, exports;
//  4. rows whose blind index of an email, in a model holding data of the
//     subject's kind, equals the subject's (invitations to the address,
//     earlier requests);
//  5. the Customer's billing relationship, for the owner of an organization
//     (the Customer's representative and billing contact, whose name and
//     email Stripe holds): rows, by organization_id, of models whose
//     personal fields are all payment and billing data (user.payment,
//     user.financial.billing_history) — the subscription, the card on file,
//     invoices and payments;
//  6. a model may say more precisely which rows are a subject's by
//     implementing SubjectLocator.
//
// An End User's rows are looked for within the controller's organization
// only; a Customer's anywhere (Convot is the controller of all of them).
// TestEveryPersonalModelIsLocated fails when a model holds personal data of
// a kind the rule cannot locate. What erasure does with a located row is
// also the model's to say: rows of a model holding billing records (any
// field of retention class billing) are kept for their seven years, rows of
// a model implementing ErasureAnonymizer lose every classified field and
// stay, every other row is deleted.

// Subject is one data subject as erasure, export and the scanner see them.
type Subject struct {
	Kind           string   // SubjectEndUser or SubjectCustomer
	OrganizationID uint64   // the controller's organization (End User), the account's (Customer)
	IDs            []uint64 // the contacts (several when they share an email) or the account
	KeyIDs         []uint64 // their data keys
	EmailIndexes   []string // the blind indexes of their email addresses
	// Owner: the account owns its organization and is its billing contact,
	// whose name and email Stripe holds.
	Owner bool
	// KeepKeys are keys whose rows are not the subject's data however they
	// match (the request's own, while it is being answered).
	KeepKeys []uint64
}

// Found reports whether anything is held about the subject.
func (s *Subject) Found() bool { return s != nil && len(s.IDs) > 0 }

// SubjectLocator is implemented by a model whose rows belong to a subject
// in a way the generic rule cannot see; the condition is SQL over its own
// columns.
type SubjectLocator interface {
	SubjectCondition(s *Subject) (where string, args []any)
}

// ErasureAnonymizer is implemented by a model whose rows outlive an
// erasure as records without personal data: every classified column is
// cleared and the row stays.
type ErasureAnonymizer interface {
	AnonymizeOnErasure()
}

// subjectModel is who a subject of each kind is.
func subjectModel(kind string) any {
	switch kind {
	case SubjectEndUser:
		return &Contact{}
	case SubjectCustomer:
		return &Account{}
	}
	return nil
}

// modelInfo is what the rule needs to know of one model.
type modelInfo struct {
	typ       reflect.Type
	name      string
	table     string
	sch       *schema.Schema
	columns   map[string]bool
	fields    []Field
	kinds     map[string]bool     // subject kinds of its personal fields
	emailIdx  map[string][]string // subject kind → blind-index columns of an email
	retained  bool                // holds billing records (retention class billing)
	billing   bool                // an organization's payment and billing data only (rule 5)
	anonymize bool
	locator   SubjectLocator
	// copyOfData: the model keeps copies of a subject's data (exports),
	// left out of further exports.
	copyOfData bool
}

func (m *modelInfo) has(column string) bool { return m.columns[column] }

func (m *modelInfo) newSlice() reflect.Value {
	return reflect.New(reflect.SliceOf(m.typ))
}

var (
	naming        = schema.NamingStrategy{}
	describedOnce = sync.OnceValues(func() ([]*modelInfo, error) { return describeModels(All()) })
)

func describeModels(list []any) ([]*modelInfo, error) {
	var out []*modelInfo
	for _, proto := range list {
		t := reflect.Indirect(reflect.ValueOf(proto)).Type()
		s, err := schema.Parse(proto, &sync.Map{}, naming)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.Name(), err)
		}
		fields, _ := buildInventory([]any{proto})
		m := &modelInfo{typ: t, name: t.Name(), table: s.Table, sch: s, columns: map[string]bool{}, fields: fields,
			kinds: map[string]bool{}, emailIdx: map[string][]string{}}
		for _, c := range s.DBNames {
			m.columns[c] = true
		}
		for _, f := range fields {
			m.kinds[f.Subject] = true
			if f.Retention == "billing" {
				m.retained = true
			}
			if f.Form == FormIndex && f.Category == "user.contact.email" {
				m.emailIdx[f.Subject] = append(m.emailIdx[f.Subject], f.Column)
			}
		}
		m.billing = len(fields) > 0 && m.has("organization_id") && !m.has(subjectIDColumn(SubjectCustomer))
		for _, f := range fields {
			if f.Subject != SubjectCustomer || (!strings.HasPrefix(f.Category+".", "user.payment.") &&
				!strings.HasPrefix(f.Category+".", "user.financial.billing_history.")) {
				m.billing = false
			}
		}
		_, m.anonymize = proto.(ErasureAnonymizer)
		m.locator, _ = proto.(SubjectLocator)
		_, m.copyOfData = proto.(interface{ CopyOfSubjectData() })
		out = append(out, m)
	}
	return out, nil
}

func subjectTable(kind string) string {
	if p := subjectModel(kind); p != nil {
		return naming.TableName(reflect.Indirect(reflect.ValueOf(p)).Type().Name())
	}
	return ""
}

// subjectIDColumn is the column other models name the subject by:
// contact_id, account_id.
func subjectIDColumn(kind string) string {
	if p := subjectModel(kind); p != nil {
		return naming.ColumnName("", reflect.Indirect(reflect.ValueOf(p)).Type().Name()+"ID")
	}
	return ""
}

// condition is the SQL selecting the subject's rows of m; ok is false when
// the rule finds none there.
func (m *modelInfo) condition(s *Subject) (string, []any, bool) {
	var parts []string
	var args []any
	if m.locator != nil {
		w, a := m.locator.SubjectCondition(s)
		parts, args = append(parts, "("+w+")"), append(args, a...)
	} else {
		if m.table == subjectTable(s.Kind) {
			parts, args = append(parts, "id IN ?"), append(args, ids(s.IDs))
		}
		if col := subjectIDColumn(s.Kind); m.has(col) {
			parts, args = append(parts, col+" IN ?"), append(args, ids(s.IDs))
		}
		if m.has("data_key_id") && len(s.KeyIDs) > 0 {
			parts, args = append(parts, "data_key_id IN ?"), append(args, s.KeyIDs)
		}
		if len(s.EmailIndexes) > 0 {
			for _, col := range m.emailIdx[s.Kind] {
				parts, args = append(parts, col+" IN ?"), append(args, s.EmailIndexes)
			}
		}
		if m.billing && s.Kind == SubjectCustomer && s.Owner {
			parts, args = append(parts, "organization_id = ?"), append(args, s.OrganizationID)
		}
	}
	if len(parts) == 0 {
		return "", nil, false
	}
	where := "(" + strings.Join(parts, " OR ") + ")"
	if s.Kind == SubjectEndUser && m.has("organization_id") {
		where += " AND organization_id = ?"
		args = append(args, s.OrganizationID)
	}
	if m.has("data_key_id") && len(s.KeepKeys) > 0 {
		where += " AND data_key_id NOT IN ?"
		args = append(args, s.KeepKeys)
	}
	return where, args, true
}

// Unlocatable names the models of list holding personal data of a subject
// kind whose rows the rule cannot locate: no own table, no subject-ID
// column, no data key, no email index and no SubjectLocator.
func Unlocatable(list []any) ([]string, error) {
	infos, err := describeModels(list)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range infos {
		for kind := range m.kinds {
			if m.locator != nil || m.table == subjectTable(kind) || m.has(subjectIDColumn(kind)) ||
				m.has("data_key_id") || len(m.emailIdx[kind]) > 0 || m.billing && kind == SubjectCustomer {
				continue
			}
			out = append(out, fmt.Sprintf("%s holds %s data but has no %s, data_key_id or email index column and no SubjectCondition", m.name, kind, subjectIDColumn(kind)))
		}
	}
	sort.Strings(out)
	return out, nil
}

// --- locating --------------------------------------------------------------------

// LocateEndUser finds the End User behind a request to an organization: the
// contact given and every contact of the organization with the same email
// (an email alone when no contact is given).
func LocateEndUser(ctx context.Context, db *gorm.DB, orgID, contactID uint64, emailIndex string) (*Subject, error) {
	s := &Subject{Kind: SubjectEndUser, OrganizationID: orgID}
	db = db.WithContext(ctx)
	if contactID != 0 {
		var c Contact
		if err := db.Select("id", "email_index").Where("id = ? AND organization_id = ?", contactID, orgID).Limit(1).Find(&c).Error; err != nil {
			return nil, err
		}
		if c.ID == 0 {
			return s, nil
		}
		if emailIndex == "" {
			emailIndex = c.EmailIndex
		}
	}
	q := db.Select("id", "data_key_id", "email_index").Where("organization_id = ?", orgID)
	switch {
	case contactID != 0 && emailIndex != "":
		q = q.Where("id = ? OR email_index = ?", contactID, emailIndex)
	case contactID != 0:
		q = q.Where("id = ?", contactID)
	case emailIndex != "":
		q = q.Where("email_index = ?", emailIndex)
	default:
		return s, nil
	}
	var contacts []Contact
	if err := q.Order("id").Find(&contacts).Error; err != nil {
		return nil, err
	}
	for _, c := range contacts {
		s.IDs = append(s.IDs, c.ID)
		s.KeyIDs = append(s.KeyIDs, c.DataKeyID)
		if c.EmailIndex != "" && !slices.Contains(s.EmailIndexes, c.EmailIndex) {
			s.EmailIndexes = append(s.EmailIndexes, c.EmailIndex)
		}
	}
	return s, nil
}

// LocateCustomer finds a Customer's operator by account or by email.
func LocateCustomer(ctx context.Context, db *gorm.DB, accountID uint64, emailIndex string) (*Subject, error) {
	s := &Subject{Kind: SubjectCustomer}
	q := db.WithContext(ctx).Select("id", "organization_id", "data_key_id", "email_index", "role")
	switch {
	case accountID != 0:
		q = q.Where("id = ?", accountID)
	case emailIndex != "":
		q = q.Where("email_index = ?", emailIndex)
	default:
		return s, nil
	}
	var a Account
	if err := q.Limit(1).Find(&a).Error; err != nil {
		return nil, err
	}
	if a.ID == 0 {
		return s, nil
	}
	s.OrganizationID, s.IDs, s.KeyIDs, s.Owner = a.OrganizationID, []uint64{a.ID}, []uint64{a.DataKeyID}, a.Role == RoleOwner
	if a.EmailIndex != "" {
		s.EmailIndexes = []string{a.EmailIndex}
	}
	return s, nil
}

// --- erasure ---------------------------------------------------------------------

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
}

// PlanErasure reads what erasure needs before anything is deleted.
func PlanErasure(ctx context.Context, db *gorm.DB, s *Subject) (*ErasurePlan, error) {
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
		if m.typ == reflect.TypeFor[Conversation]() {
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
func subjectTerms(ctx context.Context, db *gorm.DB, s *Subject) ([]string, error) {
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
			if !identifierCategories[f.Category] || f.Form == FormHash || f.Form == FormIndex {
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

func normalizeTerm(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(s)), " ")
}

// fieldText is a classified field's value as text.
func fieldText(v reflect.Value) string {
	if !v.IsValid() {
		return ""
	}
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Map:
		keys := v.MapKeys()
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, fmt.Sprint(k.Interface())+"="+fmt.Sprint(v.MapIndex(k).Interface()))
		}
		sort.Strings(parts)
		return strings.Join(parts, "; ")
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return string(v.Bytes())
		}
		parts := make([]string, 0, v.Len())
		for i := 0; i < v.Len(); i++ {
			parts = append(parts, fmt.Sprint(v.Index(i).Interface()))
		}
		return strings.Join(parts, "; ")
	case reflect.Pointer:
		if v.IsNil() {
			return ""
		}
		return fieldText(v.Elem())
	}
	return fmt.Sprint(v.Interface())
}

// RetainedRecords are rows erasure kept because the law requires them.
type RetainedRecords struct {
	Model      string   `json:"model"`
	Rows       int64    `json:"rows"`
	Retention  string   `json:"retention"`
	LegalBases []string `json:"legal_bases"`
	Rule       string   `json:"rule"`
}

// ErasureResult counts what erasure did (counts only, no values).
type ErasureResult struct {
	Deleted       map[string]int64  `json:"deleted"`
	Anonymized    map[string]int64  `json:"anonymized"`
	Retained      []RetainedRecords `json:"retained"`
	KeysDestroyed int               `json:"keys_destroyed"`
}

// Protected key subjects: erasure never destroys the keys of an
// organization, of the system, or of billing records.
var protectedKeySubjects = map[string]bool{"organization": true, "system": true, "billing": true}

// EraseSubject deletes or anonymizes every located row in one transaction,
// keeps billing records (re-sealed under a key of their own if they were
// sealed under the subject's) and destroys the subject's data keys, and
// every other key left without rows. Blobs and subprocessors come first
// (ErasurePlan): a retry finds the rows still there.
func EraseSubject(ctx context.Context, db *gorm.DB, ks *KeyStore, s *Subject) (*ErasureResult, error) {
	infos, err := describedOnce()
	if err != nil {
		return nil, err
	}
	res := &ErasureResult{Deleted: map[string]int64{}, Anonymized: map[string]int64{}}
	if !s.Found() {
		return res, nil
	}
	err = db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		orphanCandidates := map[uint64]bool{}
		var retainedKey uint64
		for _, m := range infos {
			where, args, ok := m.condition(s)
			switch {
			case m.retained:
				rr, err := retain(tx, ks, m, s, where, args, ok, &retainedKey)
				if err != nil {
					return err
				}
				if rr.Rows > 0 {
					res.Retained = append(res.Retained, rr)
				}
				continue
			case !ok:
				continue
			}
			if m.has("data_key_id") {
				var keys []uint64
				if err := tx.Table(m.table).Where(where, args...).Distinct().Pluck("data_key_id", &keys).Error; err != nil {
					return err
				}
				for _, k := range keys {
					orphanCandidates[k] = true
				}
			}
			if m.anonymize {
				clear := map[string]any{}
				for _, f := range m.fields {
					clear[f.Column] = ""
				}
				if len(clear) == 0 {
					continue
				}
				r := tx.Table(m.table).Where(where, args...).UpdateColumns(clear)
				if r.Error != nil {
					return fmt.Errorf("anonymize %s: %w", m.table, r.Error)
				}
				if r.RowsAffected > 0 {
					res.Anonymized[m.name] += r.RowsAffected
				}
				continue
			}
			r := tx.Exec("DELETE FROM "+m.table+" WHERE "+where, args...)
			if r.Error != nil {
				return fmt.Errorf("erase %s: %w", m.table, r.Error)
			}
			if r.RowsAffected > 0 {
				res.Deleted[m.name] += r.RowsAffected
			}
		}
		// The subject's keys go; so does every other key the erased rows
		// were sealed under once nothing else uses it.
		destroy := map[uint64]bool{}
		for _, k := range s.KeyIDs {
			destroy[k] = true
		}
		for k := range orphanCandidates {
			if destroy[k] || slices.Contains(s.KeepKeys, k) {
				continue
			}
			var dk DataKey
			if err := tx.Select("id", "subject").Where("id = ?", k).Limit(1).Find(&dk).Error; err != nil {
				return err
			}
			if dk.ID == 0 || protectedKeySubjects[dk.Subject] {
				continue
			}
			used, err := keyInUse(tx, infos, k)
			if err != nil {
				return err
			}
			if !used {
				destroy[k] = true
			}
		}
		for k := range destroy {
			var dk DataKey
			if err := tx.Select("id", "subject", "destroyed_at").Where("id = ?", k).Limit(1).Find(&dk).Error; err != nil {
				return err
			}
			if dk.ID == 0 || protectedKeySubjects[dk.Subject] || dk.DestroyedAt != nil {
				continue
			}
			if err := ks.Destroy(tx, k); err != nil {
				return err
			}
			res.KeysDestroyed++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(res.Retained, func(i, j int) bool { return res.Retained[i].Model < res.Retained[j].Model })
	return res, nil
}

func keyInUse(tx *gorm.DB, infos []*modelInfo, key uint64) (bool, error) {
	for _, m := range infos {
		if !m.has("data_key_id") {
			continue
		}
		var n int64
		if err := tx.Table(m.table).Where("data_key_id = ?", key).Limit(1).Count(&n).Error; err != nil {
			return false, err
		}
		if n > 0 {
			return true, nil
		}
	}
	return false, nil
}

// retain keeps a billing model's rows of the subject: fields of another
// retention class are cleared, and rows sealed under the subject's key are
// sealed again under a billing key, so that destroying the subject's key
// leaves them readable for their seven years.
func retain(tx *gorm.DB, ks *KeyStore, m *modelInfo, s *Subject, where string, args []any, ok bool, retainedKey *uint64) (RetainedRecords, error) {
	rr := RetainedRecords{Model: m.name, Retention: Retention["billing"].Rule}
	seen := map[string]bool{}
	for _, f := range m.fields {
		if f.Retention != "billing" {
			continue
		}
		for _, b := range f.LegalBases() {
			if !seen[b] {
				seen[b] = true
				rr.LegalBases = append(rr.LegalBases, b)
			}
		}
	}
	sort.Strings(rr.LegalBases)
	rr.Rule = "kept by law: " + rr.Retention
	if !ok {
		return rr, nil
	}
	if err := tx.Table(m.table).Where(where, args...).Count(&rr.Rows).Error; err != nil {
		return rr, err
	}
	if !m.has("data_key_id") || len(s.KeyIDs) == 0 {
		return rr, nil
	}
	rows := m.newSlice()
	if err := tx.Table(m.table).Where(where, args...).Where("data_key_id IN ?", s.KeyIDs).Find(rows.Interface()).Error; err != nil {
		return rr, err
	}
	for i := 0; i < rows.Elem().Len(); i++ {
		if *retainedKey == 0 {
			k, err := ks.NewKey(tx, "billing")
			if err != nil {
				return rr, err
			}
			*retainedKey = k
		}
		row := rows.Elem().Index(i)
		row.FieldByName("DataKeyID").SetUint(*retainedKey)
		for _, f := range m.fields {
			if f.Retention != "billing" {
				fv := row.FieldByName(f.Field)
				fv.Set(reflect.Zero(fv.Type()))
			}
		}
		if err := tx.Session(&gorm.Session{NewDB: true}).Save(row.Addr().Interface()).Error; err != nil {
			return rr, fmt.Errorf("re-seal %s: %w", m.table, err)
		}
	}
	return rr, nil
}

// --- the erasure-completeness scanner ----------------------------------------------

// ScanFinding is one thing the scanner found left of an erased subject: a
// table, a column, a row ID and what kind of remnant it is. Never a value.
type ScanFinding struct {
	Kind   string `json:"kind"` // row_remains, identifier_found, index_found, key_not_destroyed, blob_remains
	Model  string `json:"model,omitempty"`
	Column string `json:"column,omitempty"`
	RowID  uint64 `json:"row_id,omitempty"`
}

// ScanTable is what the scanner read of one model.
type ScanTable struct {
	Model         string `json:"model"`
	RowsScanned   int64  `json:"rows_scanned"`
	ValuesChecked int64  `json:"values_checked"`
	Findings      int    `json:"findings"`
}

// ScanReport is the scanner's evidence: what it searched and what it found,
// in counts, table and column names and row IDs.
type ScanReport struct {
	Clean         bool              `json:"clean"`
	At            time.Time         `json:"at"`
	SubjectKind   string            `json:"subject_kind"`
	Terms         int               `json:"identifiers_searched"`
	Tables        []ScanTable       `json:"tables"`
	RowsScanned   int64             `json:"rows_scanned"`
	ValuesChecked int64             `json:"values_checked"`
	KeysChecked   int               `json:"keys_checked"`
	BlobsChecked  int               `json:"blobs_checked"`
	SearchIndexes string            `json:"search_indexes"`
	Retained      []RetainedRecords `json:"retained,omitempty"`
	Findings      []ScanFinding     `json:"findings,omitempty"`
	FindingsTotal int               `json:"findings_total"`
	Subprocessors []string          `json:"subprocessors,omitempty"`
}

// maxListedFindings bounds the findings listed in a report (all are counted).
const maxListedFindings = 200

// AddFinding records a finding.
func (r *ScanReport) AddFinding(f ScanFinding) {
	r.FindingsTotal++
	if len(r.Findings) < maxListedFindings {
		r.Findings = append(r.Findings, f)
	}
	r.Clean = false
}

const scanBatch = 1000

// ScanErasure searches for what is left of an erased subject: rows the rule
// still locates; every classified column, decrypted where sealed, of the
// organization's rows in every model holding data of the subject's kind
// (and of the rows the rule locates anywhere), for the subject's
// identifiers (terms) and their blind indexes; and whether the subject's
// keys are destroyed. The blob store is the caller's to check (the
// activity checks every file the erasure deleted).
func ScanErasure(ctx context.Context, db *gorm.DB, ks *KeyStore, s *Subject, terms []string) (*ScanReport, error) {
	infos, err := describedOnce()
	if err != nil {
		return nil, err
	}
	r := &ScanReport{Clean: true, At: time.Now().UTC(), SubjectKind: s.Kind, Terms: len(terms),
		SearchIndexes: "none: Convot keeps no search index of its own"}
	db = db.WithContext(ctx)
	indexes := map[string]bool{}
	for _, i := range s.EmailIndexes {
		indexes[i] = true
	}
	for _, t := range terms {
		if ks != nil {
			indexes[ks.BlindIndex(t)] = true
		}
	}
	for _, m := range infos {
		where, args, ok := m.condition(s)
		if m.retained {
			continue // billing records are kept by law (reported by the erasure)
		}
		table := ScanTable{Model: m.name}
		// 1. Rows the rule still locates.
		if ok && s.Found() {
			q := db.Table(m.table).Where(where, args...)
			if m.anonymize {
				var nonEmpty []string
				for _, f := range m.fields {
					nonEmpty = append(nonEmpty, f.Column+" <> ''")
				}
				if len(nonEmpty) == 0 {
					q = nil
				} else {
					q = q.Where(strings.Join(nonEmpty, " OR "))
				}
			}
			if q != nil && m.has("id") {
				var left []uint64
				if err := q.Order("id").Limit(maxListedFindings).Pluck("id", &left).Error; err != nil {
					return nil, err
				}
				for _, id := range left {
					r.AddFinding(ScanFinding{Kind: "row_remains", Model: m.name, RowID: id})
					table.Findings++
				}
			}
		}
		// 2. Every classified value in scope, decrypted: the organization's
		// rows of every model holding data of the subject's kind (an End
		// User's address pasted into another conversation is found; an
		// operator's name in the replies they wrote to End Users is the
		// Customer's record, not the operator's data).
		if len(m.fields) > 0 && m.has("id") && m.kinds[s.Kind] && (len(terms) > 0 || len(indexes) > 0) {
			var scope *gorm.DB
			switch {
			case m.has("organization_id") && s.OrganizationID != 0 && ok:
				scope = db.Table(m.table).Where("organization_id = ? OR ("+where+")", append([]any{s.OrganizationID}, args...)...)
			case m.has("organization_id") && s.OrganizationID != 0:
				scope = db.Table(m.table).Where("organization_id = ?", s.OrganizationID)
			case ok:
				scope = db.Table(m.table).Where(where, args...)
			}
			if scope != nil {
				if err := scanRows(ctx, ks, scope, m, s, terms, indexes, r, &table); err != nil {
					return nil, err
				}
			}
		}
		r.RowsScanned += table.RowsScanned
		r.ValuesChecked += table.ValuesChecked
		if table.RowsScanned > 0 || table.Findings > 0 {
			r.Tables = append(r.Tables, table)
		}
	}
	// 3. The subject's keys are destroyed.
	for _, k := range s.KeyIDs {
		r.KeysChecked++
		var dk DataKey
		if err := db.Where("id = ?", k).Limit(1).Find(&dk).Error; err != nil {
			return nil, err
		}
		if dk.ID != 0 && (dk.DestroyedAt == nil || len(dk.Wrapped) > 0) {
			r.AddFinding(ScanFinding{Kind: "key_not_destroyed", Model: "DataKey", RowID: k})
		}
	}
	return r, nil
}

func scanRows(ctx context.Context, ks *KeyStore, scope *gorm.DB, m *modelInfo, s *Subject, terms []string, indexes map[string]bool, r *ScanReport, table *ScanTable) error {
	return streamRows(ctx, ks, scope, m, func(row reflect.Value) error {
		id := row.FieldByName("ID").Uint()
		if k := row.FieldByName("DataKeyID"); k.IsValid() && slices.Contains(s.KeepKeys, k.Uint()) {
			return nil
		}
		table.RowsScanned++
		for _, f := range m.fields {
			v := fieldText(row.FieldByName(f.Field))
			if v == "" {
				continue
			}
			table.ValuesChecked++
			switch f.Form {
			case FormHash:
			case FormIndex:
				if indexes[v] {
					r.AddFinding(ScanFinding{Kind: "index_found", Model: m.name, Column: f.Column, RowID: id})
					table.Findings++
				}
			default:
				lv := normalizeTerm(v)
				for _, t := range terms {
					if strings.Contains(lv, t) {
						r.AddFinding(ScanFinding{Kind: "identifier_found", Model: m.name, Column: f.Column, RowID: id})
						table.Findings++
						break
					}
				}
			}
		}
		return nil
	})
}

// streamRows reads the rows of q (a query over m's table) one at a time,
// in ID order, decrypted: one statement, whatever the number of rows, so
// the database sorts them once and memory stays flat.
func streamRows(ctx context.Context, ks *KeyStore, q *gorm.DB, m *modelInfo, fn func(row reflect.Value) error) error {
	if ks == nil {
		ks = KeysFrom(ctx)
	}
	rows, err := q.Order("id").Rows()
	if err != nil {
		return fmt.Errorf("read %s: %w", m.table, err)
	}
	defer func() { _ = rows.Close() }() // rows.Err reports what reading met
	sdb := q.Session(&gorm.Session{NewDB: true}).WithContext(context.WithValue(ctx, keysContextKey{}, ks))
	n := 0
	for rows.Next() {
		item := reflect.New(m.typ)
		if err := sdb.ScanRows(rows, item.Interface()); err != nil {
			return fmt.Errorf("read %s: %w", m.table, err)
		}
		if err := fn(item.Elem()); err != nil {
			return err
		}
		if n++; n%scanBatch == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	return rows.Err()
}

// --- access and portability ---------------------------------------------------------

// ExportColumn is one column of an exported table: a classified field (with
// its category) or context that is not personal on its own (IDs, times,
// states).
type ExportColumn struct {
	Field    string `json:"field"`
	Column   string `json:"column"`
	Category string `json:"category,omitempty"`
	Form     string `json:"form,omitempty"`
}

// ExportTable is the subject's rows of one model, decrypted.
type ExportTable struct {
	Model   string         `json:"model"`
	Table   string         `json:"table"`
	Columns []ExportColumn `json:"columns"`
	Rows    [][]string     `json:"rows"`
}

// SubjectBlob is a file of the subject's in the blob store.
type SubjectBlob struct {
	Model     string
	RowID     uint64
	BlobKey   string
	Column    string // the seal's column (BlobColumn of the table)
	DataKeyID uint64
	Name      string // the file's name, decrypted
}

// BlobColumn is the column a blob of a table is sealed for: an attachment's
// bytes are sealed as "attachments.content".
func BlobColumn(table string) string { return table + ".content" }

// CollectSubjectData reads every row of the subject, decrypted, model by
// model, and hands each model's rows to fn; it also returns the subject's
// blobs. Hashes are shown as such, blind indexes left out.
func CollectSubjectData(ctx context.Context, db *gorm.DB, ks *KeyStore, s *Subject, fn func(*ExportTable) error) ([]SubjectBlob, error) {
	infos, err := describedOnce()
	if err != nil {
		return nil, err
	}
	var blobs []SubjectBlob
	if !s.Found() {
		return nil, nil
	}
	db = db.WithContext(ctx)
	for _, m := range infos {
		where, args, ok := m.condition(s)
		if !ok || len(m.fields) == 0 || !m.has("id") || m.copyOfData {
			continue
		}
		t := &ExportTable{Model: m.name, Table: m.table}
		type col struct {
			field string
			form  string
		}
		var cols []col
		classified := map[string]Field{}
		for _, f := range m.fields {
			classified[f.Field] = f
		}
		var nameField string
		for i := 0; i < m.typ.NumField(); i++ {
			sf := m.typ.Field(i)
			if f, ok := classified[sf.Name]; ok {
				if f.Form == FormIndex {
					continue
				}
				if f.Category == "user.content.attachment" && nameField == "" {
					nameField = sf.Name
				}
				cols = append(cols, col{sf.Name, f.Form})
				t.Columns = append(t.Columns, ExportColumn{Field: sf.Name, Column: f.Column, Category: f.Category, Form: f.Form})
				continue
			}
			if sf.Name == "DataKeyID" || strings.HasSuffix(sf.Name, "Key") || strings.HasSuffix(sf.Name, "Hash") ||
				strings.HasSuffix(sf.Name, "Index") || strings.HasSuffix(sf.Name, "Token") || sf.Tag.Get("privacy") == "" && needsClassification(sf.Type) {
				continue
			}
			gf := m.sch.LookUpField(sf.Name)
			if gf == nil || gf.DBName == "" {
				continue
			}
			cols = append(cols, col{sf.Name, ""})
			t.Columns = append(t.Columns, ExportColumn{Field: sf.Name, Column: gf.DBName})
		}
		err := streamRows(ctx, ks, db.Table(m.table).Where(where, args...), m, func(row reflect.Value) error {
			id := row.FieldByName("ID").Uint()
			values := make([]string, len(cols))
			for j, c := range cols {
				fv := row.FieldByName(c.field)
				switch c.form {
				case FormHash:
					if fieldText(fv) != "" {
						values[j] = "[kept only as a one-way hash]"
					}
				default:
					values[j] = exportText(fv)
				}
			}
			t.Rows = append(t.Rows, values)
			if m.has("blob_key") {
				if key := row.FieldByName("BlobKey"); key.IsValid() && key.String() != "" {
					b := SubjectBlob{Model: m.name, RowID: id, BlobKey: key.String(), Column: BlobColumn(m.table)}
					if k := row.FieldByName("DataKeyID"); k.IsValid() {
						b.DataKeyID = k.Uint()
					}
					if nameField != "" {
						b.Name = row.FieldByName(nameField).String()
					}
					blobs = append(blobs, b)
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("export %s: %w", m.table, err)
		}
		if len(t.Rows) > 0 {
			if err := fn(t); err != nil {
				return nil, err
			}
		}
	}
	return blobs, nil
}

// exportText formats a value for the export: times in UTC RFC 3339.
func exportText(v reflect.Value) string {
	if !v.IsValid() {
		return ""
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	if t, ok := v.Interface().(time.Time); ok {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	return fieldText(v)
}

// CategoryInfo is what the access report says of one data category (GDPR
// Art. 15(1)): what it is, why it is processed and on what basis, where it
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
// (recipients) for the categories of a subject kind.
func DescribeCategories(kind string, categories []string) ([]CategoryInfo, error) {
	reg, err := policies.LoadRegistry()
	if err != nil {
		return nil, err
	}
	var out []CategoryInfo
	for _, c := range categories {
		ci := CategoryInfo{Category: c, Description: Categories[c], Source: sourceOf(c)}
		purposes, bases, retention := map[string]bool{}, map[string]bool{}, map[string]bool{}
		for _, f := range Inventory() {
			if f.Category != c || f.Subject != kind {
				continue
			}
			for _, p := range f.Purposes {
				purposes[p] = true
			}
			for _, b := range f.LegalBases() {
				bases[b] = true
			}
			retention[Retention[f.Retention].Rule] = true
		}
		ci.Purposes, ci.LegalBases, ci.Retention = sortedSet(purposes), sortedSet(bases), sortedSet(retention)
		for _, name := range reg.SubprocessorNames() {
			sp := reg.Subprocessors[name]
			if !slices.Contains(sp.Subjects, kind) || sp.ScrubPersonalData {
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

// --- rectification ------------------------------------------------------------------

// rectifiableCategories are what a person may correct about themselves:
// names and contact details. Technical data recorded by the Service is
// what it is.
var rectifiableCategories = map[string]bool{
	"user.name": true, "user.contact.email": true, "user.contact.phone_number": true, "user.contact.address": true,
}

// RectifiableFields are the subject's own fields a rectification may set,
// by column, from the inventory.
func RectifiableFields(kind string) []Field {
	proto := subjectModel(kind)
	if proto == nil {
		return nil
	}
	var out []Field
	for _, f := range FieldsOf(proto) {
		if rectifiableCategories[f.Category] && (f.Form == FormEncrypted || f.Form == FormClear) {
			out = append(out, f)
		}
	}
	return out
}

// ErrNotRectifiable is returned for a change of a field that cannot be
// rectified.
var ErrNotRectifiable = errors.New("field cannot be rectified")

// Rectify applies corrected values (by column) to each of the subject's own
// rows and returns the columns it changed. The caller records the audit
// trail.
func Rectify(ctx context.Context, db *gorm.DB, s *Subject, changes map[string]string) ([]string, error) {
	allowed := map[string]Field{}
	for _, f := range RectifiableFields(s.Kind) {
		allowed[f.Column] = f
	}
	var columns []string
	for col := range changes {
		if _, ok := allowed[col]; !ok {
			return nil, fmt.Errorf("%w: %s", ErrNotRectifiable, col)
		}
		columns = append(columns, col)
	}
	sort.Strings(columns)
	if !s.Found() || len(columns) == 0 {
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
	err = db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		rows := m.newSlice()
		if err := tx.Table(m.table).Where("id IN ?", s.IDs).Find(rows.Interface()).Error; err != nil {
			return err
		}
		for i := 0; i < rows.Elem().Len(); i++ {
			row := rows.Elem().Index(i)
			for _, col := range columns {
				row.FieldByName(allowed[col].Field).SetString(changes[col])
			}
			if err := tx.Session(&gorm.Session{NewDB: true}).Save(row.Addr().Interface()).Error; err != nil {
				return err
			}
		}
		return nil
	})
	return columns, err
}
