package assist

import (
	"strings"
	"testing"
)

// The local provider's quality on the labelled data shipped in testdata
// (the figures `convot bench ai` prints): language detection of at least
// 95% on sentences of five words or more in ten languages; routing and
// routing (3 examples per team) and search recall far above chance (25% and 5/102).
func TestLocalQualityOnShippedData(t *testing.T) {
	q, err := EvaluateLocal("testdata")
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + q.String())
	if q.LanguageSentences < 300 || q.LanguageAccuracy < 0.95 {
		t.Errorf("language detection %.3f on %d sentences, want ≥ 0.95 on ≥ 300; wrong:\n%s", q.LanguageAccuracy, q.LanguageSentences, strings.Join(q.LanguageMisses, "\n"))
	}
	if q.RoutingCases < 100 || q.RoutingAccuracy < 0.5 {
		t.Errorf("routing %.3f on %d conversations, want ≥ 0.5 on ≥ 100", q.RoutingAccuracy, q.RoutingCases)
	}
	if q.SearchQueries < 50 || q.SearchRecallAt5 < 0.7 {
		t.Errorf("recall@5 %.3f on %d queries, want ≥ 0.7 on ≥ 50", q.SearchRecallAt5, q.SearchQueries)
	}
}

func BenchmarkLocalDetectLanguage(b *testing.B) {
	rows, err := readTSV("testdata/languages.tsv")
	if err != nil {
		b.Fatal(err)
	}
	DetectLanguage(rows[0][1])
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		DetectLanguage(rows[i%len(rows)][1])
	}
}

func BenchmarkLocalEmbed(b *testing.B) {
	rows, err := readTSV("testdata/routing.tsv")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		HashedNGrams(rows[i%len(rows)][1])
	}
}
