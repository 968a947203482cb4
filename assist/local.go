package assist

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"strings"
	"sync"
	"unicode"

	"github.com/pemistahl/lingua-go"

	"github.com/convot/convot/subprocessors"
)

// Local is the embedded default provider: it makes no network call, so
// nothing leaves Convot. Language detection is the lingua library's
// (restricted to LocalLanguages, trigram models only, to bound memory),
// summaries are extractive (the conversation's most representative
// sentences), answers are retrieved from the organization's knowledge,
// suggested replies are the closest article or canned response, and
// embeddings are hashed word and character n-grams. It cannot translate.
type Local struct{}

var _ Provider = Local{}

// LocalLanguages are the languages Local detects.
var LocalLanguages = []lingua.Language{
	lingua.English, lingua.German, lingua.French, lingua.Spanish, lingua.Italian, lingua.Portuguese,
	lingua.Dutch, lingua.Polish, lingua.Swedish, lingua.Turkish, lingua.Russian, lingua.Japanese,
}

// LocalEmbeddingDimensions is the length of Local's vectors.
const LocalEmbeddingDimensions = 512

// localEmbeddingModel names Local's embedding scheme; change it when the
// scheme changes, so stored vectors are rebuilt.
const localEmbeddingModel = "local-hashed-ngrams-v1"

// localAnswerThreshold is the cosine similarity above which a retrieved
// article answers a question confidently.
const localAnswerThreshold = 0.30

// localSummarySentences is how many sentences a summary holds.
const localSummarySentences = 3

var localDetector = sync.OnceValue(func() lingua.LanguageDetector {
	return lingua.NewLanguageDetectorBuilder().
		FromLanguages(LocalLanguages...).
		WithLowAccuracyMode().
		Build()
})

// Name implements Provider.
func (Local) Name() string { return ProviderLocal }

// Supports implements Provider: everything but translation.
func (Local) Supports(feature string) bool { return feature != FeatureTranslation }

// EmbeddingModel implements Provider.
func (Local) EmbeddingModel() string { return localEmbeddingModel }

// messagesOf returns the texts of the request's messages, with their authors.
func messagesOf(req subprocessors.AIRequest) (texts []string, authors []subprocessors.AIAuthor) {
	for _, f := range req.Content {
		if f.Category != "user.content.message" {
			continue
		}
		if s, ok := f.Value.(string); ok {
			texts = append(texts, s)
			authors = append(authors, f.Author)
		}
	}
	return texts, authors
}

// Summarize picks the conversation's most representative sentences (those
// whose words are the most frequent in the whole conversation), in their
// original order.
func (Local) Summarize(_ context.Context, req subprocessors.AIRequest) (string, error) {
	texts, _ := messagesOf(req)
	return ExtractiveSummary(strings.Join(texts, "\n"), localSummarySentences), nil
}

// ExtractiveSummary returns at most n sentences of text: those with the
// highest mean frequency of their content words, in the order they came.
func ExtractiveSummary(text string, n int) string {
	sentences := Sentences(text)
	if len(sentences) <= n {
		return strings.Join(sentences, " ")
	}
	freq := map[string]float64{}
	for _, w := range contentWords(text) {
		freq[w]++
	}
	type scored struct {
		i     int
		score float64
	}
	var all []scored
	for i, s := range sentences {
		words := contentWords(s)
		if len(words) == 0 {
			continue
		}
		var sum float64
		for _, w := range words {
			sum += freq[w]
		}
		// Mean frequency, with a mild preference for longer sentences.
		all = append(all, scored{i, sum / float64(len(words)) * math.Log(2+float64(len(words)))})
	}
	sort.SliceStable(all, func(a, b int) bool { return all[a].score > all[b].score })
	if len(all) > n {
		all = all[:n]
	}
	sort.Slice(all, func(a, b int) bool { return all[a].i < all[b].i })
	out := make([]string, len(all))
	for k, s := range all {
		out[k] = sentences[s.i]
	}
	return strings.Join(out, " ")
}

// Sentences splits text into trimmed sentences: a sentence ends at . ! ?
// followed by a space or the end, or at a line break.
func Sentences(text string) []string {
	var out []string
	var cur strings.Builder
	runes := []rune(text)
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	for i, r := range runes {
		if r == '\n' || r == '\r' {
			flush()
			continue
		}
		cur.WriteRune(r)
		if (r == '.' || r == '!' || r == '?') && (i+1 == len(runes) || unicode.IsSpace(runes[i+1])) {
			flush()
		}
	}
	flush()
	return out
}

