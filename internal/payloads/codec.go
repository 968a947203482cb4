// Package payloads encrypts every Temporal payload (DESIGN.md invariant 3):
// workflow and activity inputs and results, signals, queries, failures'
// details. Workflows carry identifiers only; encryption is the second line,
// so that even those never sit in Temporal's database, or pass through its
// UI, in clear. Search attributes, workflow IDs and memos are not payloads
// and are not encrypted: they never hold personal data.
//
// The codec server (Handler) lets an authorized privacy officer read the
// payloads in the Temporal UI, which calls it from the browser.
package payloads

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

// Metadata of an encrypted payload.
const (
	// MetadataEncoding is the payload metadata key naming the encoding.
	MetadataEncoding = converter.MetadataEncoding
	// EncodingEncrypted marks a payload this codec encrypted.
	EncodingEncrypted = "binary/encrypted"
	// MetadataKeyID names the key version a payload was encrypted under,
	// as "v<version>".
	MetadataKeyID = "encryption-key-id"
	// MetadataOrganization names, in decimal, the organization whose
	// payload it is (the tenant tag): set when the payload in clear is a
	// JSON object with a top-level OrganizationID, as workflow and activity
	// inputs are, and bound to the ciphertext (its additional data), so it
	// can be neither removed nor changed. Payloads written before it, and
	// payloads of no organization, carry none. The organization's id is
	// no personal data: the ConvotOrgId search attribute carries it too.
	MetadataOrganization = "convot-organization-id"
)

// KeySize is the length of a payload key (AES-256).
const KeySize = 32

// Codec is a converter.PayloadCodec that seals each payload, whole (data
// and metadata, serialized), with AES-256-GCM under a versioned key. It
// encodes under the current version and decodes under whichever version a
// payload names, so keys can rotate while old history stays readable.
type Codec struct {
	current uint32
	aeads   map[uint32]cipher.AEAD
}

var _ converter.PayloadCodec = (*Codec)(nil)

// NewCodec returns a codec over a keyring of 32-byte keys by version,
// encrypting under current, which must be in the ring.
func NewCodec(current uint32, keys map[uint32][]byte) (*Codec, error) {
	if _, ok := keys[current]; !ok {
		return nil, fmt.Errorf("payloads: current key v%d is not in the keyring", current)
	}
	c := &Codec{current: current, aeads: make(map[uint32]cipher.AEAD, len(keys))}
	for version, key := range keys {
		if len(key) != KeySize {
			return nil, fmt.Errorf("payloads: key v%d is %d bytes, want %d", version, len(key), KeySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("payloads: key v%d: %w", version, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("payloads: key v%d: %w", version, err)
		}
		c.aeads[version] = aead
	}
	return c, nil
}

// DeriveKey derives the payload key of one master key version with
// HKDF-SHA256 (info "convot temporal payloads v<version>"), so payload keys
// follow the master key versions and need no storage of their own. It is
// the same derivation as crypto.MasterKeys.Derive with that info.
func DeriveKey(master []byte, version uint32) []byte {
	key, err := hkdf.Key(sha256.New, master, nil, fmt.Sprintf("convot temporal payloads v%d", version), KeySize)
	if err != nil {
		// Only an impossible length, or an empty secret in FIPS-only mode.
		panic("payloads: deriving key: " + err.Error())
	}
	return key
}

// DataConverter is the default data converter with every payload encrypted
// by c. Clients and workers must all use it.
func DataConverter(c *Codec) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// Current is the key version new payloads are encrypted under.
func (c *Codec) Current() uint32 { return c.current }

// Encode encrypts each payload under the current key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.aeads[c.current]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return payloads, fmt.Errorf("payloads: serializing payload: %w", err)
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return payloads, fmt.Errorf("payloads: nonce: %w", err)
		}
		meta := map[string][]byte{
			MetadataEncoding: []byte(EncodingEncrypted),
			MetadataKeyID:    []byte(keyID(c.current)),
		}
		org := organizationOf(p)
		if org != 0 {
			meta[MetadataOrganization] = []byte(strconv.FormatUint(org, 10))
		}
		out[i] = &commonpb.Payload{Metadata: meta, Data: aead.Seal(nonce, nonce, plain, additionalData(c.current, org))}
	}
	return out, nil
}

// Decode decrypts the payloads this codec encrypted. Others pass through
// unchanged, so history written before encryption stays readable. An
// unknown key version or a ciphertext that fails authentication is an
// error.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		decoded, err := c.decodeOne(p)
		if err != nil {
			return payloads, err
		}
		out[i] = decoded
	}
	return out, nil
}

