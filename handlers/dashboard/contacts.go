package dashboard

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// The contact list and contact pages of the inbox. Names and emails are
// sealed in the database, so search works in two ways:
//   - an email address is found through its blind index (exact match, case
//     and surrounding spaces ignored, as models.Contact.BeforeSave indexes
//     it), whatever the size of the organization;
//   - any other text is matched against decrypted names and emails, newest
//     contacts first, in batches of contactScanBatch, over at most
//     ContactScanLimit contacts; the page says when the limit cut the search
//     short (search by the full email address then).

const (
	ContactPageSize  = 25
	contactScanBatch = 500
	contactQueryMax  = 200
)

// ContactScanLimit bounds a text search (a variable so tests can lower it).
var ContactScanLimit = 10000

// contactRow is a contact as the list shows it.
type contactRow struct {
	ID       uint64
	Label    string
	Name     string
	Email    string
	LastSeen *time.Time
}

func newContactRow(ct *models.Contact) contactRow {
	return contactRow{ID: ct.ID, Label: ContactLabel(ct), Name: ct.Name, Email: ct.Email, LastSeen: ct.LastSeenAt}
}

// contactSearch is one page of the list or of a search.
type contactSearch struct {
	Query     string
	Mode      string // "", "email" or "text"
	Rows      []contactRow
	Page      int
	PrevPage  int
	NextPage  int
	More      bool
	Scanned   int  // text search: contacts decrypted
	Truncated bool // text search: stopped at ContactScanLimit
	ScanLimit int
}

func (h *Handler) contactsPage(c *gin.Context) {
	org := site.CurrentOrg(c)
	q := strings.TrimSpace(c.Query("q"))
	if utf8.RuneCountInString(q) > contactQueryMax || !utf8.ValidString(q) {
		h.Fail(c, http.StatusBadRequest, "Contacts", "The search is too long.")
		return
	}
	page, err := strconv.Atoi(c.DefaultQuery("page", "0"))
	if err != nil || page < 0 || page > 100000 {
		h.Fail(c, http.StatusBadRequest, "Contacts", "Unknown page.")
		return
	}
	res, err := h.searchContacts(c, org.ID, q, page)
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.Render(c, http.StatusOK, "contacts", h.Page(c, "Contacts", "contacts", res))
}

// searchContacts lists (no query), finds by email (blind index), or
// matches text against decrypted names and emails.
func (h *Handler) searchContacts(ctx context.Context, orgID uint64, q string, page int) (*contactSearch, error) {
	res := &contactSearch{Query: q, Page: page, PrevPage: page - 1, NextPage: page + 1, ScanLimit: ContactScanLimit}
	switch {
	case q == "":
		cts, err := h.Store.ContactList(ctx, orgID, page*ContactPageSize, ContactPageSize+1)
		if err != nil {
			return nil, err
		}
		res.More = len(cts) > ContactPageSize
		for i := range cts[:min(len(cts), ContactPageSize)] {
			res.Rows = append(res.Rows, newContactRow(&cts[i]))
		}
	case strings.Contains(q, "@"):
		res.Mode = "email"
		cts, err := h.Store.ContactsWithEmail(ctx, orgID, q, page*ContactPageSize, ContactPageSize+1)
		if err != nil {
			return nil, err
		}
		res.More = len(cts) > ContactPageSize
		for i := range cts[:min(len(cts), ContactPageSize)] {
			res.Rows = append(res.Rows, newContactRow(&cts[i]))
		}
	default:
		res.Mode = "text"
		needle := strings.ToLower(q)
		skip, want := page*ContactPageSize, ContactPageSize+1
		var found []contactRow
		var lastID uint64
		for len(found) < skip+want {
			if res.Scanned >= ContactScanLimit {
				res.Truncated = true
				break
			}
			n := min(contactScanBatch, ContactScanLimit-res.Scanned)
			batch, err := h.Store.ContactBatch(ctx, orgID, lastID, n)
			if err != nil {
				return nil, err
			}
			for i := range batch {
				ct := &batch[i]
				if strings.Contains(strings.ToLower(ct.Name), needle) || strings.Contains(strings.ToLower(ct.Email), needle) {
					found = append(found, newContactRow(ct))
				}
			}
			res.Scanned += len(batch)
			if len(batch) < n {
				break // no more contacts
			}
			lastID = batch[len(batch)-1].ID
		}
		if skip < len(found) {
			found = found[skip:]
		} else {
			found = nil
		}
		res.More = len(found) > ContactPageSize
		res.Rows = found[:min(len(found), ContactPageSize)]
	}
	return res, nil
}

func (h *Handler) contactPage(c *gin.Context) {
	org := site.CurrentOrg(c)
	id, ok := inboxPathID(c, "id")
	if !ok {
		h.Fail(c, http.StatusNotFound, "Not found", "There is no such contact.")
		return
	}
	ct, err := h.inboxContactOf(c, org.ID, id)
	if err != nil {
		h.Internal(c, err)
		return
	}
	if ct == nil {
		h.Fail(c, http.StatusNotFound, "Not found", "There is no such contact.")
		return
	}
	if !h.RecordAccess(c, models.AccessContactViewed, site.Target("contact", ct.ID)) {
		return
	}
	team, err := h.inboxTeammates(c, org.ID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	convs, err := h.contactConversations(c, org.ID, ct.ID, 0, teammateNames(team))
	if err != nil {
		h.Internal(c, err)
		return
	}
	claimants, err := h.Store.ContactClaimants(c, org.ID, ct.ID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	rows := make([]contactRow, 0, len(claimants))
	for i := range claimants {
		rows = append(rows, newContactRow(&claimants[i]))
	}
	v := newInboxContactView(ct)
	h.Render(c, http.StatusOK, "contact", h.Page(c, v.Label, "contacts", gin.H{"Contact": v, "Conversations": convs, "Claimants": rows}))
}

// mergeClaimant merges a visitor claiming to be this contact (named its
// address without identity verification, and did not prove it) into it,
// on the operator's word: the visitor then sees the contact's history.
func (h *Handler) mergeClaimant(c *gin.Context) {
	org, a := site.CurrentOrg(c), site.CurrentAccount(c)
	id, ok := inboxPathID(c, "id")
	claimantID, err := strconv.ParseUint(c.PostForm("claimant"), 10, 64)
	if !ok || err != nil {
		h.Fail(c, http.StatusNotFound, "Not found", "There is no such contact.")
		return
	}
	holder, err := h.inboxContactOf(c, org.ID, id)
	if err != nil {
		h.Internal(c, err)
		return
	}
	claimant, err := h.inboxContactOf(c, org.ID, claimantID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	// Only a claim the visitor made can be merged here: an operator cannot
	// join two arbitrary contacts' histories by editing the form.
	if holder == nil || claimant == nil || claimant.ClaimedContactID != holder.ID {
		h.Fail(c, http.StatusNotFound, "Not found", "This visitor does not claim to be this contact.")
		return
	}
	audit := func(tx *store.Store) error {
		return h.Audit(tx, c, org.ID, a.ID, a.DataKeyID, "contact.claim_merged", site.Target("contact", holder.ID), site.Target("contact", claimant.ID))
	}
	if err := h.Contacts.Merge(c, org, claimant, holder, audit); err != nil {
		h.Internal(c, err)
		return
	}
	h.RedirectWithFlash(c, "/inbox/contacts/"+strconv.FormatUint(holder.ID, 10), "contacts_merged")
}
