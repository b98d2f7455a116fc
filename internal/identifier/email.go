package identifier

import (
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Limits of an e-mail address (RFC 5321 §4.5.3.1, with the 254-byte path
// limit of its erratum 1690).
const (
	maxEmail  = 254
	maxLocal  = 64
	maxDomain = 253
	maxLabel  = 63
)

// email applies the e-mail rules to a cleaned value.
func email(s string) (string, string) {
	s = norm.NFKC.String(s)
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return "", "must contain an @"
	}
	local, reason := emailLocal(s[:at])
	if reason != "" {
		return "", reason
	}
	domain, reason := emailDomain(s[at+1:])
	if reason != "" {
		return "", reason
	}
	addr := local + "@" + domain
	if len(addr) > maxEmail {
		return "", "is longer than 254 bytes"
	}
	return addr, ""
}

// emailLocal folds the case of a local part and checks that it is an ASCII
// dot-atom.
func emailLocal(local string) (string, string) {
	if local == "" {
		return "", "has an empty local part"
	}
	if local[0] == '"' {
		return "", "has a quoted local part, which is not accepted"
	}
	if strings.ContainsAny(local, "()") {
		return "", "has a comment, which is not accepted"
	}
	local = norm.NFKC.String(fold(local))
	if len(local) > maxLocal {
		return "", "has a local part longer than 64 bytes"
	}
	prev := byte('.')
	for i := 0; i < len(local); i++ {
		c := local[i]
		switch {
		case c == '.' && prev == '.':
			return "", "has a local part with a leading or doubled dot"
		case c >= 0x80:
			return "", "has a local part with a character outside ASCII"
		case c != '.' && !isAtext(c):
			return "", "has a local part with a character that is not allowed"
		}
		prev = c
	}
	if prev == '.' {
		return "", "has a local part that ends with a dot"
	}
	return local, ""
}

// isAtext reports whether c is an RFC 5322 atext character.
func isAtext(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// emailDomain converts a domain to its lower-case ASCII form and checks its
// shape.
func emailDomain(domain string) (string, string) {
	if domain == "" {
		return "", "has an empty domain"
	}
	if domain[0] == '[' {
		return "", "has an address literal for a domain, which is not accepted"
	}
	a, err := idna.Lookup.ToASCII(domain)
	if err != nil {
		return "", "has a domain that is not a valid domain name"
	}
	a = strings.ToLower(a)
	if len(a) > maxDomain {
		return "", "has a domain longer than 253 bytes"
	}
	labels := strings.Split(a, ".")
	if len(labels) < 2 {
		return "", "has a domain without a dot"
	}
	for _, l := range labels {
		if reason := dnsLabel(l); reason != "" {
			return "", reason
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return "", "has a top-level domain of digits only"
	}
	return a, ""
}

// dnsLabel checks one ASCII label: 1 to 63 letters, digits and inner
// hyphens. The IDNA profile already checks most of this; checking again keeps
// the rule independent of the profile's configuration, which may change.
func dnsLabel(l string) string {
	if l == "" {
		return "has a domain with an empty label"
	}
	if len(l) > maxLabel {
		return "has a domain label longer than 63 bytes"
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return "has a domain label that starts or ends with a hyphen"
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return "has a domain label with a character that is not allowed"
		}
	}
	return ""
}

// fold applies full Unicode case folding. A Caser keeps state, so each call
// makes its own.
func fold(s string) string { return cases.Fold().String(s) }
