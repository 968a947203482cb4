package models

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"

	"github.com/convot/convot/internal/crypto"
)

// DataKey is one data subject's (or organization's) encryption key, stored
// wrapped by a master key. Destroying it makes every copy of the subject's
// encrypted fields unreadable, backups included (crypto-shredding).
type DataKey struct {
	ID            uint64 `gorm:"primaryKey"`
	Subject       string `privacy:"none"` // organization, account, contact, invitation, system
	MasterVersion uint32
	Wrapped       []byte `privacy:"none"` // ciphertext of a key, nil once destroyed
	CreatedAt     time.Time
	DestroyedAt   *time.Time
}

// InstanceKey is a deployment-wide secret (the blind-index key), wrapped by
// the master key like data keys.
type InstanceKey struct {
	Name          string `gorm:"primaryKey" privacy:"none"`
	MasterVersion uint32
	Wrapped       []byte `privacy:"none"`
	CreatedAt     time.Time
}

// ErrKeyDestroyed is returned when data sealed under a destroyed key is read.
var ErrKeyDestroyed = errors.New("data key destroyed")

// KeyStore seals and opens personal fields with per-subject data keys.
type KeyStore struct {
	db        *gorm.DB
	master    *crypto.MasterKeys
	indexKey  []byte
	systemKey uint64

	mu    sync.RWMutex
	cache map[uint64]cachedKey

	searchKeys sync.Map // organization ID → searchKey (search_index.go)
}

type cachedKey struct {
	key     []byte
	expires time.Time
}

// keyCacheTTL bounds how long another node may keep using a key that was
// destroyed elsewhere.
const (
	keyCacheTTL  = 5 * time.Minute
	keyCacheSize = 50000
	sealedPrefix = "ck1."
)

type keysContextKey struct{}

// NewKeyStore loads (or creates) the instance keys and hooks the store into
// db so that fields tagged `serializer:sealed` are encrypted on write and
// decrypted on read. The schema must already be migrated.
func NewKeyStore(ctx context.Context, db *gorm.DB, master *crypto.MasterKeys) (*KeyStore, error) {
	ks := &KeyStore{db: db, master: master, cache: map[uint64]cachedKey{}}
	var err error
	if ks.indexKey, err = ks.instanceKey(ctx, "blind_index"); err != nil {
		return nil, err
	}
	var sys DataKey
	err = db.WithContext(ctx).Where("subject = ?", "system").Order("id").Limit(1).Find(&sys).Error
	if err != nil {
		return nil, err
	}
	if sys.ID == 0 {
		if sys.ID, err = ks.NewKey(db.WithContext(ctx), "system"); err != nil {
			return nil, err
		}
	}
	ks.systemKey = sys.ID
	inject := func(tx *gorm.DB) {
		tx.Statement.Context = context.WithValue(tx.Statement.Context, keysContextKey{}, ks)
	}
	cb := db.Callback()
	for name, err := range map[string]error{
		"create": cb.Create().Before("*").Register("convot:keys", inject),
		"query":  cb.Query().Before("*").Register("convot:keys", inject),
		"update": cb.Update().Before("*").Register("convot:keys", inject),
		"delete": cb.Delete().Before("*").Register("convot:keys", inject),
		"row":    cb.Row().Before("*").Register("convot:keys", inject),
		"raw":    cb.Raw().Before("*").Register("convot:keys", inject),
	} {
		if err != nil {
			return nil, fmt.Errorf("register %s callback: %w", name, err)
		}
	}
	return ks, nil
}

// WithKeys is ctx carrying ks, for reading rows outside gorm's callbacks
// (ScanRows), which would otherwise find no key to open sealed fields.
func WithKeys(ctx context.Context, ks *KeyStore) context.Context {
	return context.WithValue(ctx, keysContextKey{}, ks)
}

// KeysFrom returns the key store that a database operation runs with.
func KeysFrom(ctx context.Context) *KeyStore {
	ks, _ := ctx.Value(keysContextKey{}).(*KeyStore)
	return ks
}

func (ks *KeyStore) instanceKey(ctx context.Context, name string) ([]byte, error) {
	var ik InstanceKey
	err := ks.db.WithContext(ctx).Where("name = ?", name).Limit(1).Find(&ik).Error
	if err != nil {
		return nil, err
	}
	if ik.Name == "" {
		key := crypto.RandomKey()
		version, wrapped, err := ks.master.Wrap(key)
		if err != nil {
			return nil, err
		}
		ik = InstanceKey{Name: name, MasterVersion: version, Wrapped: wrapped, CreatedAt: time.Now()}
		// Another node may have created it at the same moment: keep theirs.
		if err := ks.db.WithContext(ctx).Create(&ik).Error; err != nil {
			if err2 := ks.db.WithContext(ctx).Where("name = ?", name).First(&ik).Error; err2 != nil {
				return nil, err
			}
		} else {
			return key, nil
		}
	}
	key, err := ks.master.Unwrap(ik.MasterVersion, ik.Wrapped)
	if err != nil {
		return nil, fmt.Errorf("instance key %s: %w (is CONVOT_MASTER_KEY the one this database was created with?)", name, err)
	}
	return key, nil
}

