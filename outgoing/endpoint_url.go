package outgoing

import (
	"net/url"
	"strings"
)

// maxURL is the longest endpoint URL accepted.
const maxURL = 2048

// ParseURL checks an endpoint URL as typed: absolute, HTTPS (plain HTTP
// only when allowHTTP, i.e. in convot dev), a host, no credentials and no
// fragment. Where the host resolves is checked by the delivery client
// (subprocessors.CustomerEndpoints.CheckURL) when the endpoint is added
// and again at every connection.
func ParseURL(raw string, allowHTTP bool) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, &InputError{Message: "enter the endpoint's URL"}
	}
	if len(raw) > maxURL {
		return nil, &InputError{Message: "the URL is longer than 2048 characters"}
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" {
		return nil, &InputError{Message: "the URL is malformed: write it as https://host/path"}
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !allowHTTP {
			return nil, &InputError{Message: "the endpoint must use HTTPS (plain HTTP only in convot dev)"}
		}
	default:
		return nil, &InputError{Message: "the endpoint must use HTTPS"}
	}
	if u.Hostname() == "" {
		return nil, &InputError{Message: "the URL has no host"}
	}
	if u.User != nil {
		return nil, &InputError{Message: "the URL may not carry a user name or password"}
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return nil, &InputError{Message: "the URL may not carry a fragment (#...)"}
	}
	return u, nil
}
