// Package backup takes encrypted logical backups of the database into the
// blob store and restores them into an empty database (policy §8, §10).
//
// A backup is every table of models.All() (but the backup records
// themselves), read in one consistent snapshot as rows, exactly as stored:
// sealed columns stay sealed under their subjects' data keys. The rows are
// cut into parts of a few MiB, each part encrypted with AES-256-GCM under a
// key derived from the master key for that backup alone, and bound (as
// authenticated data) to its backup, name and revision. A manifest lists
// the tables, row counts, the parts with their SHA-256, the time, the
// master key version and the schema migration version; it is kept beside
// the parts in clear (it holds no data) and sealed with a GCM tag under the
// same key, so a restore notices any change to it.
//
// Blob layout, under backups/<id>/:
//
//	manifest               the sealed manifest (JSON)
//	part-00001-r0, ...     encrypted parts, JSON Lines: a header, then rows
//
// Crypto-shredding. Erasing a subject destroys their data key in the live
// database: every sealed value under it, in the database and in every
// backup, is unreadable from then on. But a backup also holds the data_keys
// table as it was when the backup was taken, with the key still wrapped
// under the master key, and restoring that backup would bring the key back.
// So the backups' copies of the keys are brought in line with the live
// database: ShredKeys rewrites the data_keys parts of a backup with every
// key the live database has destroyed since removed (wrapped set to nil,
// destroyed_at copied), as a new revision of the part, then drops the old
// revision. It runs on a schedule (hourly) and before every new backup,
// over every backup still kept, so a destroyed key is in no backup for
// longer than that interval, and a restore of any backup, however old, can
// never resurrect it. Restore itself applies the key parts as they are
// then, and refuses a part whose revision the manifest does not name.
// After a restore the backup records are re-created from the manifests
// (the backups that were kept when this one was taken, and any later ones
// found in the blob store), so the shredding goes on covering every backup
// kept, and new backups never reuse an old backup's number.
package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"

	"github.com/convot/convot/internal/blob"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/subprocessors"
)

// Format names the layout this package writes and reads.
const Format = "convot-backup/1"

// partLimit is the plaintext size at which a part is cut (a variable for
// tests).
var partLimit = 4 << 20

const (
	// pageSize is how many rows one read of a table fetches.
	pageSize = 1000
	// keysTable is the table whose copies ShredKeys keeps in line.
	keysTable = "data_keys"
	// probeGap is how many missing backup numbers in a row end the search
	// for later backups after a restore.
	probeGap = 16
)

// Errors a caller may want to tell apart.
var (
	ErrNotEmpty      = errors.New("backup: the target database is not empty: restore only into a new, migrated database")
	ErrNotFound      = errors.New("backup: no such backup in the blob store")
	ErrTampered      = errors.New("backup: the manifest or a part failed authentication")
	ErrSchemaVersion = errors.New("backup: schema version mismatch")
	// ErrKeyUnavailable: the master key version the backup was taken under
	// is not configured (keep old versions while backups under them are
	// kept: ninety days after a rotation).
	ErrKeyUnavailable = errors.New("backup: its master key version is not configured")
)

// Backups takes, restores, shreds and deletes backups.
type Backups struct {
	// DB is the live database.
	DB *gorm.DB
	// Blobs keeps the backups (local disk, or S3 through the gate).
	Blobs  blob.Store
	Master *crypto.MasterKeys
	// Context declares what the objects hold to the blob store's egress
	// gate: encrypted system data (system.operations), no data subject.
	Context subprocessors.StorageContext
}

// StorageContext is how backups are declared to the blob store: opaque
// encrypted system data of no one data subject, in the deployment's region.
func StorageContext(region string) subprocessors.StorageContext {
	return subprocessors.StorageContext{
		Organization: deploymentOrg(region),
		Subject:      subjectNone,
		Categories:   []string{"system.operations"},
	}
}

// deploymentOrg stands for the whole deployment: a backup holds every
// organization's rows, sealed, and belongs to none of them.
func deploymentOrg(region string) policies.OrgContext { return policies.OrgContext{Region: region} }

var subjectNone = policies.SubjectContext{Kind: "none"}

