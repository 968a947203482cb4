package codec

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// UIPath is where Convot serves the Temporal UI, under its own origin:
// the UI's public path (`--ui-public-path`, TEMPORAL_UI_PUBLIC_PATH), so
// that its codec calls to /codec are same-origin and carry the dashboard
// session whatever host the officer typed.
const UIPath = "/temporal"

// uiCSP is the Content-Security-Policy of the proxied UI, which runs on
// the dashboard's origin: its own scripts, plus the inline start-up
// scripts of the page it serves by their hashes (a public path makes the
// UI drop its own hash policy), its own API and the codec only.
const uiCSP = "default-src 'self'; script-src 'self'%s; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; " +
	"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// inlineScript is an inline <script> of the UI's page (SvelteKit's).
var inlineScript = regexp.MustCompile(`(?s)<script>(.*?)</script>`)

// maxPage bounds the UI page read to hash its inline scripts.
const maxPage = 4 << 20

// queryPath is the one POST of the UI's API that reads: a workflow query
// (the Queries tab, the stack trace).
var queryPath = regexp.MustCompile(`^` + UIPath + `/api/v1/namespaces/[^/]+/workflows/[^/]+/query/[^/]+$`)

// UI reverse-proxies the Temporal UI at UIPath, served by the UI server at
// Upstream with that public path, to a signed-in officer (owner, admin)
// or auditor, read-only, and to Convot's staff (with two-factor
// authentication), who may also act on workflows (signal, cancel,
// terminate). Everyone else is refused: the UI itself has no sign-in.
type UI struct {
	Site     *site.Site
	Store    *store.Store
	Upstream *url.URL
}

// Routes mounts UIPath/*, behind the dashboard's session.
func (u *UI) Routes(r *gin.Engine) {
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u.Upstream)
			pr.SetXForwarded()
			// Convot's cookies are Convot's: the UI server sees its own.
			keep := []string{}
			for _, c := range pr.In.Cookies() {
				if c.Name != site.SessionCookie && c.Name != site.CSRFCookie {
					keep = append(keep, c.Name+"="+c.Value)
				}
			}
			pr.Out.Header.Del("Cookie")
			if len(keep) > 0 {
				pr.Out.Header.Set("Cookie", strings.Join(keep, "; "))
			}
			// A page load gets the page in clear (the transport still
			// speaks gzip to the UI server), to hash its inline scripts.
			if strings.Contains(pr.In.Header.Get("Accept"), "text/html") {
				pr.Out.Header.Del("Accept-Encoding")
			}
		},
		ModifyResponse: func(res *http.Response) error {
			h := res.Header
			hashes, err := inlineScriptHashes(res)
			if err != nil {
				return err
			}
			h.Set("Content-Security-Policy", fmt.Sprintf(uiCSP, hashes))
			h.Set("X-Frame-Options", "DENY")
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "same-origin")
			// The UI's CSRF cookie stays under the UI's path.
			cookies := res.Cookies()
			h.Del("Set-Cookie")
			for _, c := range cookies {
				if c.Path == "" || c.Path == "/" {
					c.Path = UIPath + "/"
				}
				h.Add("Set-Cookie", c.String())
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the browser went away (a navigation): nothing to answer
			}
			slog.Warn("the Temporal UI is not reachable", "upstream", u.Upstream.Host, "err", err)
			http.Error(w, "The Temporal UI is not reachable.", http.StatusBadGateway)
		},
	}
	serve := func(c *gin.Context) {
		// The UI's headers replace the dashboard's (ModifyResponse).
		for _, k := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"} {
			c.Writer.Header().Del(k)
		}
		proxy.ServeHTTP(c.Writer, c.Request)
	}
	g := r.Group(UIPath, u.Site.LoadSession, u.signedIn, u.allow)
	g.Any("/*path", serve)
}

// signedIn sends a browser's page load without a session to sign in (as
// the dashboard does) and refuses the UI's API calls with 401.
func (u *UI) signedIn(c *gin.Context) {
	if strings.Contains(c.GetHeader("Accept"), "text/html") {
		u.Site.RequireAccount(c)
		return
	}
	a := site.CurrentAccount(c)
	if a == nil || (site.CurrentOrg(c).RequireMFA && !a.TOTPEnabled) {
		c.Header("Cache-Control", "no-store")
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "sign in to Convot's dashboard first"})
		return
	}
	c.Next()
}

// allow admits the codec's roles read-only, and staff.
func (u *UI) allow(c *gin.Context) {
	a := site.CurrentAccount(c)
	staff, err := isStaff(c, u.Store, a)
	if err != nil {
		u.Site.Internal(c, err)
		c.Abort()
		return
	}
	if !staff && !slices.Contains(roles, a.Role) {
		u.Site.Fail(c, http.StatusForbidden, "Forbidden", "The Temporal UI is for privacy officers (owners, admins) and auditors.")
		return
	}
	if !staff && !readOnly(c.Request) {
		u.Site.Fail(c, http.StatusForbidden, "Forbidden",
			"The Temporal UI is read-only for an organization's officers: decide on requests from the dashboard's privacy pages.")
		return
	}
	c.Next()
}

// inlineScriptHashes reads an HTML page (not compressed) and gives the
// CSP sources of its inline scripts, " 'sha256-…'" each; the body is put
// back. Other responses have none.
func inlineScriptHashes(res *http.Response) (string, error) {
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || res.Header.Get("Content-Encoding") != "" {
		return "", nil
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxPage+1))
	_ = res.Body.Close() // read to its end, or too large: the page is answered either way
	if err != nil {
		return "", err
	}
	if len(body) > maxPage {
		return "", errors.New("the Temporal UI's page is too large")
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	res.ContentLength = int64(len(body))
	res.Header.Set("Content-Length", strconv.Itoa(len(body)))
	var b strings.Builder
	for _, m := range inlineScript.FindAllSubmatch(body, -1) {
		sum := sha256.Sum256(m[1])
		b.WriteString(" 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'")
	}
	return b.String(), nil
}

func readOnly(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	case http.MethodPost:
		return queryPath.MatchString(r.URL.EscapedPath())
	}
	return false
}

// isStaff: a of Convot's active staff, signed in with two-factor
// authentication (policy §10), as the staff console requires.
func isStaff(c *gin.Context, s *store.Store, a *models.Account) (bool, error) {
	if a == nil || !a.TOTPEnabled {
		return false, nil
	}
	_, err := s.ActiveStaffMember(c, a.ID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
