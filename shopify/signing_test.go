package shopify

import (
	"errors"
	"net/url"
	"testing"

	"github.com/convot/convot/internal/shopifytest"
)

// Shopify's documented example of an OAuth callback signature (secret
// "hush"), and a webhook body signed by an independent implementation
// (Python's hmac module): both forms, fixed vectors.
func TestQuerySignatureFixedVector(t *testing.T) {
	q := url.Values{"code": {"0907a61c0c8d55e99db179b68161bc00"}, "shop": {"some-shop.myshopify.com"},
		"state": {"0.6784241404160823"}, "timestamp": {"1337178173"}}
	const want = "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf"
	if got := QuerySignature("hush", q); got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
	if got := shopifytest.SignQuery("hush", q); got != want {
		t.Fatalf("the fake signs %s", got)
	}
	q.Set("hmac", want)
	if err := VerifyQuery("hush", q); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(url.Values){
		"other secret": nil,
		"changed shop": func(v url.Values) { v.Set("shop", "other-shop.myshopify.com") },
		"no hmac":      func(v url.Values) { v.Del("hmac") },
		"short hmac":   func(v url.Values) { v.Set("hmac", want[:10]) },
		"not hex":      func(v url.Values) { v.Set("hmac", "zz"+want[2:]) },
	} {
		v := url.Values{}
		for k, vals := range q {
			v[k] = append([]string(nil), vals...)
		}
		secret := "hush"
		if mutate == nil {
			secret = "other"
		} else {
			mutate(v)
		}
		if err := VerifyQuery(secret, v); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestWebhookSignatureFixedVector(t *testing.T) {
	body := []byte(`{"shop_id":954889,"shop_domain":"some-shop.myshopify.com"}`)
	const want = "Tr2c7Me17fTQwz4kN7AGPjEn0lRCShuYgLnmDSgxA4k="
	if got := WebhookSignature("hush", body); got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
	if got := shopifytest.SignWebhook("hush", body); got != want {
		t.Fatalf("the fake signs %s", got)
	}
	if err := VerifyWebhook("hush", body, want); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		secret, header string
		body           []byte
	}{
		"unsigned":     {"hush", "", body},
		"other secret": {"other", want, body},
		"body changed": {"hush", want, append([]byte(" "), body...)},
		"not base64":   {"hush", "!!!", body},
		"no secret":    {"", WebhookSignature("", body), body},
	} {
		if err := VerifyWebhook(c.secret, c.body, c.header); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestValidShop(t *testing.T) {
	for _, ok := range []string{"acme.myshopify.com", "ACME-2.myshopify.com"} {
		if _, err := ValidShop(ok); err != nil {
			t.Errorf("%s refused", ok)
		}
	}
	for _, bad := range []string{"", "acme.example.com", "acme.myshopify.com.evil.example", "acme.myshopify.com/admin", "-x.myshopify.com", "a.b.myshopify.com", "acme.myshopify.com:443"} {
		if _, err := ValidShop(bad); !errors.Is(err, ErrBadShop) {
			t.Errorf("%q accepted", bad)
		}
	}
}
