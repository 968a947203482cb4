package site

import (
	"net/url"
	"strings"
)

// Browser origins, as an organization allows them for its widget (one per
// line in its settings; "https://*.example.com" allows subdomains): the
// settings page normalizes what is typed, the widget API matches requests
// against it.

// AllowedOrigins splits the setting into normalized origin patterns.
func AllowedOrigins(setting string) []string {
	var out []string
	for _, line := range strings.Split(setting, "\n") {
		if p, ok := NormalizeOriginPattern(line); ok {
			out = append(out, p)
		}
	}
	return out
}

// NormalizeOrigin turns an origin into scheme://host[:port], lower case,
// without a default port. Anything else (a path, credentials, "null") is
// not an origin.
func NormalizeOrigin(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 300 || strings.ContainsAny(s, "*?\\ ") {
		return "", false
	}
	return parseOrigin(s)
}

// NormalizeOriginPattern is NormalizeOrigin allowing a leading "*." label
// in the host: https://*.example.com.
func NormalizeOriginPattern(s string) (string, bool) {
	s = strings.TrimSpace(s)
	wild := false
	if scheme, rest, ok := strings.Cut(s, "://*."); ok {
		wild, s = true, scheme+"://"+rest
	}
	o, ok := NormalizeOrigin(s)
	if !ok {
		return "", false
	}
	if wild {
		scheme, host, _ := strings.Cut(o, "://")
		o = scheme + "://*." + host
	}
	return o, true
}

func parseOrigin(s string) (string, bool) {
	u, err := url.Parse(strings.TrimSuffix(s, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return u.Scheme + "://" + host, true
}

// OriginMatches compares a normalized origin with a normalized pattern.
func OriginMatches(pattern, origin string) bool {
	if pattern == origin {
		return true
	}
	scheme, host, ok := strings.Cut(pattern, "://*.")
	if !ok {
		return false
	}
	oScheme, oHost, _ := strings.Cut(origin, "://")
	return oScheme == scheme && strings.HasSuffix(oHost, "."+host)
}
