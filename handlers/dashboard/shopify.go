package dashboard

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/shopify"
	"github.com/convot/convot/store"
)

// Settings → Shopify (policy §6): the owner chooses the scopes to grant
// and is sent to the shop to approve them; the connected shop, the scopes
// granted, the last webhook and a disconnect button. Shopify's install
// link (the app opened from a shop's admin) lands on the same page. The
// inbox sidebar reads a contact's Shopify context as JSON.

func (h *Handler) shopifyRoutes(r *gin.RouterGroup) {
	g := r.Group("/settings/shopify", h.RequireAccount, h.Require("organization_edit"), h.RecordUsage)
	g.GET("", h.shopifyPage)
	g.POST("/connect", h.shopifyConnect)
	g.GET("/callback", h.shopifyCallback)
	g.POST("/disconnect", h.shopifyDisconnect)
	r.GET("/shopify/install", h.RequireAccount, h.Require("organization_edit"), h.shopifyInstall)
}

type shopifySettings struct {
	Configured bool
	Install    *models.ShopifyInstall
	Scopes     []string
	Shop       string // a shop named by Shopify's install link
}

func (h *Handler) shopifyPage(c *gin.Context) {
	h.renderShopify(c, http.StatusOK, c.Query("shop"), "")
}

func (h *Handler) renderShopify(c *gin.Context, status int, shop, problem string) {
	org := site.CurrentOrg(c)
	data := shopifySettings{Configured: h.shopifyApp().Configured(), Shop: shop}
	in, err := h.Store.ShopifyInstall(c, org.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		h.Internal(c, err)
		return
	default:
		data.Install, data.Scopes = in, shopify.InstallScopes(in)
	}
	if site.WantsJSON(c) && problem != "" {
		c.JSON(status, gin.H{"error": problem})
		return
	}
	if app := h.shopifyApp(); app.Configured() {
		// The connect form's answer redirects to the shop's consent page.
		site.AllowFormTarget(c, app.Client.ShopifyAuthorizeSource())
	}
	h.RenderForm(c, status, "shopify_settings", "Shopify", "shopify", data, problem)
}

