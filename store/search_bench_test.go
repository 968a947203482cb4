package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// Benchmark sizes: one organization with 100k messages (the issue's
// figure) in 2,000 conversations of 200 contacts.
const (
	benchMessages      = 100_000
	benchContacts      = 200
	benchConversations = 2_000
	benchVocabulary    = 5_000
)

func benchWord(rank int) string { return "w" + strconv.Itoa(rank) }

// BenchmarkSearch100kMessages seeds 100k messages (bodies of 8 to 20
// words drawn from a Zipf distribution over 5,000 words, sealed under
// their contact's key, indexed as InsertMessage indexes them) with bulk
// statements, then times Store.Search, decryption of the results included,
// over a mix of queries: the commonest word, words of middling and rare
// frequency, two words together, and the start of a contact's name. It
// reports the p50, p95 and max latency. Run on PostgreSQL:
//
//	DATABASE_URL=postgres://... go test -p 1 ./store/ -run '^$' -bench Search100k -benchtime 400x
func BenchmarkSearch100kMessages(b *testing.B) {
	if os.Getenv("DATABASE_URL") == "" {
		if os.Getenv("CI") == "true" {
			b.Fatal("DATABASE_URL is required under CI: the benchmark's figure is PostgreSQL's")
		}
		b.Skip("the search benchmark measures PostgreSQL: set DATABASE_URL")
	}
	ctx := context.Background()
	db := testdb.New(b)
	st := store.New(db.DB, db.Keys)
	org := &models.Organization{PublicKey: crypto.RandomToken(12), CompanyName: "Bench", Region: "eu", Status: models.OrgActive}
	if err := db.Create(org).Error; err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	seedSearchBench(b, ctx, db, org)
	b.Logf("seeded %d messages in %s", benchMessages, time.Since(start).Round(time.Millisecond))

	queries := []string{
		benchWord(1),                      // in about a tenth of the messages
		benchWord(20),                     // common
		benchWord(300),                    // middling
		benchWord(4000),                   // rare
		benchWord(1) + " " + benchWord(2), // two common words
		benchWord(3) + " " + benchWord(900),
		benchWord(50) + " " + benchWord(60) + " " + benchWord(70),
		"customer 1",   // a contact's name
		"custom",       // the start of one
		"nothingatall", // no match
	}
	for _, q := range queries { // warm the caches, as a running server has them
		if _, err := st.Search(ctx, org.ID, q, 20); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("mix", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		perQuery := map[string][]time.Duration{}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			q := queries[i%len(queries)]
			t0 := time.Now()
			res, err := st.Search(ctx, org.ID, q, 20)
			d := time.Since(t0)
			lat = append(lat, d)
			perQuery[q] = append(perQuery[q], d)
			if err != nil {
				b.Fatal(err)
			}
			if q != "nothingatall" && len(res.Messages)+len(res.Contacts) == 0 {
				b.Fatalf("search %q found nothing", q)
			}
		}
		b.StopTimer()
		b.ReportMetric(percentileMS(lat, 0.50), "p50-ms")
		b.ReportMetric(percentileMS(lat, 0.95), "p95-ms")
		b.ReportMetric(percentileMS(lat, 1), "max-ms")
		for _, q := range queries {
			if l := perQuery[q]; len(l) > 0 {
				b.Logf("%-28q n=%d p50=%.1fms p95=%.1fms", q, len(l), percentileMS(l, 0.5), percentileMS(l, 0.95))
			}
		}
	})
}

func percentileMS(lat []time.Duration, p float64) float64 {
	l := slices.Clone(lat)
	slices.Sort(l)
	return float64(l[min(len(l)-1, int(p*float64(len(l))))].Microseconds()) / 1000
}

