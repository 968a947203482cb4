package store

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"

	"github.com/convot/convot/models"
)

// The rights of §9 are derived from the data inventory, never from a list
// of tables. One rule says which rows are a data subject's, for every model
// of models.All():
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
//     implementing models.SubjectLocator.
//
// An End User's rows are looked for within the controller's organization
// only; a Customer's anywhere (Convot is the controller of all of them).
// TestEveryPersonalModelIsLocated fails when a model holds personal data of
// a kind the rule cannot locate. What erasure does with a located row is
// also the model's to say: rows of a model holding billing records (any
// field of retention class billing) are kept for their seven years, rows of
// a model implementing models.ErasureAnonymizer lose every classified
// field and stay, every other row is deleted.
//
// The engine's methods take the organization first: a subject is located
// for one organization (an End User within it, a Customer's account in
// it), and a method given a subject of another organization refuses with
// ErrNotFound.

// ofOrganization refuses a found subject that is not of the organization.
// A subject nothing was found for has nothing to refuse.
func ofOrganization(orgID uint64, s *models.Subject) error {
	if s.Found() && s.OrganizationID != orgID {
		return ErrNotFound
	}
	return nil
}

// subjectModel is who a subject of each kind is.
func subjectModel(kind string) any {
	switch kind {
	case models.SubjectEndUser:
		return &models.Contact{}
	case models.SubjectCustomer:
		return &models.Account{}
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
	fields    []models.Field
	kinds     map[string]bool     // subject kinds of its personal fields
	emailIdx  map[string][]string // subject kind → blind-index columns of an email
	retained  bool                // holds billing records (retention class billing)
	billing   bool                // an organization's payment and billing data only (rule 5)
	anonymize bool
	locator   models.SubjectLocator
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
	describedOnce = sync.OnceValues(func() ([]*modelInfo, error) { return describeModels(models.All()) })
)

func describeModels(list []any) ([]*modelInfo, error) {
	var out []*modelInfo
	for _, proto := range list {
		t := reflect.Indirect(reflect.ValueOf(proto)).Type()
		s, err := schema.Parse(proto, &sync.Map{}, naming)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.Name(), err)
		}
		fields, _ := models.InventoryOf([]any{proto})
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
			if f.Form == models.FormIndex && f.Category == "user.contact.email" {
				m.emailIdx[f.Subject] = append(m.emailIdx[f.Subject], f.Column)
			}
		}
		m.billing = len(fields) > 0 && m.has("organization_id") && !m.has(subjectIDColumn(models.SubjectCustomer))
		for _, f := range fields {
			if f.Subject != models.SubjectCustomer || (!strings.HasPrefix(f.Category+".", "user.payment.") &&
				!strings.HasPrefix(f.Category+".", "user.financial.billing_history.")) {
				m.billing = false
			}
		}
		_, m.anonymize = proto.(models.ErasureAnonymizer)
		m.locator, _ = proto.(models.SubjectLocator)
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
func (m *modelInfo) condition(s *models.Subject) (string, []any, bool) {
	var parts []string
	var args []any
	if m.locator != nil {
		w, a := m.locator.SubjectCondition(s)
		parts, args = append(parts, "("+w+")"), append(args, a...)
	} else {
		if m.table == subjectTable(s.Kind) {
			parts, args = append(parts, "id IN ?"), append(args, s.InIDs())
		}
		if col := subjectIDColumn(s.Kind); m.has(col) {
			parts, args = append(parts, col+" IN ?"), append(args, s.InIDs())
		}
		if m.has("data_key_id") && len(s.KeyIDs) > 0 {
			parts, args = append(parts, "data_key_id IN ?"), append(args, s.KeyIDs)
		}
		if len(s.EmailIndexes) > 0 {
			for _, col := range m.emailIdx[s.Kind] {
				parts, args = append(parts, col+" IN ?"), append(args, s.EmailIndexes)
			}
		}
		if m.billing && s.Kind == models.SubjectCustomer && s.Owner {
			parts, args = append(parts, "organization_id = ?"), append(args, s.OrganizationID)
		}
	}
	if len(parts) == 0 {
		return "", nil, false
	}
	where := "(" + strings.Join(parts, " OR ") + ")"
	if s.Kind == models.SubjectEndUser && m.has("organization_id") {
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
// column, no data key, no email index and no models.SubjectLocator.
func Unlocatable(list []any) ([]string, error) {
	infos, err := describeModels(list)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range infos {
		for kind := range m.kinds {
			if m.locator != nil || m.table == subjectTable(kind) || m.has(subjectIDColumn(kind)) ||
				m.has("data_key_id") || len(m.emailIdx[kind]) > 0 || m.billing && kind == models.SubjectCustomer {
				continue
			}
			out = append(out, fmt.Sprintf("%s holds %s data but has no %s, data_key_id or email index column and no SubjectCondition", m.name, kind, subjectIDColumn(kind)))
		}
	}
	sort.Strings(out)
	return out, nil
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

// scanBatch is how many rows streamRows reads between checks that the
// context is still live.
const scanBatch = 1000

// streamRows reads the rows of q (a query over m's table) one at a time,
// in ID order, decrypted: one statement, whatever the number of rows, so
// the database sorts them once and memory stays flat.
func streamRows(ctx context.Context, ks *models.KeyStore, q *gorm.DB, m *modelInfo, fn func(row reflect.Value) error) error {
	if ks == nil {
		ks = models.KeysFrom(ctx)
	}
	rows, err := q.Order("id").Rows()
	if err != nil {
		return fmt.Errorf("read %s: %w", m.table, err)
	}
	defer func() { _ = rows.Close() }() // rows.Err reports what reading met
	sdb := q.Session(&gorm.Session{NewDB: true}).WithContext(models.WithKeys(ctx, ks))
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
