package dashboard

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/assist"
	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// AI assistance in the dashboard: Settings → AI (the organization's
// switches per feature and provider, and the help articles automated
// answers draw on), and the inbox's Summarize and Suggest buttons. The
// work and its rules are package assist's. AI output is text: it is
// answered as JSON and inserted with textContent, rendered by html/template
// elsewhere, never as markup.

// helpArticleMax bounds an article's body.
const helpArticleMax = 20000

func (h *Handler) aiRoutes(r *gin.RouterGroup) {
	g := r.Group("/settings/ai", h.RequireAccount, h.Require("organization_edit"), h.RecordUsage)
	g.GET("", h.aiSettingsPage)
	g.POST("", h.saveAISettings)
	g.POST("/articles", h.createHelpArticle)
	g.POST("/articles/:id/delete", h.deleteHelpArticle)
	g.POST("/routing", h.createRoutingExample)
	g.POST("/routing/:id/delete", h.deleteRoutingExample)
	inbox := r.Group("/inbox/conversations", h.RequireAccount, h.Require("inbox_use"))
	inbox.POST("/:id/summarize", h.inboxSummarize)
	inbox.POST("/:id/suggest", h.inboxSuggest)
	inbox.POST("/:id/translate", h.inboxTranslate)
}

// aiFeatureLabels name the features in Settings → AI.
var aiFeatureLabels = map[string]string{
	assist.FeatureSummary:           "Conversation summaries",
	assist.FeatureSuggestedReply:    "Suggested replies",
	assist.FeatureAutomatedAnswer:   "Automated answers to widget visitors",
	assist.FeatureTranslation:       "Live translation",
	assist.FeatureLanguageDetection: "Language detection",
	assist.FeatureEmbeddings:        "Semantic search and routing",
}

// aiProviderLabels name the providers.
var aiProviderLabels = map[string]string{
	assist.ProviderLocal:      "Local (on this server, nothing leaves Convot)",
	assist.ProviderAnthropic:  "Anthropic (subprocessor, United States)",
	assist.ProviderOpenAI:     "OpenAI (subprocessor, United States)",
	assist.ProviderSelfHosted: "Self-hosted endpoint (Convot's own infrastructure)",
}

type aiSettingView struct {
	Feature, Label, Provider string
	Options                  []aiOption
	// Unavailable explains why no provider offers the feature here.
	Unavailable string
}

type aiOption struct{ Name, Label string }

func (h *Handler) aiSettingsPage(c *gin.Context) {
	h.renderAISettings(c, http.StatusOK, "")
}