// seedSearchBench writes contacts and conversations through gorm, then
// messages and their index rows in bulk statements (arrays unnested by
// PostgreSQL), with the same sealing and hashing as InsertMessage.
func seedSearchBench(b *testing.B, ctx context.Context, db *testdb.DB, org *models.Organization) {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rand.New(rand.NewPCG(3, 4)), 1.07, 2, benchVocabulary-1)
	contacts := make([]models.Contact, benchContacts)
	for i := range contacts {
		contacts[i] = models.Contact{OrganizationID: org.ID, Name: fmt.Sprintf("Customer %d", i+1), Email: fmt.Sprintf("customer%d@example.com", i+1)}
		if err := db.Create(&contacts[i]).Error; err != nil {
			b.Fatal(err)
		}
	}
	convs := make([]models.Conversation, benchConversations)
	now := time.Now().UTC()
	for i := range convs {
		c := contacts[i%benchContacts]
		convs[i] = models.Conversation{OrganizationID: org.ID, ContactID: c.ID, DataKeyID: c.DataKeyID, Channel: "widget", Status: "open", LastMessageAt: now}
	}
	if err := db.CreateInBatches(convs, 500).Error; err != nil {
		b.Fatal(err)
	}
	const batch = 5000
	for from := 0; from < benchMessages; from += batch {
		var ids, convIDs, keys, bodies []string
		var tTerms, tContacts, tConvs, tMsgs []string
		for i := from; i < from+batch && i < benchMessages; i++ {
			id := i + 1
			conv := convs[i%benchConversations]
			n := 8 + rng.IntN(13)
			words := make([]string, n)
			for w := range words {
				words[w] = benchWord(int(zipf.Uint64()) + 1)
			}
			body := strings.Join(words, " ")
			sealed, err := db.Keys.Seal(ctx, conv.DataKeyID, "body", []byte(body))
			if err != nil {
				b.Fatal(err)
			}
			hashes, err := db.Keys.MessageSearchHashes(ctx, org.ID, body)
			if err != nil {
				b.Fatal(err)
			}
			ids = append(ids, strconv.Itoa(id))
			convIDs = append(convIDs, strconv.FormatUint(conv.ID, 10))
			keys = append(keys, strconv.FormatUint(conv.DataKeyID, 10))
			bodies = append(bodies, sealed)
			for _, h := range hashes {
				tTerms = append(tTerms, h)
				tContacts = append(tContacts, strconv.FormatUint(conv.ContactID, 10))
				tConvs = append(tConvs, strconv.FormatUint(conv.ID, 10))
				tMsgs = append(tMsgs, strconv.Itoa(id))
			}
		}
		err := db.Exec(`INSERT INTO messages (id, organization_id, conversation_id, data_key_id, author_type, body, delivery_status, created_at)
SELECT u.id::bigint, ?, u.conv::bigint, u.key::bigint, 'contact', u.body, 'sent', ?
FROM unnest(string_to_array(?, ','), string_to_array(?, ','), string_to_array(?, ','), string_to_array(?, ',')) AS u(id, conv, key, body)`,
			org.ID, now, strings.Join(ids, ","), strings.Join(convIDs, ","), strings.Join(keys, ","), strings.Join(bodies, ",")).Error
		if err != nil {
			b.Fatal(err)
		}
		err = db.Exec(`INSERT INTO search_terms (organization_id, term, contact_id, conversation_id, message_id, field)
SELECT ?, u.term, u.contact::bigint, u.conv::bigint, u.msg::bigint, 'body'
FROM unnest(string_to_array(?, ','), string_to_array(?, ','), string_to_array(?, ','), string_to_array(?, ',')) AS u(term, contact, conv, msg)`,
			org.ID, strings.Join(tTerms, ","), strings.Join(tContacts, ","), strings.Join(tConvs, ","), strings.Join(tMsgs, ",")).Error
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Exec(`SELECT setval(pg_get_serial_sequence('messages', 'id'), ?)`, benchMessages).Error; err != nil {
		b.Fatal(err)
	}
	for _, table := range []string{"messages", "search_terms"} {
		if err := db.Exec(`ANALYZE ` + table).Error; err != nil {
			b.Fatal(err)
		}
	}
	var n int64
	if err := db.Model(&models.SearchTerm{}).Where("organization_id = ?", org.ID).Count(&n).Error; err != nil {
		b.Fatal(err)
	}
	b.Logf("search index: %d rows", n)
}
