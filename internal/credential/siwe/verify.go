package siwe

import (
	"crypto/subtle"
	"errors"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/atriumid/atrium/internal/chain"
	"github.com/atriumid/atrium/internal/fault"
)

// Defaults for the time limits of a Policy left at zero.
const (
	DefaultMaxClockSkew = 60 * time.Second
	DefaultMaxAge       = 10 * time.Minute
)

// Reasons Verify rejects a well-formed message, each wrapped in a
// fault.Unauthenticated error. Their public messages say only that sign-in
// failed and which check, never the values involved.
var (
	ErrOriginMismatch  = errors.New("message domain or scheme is not this relying party's origin")
	ErrURIMismatch     = errors.New("message URI is not under this relying party's URI")
	ErrChainNotAllowed = errors.New("message chain ID is not allowed")
	ErrNonceMismatch   = errors.New("message nonce is not the one issued")
	ErrExpired         = errors.New("message has expired")
	ErrNotYetValid     = errors.New("message is not valid yet")
	// ErrNotEOASignature means that every check but the signature passed
	// and the signature does not recover to the message's address: it is
	// malformed, made by another key, high-s, or a smart-contract wallet's
	// (ERC-6492 wrapped or for ERC-1271). A caller with a chain client may
	// try ERC-1271/ERC-6492 on the message's chain before rejecting it.
	ErrNotEOASignature = errors.New("signature is not the address's EOA signature")
)

// Policy is what the relying party expects of a message. Origin, ChainIDs
// and Nonce are required: Verify fails with fault.Internal when one is
// missing, since that is a configuration bug, not bad input.
type Policy struct {
	// Origin is the relying party's origin, "https://example.com" or
	// "https://example.com:8443", from configuration, never from request
	// headers. The message's scheme (https when absent) and domain must
	// name this origin; a domain with user information never does.
	Origin string
	// URI is the URI the message's URI must equal or lie under (same
	// scheme, host and port; path equal or below it, without "." or ".."
	// segments). Empty means Origin. It may name another host than Origin,
	// as when a site at www.example.com signs users in to example.com.
	URI string
	// ChainIDs are the EIP-155 chain IDs a message may name.
	ChainIDs []uint64
	// Nonce is the nonce the relying party issued for this sign-in,
	// compared in constant time. The caller makes it single-use.
	Nonce string
	// MaxClockSkew is the tolerance between the wallet's and our clocks
	// for every time check. Zero means DefaultMaxClockSkew.
	MaxClockSkew time.Duration
	// MaxAge bounds how far Issued At may be from now, in the past or in
	// the future, whatever the Expiration Time says. Zero means
	// DefaultMaxAge.
	MaxAge time.Duration
}

// origin is a Policy's Origin or URI, parsed.
type origin struct {
	scheme, host, port string
	path               string // without a trailing "/"
}

// Verify accepts m as a sign-in by m.Address, at now, under p, or says why
// not. It checks, in order: that p is complete (fault.Internal otherwise);
// that m is valid (Validate; fault.Invalid); that its scheme and domain name
// p.Origin and its URI lies under p.URI; that its chain ID is allowed; that
// its nonce equals p.Nonce; that now is not after its expiration time and
// not before its not-before time, and that its issued-at time is within
// p.MaxAge of now, each with p.MaxClockSkew of tolerance; and last, that sig
// is an EIP-191 signature of m.String() by m.Address. A failed check is a
// fault.Unauthenticated error wrapping one of the Err values of this
// package; ErrNotEOASignature is only ever returned when every other check
// passed.
func Verify(m *Message, sig []byte, p Policy, now time.Time) error {
	const op = "siwe.Verify"
	o, base, err := p.parse()
	if err != nil {
		return err
	}
	if m == nil {
		return fault.E(op, fault.Invalid, "sign-in message is required")
	}
	if err := m.Validate(); err != nil {
		return fault.Wrap(op, fault.Invalid, err)
	}
	if len(sig) > chain.MaxWrappedSignatureLen {
		return fault.E(op, fault.Invalid, "signature longer than %d bytes", chain.MaxWrappedSignatureLen)
	}
	switch {
	case !o.matchesDomain(m.Scheme, m.Domain):
		return reject(ErrOriginMismatch, "sign-in message is for another site")
	case !base.contains(m.URI):
		return reject(ErrURIMismatch, "sign-in message is for another site")
	case !slices.Contains(p.ChainIDs, m.ChainID):
		return reject(ErrChainNotAllowed, "sign-in message names a chain that is not allowed")
	case subtle.ConstantTimeCompare([]byte(m.Nonce), []byte(p.Nonce)) != 1:
		return reject(ErrNonceMismatch, "sign-in message nonce is not valid")
	}
	if err := p.checkTimes(m, now); err != nil {
		return err
	}
	if chain.IsERC6492(sig) {
		return reject(ErrNotEOASignature, "signature is not valid")
	}
	signer, err := chain.RecoverPersonal([]byte(m.String()), sig)
	if err != nil {
		return &fault.Error{Op: op, Kind: fault.Unauthenticated, Msg: "signature is not valid", Err: errors.Join(ErrNotEOASignature, err)}
	}
	if signer != m.Address {
		return reject(ErrNotEOASignature, "signature is not valid")
	}
	return nil
}