// Manifest describes one backup.
type Manifest struct {
	Format        string    `json:"format"`
	ID            uint64    `json:"id"`
	TakenAt       time.Time `json:"taken_at"`
	MasterVersion uint32    `json:"master_version"`
	SchemaVersion int       `json:"schema_version"`
	Dialect       string    `json:"dialect"`
	Tables        []Table   `json:"tables"`
	Parts         []Part    `json:"parts"`
	// Kept are the other backups that were kept when this one was taken,
	// so a restore can keep shredding and expiring them.
	Kept []Kept `json:"kept,omitempty"`
}

// Table is one table of a backup.
type Table struct {
	Name string `json:"name"`
	Rows int64  `json:"rows"`
}

// Part is one encrypted blob of rows of one table.
type Part struct {
	Name     string `json:"name"` // blob name under the backup's prefix
	Table    string `json:"table"`
	Seq      int    `json:"seq"`
	Revision int    `json:"revision"`
	Rows     int64  `json:"rows"`
	Bytes    int64  `json:"bytes"`  // ciphertext
	SHA256   string `json:"sha256"` // of the ciphertext
}

// Kept names a backup that another backup knew of.
type Kept struct {
	ID        uint64    `json:"id"`
	TakenAt   time.Time `json:"taken_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Rows counts every row of the backup.
func (m Manifest) Rows() int64 {
	var n int64
	for _, t := range m.Tables {
		n += t.Rows
	}
	return n
}

// Bytes is the backup's size in the blob store (parts).
func (m Manifest) Bytes() int64 {
	var n int64
	for _, p := range m.Parts {
		n += p.Bytes
	}
	return n
}

// envelope is the manifest blob: the manifest in clear (it holds names,
// counts and hashes only) and a GCM seal over its SHA-256.
type envelope struct {
	Manifest json.RawMessage `json:"manifest"`
	Seal     string          `json:"seal"`
}

// Prefix is the blob prefix of a backup.
func Prefix(id uint64) string { return "backups/" + strconv.FormatUint(id, 10) }

func manifestKey(id uint64) string { return Prefix(id) + "/manifest" }

func partKey(id uint64, name string) string { return Prefix(id) + "/" + name }

func partName(seq, revision int) string { return fmt.Sprintf("part-%05d-r%d", seq, revision) }

// key derives the backup's own key from the master key version.
func (b *Backups) key(version uint32, id uint64) ([]byte, error) {
	return b.Master.Derive(version, fmt.Sprintf("convot backup %d", id))
}

func partAAD(id uint64, p Part) []byte {
	return []byte(fmt.Sprintf("%s|%d|part|%s|%s|%d|%d", Format, id, p.Name, p.Table, p.Seq, p.Revision))
}

func manifestAAD(id uint64) []byte { return []byte(fmt.Sprintf("%s|%d|manifest", Format, id)) }

// header starts every part.
type header struct {
	Table   string   `json:"table"`
	Columns []string `json:"columns"`
	Kinds   []string `json:"kinds"`
}

// Column kinds: how a value is written, whatever the database.
const (
	kindInt    = "int"
	kindBool   = "bool"
	kindTime   = "time"
	kindBytes  = "bytes"
	kindFloat  = "float"
	kindString = "string"
)

func kindOf(databaseType string) string {
	t := strings.ToUpper(databaseType)
	switch {
	case strings.Contains(t, "BOOL"):
		return kindBool
	case strings.Contains(t, "INT") || t == "SERIAL" || t == "BIGSERIAL":
		return kindInt
	case strings.Contains(t, "TIME") || strings.Contains(t, "DATE"):
		return kindTime
	case t == "BYTEA" || t == "BLOB":
		return kindBytes
	case strings.Contains(t, "FLOAT") || strings.Contains(t, "REAL") || strings.Contains(t, "DOUBLE") || strings.Contains(t, "NUMERIC"):
		return kindFloat
	}
	return kindString
}

// tableOf is a table to back up: its name and primary key column.
type tableOf struct {
	name string
	pk   string
}

// tables lists what a backup holds: every model's table but the backup
// records, in the order of models.All().
func tables() ([]tableOf, error) {
	var out []tableOf
	for _, m := range models.All() {
		if _, isBackup := m.(*models.Backup); isBackup {
			continue
		}
		s, err := schema.Parse(m, &sync.Map{}, schema.NamingStrategy{})
		if err != nil {
			return nil, err
		}
		if len(s.PrimaryFields) != 1 {
			return nil, fmt.Errorf("backup: table %s needs a single-column primary key", s.Table)
		}
		out = append(out, tableOf{name: s.Table, pk: s.PrimaryFields[0].DBName})
	}
	return out, nil
}

func quote(ident string) string { return `"` + strings.ReplaceAll(ident, `"`, `""`) + `"` }

// Take writes backup id of the live database, as of one consistent
// snapshot, and returns its manifest. progress, when set, is called after
// each part (an activity heartbeats there).
func (b *Backups) Take(ctx context.Context, id uint64, takenAt time.Time, progress func(table string, rows int64)) (Manifest, error) {
	version := b.Master.Current()
	key, err := b.key(version, id)
	if err != nil {
		return Manifest{}, err
	}
	list, err := tables()
	if err != nil {
		return Manifest{}, err
	}
	// Microseconds: what every database keeps of a time.
	m := Manifest{Format: Format, ID: id, TakenAt: takenAt.UTC().Truncate(time.Microsecond), MasterVersion: version, Dialect: b.DB.Name()}
	opts := &sql.TxOptions{ReadOnly: true}
	if models.IsPostgres(b.DB) {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx := b.DB.WithContext(ctx).Begin(opts)
	if tx.Error != nil {
		return m, tx.Error
	}
	defer tx.Rollback()
	if err := tx.Raw("SELECT MAX(version) FROM schema_migrations").Scan(&m.SchemaVersion).Error; err != nil {
		return m, err
	}
	var kept []models.Backup
	if err := tx.Where("status = ? AND id <> ?", models.BackupCompleted, id).Order("id").Find(&kept).Error; err != nil {
		return m, err
	}
	for _, k := range kept {
		m.Kept = append(m.Kept, Kept{ID: k.ID, TakenAt: k.TakenAt, ExpiresAt: k.ExpiresAt})
	}
	seq := 0
	for _, t := range list {
		w := &partWriter{b: b, ctx: ctx, id: id, key: key, table: t.name, seq: &seq, m: &m}
		n, err := w.dump(tx, t)
		if err != nil {
			return m, fmt.Errorf("backup of %s: %w", t.name, err)
		}
		m.Tables = append(m.Tables, Table{Name: t.name, Rows: n})
		if progress != nil {
			progress(t.name, n)
		}
	}
	if err := b.putManifest(ctx, m, key); err != nil {
		return m, err
	}
	return m, nil
}

// partWriter cuts one table's rows into parts.
type partWriter struct {
	b     *Backups
	ctx   context.Context
	id    uint64
	key   []byte
	table string
	seq   *int
	m     *Manifest

	head header
	buf  bytes.Buffer
	rows int64
}

func (w *partWriter) dump(tx *gorm.DB, t tableOf) (int64, error) {
	var last any
	var total int64
	for {
		q := fmt.Sprintf("SELECT * FROM %s ORDER BY %s LIMIT %d", quote(t.name), quote(t.pk), pageSize)
		args := []any{}
		if last != nil {
			q = fmt.Sprintf("SELECT * FROM %s WHERE %s > ? ORDER BY %s LIMIT %d", quote(t.name), quote(t.pk), quote(t.pk), pageSize)
			args = append(args, last)
		}
		n, lastKey, err := w.query(tx, q, args, t.pk)
		if err != nil {
			return total, err
		}
		total += n
		if n < pageSize {
			break
		}
		last = lastKey
	}
	return total, w.flush()
}

// query writes the page of rows that q selects.
func (w *partWriter) query(tx *gorm.DB, q string, args []any, pk string) (n int64, last any, err error) {
	rows, err := tx.Raw(q, args...).Rows()
	if err != nil {
		return 0, nil, err
	}
	defer func() { err = errors.Join(err, rows.Close()) }()
	return w.page(rows, pk)
}

func (w *partWriter) page(rows *sql.Rows, pk string) (int64, any, error) {
	types, err := rows.ColumnTypes()
	if err != nil {
		return 0, nil, err
	}
	if w.head.Table == "" {
		w.head.Table = w.table
		for _, ct := range types {
			w.head.Columns = append(w.head.Columns, strings.ToLower(ct.Name()))
			w.head.Kinds = append(w.head.Kinds, kindOf(ct.DatabaseTypeName()))
		}
	}
	pkAt := -1
	for i, c := range w.head.Columns {
		if c == pk {
			pkAt = i
		}
	}
	if pkAt < 0 || len(types) != len(w.head.Columns) {
		return 0, nil, fmt.Errorf("columns of %s changed while reading", w.table)
	}
	var n int64
	var last any
	vals := make([]any, len(types))
	ptrs := make([]any, len(types))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, nil, err
		}
		row := make([]any, len(vals))
		for i, v := range vals {
			row[i], err = encodeValue(w.head.Kinds[i], v)
			if err != nil {
				return n, nil, fmt.Errorf("%s.%s: %w", w.table, w.head.Columns[i], err)
			}
		}
		last = vals[pkAt]
		if b, ok := last.([]byte); ok {
			last = string(b)
		}
		line, err := json.Marshal(row)
		if err != nil {
			return n, nil, err
		}
		if w.buf.Len() == 0 {
			h, _ := json.Marshal(w.head)
			w.buf.Write(h)
			w.buf.WriteByte('\n')
		}
		w.buf.Write(line)
		w.buf.WriteByte('\n')
		w.rows++
		n++
		if w.buf.Len() >= partLimit {
			if err := w.flush(); err != nil {
				return n, nil, err
			}
		}
	}
	return n, last, rows.Err()
}

