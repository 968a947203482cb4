package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	netmail "net/mail"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
)

// Marketing: each operator's consent to the newsletter (policy §3, §4)
// and the campaign send, which the egress gate refuses today.

func (h *Handler) marketingData(c *gin.Context) (gin.H, error) {
	a := site.CurrentAccount(c)
	current, err := h.Store.MarketingConsent(c, a.OrganizationID, a.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	history, err := h.Store.MarketingConsentHistory(c, a.OrganizationID, a.ID)
	if err != nil {
		return nil, err
	}
	return gin.H{"Consent": current, "History": history, "Wording": models.MarketingWording, "WordingVersion": models.MarketingWordingVersion}, nil
}

func (h *Handler) marketingPage(c *gin.Context) {
	data, err := h.marketingData(c)
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.Render(c, http.StatusOK, "marketing", h.Page(c, "Email preferences", "marketing", data))
}

// saveMarketing gives or withdraws the operator's own marketing consent,
// recorded with its time, wording version and source, and audited.
func (h *Handler) saveMarketing(c *gin.Context) {
	a, org := site.CurrentAccount(c), site.CurrentOrg(c)
	now := h.Now().UTC()
	var action string
	var err error
	switch c.PostForm("consent") {
	case "give":
		action = "marketing.consent_given"
		_, err = h.Store.GiveMarketingConsent(c, org.ID, a.ID, "dashboard", now)
	case "withdraw":
		action = "marketing.consent_withdrawn"
		_, err = h.Store.WithdrawMarketingConsent(c, org.ID, a.ID, "dashboard", now)
	default:
		h.Fail(c, http.StatusBadRequest, "Bad request", "Choose to give or to withdraw your consent.")
		return
	}
	if err == nil {
		err = h.Audit(h.Store, c, org.ID, a.ID, a.DataKeyID, action, site.Target("account", a.ID), models.MarketingWordingVersion)
	}
	h.Finish(c, err, "/settings/marketing", "saved")
}

// Campaign is one marketing mail to every account with current consent.
type Campaign struct {
	Subject string
	Text    string
	Tag     string // e.g. newsletter-2026-04; never personal data
}

// CampaignReport counts what became of a campaign's mail; Reasons counts
// the refusals by reason (the egress gate's, or the mailer's).
type CampaignReport struct {
	Consenting int
	Sent       int
	Suppressed int
	Refused    int
	Failed     int
	Reasons    map[string]int
}

// SendMarketing mails a campaign to every active account whose marketing
// consent is in force, and to nobody else: the recipient's consents (for
// the egress gate) come from the consent records, each mail carries its
// own one-click unsubscribe link (List-Unsubscribe with https and mailto,
// List-Unsubscribe-Post), and it leaves on Postmark's broadcast stream
// only if the gate allows marketing email to Postmark, which policy §6
// does not: today every marketing mail is refused, with the gate's reason.
func (h *Handler) SendMarketing(ctx context.Context, campaign Campaign) (CampaignReport, error) {
	report := CampaignReport{Reasons: map[string]int{}}
	if strings.TrimSpace(campaign.Subject) == "" || strings.TrimSpace(campaign.Text) == "" {
		return report, errors.New("marketing: a campaign needs a subject and a text")
	}
	rows, err := h.Store.MarketingConsentRecords(ctx)
	if err != nil {
		return report, err
	}
	latest := map[uint64]models.SubjectPreference{}
	var order []uint64
	for _, p := range rows {
		if _, seen := latest[p.AccountID]; !seen {
			order = append(order, p.AccountID)
		}
		latest[p.AccountID] = p
	}
	base := strings.TrimSuffix(h.Config.BaseURL.String(), "/")
	for _, accountID := range order {
		consent := latest[accountID]
		if !consent.Active {
			continue
		}
		a, org, err := h.Store.MarketingRecipient(ctx, accountID)
		if errors.Is(err, store.ErrNotFound) {
			continue // the account or its organization is not active
		}
		if err != nil {
			return report, err
		}
		report.Consenting++
		recipient, err := h.Store.SubjectContextForAccount(ctx, org.ID, a.ID)
		if err != nil {
			return report, err
		}
		token, err := h.Store.IssueUnsubscribeToken(ctx, org.ID, a.ID, consent.ID)
		if err != nil {
			return report, err
		}
		link := base + "/unsubscribe/" + token
		text := fmt.Sprintf("%s\n\n-- \nYou receive this because you agreed to Convot's newsletter on %s. Unsubscribe at once: %s\n",
			strings.TrimSpace(campaign.Text), consent.CreatedAt.UTC().Format("2 January 2006"), link)
		err = h.Mail.Send(ctx, mail.Message{
			From: h.Config.MailFrom, To: (&netmail.Address{Name: a.FullName, Address: a.Email}).String(),
			Subject: campaign.Subject, Text: text, Stream: mail.Marketing, Tag: campaign.Tag,
			Headers: map[string]string{
				"List-Unsubscribe":      "<" + link + ">, <mailto:" + mail.UnsubscribeAddress(token, h.Config.InboundDomain) + "?subject=unsubscribe>",
				"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
			},
			Org: org.GateContext(), Recipient: recipient,
		})
		switch {
		case err == nil:
			report.Sent++
		case errors.Is(err, mail.ErrSuppressed):
			report.Suppressed++
		case errors.Is(err, subprocessors.ErrDenied), errors.Is(err, mail.ErrNotMarketable):
			report.Refused++
			report.Reasons[refusalReason(err)]++
		default:
			report.Failed++
			report.Reasons["failed: "+refusalReason(err)]++
		}
	}
	return report, nil
}

// refusalReason is the last part of a refusal: the gate's reason, which
// names rules, never people.
func refusalReason(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "marketing.communications.email: "); i >= 0 {
		return msg[i+len("marketing.communications.email: "):]
	}
	if i := strings.LastIndex(msg, ": "); i >= 0 && errors.Is(err, subprocessors.ErrDenied) {
		return msg[i+2:]
	}
	return msg
}
