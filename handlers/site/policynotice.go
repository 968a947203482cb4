package site

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// policyBanner is the material change to announce on every dashboard page,
// from its publication until BannerAfterEffective after it takes effect;
// looked up at most once a minute.
type policyBanner struct {
	mu      sync.Mutex
	checked time.Time
	version *models.PolicyVersion
}

var banners sync.Map // *store.Store → *policyBanner

// Notice is what the layout shows of a material policy change.
type Notice struct {
	Version     int
	Summary     string
	EffectiveAt time.Time
	InEffect    bool
}

func (s *Site) PolicyNotice(ctx context.Context) *Notice {
	v, _ := banners.LoadOrStore(s.Store, &policyBanner{})
	b := v.(*policyBanner)
	now := s.Now().UTC()
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Sub(b.checked) > time.Minute || now.Before(b.checked) {
		pv, err := s.Store.PolicyBanner(ctx, now)
		if errors.Is(err, store.ErrNotFound) {
			pv, err = nil, nil
		}
		if err != nil {
			slog.Warn("policy banner", "err", err)
		} else {
			b.version, b.checked = pv, now
		}
	}
	if b.version == nil || !b.version.EffectiveAt.Add(models.BannerAfterEffective).After(now) || b.version.PublishedAt.After(now) {
		return nil
	}
	return &Notice{Version: b.version.Version, Summary: b.version.Summary, EffectiveAt: b.version.EffectiveAt, InEffect: !b.version.EffectiveAt.After(now)}
}