// flush encrypts and stores the part being written, if it has rows.
func (w *partWriter) flush() error {
	if w.rows == 0 {
		return nil
	}
	*w.seq++
	p := Part{Name: partName(*w.seq, 0), Table: w.table, Seq: *w.seq, Rows: w.rows}
	if err := w.b.putPart(w.ctx, w.id, w.key, &p, w.buf.Bytes()); err != nil {
		return err
	}
	w.m.Parts = append(w.m.Parts, p)
	w.buf.Reset()
	w.rows = 0
	return nil
}

func (b *Backups) putPart(ctx context.Context, id uint64, key []byte, p *Part, plain []byte) error {
	sealed, err := crypto.Seal(key, plain, partAAD(id, *p))
	if err != nil {
		return err
	}
	sum := sha256.Sum256(sealed)
	p.SHA256, p.Bytes = hex.EncodeToString(sum[:]), int64(len(sealed))
	return b.Blobs.Put(ctx, b.Context, partKey(id, p.Name), sealed)
}

func (b *Backups) putManifest(ctx context.Context, m Manifest, key []byte) error {
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(raw)
	seal, err := crypto.Seal(key, sum[:], manifestAAD(m.ID))
	if err != nil {
		return err
	}
	env, err := json.Marshal(envelope{Manifest: raw, Seal: base64.StdEncoding.EncodeToString(seal)})
	if err != nil {
		return err
	}
	return b.Blobs.Put(ctx, b.Context, manifestKey(m.ID), env)
}

