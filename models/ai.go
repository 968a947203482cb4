package models

import (
	"slices"
	"strings"
	"time"
)

// AI features an organization can turn on, as the egress gate names them
// (organization.ai_features).
var AIFeatures = []string{"summary", "suggested_reply", AIFeatureAutomatedAnswer, "translation", "language_detection", "embeddings"}

// AIFeatureAutomatedAnswer is the bot that answers widget visitors.
const AIFeatureAutomatedAnswer = "automated_answer"

// AIFeatureProviders parses Organization.AISettings: each feature turned on
// and the provider it runs on. Unknown features and empty providers are
// left out.
func AIFeatureProviders(settings string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(settings, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || v == "" || !slices.Contains(AIFeatures, k) {
			continue
		}
		out[k] = v
	}
	return out
}

// FormatAISettings is the inverse of AIFeatureProviders, in a fixed order.
func FormatAISettings(providers map[string]string) string {
	var parts []string
	for _, f := range AIFeatures {
		if p := providers[f]; p != "" {
			parts = append(parts, f+"="+p)
		}
	}
	return strings.Join(parts, ";")
}

// AIFeaturesOn lists the features AISettings turns on, in a fixed order.
func AIFeaturesOn(settings string) []string {
	providers := AIFeatureProviders(settings)
	var on []string
	for _, f := range AIFeatures {
		if providers[f] != "" {
			on = append(on, f)
		}
	}
	return on
}

// Kinds of AI output.
const (
	AIOutputSummary     = "summary"
	AIOutputTranslation = "translation"
)

// AIOutput is something an AI provider wrote about a conversation: a
// summary for operators, or the translation of one message. It is the
// contact's personal data, sealed under the contact's key: exported on an
// access request, erased with the contact.
type AIOutput struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64 `gorm:"index"`
	ConversationID uint64 `gorm:"index"`
	ContactID      uint64 `gorm:"index"`
	MessageID      uint64 // the message translated; 0 for a summary
	DataKeyID      uint64 // the contact's
	Kind           string `privacy:"none"` // summary, translation
	Provider       string `privacy:"none"` // local, anthropic, openai, self_hosted
	Language       string `privacy:"none"` // the target language of a translation
	Text           string `gorm:"serializer:sealed" privacy:"category=user.content.message subject=end_user retention=account purpose=functional.ai.summary,functional.ai.translation"`
	CreatedAt      time.Time
}

// AIEmbedding is the vector of one conversation's text, for semantic search
// and routing. The vector is sealed under the contact's key (it is derived
// from the messages) and rebuilt when Model changes.
type AIEmbedding struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64 `gorm:"uniqueIndex:idx_ai_embeddings_conversation"`
	ConversationID uint64 `gorm:"uniqueIndex:idx_ai_embeddings_conversation"`
	ContactID      uint64 `gorm:"index"`
	DataKeyID      uint64 // the contact's
	Model          string `privacy:"none"` // provider and model that computed Vector
	Vector         string `gorm:"serializer:sealed" privacy:"category=user.content.message subject=end_user retention=account purpose=functional.ai.embeddings"`
	UpdatedAt      time.Time
}

// HelpArticle is a help-center article operators write: the knowledge the
// automated answers draw on, with the canned responses. It holds no data of
// a data subject.
type HelpArticle struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64 `gorm:"index"`
	Title          string `privacy:"none"`
	Body           string `privacy:"none"`
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// RoutingExample is one example text of a routing rule, written by an
// admin in Settings → AI: a new conversation whose text is most similar to
// an operator's examples is assigned to that operator. It is the admin's
// own wording, not data of a data subject.
type RoutingExample struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64 `gorm:"index"`
	AccountID      uint64 // the operator the similar conversations go to
	Text           string `privacy:"none"`
	CreatedAt      time.Time
}
