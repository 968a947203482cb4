package dashboard

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"html/template"
	"image/png"
	"net/url"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/convot/convot/internal/crypto"
)

const totpPeriod = 30

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// matchTOTP accepts a code of the previous, current or next 30-second step
// (clock drift), but only a step later than the last one accepted, so a
// code cannot be replayed.
func matchTOTP(secret, code string, now time.Time, lastStep int64) (int64, bool) {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if secret == "" || len(code) != 6 {
		return 0, false
	}
	current := now.Unix() / totpPeriod
	for _, step := range []int64{current - 1, current, current + 1} {
		if step <= lastStep {
			continue
		}
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0), totpOpts)
		if err == nil && timingSafeEqual(want, code) {
			return step, true
		}
	}
	return 0, false
}

// newTOTPSecret makes a secret for enrolment.
func newTOTPSecret(accountName string) (string, error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "Convot", AccountName: accountName, Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return "", err
	}
	return key.Secret(), nil
}

// totpQR renders the otpauth URL of a secret as a PNG data URL, for an
// authenticator app to scan.
func totpQR(secret, accountName string) (string, error) {
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/Convot:" + accountName}
	q := url.Values{"secret": {secret}, "issuer": {"Convot"}, "algorithm": {"SHA1"}, "digits": {"6"}, "period": {"30"}}
	u.RawQuery = q.Encode()
	key, err := otp.NewKeyFromURL(u.String())
	if err != nil {
		return "", err
	}
	img, err := key.Image(200, 200)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return "", err
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

const recoveryCodeCount = 10

// newRecoveryCodes returns codes to show once and the hashes to store.
func newRecoveryCodes() (codes, hashes []string) {
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	for i := 0; i < recoveryCodeCount; i++ {
		b := make([]byte, 6)
		if _, err := rand.Read(b); err != nil {
			panic("crypto/rand failed: " + err.Error())
		}
		raw := strings.ToLower(enc.EncodeToString(b)) // 10 characters, 48 bits
		codes = append(codes, raw[:5]+"-"+raw[5:])
		hashes = append(hashes, crypto.HashToken(raw))
	}
	return codes, hashes
}

func normalizeRecoveryCode(code string) string {
	code = strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(strings.TrimSpace(code)))
	if len(code) != 10 {
		return ""
	}
	return code
}

// qrURL marks the generated PNG data URL as safe for an img src.
func qrURL(dataURL string) template.URL {
	if !strings.HasPrefix(dataURL, "data:image/png;base64,") {
		return ""
	}
	return template.URL(dataURL) // #nosec: built above from our own PNG bytes
}