func (h *Handler) renderAISettings(c *gin.Context, status int, problem string) {
	org := site.CurrentOrg(c)
	settings, err := h.Assist.Settings(c, org.ID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	var views []aiSettingView
	for _, s := range settings {
		v := aiSettingView{Feature: s.Feature, Label: aiFeatureLabels[s.Feature], Provider: s.Provider}
		for _, p := range s.Offered {
			v.Options = append(v.Options, aiOption{p, aiProviderLabels[p]})
		}
		if len(v.Options) == 0 {
			v.Unavailable = "Not available on this server: the local provider cannot translate. Configure Anthropic, OpenAI or a self-hosted endpoint (CONVOT_AI_BASE_URL) to offer it."
		}
		views = append(views, v)
	}
	articles, err := h.Store.HelpArticles(c, org.ID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	examples, err := h.Store.RoutingExamples(c, org.ID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	members, err := h.Store.ActiveMembers(c, org.ID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	names := map[uint64]string{}
	for _, m := range members {
		names[m.ID] = m.FullName
	}
	var routing []routingView
	for _, ex := range examples {
		routing = append(routing, routingView{ID: ex.ID, Operator: names[ex.AccountID], Text: ex.Text})
	}
	h.RenderForm(c, status, "ai_settings", "AI", "ai", gin.H{"Settings": views, "Articles": articles,
		"Routing": routing, "Members": members}, problem)
}

// routingView is one routing example as Settings → AI lists it; Operator
// is empty when the operator has left (the example then routes nobody).
type routingView struct {
	ID       uint64
	Operator string
	Text     string
}

const routingExampleMax = 2000

// createRoutingExample adds an example text to the routing rule of one of
// the organization's active operators.
func (h *Handler) createRoutingExample(c *gin.Context) {
	text := strings.TrimSpace(c.PostForm("text"))
	account, err := strconv.ParseUint(c.PostForm("account"), 10, 64)
	switch {
	case err != nil || account == 0:
		h.renderAISettings(c, http.StatusUnprocessableEntity, "Choose the operator the conversations go to.")
		return
	case text == "" || !utf8.ValidString(text):
		h.renderAISettings(c, http.StatusUnprocessableEntity, "Write an example of what such conversations say.")
		return
	case utf8.RuneCountInString(text) > routingExampleMax:
		h.renderAISettings(c, http.StatusUnprocessableEntity, "An example is at most 2000 characters.")
		return
	}
	ex := &models.RoutingExample{OrganizationID: site.CurrentOrg(c).ID, AccountID: account, Text: text, CreatedAt: time.Now().UTC()}
	err = h.Store.CreateRoutingExample(c, ex.OrganizationID, ex)
	if errors.Is(err, store.ErrNotFound) {
		h.renderAISettings(c, http.StatusUnprocessableEntity, "That operator is not an active member of your organization.")
		return
	}
	if err != nil {
		h.Internal(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/settings/ai")
}

func (h *Handler) deleteRoutingExample(c *gin.Context) {
	ex, ok := site.OwnRow(h.Site, c, "routing example", h.Store.RoutingExample)
	if !ok {
		return
	}
	if err := h.Store.DeleteRoutingExample(c, site.CurrentOrg(c).ID, ex.ID); err != nil {
		h.Internal(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/settings/ai")
}

func (h *Handler) saveAISettings(c *gin.Context) {
	choice := map[string]string{}
	for _, f := range assist.Features {
		choice[f] = strings.TrimSpace(c.PostForm(f))
	}
	err := h.Assist.SaveSettings(c, site.CurrentOrg(c).ID, choice)
	if errors.Is(err, assist.ErrBadSetting) {
		h.renderAISettings(c, http.StatusUnprocessableEntity, "That provider is not available for that feature on this server.")
		return
	}
	if err != nil {
		h.Internal(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/settings/ai")
}

func (h *Handler) createHelpArticle(c *gin.Context) {
	title := strings.TrimSpace(c.PostForm("title"))
	body := strings.TrimSpace(c.PostForm("body"))
	switch {
	case title == "" || body == "" || !utf8.ValidString(title+body):
		h.renderAISettings(c, http.StatusUnprocessableEntity, "Write the article's title and text.")
		return
	case utf8.RuneCountInString(title) > 200 || utf8.RuneCountInString(body) > helpArticleMax:
		h.renderAISettings(c, http.StatusUnprocessableEntity, "The title is at most 200 characters and the text at most 20000.")
		return
	}
	now := time.Now().UTC()
	a := &models.HelpArticle{OrganizationID: site.CurrentOrg(c).ID, Title: title, Body: body, CreatedAt: now, UpdatedAt: now}
	if err := h.Store.CreateHelpArticle(c, a); err != nil {
		h.Internal(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/settings/ai")
}

func (h *Handler) deleteHelpArticle(c *gin.Context) {
	a, ok := site.OwnRow(h.Site, c, "help article", h.Store.HelpArticle)
	if !ok {
		return
	}
	if err := h.Store.DeleteHelpArticle(c, site.CurrentOrg(c).ID, a.ID); err != nil {
		h.Internal(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/settings/ai")
}

// inboxSummarize summarises the conversation and answers the summary as
// JSON (it is also stored and shown with the conversation).
func (h *Handler) inboxSummarize(c *gin.Context) {
	conv, ok := h.inboxConversation(c)
	if !ok {
		return
	}
	out, err := h.Assist.Summarize(c, site.CurrentOrg(c).ID, conv.ID)
	if err != nil {
		h.aiFail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"summary": out.Text, "provider": out.Provider, "created_at": out.CreatedAt})
}

// inboxSuggest drafts a reply for the composer; nothing is sent.
func (h *Handler) inboxSuggest(c *gin.Context) {
	conv, ok := h.inboxConversation(c)
	if !ok {
		return
	}
	draft, err := h.Assist.SuggestReply(c, site.CurrentOrg(c).ID, conv.ID)
	if err != nil {
		h.aiFail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"draft": draft})
}

// operatorLanguage is the language operators read translations in unless
// they chose another (?language=, kept by the inbox as a local-storage
// preference entry, policy §5).
const operatorLanguage = "en"

// inboxTranslate translates the contact's messages into the operator's
// language; the translations are shown beside the originals.
func (h *Handler) inboxTranslate(c *gin.Context) {
	conv, ok := h.inboxConversation(c)
	if !ok {
		return
	}
	language := c.DefaultQuery("language", operatorLanguage)
	if !contains(Languages, language) {
		h.Fail(c, http.StatusBadRequest, "Bad request", "language must be one of "+strings.Join(Languages, ", ")+".")
		return
	}
	done, err := h.Assist.Translate(c, site.CurrentOrg(c).ID, conv.ID, language)
	if err != nil {
		h.aiFail(c, err)
		return
	}
	out := map[string]string{}
	for id, text := range done {
		out[strconv.FormatUint(id, 10)] = text
	}
	c.JSON(http.StatusOK, gin.H{"language": language, "translations": out})
}

// aiFail tells the operator why the AI gave nothing; the conversation is
// unchanged in every case.
func (h *Handler) aiFail(c *gin.Context, err error) {
	var pe *assist.ProviderError
	switch {
	case errors.Is(err, assist.ErrOff):
		c.AbortWithStatusJSON(http.StatusConflict, gin.H{"error": "This AI feature is off for your organization (Settings → AI). Nothing was sent."})
	case errors.Is(err, assist.ErrRefused):
		c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "This contact restricted processing or objected to automated decisions: no AI feature applies to them. Nothing was sent."})
	case errors.Is(err, assist.ErrDenied):
		c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "The egress gate denied this transfer (see the decision log). Nothing was sent."})
	case errors.Is(err, assist.ErrUnsupported):
		c.AbortWithStatusJSON(http.StatusConflict, gin.H{"error": "The chosen AI provider does not offer this feature."})
	case errors.Is(err, assist.ErrNoMessages):
		c.AbortWithStatusJSON(http.StatusConflict, gin.H{"error": "The conversation has no message yet."})
	case errors.As(err, &pe):
		c.AbortWithStatusJSON(http.StatusBadGateway, gin.H{"error": "The AI provider did not answer (timeout, rate limit or error). Nothing was changed; try again later."})
	case errors.Is(err, store.ErrNotFound):
		h.Fail(c, http.StatusNotFound, "Not found", "No such conversation.")
	default:
		h.Internal(c, err)
	}
}

// translations are the conversation's stored translations into the
// operators' language, by message ID.
func (h *Handler) translations(c *gin.Context, orgID, convID uint64) (map[uint64]string, error) {
	if h.Assist == nil {
		return nil, nil
	}
	return h.Assist.Translations(c, orgID, convID, operatorLanguage)
}

// latestSummary is the conversation's latest stored summary, "" when none.
func (h *Handler) latestSummary(c *gin.Context, orgID, convID uint64) (string, error) {
	if h.Assist == nil {
		return "", nil
	}
	list, err := h.Assist.Summaries(c, orgID, convID)
	if err != nil || len(list) == 0 {
		return "", err
	}
	return list[len(list)-1].Text, nil
}
