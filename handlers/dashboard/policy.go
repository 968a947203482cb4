package dashboard

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/web"
)

// The privacy policy Convot publishes (policy §13): /privacy serves the
// version in effect with its last-updated date; ?version=N a published
// one (a change announced but not yet in effect, say). The text embedded
// in the binary is version 1 until a version is published with
// `convot policy publish`. The page is HTML with a heading per numbered
// section; ?format=txt, or Accept: text/plain, gives the plain text. Its
// contact addresses (§9, §10, §12, §14) are placeholders in the text,
// filled from settings (CONVOT_PRIVACY_ADDRESS, CONVOT_SECURITY_ADDRESS,
// CONVOT_SUPPORT_ADDRESS) as it is served.

// servePolicy answers /privacy.
func (h *Handler) servePolicy(c *gin.Context) {
	if err := h.seedPolicy(c); err != nil {
		h.Internal(c, err)
		return
	}
	now := h.Now().UTC()
	var v *models.PolicyVersion
	var err error
	if q := c.Query("version"); q != "" {
		n, convErr := strconv.Atoi(q)
		if convErr != nil || n <= 0 {
			h.Fail(c, http.StatusBadRequest, "Bad request", "The version must be a positive whole number.")
			return
		}
		v, err = h.Store.PolicyByVersion(c, n)
		if err == nil && v.PublishedAt.After(now) {
			err = store.ErrNotFound
		}
	} else {
		v, err = h.Store.CurrentPolicy(c, now)
	}
	v, ok := site.Found(h.Site, c, "version of the privacy policy", v, err)
	if !ok {
		return
	}
	head := "Last updated: " + v.EffectiveAt.UTC().Format("2 January 2006") + " (version " + strconv.Itoa(v.Version) + ")\n\n"
	if v.EffectiveAt.After(now) {
		head = "Version " + strconv.Itoa(v.Version) + ", published " + v.PublishedAt.UTC().Format("2 January 2006") +
			", takes effect " + v.EffectiveAt.UTC().Format("2 January 2006") + ". Until then the current version at /privacy applies.\n\n"
	}
	text := linkDataDeletion(models.FillPolicy(v.Text, models.ContactAddresses{Privacy: h.Config.PrivacyAddress, Security: h.Config.SecurityAddress, Support: h.Config.SupportAddress}), h.Config.BaseURL.String())
	c.Header("Cache-Control", "no-cache")
	c.Header("Vary", "Accept")
	if wantsPlainText(c) {
		c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(head+text))
		return
	}
	txt := "/privacy?format=txt"
	if q := c.Query("version"); q != "" {
		txt += "&version=" + strconv.Itoa(v.Version)
	}
	h.Render(c, http.StatusOK, "privacy_policy", h.Page(c, "Privacy Policy", "", policyPage{
		Head: strings.TrimSpace(head), Blocks: policyBlocks(text), TextURL: txt,
	}))
}

// wantsPlainText is a request for the policy as plain text: ?format=txt,
// or an Accept header preferring text/plain to HTML.
func wantsPlainText(c *gin.Context) bool {
	switch c.Query("format") {
	case "txt", "text":
		return true
	case "html":
		return false
	}
	accept := c.GetHeader("Accept")
	return strings.Contains(accept, "text/plain") && !strings.Contains(accept, "text/html")
}

// policyPage is the policy as the privacy_policy template shows it.
type policyPage struct {
	Head    string
	Blocks  []policyBlock
	TextURL string
}

// policyBlock is one part of the policy: a heading (Level 2 for a numbered
// section, 3 for a numbered subsection, with an anchor), a paragraph, or
// a list of items.
type policyBlock struct {
	Level  int
	Anchor string
	Text   string
	Items  []string
}

// policyHeading matches a numbered section ("10. Security") or subsection
// ("2.1 From Customers") line of the policy text.
var policyHeading = regexp.MustCompile(`^(\d+)(?:\.(\d+))?\.? +(\S.*)$`)

// policyBlocks parses the policy text: one line per paragraph, list items
// start with "- ", headings are short numbered lines without a final full
// stop.
func policyBlocks(text string) []policyBlock {
	var blocks []policyBlock
	for _, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "- "):
			item := strings.TrimSpace(line[2:])
			if n := len(blocks); n > 0 && blocks[n-1].Items != nil {
				blocks[n-1].Items = append(blocks[n-1].Items, item)
			} else {
				blocks = append(blocks, policyBlock{Items: []string{item}})
			}
			continue
		}
		if m := policyHeading.FindStringSubmatch(line); m != nil && len(line) <= 100 && !strings.HasSuffix(line, ".") {
			b := policyBlock{Level: 2, Anchor: "section-" + m[1], Text: line}
			if m[2] != "" {
				b.Level, b.Anchor = 3, "section-"+m[1]+"-"+m[2]
			}
			blocks = append(blocks, b)
			continue
		}
		blocks = append(blocks, policyBlock{Text: line})
	}
	return blocks
}

var seededPolicy sync.Map // *store.Store → true once version 1 is known to exist

// seedPolicy records the embedded policy as version 1 when no version is
// recorded yet.
func (h *Handler) seedPolicy(ctx context.Context) error {
	if _, done := seededPolicy.Load(h.Store); done {
		return nil
	}
	text, err := EmbeddedPolicy()
	if err != nil {
		return err
	}
	if err := h.Store.SeedPolicy(ctx, text, h.Now().UTC()); err != nil {
		return err
	}
	seededPolicy.Store(h.Store, true)
	return nil
}

// EmbeddedPolicy is the policy text the binary carries: version 1.
func EmbeddedPolicy() (string, error) {
	f, err := web.Static().Open("privacy-policy.txt")
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }() // embedded and read only: nothing to lose
	b, err := io.ReadAll(f)
	return string(b), err
}

// linkDataDeletion gives the policy's "see our Data Deletion page" its
// address (the page is /data-deletion).
func linkDataDeletion(text, base string) string {
	return strings.ReplaceAll(text, "see our Data Deletion page", "see our Data Deletion page ("+strings.TrimSuffix(base, "/")+"/data-deletion)")
}
