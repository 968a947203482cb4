package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/convot/convot/models"
)

// A message batch is several messages written by one statement: one
// round trip, one transaction, one wait for the disk, however many
// senders it answers. conversation's group commit gathers concurrent
// posts into batches; this file only writes them.

// BatchMessage is one message of a batch and what its transaction records
// with it.
type BatchMessage struct {
	// Message is written with its body sealed and its words indexed, as
	// InsertMessage writes it; its ID is set once written.
	Message *models.Message
	// EventType is its webhook event (models.WebhookMessageCreated or
	// WebhookNoteCreated), recorded when an enabled endpoint of the
	// organization subscribes to it.
	EventType string
	// LifecycleArg, when set, is the JSON of the lifecycle signal
	// workflows.SignalMessage written to the lifecycle outbox; the
	// message's ID is added to it as "MessageID", since the ID is drawn in
	// the statement. InactivityHours goes with it.
	LifecycleArg    string
	LifecycleSignal string
	InactivityHours int64
	// LifecycleMayWait: the signal may wait (models.LifecycleSignal's
	// MayWait) unless the message is its conversation's first from its
	// author.
	LifecycleMayWait bool
}

// insertMessageBatch writes every message of a batch whose conversation
// exists in its organization, touching the conversation (last message
// time) like InsertMessage, indexing its words, and recording its webhook
// event and lifecycle signal. The conversations are locked in ID order, so
// that two batches sharing conversations queue instead of deadlocking. It
// returns the (ordinal, message ID) of each message written.
const insertMessageBatch = `WITH input AS MATERIALIZED (
	SELECT u.*, nextval('messages_id_seq') AS id
	FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::text[], $7::boolean[], $8::boolean[],
		$9::text[], $10::timestamptz[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::bigint[], $19::boolean[])
	WITH ORDINALITY AS u(org, conv, data_key, author_type, author_id, body, private, automated,
		delivery, at, terms, event_type, event_pattern, lifecycle_signal, lifecycle_arg, inactivity_hours, lifecycle_may_wait, ord)
), locked AS MATERIALIZED (
	SELECT c.id, c.organization_id, c.contact_id FROM conversations c
	WHERE c.id = ANY($2::bigint[]) ORDER BY c.id FOR UPDATE
), touched AS (
	UPDATE conversations c SET last_message_at = g.at, updated_at = g.at
	FROM (SELECT i.conv, i.org, max(i.at) AS at FROM input i GROUP BY i.conv, i.org) g, locked l
	WHERE c.id = g.conv AND c.organization_id = g.org AND l.id = c.id
	RETURNING c.id, c.contact_id
), written AS (
	SELECT i.*, t.contact_id FROM input i JOIN touched t ON t.id = i.conv
), m AS (
	INSERT INTO messages (id, organization_id, conversation_id, data_key_id, author_type, author_id, body, private, automated, delivery_status, created_at)
	SELECT id, org, conv, data_key, author_type, author_id, body, private, automated, delivery, at FROM written
), terms AS (
	INSERT INTO search_terms (organization_id, term, contact_id, conversation_id, message_id, field)
	SELECT w.org, t.term, w.contact_id, w.conv, w.id, $17 FROM written w, unnest(string_to_array(w.terms, ' ')) AS t(term)
	WHERE t.term <> ''
), events AS (
	INSERT INTO webhook_events (organization_id, type, conversation_id, message_id, contact_id, created_at)
	SELECT w.org, w.event_type, w.conv, w.id, w.contact_id, w.at FROM written w
	WHERE EXISTS (SELECT 1 FROM webhook_endpoints e
		WHERE e.organization_id = w.org AND e.enabled AND e.events LIKE w.event_pattern ESCAPE '\')
	RETURNING id, organization_id, message_id, created_at
), deliveries AS (
	INSERT INTO webhook_deliveries (organization_id, endpoint_id, event_id, status, started, attempts, created_at)
	SELECT ev.organization_id, e.id, ev.id, $18, FALSE, 0, ev.created_at
	FROM events ev JOIN written w ON w.id = ev.message_id
	JOIN webhook_endpoints e ON e.organization_id = ev.organization_id AND e.enabled AND e.events LIKE w.event_pattern ESCAPE '\'
), lifecycle AS (
	INSERT INTO lifecycle_outbox (organization_id, conversation_id, inactivity_hours, signal, arg, may_wait, created_at)
	SELECT w.org, w.conv, w.inactivity_hours, w.lifecycle_signal,
		CAST(CAST(w.lifecycle_arg AS jsonb) || jsonb_build_object('MessageID', w.id) AS text),
		w.lifecycle_may_wait AND EXISTS (SELECT 1 FROM messages p
			WHERE p.conversation_id = w.conv AND p.organization_id = w.org AND p.author_type = w.author_type),
		w.at
	FROM written w WHERE w.lifecycle_signal <> ''
)
SELECT ord, id FROM written`

