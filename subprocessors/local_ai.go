package subprocessors

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/convot/convot/policies"
)

// This file holds what every AI provider shares: the AI interface the
// product uses, the request it takes, the preparation of an outgoing AI
// payload through the egress gate (used by Anthropic and OpenAI), and
// LocalAI, the embedded default provider.

// AI is the AI assistance the product uses. Anthropic covers summaries,
// replies and translation; OpenAI language detection, translation and
// embeddings; LocalAI all of them, without leaving Convot. AIProviders
// routes each capability to one of them.
type AI interface {
	AISummarizer
	AIReplier
	AITranslator
	AILanguageDetector
	AIEmbedder
}

// AISummarizer writes a short summary of a conversation for operators.
type AISummarizer interface {
	Summarize(ctx context.Context, req AIRequest) (string, error)
}

// AIReplier drafts answers: a suggested reply an operator reviews, and an
// automated answer sent to the end user without an operator.
type AIReplier interface {
	SuggestReply(ctx context.Context, req AIRequest) (string, error)
	AutomatedAnswer(ctx context.Context, req AIRequest) (string, error)
}

// AITranslator translates the messages of a request into targetLang, a BCP
// 47 language tag (en, de, pt-BR).
type AITranslator interface {
	Translate(ctx context.Context, req AIRequest, targetLang string) (string, error)
}

// AILanguageDetector tells the language of the messages of a request as a
// BCP 47 tag, "und" when it cannot tell.
type AILanguageDetector interface {
	DetectLanguage(ctx context.Context, req AIRequest) (string, error)
}

// AIEmbedder turns the messages of a request into a vector for search and
// routing.
type AIEmbedder interface {
	Embed(ctx context.Context, req AIRequest) ([]float32, error)
}

// AIAuthor is who wrote a message. It is a fixed vocabulary, shown to the
// model as the message's label, so no free text leaves ungated.
type AIAuthor string

const (
	// AIAuthorContact is the end user (or the customer writing to support).
	AIAuthorContact AIAuthor = "customer"
	// AIAuthorOperator is an operator of the organization.
	AIAuthorOperator AIAuthor = "operator"
	// AIAuthorBot is an automated answer.
	AIAuthorBot AIAuthor = "assistant"
)

// Data categories of the fields of an AI request.
const (
	aiCategoryMessage    = "user.content.message"
	aiCategoryName       = "user.name"
	aiCategoryEmail      = "user.contact.email"
	aiCategoryPhone      = "user.contact.phone_number"
	aiCategoryExternalID = "user.unique_id"
	aiCategorySettings   = "user.account.settings"
)

// aiLabels are the labels the prompt shows non-message fields under.
var aiLabels = map[string]string{
	aiCategoryName:       "contact name",
	aiCategoryEmail:      "contact email",
	aiCategoryPhone:      "contact phone",
	aiCategoryExternalID: "contact external ID",
	aiCategorySettings:   "contact settings",
}

// AIField is one piece of a conversation given to an AI provider: a value
// tagged with its data category, and for a message its author. Build them
// with AIMessage, AIContactName, AIContactEmail, AIContactPhone,
// AIExternalID and AIContactSettings.
type AIField struct {
	policies.Field
	// Author is who wrote a message (user.content.message); it is ignored
	// for other categories.
	Author AIAuthor
}

// AIMessage is a conversation message (user.content.message).
func AIMessage(author AIAuthor, text string) AIField {
	return AIField{Field: policies.Field{Category: aiCategoryMessage, Value: text}, Author: author}
}

// AIContactName is the contact's name (user.name).
func AIContactName(name string) AIField {
	return AIField{Field: policies.Field{Category: aiCategoryName, Value: name}}
}

// AIContactEmail is the contact's email address (user.contact.email); the
// gate has AI subprocessors receive it redacted.
func AIContactEmail(email string) AIField {
	return AIField{Field: policies.Field{Category: aiCategoryEmail, Value: email}}
}

