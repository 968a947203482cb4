package subprocessors

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/convot/convot/policies"
)

// Recipient name and purpose of a delivery to a Customer's own webhook
// endpoint. The Customer is the controller of what it receives: the gate
// lets only the organization's own data go to its own endpoints, and honours
// a contact's restriction.
const (
	CustomerEndpointRecipient = "customer_endpoint"
	CustomerEndpointPurpose   = "essential.service.webhooks"
)

// ErrRefusedAddress is wrapped by every error of a connection the SSRF guard
// refused: the endpoint's host resolved to a loopback, private, link-local,
// metadata or otherwise non-public address.
var ErrRefusedAddress = errors.New("subprocessors: the endpoint's address is not public")

// Resolver resolves host names; *net.Resolver satisfies it, tests use a fake.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// CustomerEndpointsConfig configures the client of Customers' endpoints.
type CustomerEndpointsConfig struct {
	// AllowPrivate lets deliveries reach loopback and private addresses
	// (convot dev only, where the endpoint is often on the same machine).
	AllowPrivate bool
	// Resolver resolves endpoints' hosts; nil is net.DefaultResolver.
	Resolver Resolver
	// Timeout bounds one delivery, connection and answer included.
	Timeout time.Duration
	// RootCAs, when set, replaces the system's roots (tests).
	RootCAs *x509.CertPool
}

// CustomerEndpoints posts signed webhooks to Customers' endpoints. Every
// connection resolves the host itself and checks each address before
// dialling it: the address checked is the address dialled, so a DNS answer
// that changes between a check and the connection (DNS rebinding) cannot
// reach an internal service. No proxy is used, no redirect is followed.
type CustomerEndpoints struct {
	gate         Gate
	allowPrivate bool
	resolver     Resolver
	http         *http.Client
}

// EndpointRequest is one delivery.
type EndpointRequest struct {
	URL    string
	Header http.Header
	Body   []byte
	// Categories are the data categories of the body's fields.
	Categories   []string
	Organization policies.OrgContext
	Subject      policies.SubjectContext
}

// EndpointResponse is what the endpoint answered.
type EndpointResponse struct {
	Status  int
	Latency time.Duration
	// Excerpt is the start of the answer's body (valid UTF-8).
	Excerpt string
}

// NewCustomerEndpoints returns the client. It sends nothing.
func NewCustomerEndpoints(gate Gate, cfg CustomerEndpointsConfig) (*CustomerEndpoints, error) {
	if gate == nil {
		return nil, errors.New("subprocessors: customer endpoints: an egress gate is required")
	}
	c := &CustomerEndpoints{gate: gate, allowPrivate: cfg.AllowPrivate, resolver: cfg.Resolver}
	if c.resolver == nil {
		c.resolver = net.DefaultResolver
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	transport := &http.Transport{
		Proxy:                 nil, // never through a proxy: the guard checks the endpoint itself
		DialContext:           c.dial,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: cfg.RootCAs},
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       30 * time.Second,
	}
	c.http = &http.Client{
		Transport: transport,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect is the endpoint's answer
		},
	}
	return c, nil
}

// dial resolves the host, refuses every address the guard does not allow,
// and connects to the first allowed one that answers.
func (c *CustomerEndpoints) dial(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	ips, err := c.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{}
	var last error
	for _, ip := range ips {
		conn, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return conn, nil
		}
		last = err
	}
	return nil, last
}

// resolve returns the addresses of host the guard allows; none is an error
// wrapping ErrRefusedAddress.
func (c *CustomerEndpoints) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		found, err := c.resolver.LookupIPAddr(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("subprocessors: resolving the endpoint's host: %w", err)
		}
		for _, a := range found {
			if ip, ok := netip.AddrFromSlice(a.IP); ok {
				addrs = append(addrs, ip.Unmap())
			}
		}
	}
	var allowed []netip.Addr
	var refused []string
	for _, ip := range addrs {
		if why := RefusedAddress(ip); why != "" && !c.allowPrivate {
			refused = append(refused, ip.String()+" ("+why+")")
			continue
		}
		allowed = append(allowed, ip)
	}
	if len(allowed) == 0 {
		if len(refused) == 0 {
			return nil, fmt.Errorf("%w: the host has no address", ErrRefusedAddress)
		}
		return nil, fmt.Errorf("%w: the host resolves to %s", ErrRefusedAddress, strings.Join(refused, ", "))
	}
	return allowed, nil
}

// refusedRanges are the non-public ranges beyond what netip classifies.
var refusedRanges = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this network"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("64:ff9b::/96"), "NAT64"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "NAT64"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("fd00:ec2::254/128"), "cloud metadata"},
}

// RefusedAddress says why deliveries may not go to ip ("" when they may):
// loopback, private, link-local (the cloud metadata address
// 169.254.169.254 among them), multicast, unspecified and reserved ranges.
func RefusedAddress(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid():
		return "invalid"
	case ip == netip.MustParseAddr("169.254.169.254"):
		return "cloud metadata"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate():
		return "private"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return "link-local"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return "multicast"
	}
	for _, r := range refusedRanges {
		if r.prefix.Contains(ip) {
			return r.why
		}
	}
	return ""
}

// CheckURL resolves the host of an endpoint URL and says whether the guard
// allows at least one of its addresses (an error wrapping
// ErrRefusedAddress otherwise): the check made when an endpoint is added.
// Each delivery checks again at connect time.
func (c *CustomerEndpoints) CheckURL(ctx context.Context, u *url.URL) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := c.resolve(ctx, u.Hostname())
	return err
}

// Deliver asks the gate for the flow, then POSTs the body with its headers
// to the endpoint. Any answer is returned with its status (a 500 is not an
// error here: the caller decides); an error means no answer (denied by the
// gate, refused by the guard, timed out, connection failed).
func (c *CustomerEndpoints) Deliver(ctx context.Context, r EndpointRequest) (EndpointResponse, error) {
	_, err := authorize(ctx, c.gate, policies.Flow{
		Subprocessor:          CustomerEndpointRecipient,
		Purpose:               CustomerEndpointPurpose,
		Categories:            r.Categories,
		Organization:          r.Organization,
		Subject:               r.Subject,
		DestinationRegion:     r.Organization.Region,
		RecipientOrganization: r.Organization.ID,
	})
	if err != nil {
		return EndpointResponse{}, fmt.Errorf("customer endpoint: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, strings.NewReader(string(r.Body)))
	if err != nil {
		return EndpointResponse{}, fmt.Errorf("subprocessors: customer endpoint: %w", err)
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("User-Agent", "Convot-Webhooks/1")
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return EndpointResponse{Latency: time.Since(start)}, fmt.Errorf("subprocessors: customer endpoint: %w", err)
	}
	defer func() { _ = resp.Body.Close() }() // read, not written: nothing to lose
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return EndpointResponse{Status: resp.StatusCode, Latency: time.Since(start), Excerpt: validUTF8(raw)}, nil
}

// validUTF8 is raw as text, invalid bytes (a character cut by the limit
// among them) replaced.
func validUTF8(raw []byte) string { return strings.ToValidUTF8(string(raw), "\uFFFD") }
