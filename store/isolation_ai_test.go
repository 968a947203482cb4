package store

import (
	"errors"
	"testing"

	"github.com/convot/convot/models"
)

func init() {
	isolationCases = append(isolationCases,
		isolationCase{"SaveAISettings", func(t *testing.T, f *fixture) {
			err := f.store.SaveAISettings(f.ctx, f.B.Org.ID, "summary=local")
			must(t, err)
			a, err := f.store.Organization(f.ctx, f.A.Org.ID)
			must(t, err)
			if a.AISettings != "" {
				t.Fatalf("B's settings reached A: %q", a.AISettings)
			}
		}},
		isolationCase{"SaveAIOutput", func(t *testing.T, f *fixture) {
			err := f.store.SaveAIOutput(f.ctx, f.B.Org.ID, &models.AIOutput{ConversationID: f.A.Conversation.ID, Kind: models.AIOutputSummary, Provider: "local", Text: "x"})
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("B wrote an output about A's conversation: %v", err)
			}
		}},
		isolationCase{"AIOutputs", func(t *testing.T, f *fixture) {
			must(t, f.store.SaveAIOutput(f.ctx, f.A.Org.ID, &models.AIOutput{ConversationID: f.A.Conversation.ID, Kind: models.AIOutputSummary, Provider: "local", Text: "x"}))
			list, err := f.store.AIOutputs(f.ctx, f.B.Org.ID, f.A.Conversation.ID, "")
			must(t, err)
			if len(list) != 0 {
				t.Fatalf("B listed %d of A's AI outputs", len(list))
			}
		}},
		isolationCase{"SaveEmbedding", func(t *testing.T, f *fixture) {
			if err := f.store.SaveEmbedding(f.ctx, f.B.Org.ID, f.A.Conversation.ID, "m", "[1]"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B wrote an embedding of A's conversation: %v", err)
			}
		}},
		isolationCase{"Embeddings", func(t *testing.T, f *fixture) {
			must(t, f.store.SaveEmbedding(f.ctx, f.A.Org.ID, f.A.Conversation.ID, "m", "[1]"))
			list, err := f.store.Embeddings(f.ctx, f.B.Org.ID, "m")
			must(t, err)
			if len(list) != 0 {
				t.Fatalf("B listed %d of A's embeddings", len(list))
			}
		}},
		isolationCase{"HelpArticles", func(t *testing.T, f *fixture) {
			must(t, f.store.CreateHelpArticle(f.ctx, &models.HelpArticle{OrganizationID: f.A.Org.ID, Title: "t", Body: "b", CreatedAt: f.now, UpdatedAt: f.now}))
			list, err := f.store.HelpArticles(f.ctx, f.B.Org.ID)
			must(t, err)
			if len(list) != 0 {
				t.Fatalf("B listed %d of A's help articles", len(list))
			}
		}},
		isolationCase{"HelpArticle", func(t *testing.T, f *fixture) {
			a := &models.HelpArticle{OrganizationID: f.A.Org.ID, Title: "t", Body: "b", CreatedAt: f.now, UpdatedAt: f.now}
			must(t, f.store.CreateHelpArticle(f.ctx, a))
			if _, err := f.store.HelpArticle(f.ctx, f.B.Org.ID, a.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B loaded A's help article: %v", err)
			}
		}},
		isolationCase{"DeleteHelpArticle", func(t *testing.T, f *fixture) {
			a := &models.HelpArticle{OrganizationID: f.A.Org.ID, Title: "t", Body: "b", CreatedAt: f.now, UpdatedAt: f.now}
			must(t, f.store.CreateHelpArticle(f.ctx, a))
			must(t, f.store.DeleteHelpArticle(f.ctx, f.B.Org.ID, a.ID))
			list, err := f.store.HelpArticles(f.ctx, f.A.Org.ID)
			must(t, err)
			if len(list) != 1 {
				t.Fatal("B deleted A's help article")
			}
		}},
	)
}