// AIContactPhone is the contact's phone number (user.contact.phone_number);
// the gate has AI subprocessors receive it redacted.
func AIContactPhone(phone string) AIField {
	return AIField{Field: policies.Field{Category: aiCategoryPhone, Value: phone}}
}

// AIExternalID is the ID the customer assigns to the contact
// (user.unique_id); the gate has AI subprocessors receive it redacted.
func AIExternalID(id string) AIField {
	return AIField{Field: policies.Field{Category: aiCategoryExternalID, Value: id}}
}

// AIContactSettings is a preference of the contact, such as its language
// (user.account.settings).
func AIContactSettings(setting string) AIField {
	return AIField{Field: policies.Field{Category: aiCategorySettings, Value: setting}}
}

// AIRequest is one call to an AI provider: whose data it is and the
// conversation content, in order, as category-tagged fields. Callers put in
// only what the feature needs; every value must be a string.
type AIRequest struct {
	Org     policies.OrgContext
	Subject policies.SubjectContext
	Content []AIField
}

// ErrAIRefused is returned by LocalAI when the product's rules forbid the
// processing: the organization has not turned the AI feature on, or the data
// subject restricted processing or objected to automated processing. (The
// remote providers get the same answer from the egress gate, as ErrDenied.)
var ErrAIRefused = errors.New("subprocessors: AI processing refused")

// errAINoContent: a request without any field.
var errAINoContent = errors.New("subprocessors: AI request has no content")

