package handlers

import (
	"net/url"
	"strings"
)

// describeUserAgent reduces a user agent to browser, operating system and
// device type: the coarse usage data the policy lists, nothing finer.
func describeUserAgent(ua string) (browser, os, device string) {
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

// referrerPath keeps the referring URL without its query, which may carry
// tokens.
func referrerPath(ref string) string {
	u, err := url.Parse(ref)
	if err != nil || ref == "" {
		return ""
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}
