package billing

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subscriptions"
)

type planRow struct {
	models.Plan
	Current bool
	Price   string
}

type invoiceRow struct {
	Number, Status, Amount, URL string
	Issued                      time.Time
}

// view is what the billing template shows.
type view struct {
	Configured   bool
	OrgStatus    string
	DeleteAt     time.Time
	CancelReason string // workflows.Cancellation*
	Plan         models.Plan
	Plans        []planRow
	Usage        models.Usage
	SeatsOver    bool
	ConvOver     bool
	SeatsFull    bool // no seat left for an invitation
	ConvFull     bool // the widget refuses new conversations this month
	NextMonth    time.Time
	Subscription *models.Subscription
	Card         *models.PaymentMethod
	Invoices     []invoiceRow
	// RequestKey makes the page's forms idempotent at Stripe (requestKey).
	RequestKey string
}

func (h *Handler) view(c *gin.Context) (*view, error) {
	org := site.CurrentOrg(c)
	v := &view{Configured: h.Stripe() != nil, OrgStatus: org.Status, RequestKey: crypto.RandomToken(16)}
	var err error
	if v.Subscription, err = subscriptions.Of(c, h.Store, org.ID); err != nil {
		return nil, err
	}
	v.Plan = v.Subscription.CurrentPlan()
	if v.Usage, err = h.Store.Usage(c, org.ID, h.Now()); err != nil {
		return nil, err
	}
	v.SeatsOver = v.Usage.Seats > int64(v.Plan.Seats)
	v.ConvOver = v.Usage.ConversationsThisMonth > int64(v.Plan.ConversationsPerMonth)
	v.SeatsFull = v.Usage.Seats+v.Usage.InvitedSeats >= int64(v.Plan.Seats)
	v.ConvFull = v.Usage.ConversationsThisMonth >= int64(v.Plan.ConversationsPerMonth)
	v.NextMonth = models.NextMonth(h.Now())
	for _, p := range models.Plans {
		v.Plans = append(v.Plans, planRow{Plan: p, Current: p.ID == v.Plan.ID, Price: subscriptions.Money(p.MonthlyPriceCents, p.Currency)})
	}
	switch card, err := h.Store.PaymentMethod(c, org.ID); {
	case err == nil:
		v.Card = card
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	invoices, err := h.Store.Invoices(c, org.ID, 100)
	if err != nil {
		return nil, err
	}
	for _, in := range invoices {
		v.Invoices = append(v.Invoices, invoiceRow{Number: in.Number, Status: in.Status, Amount: subscriptions.Money(in.AmountDue, in.Currency), URL: in.HostedInvoiceURL, Issued: in.IssuedAt})
	}
	if org.Status == models.OrgCancelled {
		if cs := h.Cancellations(); cs != nil {
			if st, err := cs.Status(c, org.ID); err == nil {
				v.DeleteAt, v.CancelReason = st.DeleteAt, st.Reason
			}
		}
	}
	return v, nil
}

func (h *Handler) page(c *gin.Context) {
	v, err := h.view(c)
	if err != nil {
		h.Internal(c, err)
		return
	}
	p := h.Page(c, "Billing", "billing", v)
	switch c.Query("done") {
	case "checkout":
		p.Flash = flashes["checkout_done"]
	case "card":
		p.Flash = flashes["card_done"]
	}
	h.Render(c, http.StatusOK, "billing", p)
}

// pageWithError shows the billing page with an error and status (JSON
// clients get the error alone).
func (h *Handler) pageWithError(c *gin.Context, status int, msg string) {
	if site.WantsJSON(c) {
		c.AbortWithStatusJSON(status, gin.H{"error": msg})
		return
	}
	v, err := h.view(c)
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.RenderForm(c, status, "billing", "Billing", "billing", v, msg)
	c.Abort()
}