// Reader is who asks the codec server for payloads in clear: an
// organization's officer, or Convot's own staff (the deployment's privacy
// officers), who read every organization's.
type Reader struct {
	OrganizationID uint64
	Staff          bool
}

// DecodeFor decodes for r what r may read and leaves the rest as it is
// (still encrypted): a payload tagged with another organization; an
// untagged one (written before the tag, or of no organization) unless
// r is staff or its content names r's organization as its
// OrganizationID. Payloads never encrypted pass through.
func (c *Codec) DecodeFor(r Reader, payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		out[i] = p
		if string(p.GetMetadata()[MetadataEncoding]) != EncodingEncrypted {
			continue
		}
		tag, tagged, err := tagOf(p)
		if err != nil {
			return payloads, err
		}
		if tagged && !r.Staff && tag != r.OrganizationID {
			continue // another organization's: not even decrypted
		}
		decoded, err := c.decodeOne(p)
		if err != nil {
			return payloads, err
		}
		if tagged || r.Staff || (r.OrganizationID != 0 && organizationOf(decoded) == r.OrganizationID) {
			out[i] = decoded
		}
	}
	return out, nil
}

func (c *Codec) decodeOne(p *commonpb.Payload) (*commonpb.Payload, error) {
	if string(p.GetMetadata()[MetadataEncoding]) != EncodingEncrypted {
		return p, nil
	}
	version, err := parseKeyID(string(p.GetMetadata()[MetadataKeyID]))
	if err != nil {
		return nil, err
	}
	org, _, err := tagOf(p)
	if err != nil {
		return nil, err
	}
	aead, ok := c.aeads[version]
	if !ok {
		return nil, fmt.Errorf("payloads: encrypted under key v%d, which is not in the keyring", version)
	}
	data := p.GetData()
	if len(data) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("payloads: encrypted payload too short")
	}
	plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], additionalData(version, org))
	if err != nil {
		return nil, fmt.Errorf("payloads: decrypting under key v%d failed: tampered or wrong key", version)
	}
	decoded := &commonpb.Payload{}
	if err := proto.Unmarshal(plain, decoded); err != nil {
		return nil, fmt.Errorf("payloads: decrypted payload is malformed: %w", err)
	}
	return decoded, nil
}

// tagOf reads an encrypted payload's organization tag.
func tagOf(p *commonpb.Payload) (org uint64, tagged bool, err error) {
	v, ok := p.GetMetadata()[MetadataOrganization]
	if !ok {
		return 0, false, nil
	}
	org, err = strconv.ParseUint(string(v), 10, 64)
	if err != nil || org == 0 {
		return 0, false, fmt.Errorf("payloads: bad %s %q", MetadataOrganization, v)
	}
	return org, true, nil
}

// organizationOf is the top-level OrganizationID of a JSON payload in
// clear, or 0.
func organizationOf(p *commonpb.Payload) uint64 {
	if string(p.GetMetadata()[MetadataEncoding]) != converter.MetadataEncodingJSON {
		return 0
	}
	data := bytes.TrimLeft(p.GetData(), " \t\r\n")
	if len(data) == 0 || data[0] != '{' || !bytes.Contains(data, []byte(`"OrganizationID"`)) {
		return 0
	}
	var v struct {
		OrganizationID json.Number
	}
	if json.Unmarshal(data, &v) != nil {
		return 0
	}
	id, err := strconv.ParseUint(v.OrganizationID.String(), 10, 64)
	if err != nil {
		return 0
	}
	return id
}

func keyID(version uint32) string { return "v" + strconv.FormatUint(uint64(version), 10) }

func parseKeyID(id string) (uint32, error) {
	v, err := strconv.ParseUint(strings.TrimPrefix(id, "v"), 10, 32)
	if err != nil || !strings.HasPrefix(id, "v") {
		return 0, fmt.Errorf("payloads: bad %s %q", MetadataKeyID, id)
	}
	return uint32(v), nil
}

// additionalData binds a ciphertext to its key version and, when tagged,
// its organization. Untagged payloads keep the first format's additional
// data, so history written before the tag stays readable.
func additionalData(version uint32, org uint64) []byte {
	ad := "convot temporal payload " + keyID(version)
	if org != 0 {
		ad += " organization " + strconv.FormatUint(org, 10)
	}
	return []byte(ad)
}