// ManifestSHA256 is the SHA-256 of a backup's manifest blob as stored.
func (b *Backups) ManifestSHA256(ctx context.Context, id uint64) (string, error) {
	raw, err := b.Blobs.Get(ctx, b.Context, manifestKey(id))
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:]), nil
}

// readManifest reads a manifest; with verify it checks the seal (and needs
// the master key version it was taken under).
func (b *Backups) readManifest(ctx context.Context, id uint64, verify bool) (Manifest, []byte, error) {
	var m Manifest
	raw, err := b.Blobs.Get(ctx, b.Context, manifestKey(id))
	if errors.Is(err, blob.ErrNotFound) {
		return m, nil, ErrNotFound
	}
	if err != nil {
		return m, nil, err
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return m, nil, fmt.Errorf("%w: manifest of backup %d is not JSON", ErrTampered, id)
	}
	if err := json.Unmarshal(env.Manifest, &m); err != nil || m.Format != Format || m.ID != id {
		return m, nil, fmt.Errorf("%w: manifest of backup %d is not a %s manifest for it", ErrTampered, id, Format)
	}
	if !verify {
		return m, nil, nil
	}
	key, err := b.key(m.MasterVersion, id)
	if err != nil {
		return m, nil, fmt.Errorf("%w: backup %d was taken under master key v%d (%w)", ErrKeyUnavailable, id, m.MasterVersion, err)
	}
	seal, err := base64.StdEncoding.DecodeString(env.Seal)
	if err != nil {
		return m, nil, fmt.Errorf("%w: manifest of backup %d", ErrTampered, id)
	}
	sum, err := crypto.Open(key, seal, manifestAAD(id))
	want := sha256.Sum256(env.Manifest)
	if err != nil || !bytes.Equal(sum, want[:]) {
		return m, nil, fmt.Errorf("%w: manifest of backup %d", ErrTampered, id)
	}
	return m, key, nil
}

