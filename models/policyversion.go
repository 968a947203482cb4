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

// materialSections name, by words of their headings, the sections of the
// policy whose change is material whatever the publisher says (issue 15,
// policy §13): the data collected, the purposes and legal bases, sharing
// and subprocessors, international transfers, and retention.
var materialSections = []string{"data we collect", "legal basis", "how we use", "subprocessor", "sharing", "transfer", "retention"}

// MaterialSectionsChanged lists the headings of the sections of the new
// text, among materialSections, in which any sentence differs from the
// previous text (a sentence added, removed or reworded; whitespace aside),
// and of such sections added or removed. A change there is material.
func MaterialSectionsChanged(previous, next string) []string {
	before, after := policySections(previous), policySections(next)
	var changed []string
	seen := map[string]bool{}
	check := func(key, heading string) {
		if seen[key] {
			return
		}
		seen[key] = true
		if !sameSentences(before[key], after[key]) {
			changed = append(changed, heading)
		}
	}
	for _, s := range orderedSections(next) {
		check(s.key, s.heading)
	}
	for _, s := range orderedSections(previous) {
		check(s.key, s.heading)
	}
	return changed
}

type policySection struct{ key, heading, body string }

// orderedSections splits a policy into its top-level numbered sections
// ("6. Subprocessors and data sharing") that are material, in order.
func orderedSections(text string) []policySection {
	var out []policySection
	var cur *policySection
	for _, line := range strings.Split(text, "\n") {
		if h, ok := sectionHeading(line); ok {
			out = append(out, policySection{heading: h})
			cur = &out[len(out)-1]
			cur.key = materialKey(h)
			continue
		}
		if cur != nil {
			cur.body += line + "\n"
		}
	}
	kept := out[:0]
	for _, s := range out {
		if s.key != "" {
			kept = append(kept, s)
		}
	}
	return kept
}

func policySections(text string) map[string]string {
	m := map[string]string{}
	for _, s := range orderedSections(text) {
		m[s.key] += s.body
	}
	return m
}

// sectionHeading recognizes a top-level heading: a number, a dot, a space
// and a title ("8. Data retention"), not a subsection ("2.1 From ...").
func sectionHeading(line string) (string, bool) {
	line = strings.TrimSpace(line)
	i := 0
	for i < len(line) && line[i] >= '0' && line[i] <= '9' {
		i++
	}
	if i == 0 || i+1 >= len(line) || line[i] != '.' || line[i+1] != ' ' || len(line) > 100 {
		return "", false
	}
	return strings.TrimSpace(line[i+2:]), true
}

func materialKey(heading string) string {
	h := strings.ToLower(heading)
	for _, k := range materialSections {
		if strings.Contains(h, k) {
			return k
		}
	}
	return ""
}

// sameSentences compares two texts sentence by sentence, whitespace
// normalized.
func sameSentences(a, b string) bool {
	sa, sb := sentences(a), sentences(b)
	if len(sa) != len(sb) {
		return false
	}
	for i := range sa {
		if sa[i] != sb[i] {
			return false
		}
	}
	return true
}

func sentences(text string) []string {
	words := strings.Fields(text)
	var out []string
	var cur []string
	for _, w := range words {
		cur = append(cur, w)
		if strings.HasSuffix(w, ".") || strings.HasSuffix(w, "!") || strings.HasSuffix(w, "?") || strings.HasSuffix(w, ":") {
			out = append(out, strings.Join(cur, " "))
			cur = nil
		}
	}
	if len(cur) > 0 {
		out = append(out, strings.Join(cur, " "))
	}
	return out
}
