package webhook

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"

	"github.com/atriumid/atrium/internal/fault"
)

// Guard decides which addresses webhooks may reach. Its zero value allows
// public unicast addresses only.
type Guard struct {
	// AllowPrivate lets webhooks reach loopback, private and other
	// internal addresses: for tests and closed networks only.
	AllowPrivate bool
	// Resolver looks host names up; nil means net.DefaultResolver.
	Resolver *net.Resolver
}

// internal lists the ranges that are not public unicast addresses and
// that net/netip has no predicate for.
var internal = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: reaches IPv4 through a gateway
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4: embeds an IPv4 address
	netip.MustParsePrefix("2001::/32"),       // Teredo: embeds an IPv4 address
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("::ffff:0:0:0/96"), // IPv4-translated
}

// globalUnicast6 is the IPv6 global unicast block (RFC 4291).
var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// Allowed reports whether a webhook may connect to ip.
func (g Guard) Allowed(ip netip.Addr) bool {
	if g.AllowPrivate {
		return ip.IsValid()
	}
	ip = ip.Unmap()
	// IPv6 outside the global unicast block 2000::/3 (IPv4-compatible
	// ::a.b.c.d, site-local fec0::/10 and other reserved ranges) is refused
	// outright rather than listed range by range.
	if ip.Is6() && !globalUnicast6.Contains(ip) {
		return false
	}
	if !ip.IsValid() || !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() ||
		ip.IsMulticast() || ip.IsUnspecified() || ip.IsInterfaceLocalMulticast() {
		return false
	}
	for _, p := range internal {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// CheckURL parses a webhook URL and checks that it is http(s), carries no
// credentials, and that every address its host resolves to is allowed. A
// bad URL is fault.Invalid with a violation on field.
func (g Guard) CheckURL(ctx context.Context, field, raw string) (*url.URL, error) {
	const op = "webhook.CheckURL"
	bad := func(reason string) error {
		return fault.Invalidf(op, []fault.Violation{{Field: field, Reason: reason}}, "invalid webhook URL")
	}
	if len(raw) > MaxURL {
		return nil, bad("longer than 2048 bytes")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" || u.Opaque != "" {
		return nil, bad("must be an absolute http or https URL")
	}
	if u.User != nil {
		return nil, bad("must not carry credentials")
	}
	ips, err := g.resolve(ctx, u.Hostname())
	if err != nil {
		return nil, bad("host does not resolve")
	}
	for _, ip := range ips {
		if !g.Allowed(ip) {
			return nil, bad("host resolves to a loopback, private or internal address")
		}
	}
	return u, nil
}

func (g Guard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, nil
	}
	r := g.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return r.LookupNetIP(ctx, "ip", host)
}

// errForbiddenAddress is what a connection to a refused address fails
// with.
var errForbiddenAddress = fault.E("webhook.dial", fault.PermissionDenied, "webhook target resolves to a forbidden address")

// Dialer returns a dialer that checks every address it connects to
// against g, after DNS resolution, and fails with a fault.PermissionDenied
// error for a refused one. Other outbound HTTP clients that must not reach
// internal addresses build on it.
func (g Guard) Dialer() *net.Dialer {
	return &net.Dialer{
		Timeout:  5 * time.Second,
		Resolver: g.Resolver,
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !g.Allowed(ap.Addr()) {
				return errForbiddenAddress
			}
			return nil
		},
	}
}

// Client returns the HTTP client that deliveries use. Every connection is
// checked against g at connect time, after DNS resolution, so a host name
// that resolves differently later still cannot reach an internal address;
// redirects are not followed and environment proxies are not used.
func (g Guard) Client() *http.Client {
	d := g.Dialer()
	return &http.Client{
		Timeout: deliverTimeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           d.DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: deliverTimeout,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       30 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
