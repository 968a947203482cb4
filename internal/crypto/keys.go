// Package crypto holds Convot's encryption at rest: versioned master keys
// that wrap per-subject data keys, AES-256-GCM sealing of values, and keyed
// blind indexes for lookups by email.
package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// KeySize is the AES-256 key length.
const KeySize = 32

// MasterKeys is the versioned key-encryption key from CONVOT_MASTER_KEY.
// The first version given is current: new data keys are wrapped under it,
// older versions stay to unwrap until `convot keys rotate` re-wraps them.
type MasterKeys struct {
	current uint32
	keys    map[uint32][]byte
}

// ParseMasterKeys parses "v2:BASE64,v1:BASE64" (newest first) or a single
// base64 key, which is version 1.
func ParseMasterKeys(s string) (*MasterKeys, error) {
	m := &MasterKeys{keys: map[uint32][]byte{}}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		version, encoded := uint64(1), part
		if v, k, ok := strings.Cut(part, ":"); ok {
			var err error
			version, err = strconv.ParseUint(strings.TrimPrefix(v, "v"), 10, 32)
			if err != nil || version == 0 {
				return nil, fmt.Errorf("bad version %q: want v<number>, such as v1 or v2", v)
			}
			encoded = k
		}
		key, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil {
			key, err = base64.RawURLEncoding.DecodeString(encoded)
		}
		if err != nil || len(key) != KeySize {
			return nil, fmt.Errorf("key v%d must be 32 bytes in base64", version)
		}
		if _, dup := m.keys[uint32(version)]; dup {
			return nil, fmt.Errorf("key v%d given twice", version)
		}
		if m.current == 0 {
			m.current = uint32(version)
		}
		m.keys[uint32(version)] = key
	}
	if m.current == 0 {
		return nil, errors.New("no key given")
	}
	return m, nil
}

// GenerateMasterKey returns a new random key in the CONVOT_MASTER_KEY format.
func GenerateMasterKey(version uint32) string {
	return fmt.Sprintf("v%d:%s", version, base64.StdEncoding.EncodeToString(RandomKey()))
}

// Current is the version new data keys are wrapped under.
func (m *MasterKeys) Current() uint32 { return m.current }

// Wrap encrypts a data key under the current master key.
func (m *MasterKeys) Wrap(dataKey []byte) (uint32, []byte, error) {
	sealed, err := Seal(m.keys[m.current], dataKey, wrapAAD(m.current))
	return m.current, sealed, err
}

// Unwrap decrypts a data key wrapped under the given master version.
func (m *MasterKeys) Unwrap(version uint32, wrapped []byte) ([]byte, error) {
	key, ok := m.keys[version]
	if !ok {
		return nil, fmt.Errorf("master key v%d is not configured", version)
	}
	return Open(key, wrapped, wrapAAD(version))
}

// Derive returns a key for one purpose (payload encryption, say) derived
// from a master key version, so such keys need no storage of their own.
func (m *MasterKeys) Derive(version uint32, purpose string) ([]byte, error) {
	key, ok := m.keys[version]
	if !ok {
		return nil, fmt.Errorf("master key v%d is not configured", version)
	}
	return hkdf.Key(sha256.New, key, nil, purpose, KeySize)
}

// Versions lists the configured versions, current first.
func (m *MasterKeys) Versions() []uint32 {
	out := []uint32{m.current}
	for v := range m.keys {
		if v != m.current {
			out = append(out, v)
		}
	}
	return out
}

func wrapAAD(version uint32) []byte { return []byte("convot data key/v" + strconv.Itoa(int(version))) }

// RandomKey returns 32 random bytes.
func RandomKey() []byte {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		panic("crypto/rand failed: " + err.Error()) // the OS has no entropy; nothing can be safe
	}
	return k
}

// RandomToken returns n random bytes, URL-safe base64 encoded.
func RandomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashToken is how bearer secrets (session, reset, invitation tokens) are
// stored: a database reader learns nothing usable.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Seal encrypts with AES-256-GCM; the result is nonce || ciphertext.
func Seal(key, plaintext, aad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize(), gcm.NonceSize()+len(plaintext)+gcm.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, plaintext, aad), nil
}

// ErrTampered is returned when a ciphertext fails authentication.
var ErrTampered = errors.New("ciphertext failed authentication")

// Open decrypts what Seal produced.
func Open(key, sealed, aad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize()+gcm.Overhead() {
		return nil, ErrTampered
	}
	plain, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], aad)
	if err != nil {
		return nil, ErrTampered
	}
	return plain, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("key must be %d bytes", KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// BlindIndex computes the keyed lookup value of an identifier such as an
// email: equal inputs give equal indexes, and without the key the index
// reveals nothing.
func BlindIndex(key []byte, value string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(strings.ToLower(strings.TrimSpace(value))))
	return hex.EncodeToString(mac.Sum(nil))
}