// Manifest reads and authenticates a backup's manifest.
func (b *Backups) Manifest(ctx context.Context, id uint64) (Manifest, error) {
	m, _, err := b.readManifest(ctx, id, true)
	return m, err
}

// readPart fetches, checks and decrypts one part.
func (b *Backups) readPart(ctx context.Context, id uint64, key []byte, p Part) (header, *json.Decoder, error) {
	var h header
	sealed, err := b.Blobs.Get(ctx, b.Context, partKey(id, p.Name))
	if err != nil {
		return h, nil, fmt.Errorf("backup %d part %s: %w", id, p.Name, err)
	}
	sum := sha256.Sum256(sealed)
	if hex.EncodeToString(sum[:]) != p.SHA256 {
		return h, nil, fmt.Errorf("%w: part %s of backup %d has another SHA-256 than its manifest says", ErrTampered, p.Name, id)
	}
	plain, err := crypto.Open(key, sealed, partAAD(id, p))
	if err != nil {
		return h, nil, fmt.Errorf("%w: part %s of backup %d", ErrTampered, p.Name, id)
	}
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.UseNumber()
	if err := dec.Decode(&h); err != nil || h.Table != p.Table || len(h.Columns) != len(h.Kinds) {
		return h, nil, fmt.Errorf("%w: part %s of backup %d has no valid header", ErrTampered, p.Name, id)
	}
	return h, dec, nil
}

// encodeValue turns a scanned value into its JSON form for a kind.
func encodeValue(kind string, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch kind {
	case kindInt:
		switch x := v.(type) {
		case int64:
			return x, nil
		case []byte:
			return json.Number(string(x)), nil
		case string:
			return json.Number(x), nil
		}
	case kindBool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case int64:
			return x != 0, nil
		}
	case kindTime:
		switch x := v.(type) {
		case time.Time:
			return x.UTC().Format(time.RFC3339Nano), nil
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		}
	case kindBytes:
		switch x := v.(type) {
		case []byte:
			return x, nil // base64 in JSON
		case string:
			return []byte(x), nil
		}
	case kindFloat:
		switch x := v.(type) {
		case float64:
			return x, nil
		case int64:
			return x, nil
		}
	case kindString:
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		case int64, float64, bool:
			return x, nil
		case time.Time:
			return x.UTC().Format(time.RFC3339Nano), nil
		}
	}
	return nil, fmt.Errorf("unexpected %T for a %s column", v, kind)
}

// decodeValue turns a JSON value back into what the database takes.
func decodeValue(kind string, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch kind {
	case kindInt:
		if n, ok := v.(json.Number); ok {
			return n.Int64()
		}
	case kindBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case kindTime:
		if s, ok := v.(string); ok {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return s, nil // as the database wrote it
			}
			return t.UTC(), nil
		}
	case kindBytes:
		if s, ok := v.(string); ok {
			return base64.StdEncoding.DecodeString(s)
		}
	case kindFloat:
		if n, ok := v.(json.Number); ok {
			return n.Float64()
		}
	case kindString:
		switch x := v.(type) {
		case string:
			return x, nil
		case json.Number:
			return x.String(), nil
		case bool:
			return x, nil
		}
	}
	return nil, fmt.Errorf("unexpected %T for a %s column", v, kind)
}

