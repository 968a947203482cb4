package site

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/convot/convot/models"
	"github.com/gin-gonic/gin"
)

// RecordUsage keeps the usage data of policy §2.1 for pages an operator
// views: route, time, browser, OS, device, IP and referrer.
func (s *Site) RecordUsage(c *gin.Context) {
	c.Next()
	a := CurrentAccount(c)
	if a == nil || c.Request.Method != http.MethodGet || c.Writer.Status() != http.StatusOK {
		return
	}
	browser, os, device := DescribeUserAgent(c.Request.UserAgent())
	ev := models.UsageEvent{
		OrganizationID: a.OrganizationID, AccountID: a.ID, DataKeyID: a.DataKeyID,
		Page: c.Request.URL.Path, Feature: c.FullPath(), Browser: browser, OS: os, DeviceType: device,
		IP: c.ClientIP(), Referrer: ReferrerPath(c.Request.Referer()), OccurredAt: s.Now().UTC(),
	}
	// The page has been answered: a failure can only be logged.
	if err := s.Store.CreateUsageEvent(c, &ev); err != nil {
		slog.Warn("usage event not recorded", "feature", ev.Feature, "err", err)
	}
}

// DescribeUserAgent reduces a user agent to browser, operating system and
// device type: the coarse usage data the policy lists, nothing finer.
func DescribeUserAgent(ua string) (browser, os, device string) {
	l := strings.ToLower(ua)
	switch {
	case strings.Contains(l, "edg/"):
		browser = "Edge"
	case strings.Contains(l, "opr/"):
		browser = "Opera"
	case strings.Contains(l, "firefox/"):
		browser = "Firefox"
	case strings.Contains(l, "chrome/") || strings.Contains(l, "chromium/"):
		browser = "Chrome"
	case strings.Contains(l, "safari/"):
		browser = "Safari"
	case ua == "":
		browser = ""
	default:
		browser = "Other"
	}
	switch {
	case strings.Contains(l, "android"):
		os = "Android"
	case strings.Contains(l, "iphone") || strings.Contains(l, "ipad"):
		os = "iOS"
	case strings.Contains(l, "windows"):
		os = "Windows"
	case strings.Contains(l, "mac os"):
		os = "macOS"
	case strings.Contains(l, "linux"):
		os = "Linux"
	case ua != "":
		os = "Other"
	}
	switch {
	case strings.Contains(l, "ipad") || strings.Contains(l, "tablet"):
		device = "tablet"
	case strings.Contains(l, "mobi") || strings.Contains(l, "iphone") || strings.Contains(l, "android"):
		device = "mobile"
	case ua != "":
		device = "desktop"
	}
	return browser, os, device
}

// ReferrerPath keeps the referring URL without its query, which may carry
// tokens.
func ReferrerPath(ref string) string {
	u, err := url.Parse(ref)
	if err != nil || ref == "" {
		return ""
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}