// aiLanguageTag is the shape of a BCP 47 tag the providers accept as a
// target language: it goes into prompts, so nothing else may.
var aiLanguageTag = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$`)

// aiCheckLanguage validates a target language tag.
func aiCheckLanguage(tag string) error {
	if !aiLanguageTag.MatchString(tag) {
		return fmt.Errorf("subprocessors: %q is not a language tag such as en or pt-BR", tag)
	}
	return nil
}

// aiPurpose is one AI purpose of the registry and the AI feature that must
// be on for it (the flow's Feature).
type aiPurpose struct {
	purpose string
	feature string
}

var (
	aiSummary           = aiPurpose{"functional.ai.summary", "summary"}
	aiSuggestedReply    = aiPurpose{"functional.ai.suggested_reply", "suggested_reply"}
	aiAutomatedAnswer   = aiPurpose{"functional.ai.automated_answer", "automated_answer"}
	aiTranslation       = aiPurpose{"functional.ai.translation", "translation"}
	aiLanguageDetection = aiPurpose{"functional.ai.language_detection", "language_detection"}
	aiEmbeddings        = aiPurpose{"functional.ai.embeddings", "embeddings"}
)

// aiLine is one field as it may leave: its label and its (possibly
// redacted) text.
type aiLine struct {
	label    string
	category string
	text     string
}

// aiOutgoing is the content of a request that may leave for a subprocessor,
// and the values that were withheld or redacted (kept to scrub them from
// error texts).
type aiOutgoing struct {
	lines    []aiLine
	withheld []string
}

// messages returns the message lines only.
func (o aiOutgoing) messages() []aiLine {
	var out []aiLine
	for _, l := range o.lines {
		if l.category == aiCategoryMessage {
			out = append(out, l)
		}
	}
	return out
}

// transcript renders the lines as "label: text", one per line.
func aiTranscript(lines []aiLine) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.label)
		b.WriteString(": ")
		b.WriteString(l.text)
		b.WriteString("\n")
	}
	return b.String()
}

// aiPlainText joins the texts of lines, one per line.
func aiPlainText(lines []aiLine) string {
	texts := make([]string, len(lines))
	for i, l := range lines {
		texts[i] = l.text
	}
	return strings.Join(texts, "\n")
}

// aiFieldName names the i-th field in the map given to policies.Apply.
func aiFieldName(i int) string { return fmt.Sprintf("field%04d", i) }

// aiPrepare asks the gate whether req's content may leave for subprocessor
// under p, and returns the content that may, in order: the fields
// policies.Apply let through, with redacted values replaced. A value the
// decision withholds or redacts (an email, a phone number, an external ID)
// does not leave inside another field's text either: its occurrences in the
// messages are replaced by the redaction mark too. A denied flow returns an
// error wrapping ErrDenied and nothing to send.
func aiPrepare(ctx context.Context, gate Gate, subprocessor string, p aiPurpose, req AIRequest) (aiOutgoing, error) {
	if len(req.Content) == 0 {
		return aiOutgoing{}, errAINoContent
	}
	fields := make(map[string]policies.Field, len(req.Content))
	var categories []string
	for i, f := range req.Content {
		if _, ok := f.Value.(string); !ok {
			return aiOutgoing{}, fmt.Errorf("subprocessors: AI field %d (%s) is not a string", i, f.Category)
		}
		fields[aiFieldName(i)] = f.Field
		if !slices.Contains(categories, f.Category) {
			categories = append(categories, f.Category)
		}
	}
	slices.Sort(categories)
	flow := policies.Flow{
		Subprocessor: subprocessor,
		Purpose:      p.purpose,
		Feature:      p.feature,
		Categories:   categories,
		Organization: req.Org,
		Subject:      req.Subject,
	}
	d, err := authorize(ctx, gate, flow)
	if err != nil {
		return aiOutgoing{}, err
	}
	allowed := policies.Apply(d, fields)

	var out aiOutgoing
	for i, f := range req.Content {
		orig := f.Value.(string)
		sent, ok := allowed[aiFieldName(i)]
		if !ok || sent.Value != f.Value {
			// Withheld or redacted: the value must not leave in any
			// other field's text. Very short values (a one-letter name)
			// would match inside words; they are not searched for.
			if v := strings.TrimSpace(orig); len([]rune(v)) >= 3 && !strings.HasPrefix(f.Category, "user.content") {
				out.withheld = append(out.withheld, v)
			}
		}
		if !ok {
			continue
		}
		out.lines = append(out.lines, aiLine{label: aiLabel(f), category: f.Category, text: sent.Value.(string)})
	}
	if len(out.lines) == 0 {
		return aiOutgoing{}, fmt.Errorf("%w: %s for %s: the decision lets no field leave", ErrDenied, subprocessor, p.purpose)
	}
	for i := range out.lines {
		out.lines[i].text = aiScrubValues(out.lines[i].text, out.withheld)
	}
	return out, nil
}

// aiLabel is the label a field is shown under: the author of a message, or
// the name of the field's category; never free text.
func aiLabel(f AIField) string {
	if f.Category == aiCategoryMessage {
		switch f.Author {
		case AIAuthorContact, AIAuthorOperator, AIAuthorBot:
			return string(f.Author)
		}
		return "message"
	}
	if l, ok := aiLabels[f.Category]; ok {
		return l
	}
	return "field"
}

// aiScrubValues replaces every case-insensitive occurrence of values in s by
// the redaction mark.
func aiScrubValues(s string, values []string) string {
	for _, v := range values {
		if v == "" || v == policies.RedactedValue {
			continue
		}
		re := regexp.MustCompile(`(?i)` + regexp.QuoteMeta(v))
		s = re.ReplaceAllLiteralString(s, policies.RedactedValue)
	}
	return s
}

// aiScrubError returns err with the texts that were sent, and the values
// that were withheld, replaced in its message: an SDK error can echo the
// request or a response quoting it, and errors end up in logs (and Sentry).
// The returned error keeps err's chain for errors.Is and errors.As.
func aiScrubError(err error, out aiOutgoing) error {
	if err == nil {
		return nil
	}
	values := slices.Clone(out.withheld)
	for _, l := range out.lines {
		if t := strings.TrimSpace(l.text); len(t) >= 3 {
			values = append(values, t)
		}
	}
	msg := aiScrubValues(err.Error(), values)
	if msg == err.Error() {
		return err
	}
	return &aiScrubbedError{msg: msg, err: err}
}

type aiScrubbedError struct {
	msg string
	err error
}

func (e *aiScrubbedError) Error() string { return e.msg }
func (e *aiScrubbedError) Unwrap() error { return e.err }

// AIProviders routes each AI capability to a provider; a nil provider is
// LocalAI. A provider's denial is returned as it is: it never falls back to
// another provider, because a denial (the feature is off, the data subject
// objected) stops the processing, not just the transfer.
type AIProviders struct {
	Summarizer AISummarizer
	Replier    AIReplier
	Translator AITranslator
	Detector   AILanguageDetector
	Embedder   AIEmbedder
}

var _ AI = AIProviders{}

// Summarize implements AISummarizer.
func (p AIProviders) Summarize(ctx context.Context, req AIRequest) (string, error) {
	if p.Summarizer == nil {
		return LocalAI{}.Summarize(ctx, req)
	}
	return p.Summarizer.Summarize(ctx, req)
}

// SuggestReply implements AIReplier.
func (p AIProviders) SuggestReply(ctx context.Context, req AIRequest) (string, error) {
	if p.Replier == nil {
		return LocalAI{}.SuggestReply(ctx, req)
	}
	return p.Replier.SuggestReply(ctx, req)
}

// AutomatedAnswer implements AIReplier.
func (p AIProviders) AutomatedAnswer(ctx context.Context, req AIRequest) (string, error) {
	if p.Replier == nil {
		return LocalAI{}.AutomatedAnswer(ctx, req)
	}
	return p.Replier.AutomatedAnswer(ctx, req)
}

// Translate implements AITranslator.
func (p AIProviders) Translate(ctx context.Context, req AIRequest, targetLang string) (string, error) {
	if p.Translator == nil {
		return LocalAI{}.Translate(ctx, req, targetLang)
	}
	return p.Translator.Translate(ctx, req, targetLang)
}

// DetectLanguage implements AILanguageDetector.
func (p AIProviders) DetectLanguage(ctx context.Context, req AIRequest) (string, error) {
	if p.Detector == nil {
		return LocalAI{}.DetectLanguage(ctx, req)
	}
	return p.Detector.DetectLanguage(ctx, req)
}

// Embed implements AIEmbedder.
func (p AIProviders) Embed(ctx context.Context, req AIRequest) ([]float32, error) {
	if p.Embedder == nil {
		return LocalAI{}.Embed(ctx, req)
	}
	return p.Embedder.Embed(ctx, req)
}

// LocalAI is the embedded default AI provider, used by `convot dev` and when
// no AI subprocessor is configured. It is a deterministic local stand-in,
// not a language model: the summary is the first sentences of the
// conversation, replies are fixed templates in the conversation's language,
// language detection counts stop words of English, German, French and
// Spanish, the "translation" returns the text unchanged marked with the
// target language, and embeddings are a normalised hashed bag of words.
//
// LocalAI makes no network call and nothing leaves Convot, so it does not
// ask the egress gate (the gate governs transfers to subprocessors). It
// still keeps the product's rules for AI processing, which hold whoever
// processes: the organization's AI feature must be on, and a data subject
// who restricted processing or objected to automated processing is not
// processed; otherwise it returns ErrAIRefused.
type LocalAI struct{}

var _ AI = LocalAI{}

// LocalAIEmbeddingDimensions is the length of LocalAI's embeddings.
const LocalAIEmbeddingDimensions = 256

// aiLocalSummarySentences is how many sentences a local summary holds.
const aiLocalSummarySentences = 3

// aiLocalCheck applies the product's rules for AI processing to a local
// call, and returns the request's messages.
func aiLocalCheck(req AIRequest, p aiPurpose) ([]string, error) {
	if len(req.Content) == 0 {
		return nil, errAINoContent
	}
	if !slices.Contains(req.Org.AIFeatures, p.feature) {
		return nil, fmt.Errorf("%w: the organization has not turned on the AI feature %s", ErrAIRefused, p.feature)
	}
	if req.Subject.Restricted {
		return nil, fmt.Errorf("%w: processing of the data subject is restricted", ErrAIRefused)
	}
	if slices.Contains(req.Subject.Objections, "automated_decisions") {
		return nil, fmt.Errorf("%w: the data subject objected to automated_decisions", ErrAIRefused)
	}
	var msgs []string
	for i, f := range req.Content {
		s, ok := f.Value.(string)
		if !ok {
			return nil, fmt.Errorf("subprocessors: AI field %d (%s) is not a string", i, f.Category)
		}
		if f.Category == aiCategoryMessage {
			msgs = append(msgs, s)
		}
	}
	return msgs, nil
}

// Summarize returns the first sentences of the conversation's messages.
func (LocalAI) Summarize(_ context.Context, req AIRequest) (string, error) {
	msgs, err := aiLocalCheck(req, aiSummary)
	if err != nil {
		return "", err
	}
	var picked []string
	for _, m := range msgs {
		for _, s := range aiSentences(m) {
			if len(picked) == aiLocalSummarySentences {
				break
			}
			picked = append(picked, s)
		}
	}
	return strings.Join(picked, " "), nil
}

// aiSentences splits text into trimmed sentences: a sentence ends at . ! ?
// followed by a space or the end, or at a line break.
func aiSentences(text string) []string {
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

// aiLocalReplies are LocalAI's reply templates by language.
var aiLocalReplies = map[string]string{
	"en": "Thank you for your message. We are looking into it and will get back to you shortly.",
	"de": "Vielen Dank für Ihre Nachricht. Wir kümmern uns darum und melden uns in Kürze.",
	"fr": "Merci pour votre message. Nous nous en occupons et revenons vers vous rapidement.",
	"es": "Gracias por su mensaje. Lo estamos revisando y le responderemos en breve.",
}

// aiLocalAnswers are LocalAI's automated-answer templates by language.
var aiLocalAnswers = map[string]string{
	"en": "Thanks for reaching out! An operator will reply here as soon as possible.",
	"de": "Danke für Ihre Nachricht! Ein Mitarbeiter antwortet Ihnen hier so bald wie möglich.",
	"fr": "Merci de nous avoir contactés ! Un conseiller vous répondra ici dès que possible.",
	"es": "¡Gracias por escribirnos! Un agente le responderá aquí lo antes posible.",
}

// SuggestReply returns a fixed acknowledgement in the conversation's
// language (English when it cannot tell).
func (LocalAI) SuggestReply(_ context.Context, req AIRequest) (string, error) {
	msgs, err := aiLocalCheck(req, aiSuggestedReply)
	if err != nil {
		return "", err
	}
	return aiLocalTemplate(aiLocalReplies, msgs), nil
}

// AutomatedAnswer returns a fixed holding answer in the conversation's
// language (English when it cannot tell).
func (LocalAI) AutomatedAnswer(_ context.Context, req AIRequest) (string, error) {
	msgs, err := aiLocalCheck(req, aiAutomatedAnswer)
	if err != nil {
		return "", err
	}
	return aiLocalTemplate(aiLocalAnswers, msgs), nil
}

func aiLocalTemplate(templates map[string]string, msgs []string) string {
	if t, ok := templates[aiDetect(strings.Join(msgs, "\n"))]; ok {
		return t
	}
	return templates["en"]
}

// Translate does not translate: it returns the messages unchanged, prefixed
// with the target language in brackets ("[de] ..."), so the product's
// translation paths can be exercised without a provider.
func (LocalAI) Translate(_ context.Context, req AIRequest, targetLang string) (string, error) {
	if err := aiCheckLanguage(targetLang); err != nil {
		return "", err
	}
	msgs, err := aiLocalCheck(req, aiTranslation)
	if err != nil {
		return "", err
	}
	return "[" + targetLang + "] " + strings.Join(msgs, "\n"), nil
}

// DetectLanguage counts the stop words of English, German, French and
// Spanish in the messages and returns the language with the most, or "und"
// when none has any or two tie.
func (LocalAI) DetectLanguage(_ context.Context, req AIRequest) (string, error) {
	msgs, err := aiLocalCheck(req, aiLanguageDetection)
	if err != nil {
		return "", err
	}
	return aiDetect(strings.Join(msgs, "\n")), nil
}

// aiStopWords are frequent words of each language; words common to two of
// them (de, la, que, en, es, in, was, die...) are left out.
var aiStopWords = map[string][]string{
	"en": {"the", "and", "is", "are", "you", "to", "of", "it", "my", "for", "with", "not", "this", "that",
		"have", "please", "thanks", "thank", "hello", "what", "can", "be", "me", "i", "your", "we", "will", "would"},
	"de": {"der", "das", "und", "ist", "nicht", "ich", "sie", "ein", "eine", "mit", "auf", "für", "zu", "den",
		"dem", "von", "bitte", "danke", "hallo", "meine", "mein", "wir", "haben", "habe", "noch", "auch", "ihre", "wie"},
	"fr": {"le", "les", "et", "est", "je", "vous", "pas", "une", "des", "du", "pour", "qui", "dans", "sur",
		"avec", "ne", "mon", "ma", "merci", "bonjour", "ce", "il", "nous", "mes", "au", "suis", "votre", "ai"},
	"es": {"el", "los", "las", "y", "una", "por", "para", "con", "mi", "pero", "está", "estoy", "gracias",
		"hola", "muy", "del", "al", "lo", "como", "su", "yo", "tengo", "sus", "mis", "ustedes", "usted", "pedido"},
}

// aiLanguages fixes the order languages are scored in.
var aiLanguages = []string{"en", "de", "fr", "es"}

var aiStopWordIndex = func() map[string]string {
	idx := map[string]string{}
	for lang, words := range aiStopWords {
		for _, w := range words {
			idx[w] = lang
		}
	}
	return idx
}()

// aiDetect returns the language with the most stop words in text, "und"
// when none or a tie.
func aiDetect(text string) string {
	counts := map[string]int{}
	for _, w := range aiWords(text) {
		if lang, ok := aiStopWordIndex[w]; ok {
			counts[lang]++
		}
	}
	best, bestN, tie := "und", 0, false
	for _, lang := range aiLanguages {
		switch n := counts[lang]; {
		case n > bestN:
			best, bestN, tie = lang, n, false
		case n == bestN && n > 0:
			tie = true
		}
	}
	if tie {
		return "und"
	}
	return best
}

// aiWords splits text into lower-case words of letters and digits.
func aiWords(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// Embed returns a hashed bag of words of the messages: each word adds ±1 to
// the dimension its FNV-1a hash selects (the hash's top bit picks the sign),
// and the vector is scaled to unit length. Texts sharing words get a
// positive cosine similarity; a text without words gets the zero vector.
func (LocalAI) Embed(_ context.Context, req AIRequest) ([]float32, error) {
	msgs, err := aiLocalCheck(req, aiEmbeddings)
	if err != nil {
		return nil, err
	}
	return aiHashedBagOfWords(strings.Join(msgs, "\n")), nil
}

func aiHashedBagOfWords(text string) []float32 {
	sums := make([]float64, LocalAIEmbeddingDimensions)
	for _, w := range aiWords(text) {
		h := fnv.New32a()
		h.Write([]byte(w))
		v := h.Sum32()
		sign := 1.0
		if v&(1<<31) != 0 {
			sign = -1
		}
		sums[v%LocalAIEmbeddingDimensions] += sign
	}
	var norm float64
	for _, s := range sums {
		norm += s * s
	}
	norm = math.Sqrt(norm)
	out := make([]float32, LocalAIEmbeddingDimensions)
	if norm == 0 {
		return out
	}
	for i, s := range sums {
		out[i] = float32(s / norm)
	}
	return out
}
