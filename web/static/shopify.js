// The inbox sidebar's Shopify context: the matching Shopify customer and,
// where the shop granted read_orders, their recent orders. Read from
// /inbox/contacts/:id/shopify when the conversation opens; everything is
// put into the page as text.
(function () {
  "use strict";

  var box = document.querySelector("[data-shopify-contact]");
  if (!box) {
    return;
  }
  var body = box.querySelector("[data-shopify-body]");

  function el(tag, text, testid) {
    var e = document.createElement(tag);
    if (text !== undefined) {
      e.textContent = text;
    }
    if (testid) {
      e.setAttribute("data-testid", testid);
    }
    return e;
  }

  function render(data) {
    if (!data.connected) {
      return;
    }
    box.hidden = false;
    if (!data.found) {
      body.appendChild(el("p", "No customer of " + data.shop + " matches this contact.", "shopify-no-customer"));
      return;
    }
    var c = data.customer;
    body.appendChild(el("p", c.name.trim() + " · " + c.orders_count + " orders", "shopify-customer"));
    if (!data.orders_granted) {
      body.appendChild(el("p", "Orders are not shared: the shop did not grant read_orders.", "shopify-orders-hidden"));
      return;
    }
    var list = el("ul", undefined, "shopify-orders");
    list.className = "plain";
    data.orders.forEach(function (o) {
      var li = el("li", undefined, "shopify-order");
      li.appendChild(el("strong", o.Name));
      li.appendChild(document.createTextNode(" " + o.Date + " · " + o.Total + " · " + o.Fulfillment));
      if (o.Items && o.Items.length) {
        li.appendChild(el("div", o.Items.join(", ")));
      }
      list.appendChild(li);
    });
    if (!data.orders.length) {
      list.appendChild(el("li", "No orders."));
    }
    body.appendChild(list);
  }

  fetch("/inbox/contacts/" + encodeURIComponent(box.getAttribute("data-shopify-contact")) + "/shopify", {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  })
    .then(function (r) {
      return r.ok ? r.json() : null;
    })
    .then(function (data) {
      if (data) {
        render(data);
      }
    })
    .catch(function () {
      // The sidebar works without Shopify's context.
    });
})();
