package dashboard

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/web"
)

// The Data Processing Agreement (policy §14, GDPR Art. 28): its text is
// public at /dpa; an owner accepts the current version for the
// organization at /settings/dpa (version, date, who, and the SHA-256 of
// the text accepted), once per version; auditors read the acceptances at
// /auditor/dpa.

// dpaText is the embedded agreement and its SHA-256.
var dpaText = sync.OnceValues(func() (string, error) {
	f, err := web.Static().Open("dpa.txt")
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }() // read only
	b, err := io.ReadAll(f)
	return string(b), err
})

func dpaDigest(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])
}

// serveDPA answers /dpa with the agreement's text.
func (h *Handler) serveDPA(c *gin.Context) {
	text, err := dpaText()
	if err != nil {
		h.Internal(c, err)
		return
	}
	c.Header("Content-Type", "text/plain; charset=utf-8")
	c.String(http.StatusOK, text)
}

func (h *Handler) dpaRoutes(r *gin.RouterGroup) {
	g := r.Group("/settings/dpa", h.RequireAccount, h.Require("dashboard_view"), h.RecordUsage)
	g.GET("", h.dpaPage)
	g.POST("", h.Require("dpa_accept"), h.acceptDPA)
}

// dpaRow is one acceptance as shown.
type dpaRow struct {
	Version, SHA256, By string
	At                  string
}

func (h *Handler) dpaRows(c *gin.Context, orgID uint64) ([]dpaRow, bool, error) {
	list, err := h.Store.DPAAcceptances(c, orgID)
	if err != nil {
		return nil, false, err
	}
	members, err := h.Store.ActiveMembers(c, orgID)
	if err != nil {
		return nil, false, err
	}
	names := map[uint64]string{}
	for _, m := range members {
		names[m.ID] = m.FullName
	}
	current := false
	rows := make([]dpaRow, 0, len(list))
	for _, a := range list {
		by := names[a.AcceptedByID]
		if by == "" {
			by = "a former member (account " + strconv.FormatUint(a.AcceptedByID, 10) + ")"
		}
		rows = append(rows, dpaRow{Version: a.Version, SHA256: a.TextSHA256, By: by, At: a.AcceptedAt.UTC().Format("2006-01-02 15:04 UTC")})
		if a.Version == models.DPAVersion {
			current = true
		}
	}
	return rows, current, nil
}

func (h *Handler) dpaPage(c *gin.Context) { h.renderDPA(c, http.StatusOK, "") }

func (h *Handler) renderDPA(c *gin.Context, status int, problem string) {
	org := site.CurrentOrg(c)
	rows, current, err := h.dpaRows(c, org.ID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	text, err := dpaText()
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.RenderForm(c, status, "dpa", "Data Processing Agreement", "dpa", gin.H{
		"Version": models.DPAVersion, "Text": text, "Acceptances": rows, "Current": current,
		"CanAccept": site.Can(site.CurrentAccount(c).Role, "dpa_accept")}, problem)
}

func (h *Handler) acceptDPA(c *gin.Context) {
	a, org := site.CurrentAccount(c), site.CurrentOrg(c)
	if v := c.PostForm("version"); v != models.DPAVersion {
		h.renderDPA(c, http.StatusUnprocessableEntity, fmt.Sprintf("Version %q is not the agreement offered now (%s): read the current text and accept it.", v, models.DPAVersion))
		return
	}
	if c.PostForm("agree") != "yes" {
		h.renderDPA(c, http.StatusUnprocessableEntity, "Tick the box to say you accept the agreement for your organization.")
		return
	}
	text, err := dpaText()
	if err != nil {
		h.Internal(c, err)
		return
	}
	now := h.Now().UTC()
	accepted := false
	err = h.Store.Tx(c, func(tx *store.Store) error {
		var err error
		if accepted, err = tx.AcceptDPA(c, org.ID, a.ID, models.DPAVersion, dpaDigest(text), now); err != nil || !accepted {
			return err
		}
		return h.Audit(tx, c, org.ID, a.ID, a.DataKeyID, "dpa.accepted", site.Target("organization", org.ID), "version "+models.DPAVersion)
	})
	flash := "You accepted the Data Processing Agreement, version " + models.DPAVersion + "."
	if err == nil && !accepted {
		flash = "Your organization had accepted this version already."
	}
	h.Finish(c, err, "/settings/dpa", flash)
}

// auditorDPA shows the organization's acceptances of the agreement.
func (h *Handler) auditorDPA(c *gin.Context) {
	org := site.CurrentOrg(c)
	rows, _, err := h.dpaRows(c, org.ID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	t := auditTable{Name: "dpa-acceptances", Heading: "Data Processing Agreement",
		Intro:   "Who in this organization accepted which version of the Data Processing Agreement (text at /dpa; policy §14), and when. The version offered now is " + models.DPAVersion + ".",
		Columns: []string{"Version", "Accepted", "By", "SHA-256 of the text"},
	}
	for _, r := range rows {
		t.Rows = append(t.Rows, []string{r.Version, r.At, r.By, r.SHA256})
	}
	t.Document = gin.H{"offered_version": models.DPAVersion, "acceptances": rows}
	h.showAuditTable(c, t)
}
