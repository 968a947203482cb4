package models

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"gorm.io/gorm"
)

// PolicyVersion is one version of the privacy policy Convot publishes
// (policy §13). The text is Convot's own wording, not personal data. A
// material change takes effect no sooner than MaterialNotice after it is
// published; every customer account is told by email, and the dashboard
// shows a banner, from publication until BannerAfterEffective past its
// effective date.
type PolicyVersion struct {
	ID          uint64 `gorm:"primaryKey"`
	Version     int    `gorm:"uniqueIndex"`
	Text        string `privacy:"none"`
	Summary     string `privacy:"none"` // what changed, in a sentence or two
	Material    bool
	PublishedAt time.Time
	EffectiveAt time.Time `gorm:"index"`
	CreatedAt   time.Time
}

// PolicyNotice records that one customer account was mailed the notice of
// a policy version, so a retried send never mails anyone twice.
type PolicyNotice struct {
	ID        uint64 `gorm:"primaryKey"`
	Version   int    `gorm:"index"`
	AccountID uint64
	SentAt    time.Time
}

const (
	// MaterialNotice is how long before a material change takes effect
	// customers must be told (policy §13: at least thirty days).
	MaterialNotice = 30 * 24 * time.Hour
	// BannerAfterEffective is how long the in-app banner stays up after a
	// material change took effect.
	BannerAfterEffective = 14 * 24 * time.Hour
)

// ErrNoticeTooShort refuses a material change that would take effect less
// than MaterialNotice after publication.
var ErrNoticeTooShort = errors.New("a material change must take effect at least 30 days after it is published (policy §13)")

// CheckPolicyEffective validates the effective date of a new version
// published at now.
func CheckPolicyEffective(material bool, publishedAt, effectiveAt time.Time) error {
	if material && effectiveAt.Sub(publishedAt) < MaterialNotice {
		return ErrNoticeTooShort
	}
	if effectiveAt.Before(publishedAt.Add(-time.Minute)) {
		return errors.New("the effective date is in the past")
	}
	return nil
}

// PolicyArtefact is what an e-mail-obfuscating web page leaves where an
// address was: a policy text holding it tells readers no address at all.
const PolicyArtefact = "[email protected]"

// ContactAddresses are the addresses the policy names (§9, §10, §12, §14),
// from settings. A policy text names them by placeholder:
// {{privacy_address}}, {{security_address}}, {{support_address}}.
type ContactAddresses struct {
	Privacy, Security, Support string
}

// policyPlaceholder matches any {{word}} of a policy text.
var policyPlaceholder = regexp.MustCompile(`\{\{\s*([a-zA-Z0-9_]*)\s*\}\}`)

// FillPolicy is text with its placeholders replaced by the addresses.
func FillPolicy(text string, a ContactAddresses) string {
	return strings.NewReplacer(
		"{{privacy_address}}", a.Privacy,
		"{{security_address}}", a.Security,
		"{{support_address}}", a.Support,
	).Replace(text)
}

// CheckPolicyText refuses a policy text that would be served without its
// addresses: one holding PolicyArtefact, or a placeholder FillPolicy does
// not know.
func CheckPolicyText(text string) error {
	if n := strings.Count(text, PolicyArtefact); n > 0 {
		return fmt.Errorf("the text holds %q %d times, an e-mail-obfuscation artefact where an address belongs: write {{privacy_address}}, {{security_address}} or {{support_address}} instead", PolicyArtefact, n)
	}
	for _, m := range policyPlaceholder.FindAllStringSubmatch(text, -1) {
		switch m[1] {
		case "privacy_address", "security_address", "support_address":
		default:
			return fmt.Errorf("the text holds the unknown placeholder %q: say {{privacy_address}}, {{security_address}} or {{support_address}}", m[0])
		}
	}
	return nil
}

// SeedPolicy records the policy served before versions existed (the text
// embedded in the binary) as version 1, effective from since, when no
// version is recorded yet. It is idempotent and safe to run concurrently.
func SeedPolicy(ctx context.Context, db *gorm.DB, text string, since time.Time) error {
	var n int64
	if err := db.WithContext(ctx).Model(&PolicyVersion{}).Count(&n).Error; err != nil || n > 0 {
		return err
	}
	v := PolicyVersion{Version: 1, Text: text, Summary: "the policy as first published", PublishedAt: since, EffectiveAt: since, CreatedAt: time.Now().UTC()}
	if err := db.WithContext(ctx).Create(&v).Error; err != nil {
		// Another node seeded it meanwhile (unique version).
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return nil
		}
		return err
	}
	return nil
}

// CurrentPolicy returns the version in effect at now: the newest whose
// effective date has come.
func CurrentPolicy(ctx context.Context, db *gorm.DB, now time.Time) (*PolicyVersion, error) {
	var v PolicyVersion
	err := db.WithContext(ctx).Where("effective_at <= ?", now.UTC()).Order("version DESC").Limit(1).Find(&v).Error
	if err != nil || v.ID == 0 {
		return nil, err
	}
	return &v, nil
}

// PolicyByVersion returns one version, or nil.
func PolicyByVersion(ctx context.Context, db *gorm.DB, version int) (*PolicyVersion, error) {
	var v PolicyVersion
	err := db.WithContext(ctx).Where("version = ?", version).Limit(1).Find(&v).Error
	if err != nil || v.ID == 0 {
		return nil, err
	}
	return &v, nil
}

// PolicyBanner returns the material change to announce in the dashboard at
// now: published, and not yet BannerAfterEffective past its effective
// date. Nil when there is none.
func PolicyBanner(ctx context.Context, db *gorm.DB, now time.Time) (*PolicyVersion, error) {
	var v PolicyVersion
	now = now.UTC()
	err := db.WithContext(ctx).Select("id", "version", "summary", "material", "published_at", "effective_at", "created_at").
		Where("material = ? AND published_at <= ? AND effective_at > ?", true, now, now.Add(-BannerAfterEffective)).
		Order("version DESC").Limit(1).Find(&v).Error
	if err != nil || v.ID == 0 {
		return nil, err
	}
	return &v, nil
}

// NextPolicyVersion is the number the next published version gets.
func NextPolicyVersion(ctx context.Context, db *gorm.DB) (int, error) {
	var max *int
	if err := db.WithContext(ctx).Model(&PolicyVersion{}).Select("MAX(version)").Scan(&max).Error; err != nil {
		return 0, err
	}
	if max == nil {
		return 1, nil
	}
	return *max + 1, nil
}