// Restore writes backup id into target, which must be empty: migrated to
// the backup's schema version, with nothing in it but what a key store
// creates on its first start (which the backup's own keys replace). It all
// happens in one transaction: a failed restore leaves the target as it
// was.
func (b *Backups) Restore(ctx context.Context, target *gorm.DB, id uint64) (Manifest, error) {
	m, key, err := b.readManifest(ctx, id, true)
	if err != nil {
		return m, err
	}
	var have int
	if err := target.WithContext(ctx).Raw("SELECT MAX(version) FROM schema_migrations").Scan(&have).Error; err != nil {
		return m, err
	}
	if have != m.SchemaVersion {
		return m, fmt.Errorf("%w: backup %d is at schema version %d, the target database at %d: restore with the convot release of that version, then migrate", ErrSchemaVersion, id, m.SchemaVersion, have)
	}
	list, err := tables()
	if err != nil {
		return m, err
	}
	if err := checkEmpty(ctx, target, list); err != nil {
		return m, err
	}
	known := map[string]bool{}
	for _, t := range list {
		known[t.name] = true
	}
	counts := map[string]int64{}
	err = target.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// The key store's first start made a system key and the blind-index
		// key; the backup's own replace them.
		for _, t := range []string{keysTable, "instance_keys"} {
			if err := tx.Exec("DELETE FROM " + quote(t)).Error; err != nil {
				return err
			}
		}
		for _, p := range m.Parts {
			if !known[p.Table] {
				return fmt.Errorf("backup %d holds table %s, which this release does not know", id, p.Table)
			}
			h, dec, err := b.readPart(ctx, id, key, p)
			if err != nil {
				return err
			}
			n, err := insertRows(tx, h, dec)
			if err != nil {
				return fmt.Errorf("restore %s: %w", p.Table, err)
			}
			if n != p.Rows {
				return fmt.Errorf("%w: part %s of backup %d holds %d rows, its manifest says %d", ErrTampered, p.Name, id, n, p.Rows)
			}
			counts[p.Table] += n
		}
		for _, t := range m.Tables {
			if counts[t.Name] != t.Rows {
				return fmt.Errorf("%w: table %s of backup %d: %d rows restored, the manifest says %d", ErrTampered, t.Name, id, counts[t.Name], t.Rows)
			}
		}
		if err := b.recreateRecords(ctx, tx, m); err != nil {
			return err
		}
		if models.IsPostgres(tx) {
			for _, t := range append(list, tableOf{name: "backups", pk: "id"}) {
				if t.pk != "id" {
					continue
				}
				q := fmt.Sprintf("SELECT setval(pg_get_serial_sequence('%s', 'id'), COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM %s", t.name, quote(t.name))
				if err := tx.Exec(q).Error; err != nil {
					return err
				}
			}
		}
		return nil
	})
	return m, err
}

// checkEmpty refuses a target that holds anything but a key store's
// bootstrap: one system data key and instance keys.
func checkEmpty(ctx context.Context, db *gorm.DB, list []tableOf) error {
	db = db.WithContext(ctx)
	for _, t := range append(list, tableOf{name: "backups"}) {
		var n int64
		switch t.name {
		case keysTable:
			if err := db.Raw("SELECT COUNT(*) FROM data_keys WHERE subject <> 'system'").Scan(&n).Error; err != nil {
				return err
			}
			var sys int64
			if err := db.Raw("SELECT COUNT(*) FROM data_keys").Scan(&sys).Error; err != nil {
				return err
			}
			if sys > 1 {
				n = sys
			}
		case "instance_keys":
			continue
		default:
			if err := db.Raw(fmt.Sprintf("SELECT COUNT(*) FROM (SELECT 1 FROM %s LIMIT 1) t", quote(t.name))).Scan(&n).Error; err != nil {
				return err
			}
		}
		if n > 0 {
			return fmt.Errorf("%w (table %s has rows)", ErrNotEmpty, t.name)
		}
	}
	return nil
}