// NewKey creates a data key for a subject inside tx and returns its ID.
func (ks *KeyStore) NewKey(tx *gorm.DB, subject string) (uint64, error) {
	key := crypto.RandomKey()
	version, wrapped, err := ks.master.Wrap(key)
	if err != nil {
		return 0, err
	}
	dk := DataKey{Subject: subject, MasterVersion: version, Wrapped: wrapped, CreatedAt: time.Now()}
	if err := tx.Session(&gorm.Session{NewDB: true}).Create(&dk).Error; err != nil {
		return 0, fmt.Errorf("create data key: %w", err)
	}
	ks.remember(dk.ID, key)
	return dk.ID, nil
}

// SystemKey seals records that belong to no subject yet, such as a failed
// sign-in for an unknown email.
func (ks *KeyStore) SystemKey() uint64 { return ks.systemKey }

// Destroy erases a data key: everything sealed under it, in the database and
// in every backup, can no longer be read.
func (ks *KeyStore) Destroy(tx *gorm.DB, id uint64) error {
	ks.mu.Lock()
	delete(ks.cache, id)
	ks.mu.Unlock()
	return tx.Session(&gorm.Session{NewDB: true}).Model(&DataKey{}).Where("id = ?", id).
		Updates(map[string]any{"wrapped": nil, "destroyed_at": time.Now()}).Error
}

// BlindIndex is the lookup value for an email or external ID.
func (ks *KeyStore) BlindIndex(value string) string {
	if strings.TrimSpace(value) == "" {
		return ""
	}
	return crypto.BlindIndex(ks.indexKey, value)
}

func (ks *KeyStore) remember(id uint64, key []byte) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if len(ks.cache) >= keyCacheSize {
		for k := range ks.cache { // evict an arbitrary entry
			delete(ks.cache, k)
			break
		}
	}
	ks.cache[id] = cachedKey{key: key, expires: time.Now().Add(keyCacheTTL)}
}

func (ks *KeyStore) key(ctx context.Context, id uint64) ([]byte, error) {
	ks.mu.RLock()
	c, ok := ks.cache[id]
	ks.mu.RUnlock()
	if ok && time.Now().Before(c.expires) {
		return c.key, nil
	}
	var dk DataKey
	// The root handle, not the caller's transaction: reads of keys must not
	// wait on the statement that is scanning rows.
	if err := ks.db.WithContext(context.WithoutCancel(ctx)).Where("id = ?", id).Limit(1).Find(&dk).Error; err != nil {
		return nil, err
	}
	if dk.ID == 0 {
		return nil, fmt.Errorf("data key %d not found", id)
	}
	if dk.DestroyedAt != nil || len(dk.Wrapped) == 0 {
		return nil, ErrKeyDestroyed
	}
	key, err := ks.master.Unwrap(dk.MasterVersion, dk.Wrapped)
	if err != nil {
		return nil, fmt.Errorf("data key %d: %w", id, err)
	}
	ks.remember(id, key)
	return key, nil
}

// Seal encrypts a value for a column under data key id. The result names
// the key, so any copy of the row can be opened (or not) on its own.
func (ks *KeyStore) Seal(ctx context.Context, id uint64, column string, plaintext []byte) (string, error) {
	key, err := ks.key(ctx, id)
	if err != nil {
		return "", err
	}
	sealed, err := crypto.Seal(key, plaintext, sealAAD(column, id))
	if err != nil {
		return "", err
	}
	return sealedPrefix + strconv.FormatUint(id, 10) + "." + base64.RawStdEncoding.EncodeToString(sealed), nil
}

// OpenColumn opens a sealed column's stored value as reading the row
// does: nil for an empty value and for one whose data key was destroyed
// (crypto-shredded: the value no longer exists), errors named after the
// column. The sealed serializer and the store's driver-direct reads share it.
func (ks *KeyStore) OpenColumn(ctx context.Context, column, value string) ([]byte, error) {
	if value == "" {
		return nil, nil
	}
	plain, err := ks.Open(ctx, column, value)
	switch {
	case errors.Is(err, ErrKeyDestroyed):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("%s: %w", column, err)
	}
	return plain, nil
}

// Open decrypts what Seal produced.
func (ks *KeyStore) Open(ctx context.Context, column, value string) ([]byte, error) {
	id, sealed, err := parseSealed(value)
	if err != nil {
		return nil, err
	}
	key, err := ks.key(ctx, id)
	if err != nil {
		return nil, err
	}
	return crypto.Open(key, sealed, sealAAD(column, id))
}

// SealedKeyID returns the data key a sealed value was written under.
func SealedKeyID(value string) (uint64, bool) {
	id, _, err := parseSealed(value)
	return id, err == nil
}

