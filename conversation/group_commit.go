package conversation

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/convot/convot/store"
)

// Group commit: on PostgreSQL, plain messages (a body, no attachments, no
// reopening, not inside a caller's transaction) posted at the same moment
// are written together by one statement (store.InsertMessageBatch): one
// round trip and one wait for the disk for the batch instead of a
// transaction of several statements each. Every sender is still answered
// only after the commit that holds its message.
//
// No goroutine waits when nothing is posted: a post that finds no
// committer starts one (and a second when backlogForSecond posts wait),
// and a committer takes whatever is pending (up to maxBatch) until nothing
// is. While the committers wait on the disk, the posts arriving meanwhile
// pile up into the next batches, so batches grow with the load and stay
// single under a light one.

const (
	// maxCommitters is how many batches of one node are written at once:
	// two keep the database busy while the other batch waits on the disk
	// under a heavy load; more would split the load into smaller batches.
	maxCommitters = 2
	// backlogForSecond is how many posts must be waiting for a second
	// committer to start beside a running one. Under a moderate load one
	// committer gathers what arrives during its commit into its next
	// batch: at 1,000 messages/s over two nodes, batches of 1.7–1.8
	// instead of 1.25 with a second committer always on, and 9% less
	// database CPU a message; a second committer only when posts pile up
	// keeps the throughput of two under a heavy load (issue 16).
	backlogForSecond = 8
	// maxBatch bounds one statement (its arrays and its locks).
	maxBatch = 128
	// batchTimeout bounds a batch's statement: the posts' own contexts
	// end with their requests, and one sender leaving must not abort the
	// others' messages.
	batchTimeout = 30 * time.Second
)

type pendingPost struct {
	msg     store.BatchMessage
	written chan error // ErrNotFound when its conversation is gone
}

type groupCommit struct {
	store *store.Store

	mu         sync.Mutex
	pending    []*pendingPost
	committers int

	// batches and messages count what was written, for the bench.
	batches, messages atomic.Int64
}

// GroupCommitStats reports how many batches the group commit wrote and
// how many messages they held, since the service began.
func (s *Service) GroupCommitStats() (batches, messages int64) {
	g := s.commits()
	return g.batches.Load(), g.messages.Load()
}

// post writes one message with those posted at the same time and returns
// once it is committed (or failed). It waits for the batch even when the
// sender has left: a committed message is then still announced.
func (g *groupCommit) post(msg store.BatchMessage) error {
	p := &pendingPost{msg: msg, written: make(chan error, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, p)
	if g.committers == 0 || (g.committers < maxCommitters && len(g.pending) >= backlogForSecond) {
		g.committers++
		go g.commit()
	}
	g.mu.Unlock()
	return <-p.written
}

// commit writes batches until nothing is pending. Leaving is decided
// under the lock that posts append under, so no post is left without a
// committer.
func (g *groupCommit) commit() {
	for {
		g.mu.Lock()
		n := min(len(g.pending), maxBatch)
		if n == 0 {
			g.committers--
			g.mu.Unlock()
			return
		}
		batch := g.pending[:n:n]
		g.pending = g.pending[n:]
		if len(g.pending) == 0 {
			g.pending = nil // let the backing array go
		}
		g.mu.Unlock()
		g.write(batch)
	}
}

// write commits one batch and answers its posts. When the batch fails as
// a whole, each message is tried alone, so that one message the database
// refuses costs no other sender theirs.
func (g *groupCommit) write(batch []*pendingPost) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	msgs := make([]store.BatchMessage, len(batch))
	for i, p := range batch {
		msgs[i] = p.msg
	}
	written, err := g.store.InsertMessageBatch(ctx, msgs)
	if err == nil {
		g.batches.Add(1)
		g.messages.Add(int64(len(batch)))
	}
	if err != nil && len(batch) > 1 {
		for _, p := range batch {
			g.write([]*pendingPost{p})
		}
		return
	}
	for i, p := range batch {
		switch {
		case err != nil:
			p.written <- err
		case !written[i]:
			p.written <- store.ErrNotFound
		default:
			p.written <- nil
		}
	}
}
