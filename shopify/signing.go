// Package shopify is the Convot Shopify app (policy §6): installing it with
// Shopify's OAuth authorization-code grant, the order and customer context
// an operator sees in the inbox (read through the gated client, within the
// scopes the shop granted, kept in memory briefly and never stored), and
// Shopify's mandatory privacy webhooks, which become data-subject requests
// and deletions run by Temporal workflows.
package shopify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// Errors a caller turns into 400 or 401 answers; their texts are safe to
// show (they never repeat what was sent).
var (
	ErrBadSignature  = errors.New("the Shopify signature is missing or does not match")
	ErrBadShop       = errors.New("the shop must be a shop's permanent *.myshopify.com domain")
	ErrStale         = errors.New("the request is too old or from the future: refused as a possible replay")
	ErrBadState      = errors.New("the install state is unknown, expired, already used or not this session's: start the connection again from Settings → Shopify")
	ErrReplayed      = errors.New("this webhook was received already")
	ErrNotConnected  = errors.New("no Shopify shop is connected")
	ErrNotConfigured = errors.New("the Shopify app is not configured on this deployment")
)

var shopDomain = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*\.myshopify\.com$`)

// ValidShop returns shop as a permanent *.myshopify.com domain (lower
// case), or ErrBadShop.
func ValidShop(shop string) (string, error) {
	shop = strings.ToLower(strings.TrimSpace(shop))
	if len(shop) > 255 || !shopDomain.MatchString(shop) {
		return "", ErrBadShop
	}
	return shop, nil
}

// QuerySignature is Shopify's signature of an install request or OAuth
// callback: the hex HMAC-SHA256, under the app secret, of every parameter
// but hmac (and the legacy signature), sorted by name, written name=value
// and joined with '&'.
func QuerySignature(secret string, q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		if k != "hmac" && k != "signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strings.Join(q[k], ","))
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(b.String()))
	return hex.EncodeToString(m.Sum(nil))
}

// VerifyQuery checks the hmac parameter of q in constant time.
func VerifyQuery(secret string, q url.Values) error {
	got, err := hex.DecodeString(q.Get("hmac"))
	if secret == "" || err != nil || len(got) != sha256.Size {
		return ErrBadSignature
	}
	want, _ := hex.DecodeString(QuerySignature(secret, q))
	if !hmac.Equal(got, want) {
		return ErrBadSignature
	}
	return nil
}

// WebhookSignature is Shopify's X-Shopify-Hmac-SHA256: the base64
// HMAC-SHA256 of the raw body under the app secret.
func WebhookSignature(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// VerifyWebhook checks a webhook's X-Shopify-Hmac-SHA256 header against
// its raw body, in constant time, before anything reads the body.
func VerifyWebhook(secret string, body []byte, header string) error {
	got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(header))
	if secret == "" || err != nil || len(got) != sha256.Size {
		return ErrBadSignature
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return ErrBadSignature
	}
	return nil
}