// InsertMessageBatch writes a batch of messages in one statement on
// PostgreSQL (see insertMessageBatch); written[i] reports whether
// batch[i] was (false: its conversation is gone), and each written
// message has its ID. Each message must have a body (attachments are
// linked by InsertMessage's callers, one message at a time) and an open
// conversation (a reopening writes more than a touch).
func (s *Store) InsertMessageBatch(ctx context.Context, batch []BatchMessage) (written []bool, err error) {
	if !s.Postgres() {
		return nil, errors.New("store: message batches need PostgreSQL")
	}
	n := len(batch)
	var (
		orgs, convs, keys, authors, hours = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		authorTypes, bodies, deliveries   = make([]string, n), make([]string, n), make([]string, n)
		terms, events, patterns           = make([]string, n), make([]string, n), make([]string, n)
		signals, args                     = make([]string, n), make([]string, n)
		private, automated, mayWait       = make([]bool, n), make([]bool, n), make([]bool, n)
		at                                = make([]time.Time, n)
	)
	for i, b := range batch {
		m := b.Message
		if m.Body == "" {
			return nil, errors.New("store: a batched message needs a body")
		}
		hashes, err := s.keys.MessageSearchHashes(ctx, m.OrganizationID, m.Body)
		if err != nil {
			return nil, err
		}
		// Sealed as the "sealed" serializer would seal the column.
		sealed, err := s.keys.Seal(ctx, m.DataKeyID, "body", []byte(m.Body))
		if err != nil {
			return nil, err
		}
		orgs[i], convs[i], keys[i], authors[i] = int64(m.OrganizationID), int64(m.ConversationID), int64(m.DataKeyID), int64(m.AuthorID)
		authorTypes[i], bodies[i], deliveries[i], at[i] = m.AuthorType, sealed, m.DeliveryStatus, m.CreatedAt
		private[i], automated[i] = m.Private, m.Automated
		terms[i] = strings.Join(hashes, " ")
		events[i], patterns[i] = b.EventType, "%,"+likeEscape(b.EventType)+",%"
		signals[i], args[i], hours[i], mayWait[i] = b.LifecycleSignal, b.LifecycleArg, b.InactivityHours, b.LifecycleMayWait
		if signals[i] != "" && args[i] == "" {
			args[i] = "{}"
		}
	}
	// Straight to the driver: gorm would spread the slices into lists.
	rows, err := s.withGenericPlans(ctx).Statement.ConnPool.QueryContext(ctx, insertMessageBatch,
		orgs, convs, keys, authorTypes, authors, bodies, private, automated,
		deliveries, at, terms, events, patterns, signals, args, hours,
		models.SearchFieldBody, models.WebhookPending, mayWait)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }() // read to the end below; Err reports
	written = make([]bool, n)
	for rows.Next() {
		var ord, id int64
		if err := rows.Scan(&ord, &id); err != nil {
			return nil, err
		}
		if ord < 1 || int(ord) > n {
			return nil, errors.New("store: message batch answered an unknown ordinal")
		}
		written[ord-1] = true
		batch[ord-1].Message.ID = uint64(id)
	}
	return written, rows.Err()
}
