package store

import (
	"context"
	"time"

	"github.com/convot/convot/models"
)

// Policy versions are Convot's own privacy policy: one for everyone, of no
// organization.

// SeedPolicy records text as version 1 of the privacy policy, effective
// from since, unless a version is recorded already.
func (s *Store) SeedPolicy(ctx context.Context, text string, since time.Time) error {
	return models.SeedPolicy(ctx, s.db, text, since)
}

// CurrentPolicy is the version of the privacy policy in effect at now, or
// ErrNotFound when none is.
func (s *Store) CurrentPolicy(ctx context.Context, now time.Time) (*models.PolicyVersion, error) {
	return policyOrNotFound(models.CurrentPolicy(ctx, s.db, now))
}

// PolicyByVersion is one version of the privacy policy, or ErrNotFound.
func (s *Store) PolicyByVersion(ctx context.Context, version int) (*models.PolicyVersion, error) {
	return policyOrNotFound(models.PolicyByVersion(ctx, s.db, version))
}

// PolicyBanner is the material change of the privacy policy the dashboard
// announces at now, or ErrNotFound when there is none to announce.
func (s *Store) PolicyBanner(ctx context.Context, now time.Time) (*models.PolicyVersion, error) {
	return policyOrNotFound(models.PolicyBanner(ctx, s.db, now))
}

// policyOrNotFound turns the models' nil for "no such version" into
// ErrNotFound.
func policyOrNotFound(v *models.PolicyVersion, err error) (*models.PolicyVersion, error) {
	if err == nil && v == nil {
		err = ErrNotFound
	}
	return v, err
}