// insertRows inserts the rows of one part, a few hundred per statement.
func insertRows(tx *gorm.DB, h header, dec *json.Decoder) (int64, error) {
	cols := make([]string, len(h.Columns))
	for i, c := range h.Columns {
		cols[i] = quote(c)
	}
	perStatement := max(1, min(500, 30000/len(cols)))
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")"
	var n int64
	var batch []any
	rowsInBatch := 0
	flush := func() error {
		if rowsInBatch == 0 {
			return nil
		}
		q := fmt.Sprintf("INSERT INTO %s (%s) VALUES %s", quote(h.Table), strings.Join(cols, ", "),
			strings.TrimSuffix(strings.Repeat(one+",", rowsInBatch), ","))
		if err := tx.Exec(q, batch...).Error; err != nil {
			return err
		}
		batch, rowsInBatch = batch[:0], 0
		return nil
	}
	for row, err := range rowsOf(dec) {
		if err != nil {
			return n, err
		}
		if len(row) != len(cols) {
			return n, fmt.Errorf("a row of %d values for %d columns", len(row), len(cols))
		}
		for i, v := range row {
			dv, err := decodeValue(h.Kinds[i], v)
			if err != nil {
				return n, fmt.Errorf("%s: %w", h.Columns[i], err)
			}
			batch = append(batch, dv)
		}
		rowsInBatch++
		n++
		if rowsInBatch == perStatement {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	return n, flush()
}

// rowsOf yields the rows of a part, one JSON array each, to its end; a
// row that cannot be decoded is yielded as its error, the last.
func rowsOf(dec *json.Decoder) iter.Seq2[[]any, error] {
	return func(yield func([]any, error) bool) {
		for {
			var row []any
			err := dec.Decode(&row)
			if err == io.EOF || !yield(row, err) || err != nil {
				return
			}
		}
	}
}

// recreateRecords writes the backup records a restored database needs:
// the restored backup, the backups it knew of that have not expired, and
// later backups found in the blob store.
func (b *Backups) recreateRecords(ctx context.Context, tx *gorm.DB, m Manifest) error {
	now := time.Now().UTC()
	records := map[uint64]models.Backup{}
	add := func(man Manifest) {
		r := recordOf(man, now)
		r.ManifestSHA256, _ = b.ManifestSHA256(ctx, man.ID)
		records[man.ID] = r
	}
	add(m)
	for _, k := range m.Kept {
		if !k.ExpiresAt.After(now) {
			continue
		}
		km, _, err := b.readManifest(ctx, k.ID, false)
		if err != nil {
			continue // expired and deleted meanwhile
		}
		add(km)
	}
	for id, misses := m.ID+1, 0; misses < probeGap; id++ {
		lm, _, err := b.readManifest(ctx, id, false)
		if err != nil {
			misses++
			continue
		}
		misses = 0
		add(lm)
	}
	ids := make([]uint64, 0, len(records))
	for id := range records {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		r := records[id]
		if err := tx.Create(&r).Error; err != nil {
			return err
		}
	}
	return nil
}

func recordOf(m Manifest, now time.Time) models.Backup {
	completed := m.TakenAt
	return models.Backup{
		ID: m.ID, Status: models.BackupCompleted, Prefix: Prefix(m.ID), TakenAt: m.TakenAt, CompletedAt: &completed,
		ExpiresAt: m.TakenAt.Add(obligations.BackupRetention), TableCount: len(m.Tables), RowCount: m.Rows(), Bytes: m.Bytes(),
		Parts: len(m.Parts), MasterVersion: m.MasterVersion, SchemaVersion: m.SchemaVersion, CreatedAt: now, UpdatedAt: now,
	}
}

// ShredKeys brings backup id's copy of the data keys in line with the live
// database: every key the live database has destroyed is removed from the
// backup (see the package comment). It returns how many keys it removed.
func (b *Backups) ShredKeys(ctx context.Context, id uint64) (int, error) {
	m, key, err := b.readManifest(ctx, id, true)
	if err != nil {
		return 0, err
	}
	removed := 0
	var stale []string
	for i, p := range m.Parts {
		if p.Table != keysTable {
			continue
		}
		h, dec, err := b.readPart(ctx, id, key, p)
		if err != nil {
			return removed, err
		}
		n, plain, err := b.shredPart(ctx, h, dec)
		if err != nil {
			return removed, err
		}
		if n == 0 {
			continue
		}
		np := Part{Name: partName(p.Seq, p.Revision+1), Table: p.Table, Seq: p.Seq, Revision: p.Revision + 1, Rows: p.Rows}
		if err := b.putPart(ctx, id, key, &np, plain); err != nil {
			return removed, err
		}
		stale = append(stale, p.Name)
		m.Parts[i] = np
		removed += n
	}
	if len(stale) == 0 {
		return 0, nil
	}
	// The manifest names the new revisions only once they are stored; the
	// old ones go after it, so a crash leaves a readable backup.
	if err := b.putManifest(ctx, m, key); err != nil {
		return removed, err
	}
	for _, name := range stale {
		if err := b.Blobs.Delete(ctx, b.Context, partKey(id, name)); err != nil {
			return removed, err
		}
	}
	return removed, nil
}

// shredPart rewrites one data_keys part with the keys the live database
// destroyed removed; n is how many, plain the new part (nil when n is 0).
func (b *Backups) shredPart(ctx context.Context, h header, dec *json.Decoder) (int, []byte, error) {
	at := map[string]int{}
	for i, c := range h.Columns {
		at[c] = i
	}
	idAt, okID := at["id"]
	wrappedAt, okW := at["wrapped"]
	destroyedAt, okD := at["destroyed_at"]
	if !okID || !okW || !okD {
		return 0, nil, fmt.Errorf("backup: the data_keys part lacks id, wrapped or destroyed_at")
	}
	var rows [][]any
	var live []uint64
	for row, err := range rowsOf(dec) {
		if err != nil {
			return 0, nil, err
		}
		rows = append(rows, row)
		if row[wrappedAt] != nil && row[wrappedAt] != "" {
			n, ok := row[idAt].(json.Number)
			if !ok {
				return 0, nil, errors.New("backup: a data key without an ID")
			}
			v, err := strconv.ParseUint(n.String(), 10, 64)
			if err != nil {
				return 0, nil, err
			}
			live = append(live, v)
		}
	}
	destroyed := map[uint64]time.Time{}
	for start := 0; start < len(live); start += 500 {
		chunk := live[start:min(start+500, len(live))]
		var gone []struct {
			ID          uint64
			DestroyedAt time.Time
		}
		err := b.DB.WithContext(ctx).Raw("SELECT id, destroyed_at FROM data_keys WHERE destroyed_at IS NOT NULL AND id IN ?", chunk).Scan(&gone).Error
		if err != nil {
			return 0, nil, err
		}
		for _, g := range gone {
			destroyed[g.ID] = g.DestroyedAt
		}
	}
	if len(destroyed) == 0 {
		return 0, nil, nil
	}
	var buf bytes.Buffer
	head, _ := json.Marshal(h)
	buf.Write(head)
	buf.WriteByte('\n')
	n := 0
	for _, row := range rows {
		if num, ok := row[idAt].(json.Number); ok {
			v, _ := strconv.ParseUint(num.String(), 10, 64)
			if when, gone := destroyed[v]; gone {
				row[wrappedAt] = nil
				row[destroyedAt] = when.UTC().Format(time.RFC3339Nano)
				n++
			}
		}
		line, err := json.Marshal(row)
		if err != nil {
			return 0, nil, err
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	return n, buf.Bytes(), nil
}

// Delete removes every blob of backup id, the manifest last, so a retried
// delete finds what is left. A backup already gone is deleted. It needs no
// key: the names are in the manifest's clear part, and only names under
// the backup's own prefix are deleted.
func (b *Backups) Delete(ctx context.Context, id uint64) error {
	m, _, err := b.readManifest(ctx, id, false)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, p := range m.Parts {
		if strings.Contains(p.Name, "/") || strings.Contains(p.Name, "..") {
			continue
		}
		if err := b.Blobs.Delete(ctx, b.Context, partKey(id, p.Name)); err != nil {
			return err
		}
	}
	return b.Blobs.Delete(ctx, b.Context, manifestKey(id))
}
