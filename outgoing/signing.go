package outgoing

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// secretPrefix starts every secret (Standard Webhooks: whsec_ + base64 of
// the key).
const secretPrefix = "whsec_"

// secretBytes is the length of a signing key (24..64 bytes per the spec).
const secretBytes = 32

// RotationOverlap is how long a rotated secret keeps signing beside the
// new one, so a Customer can deploy the new secret without losing events.
const RotationOverlap = 24 * time.Hour

// NewSecret returns a fresh whsec_ secret.
func NewSecret() string {
	key := make([]byte, secretBytes)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (Go 1.24+)
	return secretPrefix + base64.StdEncoding.EncodeToString(key)
}

// secretKey decodes a whsec_ secret into its key.
func secretKey(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, secretPrefix)
	if !ok {
		return nil, errors.New("outgoing: a signing secret starts with whsec_")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) == 0 {
		return nil, errors.New("outgoing: malformed signing secret")
	}
	return key, nil
}

// Signature is the base64 HMAC-SHA256 of "id.timestamp.body" under secret.
func Signature(secret, msgID string, ts time.Time, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msgID + "." + strconv.FormatInt(ts.Unix(), 10) + "."))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// SignedHeaders are the Standard Webhooks headers of one delivery: the
// message ID (the same on every attempt, so receivers can deduplicate), the
// attempt's time, and one "v1,<signature>" per secret, space separated.
func SignedHeaders(msgID string, ts time.Time, body []byte, secrets ...string) (http.Header, error) {
	if len(secrets) == 0 {
		return nil, errors.New("outgoing: no signing secret")
	}
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		sig, err := Signature(s, msgID, ts, body)
		if err != nil {
			return nil, err
		}
		sigs = append(sigs, "v1,"+sig)
	}
	h := http.Header{}
	h.Set(HeaderID, msgID)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, strings.Join(sigs, " "))
	h.Set("Content-Type", "application/json")
	return h, nil
}

// Secrets are an endpoint's signing secrets: the current one, and the one
// it replaced until PreviousUntil.
type Secrets struct {
	Current       string
	Previous      string
	PreviousUntil time.Time
}

// Signing returns the secrets that sign at now: the current one, and the
// previous one during the overlap after a rotation.
func (s Secrets) Signing(now time.Time) []string {
	out := []string{s.Current}
	if s.Previous != "" && now.Before(s.PreviousUntil) {
		out = append(out, s.Previous)
	}
	return out
}

// Rotate returns the secrets after a rotation at now: a new current secret,
// the old one signing beside it for RotationOverlap.
func (s Secrets) Rotate(now time.Time) Secrets {
	return Secrets{Current: NewSecret(), Previous: s.Current, PreviousUntil: now.Add(RotationOverlap)}
}
