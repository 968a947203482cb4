package conversation

import (
	"context"
	"fmt"
	"testing"

	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// BenchmarkMessageBatch writes messages in batches of 1 to 64, as the
// group commit does under a light and a heavy load: what a message costs
// the database when it travels alone and in company.
func BenchmarkMessageBatch(b *testing.B) {
	testenv.Require(b, "DATABASE_URL")
	ctx := context.Background()
	s, org, convs, _ := outboxConversations(b, 64)
	for _, size := range []int{1, 4, 16, 64} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			for b.Loop() {
				batch := make([]store.BatchMessage, size)
				for i := range batch {
					c := convs[i]
					m := &models.Message{OrganizationID: org.ID, ConversationID: c.ID, DataKeyID: c.DataKeyID, AuthorType: workflows.AuthorContact,
						AuthorID: 1, Body: "a message of a few words to index", DeliveryStatus: "sent", CreatedAt: s.Now().UTC()}
					batch[i] = s.batchMessage(org, m, true)
				}
				if _, err := s.Store.InsertMessageBatch(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*size), "µs/message")
		})
	}
}