func parseSealed(value string) (uint64, []byte, error) {
	rest, ok := strings.CutPrefix(value, sealedPrefix)
	if !ok {
		return 0, nil, errors.New("not a sealed value")
	}
	idText, body, ok := strings.Cut(rest, ".")
	if !ok {
		return 0, nil, errors.New("malformed sealed value")
	}
	id, err := strconv.ParseUint(idText, 10, 64)
	if err != nil {
		return 0, nil, errors.New("malformed sealed value")
	}
	sealed, err := base64.RawStdEncoding.DecodeString(body)
	if err != nil {
		return 0, nil, errors.New("malformed sealed value")
	}
	return id, sealed, nil
}

// The column and key are bound into each ciphertext, so a value cannot be
// moved to another column or row unnoticed.
func sealAAD(column string, id uint64) []byte {
	return []byte(column + "|" + strconv.FormatUint(id, 10))
}

// Rewrap re-encrypts every data key and instance key still wrapped under an
// older master version with the current one. Data is untouched.
func (ks *KeyStore) Rewrap(ctx context.Context) (int, error) {
	current := ks.master.Current()
	n := 0
	for {
		var batch []DataKey
		err := ks.db.WithContext(ctx).Where("master_version <> ? AND destroyed_at IS NULL", current).
			Order("id").Limit(500).Find(&batch).Error
		if err != nil {
			return n, err
		}
		if len(batch) == 0 {
			break
		}
		err = ks.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			for _, dk := range batch {
				key, err := ks.master.Unwrap(dk.MasterVersion, dk.Wrapped)
				if err != nil {
					return fmt.Errorf("data key %d: %w", dk.ID, err)
				}
				version, wrapped, err := ks.master.Wrap(key)
				if err != nil {
					return err
				}
				if err := tx.Model(&DataKey{}).Where("id = ?", dk.ID).
					Updates(map[string]any{"master_version": version, "wrapped": wrapped}).Error; err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return n, err
		}
		n += len(batch)
	}
	var iks []InstanceKey
	if err := ks.db.WithContext(ctx).Where("master_version <> ?", current).Find(&iks).Error; err != nil {
		return n, err
	}
	for _, ik := range iks {
		key, err := ks.master.Unwrap(ik.MasterVersion, ik.Wrapped)
		if err != nil {
			return n, fmt.Errorf("instance key %s: %w", ik.Name, err)
		}
		version, wrapped, err := ks.master.Wrap(key)
		if err != nil {
			return n, err
		}
		if err := ks.db.WithContext(ctx).Model(&InstanceKey{}).Where("name = ?", ik.Name).
			Updates(map[string]any{"master_version": version, "wrapped": wrapped}).Error; err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// sealedSerializer is registered as `serializer:sealed`: it encrypts a field
// with the data key named by its row's DataKeyID. Strings are sealed as they
// are; other types as JSON.
type sealedSerializer struct{}

func init() { schema.RegisterSerializer("sealed", sealedSerializer{}) }

func (sealedSerializer) Scan(ctx context.Context, field *schema.Field, dst reflect.Value, dbValue any) error {
	target := reflect.New(field.FieldType)
	var text string
	switch v := dbValue.(type) {
	case nil:
	case string:
		text = v
	case []byte:
		text = string(v)
	default:
		return fmt.Errorf("%s: unexpected stored type %T", field.DBName, dbValue)
	}
	if text != "" {
		ks := KeysFrom(ctx)
		if ks == nil {
			return fmt.Errorf("%s: no key store on this database handle", field.DBName)
		}
		plain, err := ks.OpenColumn(ctx, field.DBName, text)
		switch {
		case err != nil:
			return err
		case plain == nil:
			// Shredded: the value no longer exists.
		case field.FieldType.Kind() == reflect.String:
			target.Elem().SetString(string(plain))
		default:
			if err := json.Unmarshal(plain, target.Interface()); err != nil {
				return fmt.Errorf("%s: %w", field.DBName, err)
			}
		}
	}
	field.ReflectValueOf(ctx, dst).Set(target.Elem())
	return nil
}

func (sealedSerializer) Value(ctx context.Context, field *schema.Field, dst reflect.Value, fieldValue any) (any, error) {
	rv := reflect.ValueOf(fieldValue)
	if !rv.IsValid() || rv.IsZero() || (rv.Kind() == reflect.Map && rv.Len() == 0) {
		return "", nil
	}
	var plain []byte
	if s, ok := fieldValue.(string); ok {
		plain = []byte(s)
	} else {
		var err error
		if plain, err = json.Marshal(fieldValue); err != nil {
			return nil, fmt.Errorf("%s: %w", field.DBName, err)
		}
	}
	ks := KeysFrom(ctx)
	if ks == nil {
		return nil, fmt.Errorf("%s: no key store on this database handle", field.DBName)
	}
	id := dataKeyID(dst)
	if id == 0 {
		return nil, fmt.Errorf("%s: row has no data key", field.DBName)
	}
	return ks.Seal(ctx, id, field.DBName, plain)
}

func dataKeyID(row reflect.Value) uint64 {
	row = reflect.Indirect(row)
	if row.Kind() != reflect.Struct {
		return 0
	}
	f := row.FieldByName("DataKeyID")
	if !f.IsValid() || f.Kind() != reflect.Uint64 {
		return 0
	}
	return f.Uint()
}
