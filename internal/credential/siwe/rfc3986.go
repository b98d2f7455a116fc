package siwe

import (
	"net/netip"
	"strings"
)

// The RFC 3986 grammar that EIP-4361 uses for its domain, URI, statement,
// request ID and resources. net/url is more lenient than the grammar, so the
// terms are checked here and net/url only reads text that passed.

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isHex(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// isUnreserved: ALPHA / DIGIT / "-" / "." / "_" / "~".
func isUnreserved(c byte) bool {
	return isAlpha(c) || isDigit(c) || c == '-' || c == '.' || c == '_' || c == '~'
}

// isSubDelim: "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "=".
func isSubDelim(c byte) bool { return strings.IndexByte("!$&'()*+,;=", c) >= 0 }

// isReserved: gen-delims / sub-delims.
func isReserved(c byte) bool { return strings.IndexByte(":/?#[]@", c) >= 0 || isSubDelim(c) }

// validStatement checks *( reserved / unreserved / " " ).
func validStatement(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isReserved(c) && !isUnreserved(c) && c != ' ' {
			return false
		}
	}
	return true
}

// each reports whether s is a sequence of characters for which ok holds and
// of pct-encoded triplets ("%" HEXDIG HEXDIG).
func each(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
			i += 2
			continue
		}
		if !ok(c) {
			return false
		}
	}
	return true
}

// isPchar: unreserved / sub-delims / ":" / "@" (pct-encoded handled by each).
func isPchar(c byte) bool { return isUnreserved(c) || isSubDelim(c) || c == ':' || c == '@' }

func isPathChar(c byte) bool { return isPchar(c) || c == '/' }

func isQueryChar(c byte) bool { return isPchar(c) || c == '/' || c == '?' }

// validRequestID checks *pchar.
func validRequestID(s string) bool { return each(s, isPchar) }

// validScheme checks ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func validScheme(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlpha(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// splitAuthority splits [ userinfo "@" ] host [ ":" port ] and checks each
// part. The host may be empty, as in "file:///x"; the caller decides
// whether that is allowed.
func splitAuthority(s string) (userinfo, host, port string, ok bool) {
	if at := strings.IndexByte(s, '@'); at >= 0 {
		userinfo, s = s[:at], s[at+1:]
		if !each(userinfo, func(c byte) bool { return isUnreserved(c) || isSubDelim(c) || c == ':' }) {
			return "", "", "", false
		}
	}
	hostEnd := len(s)
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 || !validIPLiteral(s[1:end]) {
			return "", "", "", false
		}
		hostEnd = end + 1
	} else if colon := strings.IndexByte(s, ':'); colon >= 0 {
		hostEnd = colon
	}
	host, rest := s[:hostEnd], s[hostEnd:]
	if !strings.HasPrefix(host, "[") && !each(host, func(c byte) bool { return isUnreserved(c) || isSubDelim(c) }) {
		return "", "", "", false // reg-name, which includes IPv4address
	}
	if rest != "" {
		if rest[0] != ':' {
			return "", "", "", false
		}
		port = rest[1:]
		for i := 0; i < len(port); i++ {
			if !isDigit(port[i]) {
				return "", "", "", false
			}
		}
	}
	return userinfo, host, port, true
}

// validIPLiteral checks the inside of "[…]": an IPv6 address (no zone) or
// IPvFuture, "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ).
func validIPLiteral(s string) bool {
	if len(s) > 0 && (s[0] == 'v' || s[0] == 'V') {
		ver, rest, ok := strings.Cut(s[1:], ".")
		if !ok || ver == "" || rest == "" {
			return false
		}
		for i := 0; i < len(ver); i++ {
			if !isHex(ver[i]) {
				return false
			}
		}
		for i := 0; i < len(rest); i++ {
			if c := rest[i]; !isUnreserved(c) && !isSubDelim(c) && c != ':' {
				return false
			}
		}
		return true
	}
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is6() && a.Zone() == ""
}

// validDomain checks an EIP-4361 domain: an RFC 3986 authority with a
// non-empty host.
func validDomain(s string) bool {
	_, host, _, ok := splitAuthority(s)
	return ok && host != ""
}

// validURI checks RFC 3986 URI:
// scheme ":" hier-part [ "?" query ] [ "#" fragment ].
func validURI(s string) bool {
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || !validScheme(scheme) {
		return false
	}
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		if !each(rest[i+1:], isQueryChar) {
			return false
		}
		rest = rest[:i]
	}
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		if !each(rest[i+1:], isQueryChar) {
			return false
		}
		rest = rest[:i]
	}
	// hier-part: "//" authority path-abempty, or a path that does not
	// start with "//" (path-absolute, path-rootless or path-empty).
	if after, ok := strings.CutPrefix(rest, "//"); ok {
		end := strings.IndexByte(after, '/')
		if end < 0 {
			end = len(after)
		}
		if _, _, _, ok := splitAuthority(after[:end]); !ok {
			return false
		}
		rest = after[end:]
	}
	return each(rest, isPathChar)
}
