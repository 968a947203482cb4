package assist

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Quality is how well the local provider does on the labelled data the
// project ships in assist/testdata (`convot bench ai`, and
// TestLocalQualityOnShippedData).
type Quality struct {
	LanguageAccuracy  float64
	LanguageSentences int
	LanguageMisses    []string
	RoutingAccuracy   float64
	RoutingCases      int
	SearchRecallAt5   float64
	SearchQueries     int
	// Mean latency per call of each local feature on this machine.
	DetectLatency, EmbedLatency, SummaryLatency, RouteLatency time.Duration
}

// readTSV reads a file of tab-separated pairs, skipping comments.
func readTSV(path string) ([][2]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read only: nothing to lose on close
	var rows [][2]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		a, b, ok := strings.Cut(line, "\t")
		if !ok {
			return nil, fmt.Errorf("%s: no tab in %q", path, line)
		}
		rows = append(rows, [2]string{a, b})
	}
	return rows, sc.Err()
}

// EvaluateLocal measures the local provider on the labelled data in dir
// (languages.tsv, routing.tsv, search.tsv).
func EvaluateLocal(dir string) (*Quality, error) {
	q := &Quality{}
	langs, err := readTSV(filepath.Join(dir, "languages.tsv"))
	if err != nil {
		return nil, err
	}
	start := time.Now()
	right := 0
	for _, r := range langs {
		if got := DetectLanguage(r[1]); got == r[0] {
			right++
		} else {
			q.LanguageMisses = append(q.LanguageMisses, r[0]+"→"+got+": "+r[1])
		}
	}
	q.DetectLatency = time.Since(start) / time.Duration(max(len(langs), 1))
	q.LanguageSentences = len(langs)
	q.LanguageAccuracy = float64(right) / float64(max(len(langs), 1))

	routing, err := readTSV(filepath.Join(dir, "routing.tsv"))
	if err != nil {
		return nil, err
	}
	var examples []RoutingExample
	var cases [][2]string
	start = time.Now()
	for _, r := range routing {
		if team, ok := strings.CutPrefix(r[0], "example:"); ok {
			examples = append(examples, RoutingExample{Target: team, Vector: HashedNGrams(r[1])})
			continue
		}
		cases = append(cases, r)
	}
	docs := make([][]float32, len(cases))
	for i, c := range cases {
		docs[i] = HashedNGrams(c[1])
	}
	q.EmbedLatency = time.Since(start) / time.Duration(max(len(routing), 1))
	start = time.Now()
	right = 0
	for i, c := range cases {
		if got, _ := Route(examples, docs[i], 0); got == c[0] {
			right++
		}
	}
	q.RouteLatency = time.Since(start) / time.Duration(max(len(cases), 1))
	q.RoutingCases = len(cases)
	q.RoutingAccuracy = float64(right) / float64(max(len(cases), 1))

	queries, err := readTSV(filepath.Join(dir, "search.tsv"))
	if err != nil {
		return nil, err
	}
	found := 0
	for _, qr := range queries {
		target := -1
		for i, c := range cases {
			if strings.HasPrefix(c[1], qr[0]) {
				target = i
				break
			}
		}
		if target < 0 {
			return nil, fmt.Errorf("search.tsv names no conversation starting %q", qr[0])
		}
		qv := HashedNGrams(qr[1])
		ts := Cosine(qv, docs[target])
		better := 0
		for i, v := range docs {
			if i != target && Cosine(qv, v) > ts {
				better++
			}
		}
		if better < 5 {
			found++
		}
	}
	q.SearchQueries = len(queries)
	q.SearchRecallAt5 = float64(found) / float64(max(len(queries), 1))

	var texts []string
	for _, c := range cases {
		texts = append(texts, c[1])
	}
	start = time.Now()
	const rounds = 20
	for i := 0; i < rounds; i++ {
		ExtractiveSummary(strings.Join(texts[i:i+20], "\n"), localSummarySentences)
	}
	q.SummaryLatency = time.Since(start) / rounds
	return q, nil
}

// String prints the figures.
func (q *Quality) String() string {
	return fmt.Sprintf("language detection: %.1f%% of %d sentences (%v per sentence)\n"+
		"routing: %.1f%% of %d conversations (%v per conversation, embedding %v)\n"+
		"search recall@5: %.1f%% of %d queries\n"+
		"extractive summary of 20 messages: %v\n",
		q.LanguageAccuracy*100, q.LanguageSentences, q.DetectLatency,
		q.RoutingAccuracy*100, q.RoutingCases, q.RouteLatency, q.EmbedLatency,
		q.SearchRecallAt5*100, q.SearchQueries, q.SummaryLatency)
}