// words splits text into lower-case words of letters and digits.
func words(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// contentWords are the words of four letters or more: short words are
// mostly function words in the languages Local serves.
func contentWords(text string) []string {
	var out []string
	for _, w := range words(text) {
		if len([]rune(w)) >= 4 {
			out = append(out, w)
		}
	}
	return out
}

// SuggestReply drafts the closest piece of knowledge to the contact's last
// message; Local has no knowledge without Answer, so it drafts a neutral
// acknowledgement in the contact's language.
func (l Local) SuggestReply(ctx context.Context, req subprocessors.AIRequest) (string, error) {
	lang, _ := l.DetectLanguage(ctx, req)
	if t, ok := localAcknowledgements[lang]; ok {
		return t, nil
	}
	return localAcknowledgements["en"], nil
}

// localAcknowledgements are the neutral drafts of SuggestReply.
var localAcknowledgements = map[string]string{
	"en": "Thank you for your message. We are looking into it and will get back to you shortly.",
	"de": "Vielen Dank für Ihre Nachricht. Wir kümmern uns darum und melden uns in Kürze.",
	"fr": "Merci pour votre message. Nous nous en occupons et revenons vers vous rapidement.",
	"es": "Gracias por su mensaje. Lo estamos revisando y le responderemos en breve.",
	"it": "Grazie per il suo messaggio. Stiamo verificando e le risponderemo a breve.",
	"pt": "Obrigado pela sua mensagem. Estamos a analisar e responderemos em breve.",
	"nl": "Bedankt voor uw bericht. We zoeken het uit en komen snel bij u terug.",
}

// Answer retrieves the article closest to the contact's last message. It is
// confident when the similarity passes a threshold; the answer is the
// article's text.
func (Local) Answer(_ context.Context, req subprocessors.AIRequest, knowledge []Article) (Answer, error) {
	texts, authors := messagesOf(req)
	question := ""
	for i := len(texts) - 1; i >= 0; i-- {
		if authors[i] == subprocessors.AIAuthorContact {
			question = texts[i]
			break
		}
	}
	if question == "" || len(knowledge) == 0 {
		return Answer{}, nil
	}
	best, score := Retrieve(question, knowledge)
	if best < 0 || score < localAnswerThreshold {
		return Answer{}, nil
	}
	return Answer{Text: strings.TrimSpace(knowledge[best].Body), Confident: true, ArticleID: knowledge[best].ID}, nil
}

// Retrieve returns the index of the article most similar to query and its
// cosine similarity; -1 when there is none.
func Retrieve(query string, knowledge []Article) (int, float64) {
	q := HashedNGrams(query)
	best, bestScore := -1, 0.0
	for i, a := range knowledge {
		s := Cosine(q, HashedNGrams(a.Title+"\n"+a.Title+"\n"+a.Body))
		if s > bestScore {
			best, bestScore = i, s
		}
	}
	return best, bestScore
}

// Translate is not offered locally: Convot embeds no translation model.
func (Local) Translate(context.Context, subprocessors.AIRequest, string) (string, error) {
	return "", fmt.Errorf("%w: the local provider cannot translate; choose a translation provider in Settings → AI", ErrUnsupported)
}

// DetectLanguage returns the ISO 639-1 code of the messages' language, or
// "und" when lingua cannot tell.
func (Local) DetectLanguage(_ context.Context, req subprocessors.AIRequest) (string, error) {
	texts, _ := messagesOf(req)
	return DetectLanguage(strings.Join(texts, "\n")), nil
}

// DetectLanguage is Local's language detection of one text.
func DetectLanguage(text string) string {
	lang, ok := localDetector().DetectLanguageOf(text)
	if !ok {
		return "und"
	}
	return strings.ToLower(lang.IsoCode639_1().String())
}

// Embed returns the hashed n-grams of the messages.
func (Local) Embed(_ context.Context, req subprocessors.AIRequest) ([]float32, error) {
	texts, _ := messagesOf(req)
	return HashedNGrams(strings.Join(texts, "\n")), nil
}

// HashedNGrams embeds text: every word, every pair of neighbouring words
// and every character trigram of a word (with its boundaries) adds ±weight
// to the dimension its FNV-1a hash selects (the hash's top bit picks the
// sign); the vector is scaled to unit length. Character trigrams let
// "refund" find "refunds" and "refunded".
func HashedNGrams(text string) []float32 {
	sums := make([]float64, LocalEmbeddingDimensions)
	add := func(feature string, weight float64) {
		h := fnv.New32a()
		h.Write([]byte(feature))
		v := h.Sum32()
		sign := 1.0
		if v&(1<<31) != 0 {
			sign = -1
		}
		sums[v%LocalEmbeddingDimensions] += sign * weight
	}
	ws := words(text)
	for i, w := range ws {
		short := len([]rune(w)) < 3
		weight := 1.0
		if short {
			weight = 0.3
		}
		add("w:"+w, weight)
		if i > 0 {
			add("b:"+ws[i-1]+" "+w, 0.5*weight)
		}
		if short {
			continue
		}
		r := []rune("<" + w + ">")
		for j := 0; j+3 <= len(r); j++ {
			add("c:"+string(r[j:j+3]), 0.4)
		}
	}
	var norm float64
	for _, s := range sums {
		norm += s * s
	}
	out := make([]float32, LocalEmbeddingDimensions)
	if norm == 0 {
		return out
	}
	norm = math.Sqrt(norm)
	for i, s := range sums {
		out[i] = float32(s / norm)
	}
	return out
}

// Cosine is the cosine similarity of two vectors (0 when their lengths
// differ or one is zero).
func Cosine(a, b []float32) float64 {
	if len(a) != len(b) || len(a) == 0 {
		return 0
	}
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}
