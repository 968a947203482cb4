package policies

import (
	"slices"
	"strconv"
	"strings"
	"sync"
)

// decisionCache remembers the policy's decisions by flow. It is bounded:
// when full, an arbitrary entry makes room for the new one.
type decisionCache struct {
	mu  sync.Mutex
	max int
	m   map[string]Decision
}

func newDecisionCache(max int) *decisionCache {
	return &decisionCache{max: max, m: make(map[string]Decision, max)}
}

// get returns a copy of the decision remembered for key.
func (c *decisionCache) get(key string) (Decision, bool) {
	c.mu.Lock()
	d, ok := c.m[key]
	c.mu.Unlock()
	if !ok {
		return Decision{}, false
	}
	d.Reasons = slices.Clone(d.Reasons)
	d.Drop = slices.Clone(d.Drop)
	d.Redact = slices.Clone(d.Redact)
	return d, true
}

func (c *decisionCache) put(key string, d Decision) {
	d.Reasons = slices.Clone(d.Reasons)
	d.Drop = slices.Clone(d.Drop)
	d.Redact = slices.Clone(d.Redact)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; !ok && len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[key] = d
}

func (c *decisionCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// cacheKey encodes every field of the flow that the policy reads, without
// ambiguity: strings are length-prefixed, and a nil list differs from an
// empty one (their input documents differ: null and []).
func (f Flow) cacheKey() string {
	var b strings.Builder
	b.Grow(256)
	str := func(s string) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	list := func(ss []string) {
		if ss == nil {
			b.WriteByte('n')
			return
		}
		b.WriteString(strconv.Itoa(len(ss)))
		b.WriteByte('[')
		for _, s := range ss {
			str(s)
		}
	}
	flag := func(v bool) {
		if v {
			b.WriteByte('t')
		} else {
			b.WriteByte('f')
		}
	}
	str(f.Subprocessor)
	str(f.Purpose)
	list(f.Categories)
	str(f.DestinationRegion)
	str(f.Feature)
	o := f.Organization
	flag(o.IsZero())
	b.WriteString(strconv.FormatUint(o.ID, 10))
	b.WriteByte(';')
	str(o.Region)
	list(o.AIFeatures)
	list(o.ShopifyScopes)
	s := f.Subject
	str(s.Kind)
	flag(s.Restricted)
	list(s.Objections)
	list(s.Consents)
	str(s.Country)
	flag(o.Deployment)
	b.WriteString(strconv.FormatUint(f.RecipientOrganization, 10))
	b.WriteByte(';')
	if d := f.Disclosure; d != nil {
		b.WriteByte('D')
		str(d.Kind)
		flag(d.Approved)
		flag(d.RecipientRecorded)
		flag(d.LegalBasisRecorded)
		list(d.Requested)
	}
	return b.String()
}