// shopifyConnect starts the OAuth grant with the scopes chosen.
func (h *Handler) shopifyConnect(c *gin.Context) {
	if !h.shopifyApp().Configured() {
		h.renderShopify(c, http.StatusServiceUnavailable, "", shopify.ErrNotConfigured.Error()+".")
		return
	}
	org, a, sess := site.CurrentOrg(c), site.CurrentAccount(c), site.CurrentSession(c)
	to, err := h.shopifyApp().Begin(c, org.ID, a.ID, sess.TokenHash, c.PostForm("shop"), shopify.ChosenScopes(c.PostForm("orders") == "on"))
	if errors.Is(err, shopify.ErrBadShop) {
		h.renderShopify(c, http.StatusBadRequest, "", "Give your shop's permanent address, like your-shop.myshopify.com.")
		return
	}
	if err != nil {
		h.Internal(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, to)
}

// shopifyCallback completes the grant: every check of Shopify's callback
// is the domain's; a refusal says why and changes nothing.
func (h *Handler) shopifyCallback(c *gin.Context) {
	if !h.shopifyApp().Configured() {
		h.renderShopify(c, http.StatusServiceUnavailable, "", shopify.ErrNotConfigured.Error()+".")
		return
	}
	org, a, sess := site.CurrentOrg(c), site.CurrentAccount(c), site.CurrentSession(c)
	in, err := h.shopifyApp().Complete(c, org.GateContext(), sess.TokenHash, c.Request.URL.Query())
	switch {
	case errors.Is(err, shopify.ErrBadSignature):
		h.renderShopify(c, http.StatusUnauthorized, "", "Shopify's callback is not signed by Shopify: "+err.Error()+".")
		return
	case errors.Is(err, shopify.ErrBadShop), errors.Is(err, shopify.ErrStale), errors.Is(err, shopify.ErrBadState):
		h.renderShopify(c, http.StatusBadRequest, "", err.Error()+".")
		return
	case errors.Is(err, store.ErrShopTaken):
		h.renderShopify(c, http.StatusConflict, "", "This shop is connected to another Convot organization; disconnect it there first.")
		return
	case err != nil:
		h.renderShopify(c, http.StatusBadGateway, "", "Shopify did not complete the connection; try again.")
		return
	}
	err = h.Audit(h.Store, c, org.ID, a.ID, a.DataKeyID, "shopify.connected", site.Target("shopify_install", in.ID), in.Scopes)
	h.Finish(c, err, "/settings/shopify", "saved")
}

func (h *Handler) shopifyDisconnect(c *gin.Context) {
	org, a := site.CurrentOrg(c), site.CurrentAccount(c)
	if h.shopifyApp() == nil {
		h.renderShopify(c, http.StatusServiceUnavailable, "", shopify.ErrNotConfigured.Error()+".")
		return
	}
	done, err := h.shopifyApp().Disconnect(c, org.ID)
	if err == nil && done {
		err = h.Audit(h.Store, c, org.ID, a.ID, a.DataKeyID, "shopify.disconnected", site.Target("organization", org.ID), "")
	}
	h.Finish(c, err, "/settings/shopify", "saved")
}

// shopifyInstall is the app's URL in Shopify: the signed install request
// is checked, then the owner chooses the scopes on the settings page.
func (h *Handler) shopifyInstall(c *gin.Context) {
	shop, err := h.shopifyApp().VerifyInstall(c.Request.URL.Query())
	switch {
	case errors.Is(err, shopify.ErrNotConfigured):
		h.Fail(c, http.StatusServiceUnavailable, "Shopify", err.Error()+".")
	case errors.Is(err, shopify.ErrBadSignature):
		h.Fail(c, http.StatusUnauthorized, "Shopify", "The install link is not signed by Shopify.")
	case err != nil:
		h.Fail(c, http.StatusBadRequest, "Shopify", err.Error()+".")
	default:
		c.Redirect(http.StatusSeeOther, "/settings/shopify?shop="+shop)
	}
}

// inboxContactShopify answers the sidebar's Shopify context of a contact.
// The contact is loaded with the organization first: another
// organization's contact is 404 whether the app is configured or not.
func (h *Handler) inboxContactShopify(c *gin.Context) {
	org := site.CurrentOrg(c)
	id, ok := inboxPathID(c, "id")
	if !ok {
		c.JSON(http.StatusNotFound, gin.H{"error": "There is no such contact."})
		return
	}
	ct, err := h.inboxContactOf(c, org.ID, id)
	if err != nil {
		h.Internal(c, err)
		return
	}
	if ct == nil {
		c.JSON(http.StatusNotFound, gin.H{"error": "There is no such contact."})
		return
	}
	if !h.shopifyApp().Configured() {
		c.JSON(http.StatusOK, gin.H{"connected": false})
		return
	}
	sc, err := h.shopifyApp().ContactContext(c, org, ct, policies.SubjectContext{Kind: models.SubjectEndUser})
	if err != nil {
		c.JSON(http.StatusBadGateway, gin.H{"error": "Shopify could not be read just now."})
		return
	}
	type order struct {
		Name, Date, Total, Fulfillment string
		Items                          []string
	}
	orders := []order{}
	for _, o := range sc.Orders {
		var items []string
		for _, it := range o.Items {
			items = append(items, it.Title)
		}
		orders = append(orders, order{Name: o.Name, Date: o.CreatedAt.UTC().Format(time.DateOnly), Total: o.Total + " " + o.Currency,
			Fulfillment: o.FulfillmentStatus, Items: items})
	}
	c.JSON(http.StatusOK, gin.H{"connected": sc.Connected, "shop": sc.Shop, "found": sc.Found,
		"customer": gin.H{"name": sc.Customer.FirstName + " " + sc.Customer.LastName, "email": sc.Customer.Email,
			"phone": sc.Customer.Phone, "orders_count": sc.Customer.NumberOfOrders},
		"orders_granted": sc.OrdersGranted, "orders": orders})
}

func (h *Handler) shopifyApp() *shopify.App {
	if h.ShopifyApp == nil {
		return nil
	}
	return h.ShopifyApp()
}