func (p *Policy) checkTimes(m *Message, now time.Time) error {
	skew, maxAge := p.MaxClockSkew, p.MaxAge
	if skew == 0 {
		skew = DefaultMaxClockSkew
	}
	if maxAge == 0 {
		maxAge = DefaultMaxAge
	}
	window := maxAge + skew
	if window < 0 {
		window = math.MaxInt64 // the sum overflowed: no bound
	}
	issued := m.IssuedAt.Time()
	switch {
	case !m.ExpirationTime.IsZero() && !now.Add(-skew).Before(m.ExpirationTime.Time()):
		return reject(ErrExpired, "sign-in message has expired")
	case now.Sub(issued) > window:
		return reject(ErrExpired, "sign-in message has expired")
	case !m.NotBefore.IsZero() && now.Add(skew).Before(m.NotBefore.Time()):
		return reject(ErrNotYetValid, "sign-in message is not valid yet")
	case issued.Sub(now) > window:
		return reject(ErrNotYetValid, "sign-in message is not valid yet")
	}
	return nil
}

func reject(cause error, msg string) error {
	return &fault.Error{Op: "siwe.Verify", Kind: fault.Unauthenticated, Msg: msg, Err: cause}
}

// parse checks p and reads its origin and its URI.
func (p *Policy) parse() (o, base origin, err error) {
	const op = "siwe.Verify"
	misconfigured := func(what string) (origin, origin, error) {
		return origin{}, origin{}, fault.E(op, fault.Internal, "sign-in policy: %s", what)
	}
	o, ok := parseOrigin(p.Origin)
	if !ok || o.path != "" {
		return misconfigured(`Origin must be "scheme://host[:port]"`)
	}
	base = o
	if p.URI != "" {
		if base, ok = parseOrigin(p.URI); !ok {
			return misconfigured("URI must be an absolute URI with a host")
		}
	}
	switch {
	case len(p.ChainIDs) == 0 || slices.Contains(p.ChainIDs, 0):
		return misconfigured("ChainIDs must list positive chain IDs")
	case p.Nonce == "":
		return misconfigured("Nonce is required")
	case p.MaxClockSkew < 0 || p.MaxAge < 0:
		return misconfigured("time limits must not be negative")
	}
	return o, base, nil
}

// parseOrigin reads an absolute http(s)-like URI with a host and no user
// information, query or fragment, lower-casing the scheme and host and
// filling in the default port.
func parseOrigin(s string) (origin, bool) {
	if !validURI(s) {
		return origin{}, false
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return origin{}, false
	}
	scheme := strings.ToLower(u.Scheme)
	return origin{
		scheme: scheme,
		host:   strings.ToLower(u.Hostname()),
		port:   effectivePort(scheme, u.Port()),
		path:   strings.TrimSuffix(u.Path, "/"),
	}, true
}

// effectivePort returns port, or the default port of scheme when empty.
func effectivePort(scheme, port string) string {
	if port != "" {
		return port
	}
	switch scheme {
	case "https", "wss":
		return "443"
	case "http", "ws":
		return "80"
	}
	return ""
}

// matchesDomain reports whether a message's scheme and domain name o. An
// absent scheme means https (EIP-4361).
func (o origin) matchesDomain(scheme, domain string) bool {
	if scheme == "" {
		scheme = "https"
	}
	scheme = strings.ToLower(scheme)
	userinfo, host, port, ok := splitAuthority(domain)
	if !ok || strings.Contains(domain, "@") || userinfo != "" {
		return false
	}
	if strings.HasPrefix(host, "[") {
		host = host[1 : len(host)-1] // url.URL.Hostname drops the brackets too
	}
	return scheme == o.scheme && strings.EqualFold(host, o.host) && effectivePort(scheme, port) == o.port
}

// contains reports whether uri is o's URI or lies under it.
func (o origin) contains(uri string) bool {
	u, err := url.Parse(uri)
	if err != nil || u.User != nil || u.Opaque != "" {
		return false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != o.scheme || !strings.EqualFold(u.Hostname(), o.host) || effectivePort(scheme, u.Port()) != o.port {
		return false
	}
	for seg := range strings.SplitSeq(u.Path, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return o.path == "" || u.Path == o.path || strings.HasPrefix(u.Path, o.path+"/")
}
