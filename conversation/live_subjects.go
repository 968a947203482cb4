package conversation

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
)

// Live events that carry a contact's messages tell the egress gate who the
// contact is to the policy: restricted (stored, nothing more), objecting,
// consenting (policy §9). Looking that up for every message would cost a
// query each; a node keeps each contact's answer for liveSubjectTTL, so a
// new restriction holds on every node within seconds.

const (
	liveSubjectTTL     = 10 * time.Second
	liveSubjectEntries = 100_000 // past this the cache starts over
)

// liveSubjects is a node's cache of contacts' subject contexts; its zero
// value is empty and ready.
type liveSubjects struct {
	mu      sync.Mutex
	entries map[uint64]liveSubject
}

type liveSubject struct {
	sc      policies.SubjectContext
	expires time.Time
}

// liveSubject is the subject context of a conversation's contact for a live
// event. When it cannot be read the contact is taken as restricted: the
// event then stays off subprocessors, which is the safe mistake.
func (s *Service) liveSubject(ctx context.Context, orgID, contactID uint64) policies.SubjectContext {
	now := time.Now()
	c := &s.subjects
	c.mu.Lock()
	e, ok := c.entries[contactID]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.sc
	}
	sc, err := s.Store.SubjectContextForContact(ctx, orgID, contactID)
	if err != nil {
		slog.Warn("subject preferences not read; live event treated as restricted", "contact", contactID, "err", err)
		return policies.SubjectContext{Kind: models.SubjectEndUser, Restricted: true, Objections: []string{}, Consents: []string{}}
	}
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= liveSubjectEntries {
		c.entries = map[uint64]liveSubject{}
	}
	c.entries[contactID] = liveSubject{sc: sc, expires: now.Add(liveSubjectTTL)}
	c.mu.Unlock()
	return sc
}

// ForgetLiveSubject drops a contact's cached answer on this node, when its
// preferences change here.
func (s *Service) ForgetLiveSubject(contactID uint64) {
	s.subjects.mu.Lock()
	delete(s.subjects.entries, contactID)
	s.subjects.mu.Unlock()
}
