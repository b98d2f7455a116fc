package siwe

import (
	"strconv"

	"github.com/atriumid/atrium/internal/fault"
)

// Validate checks every term of m against the ERC-4361 ABNF and the limits
// of this package, as Parse does for text. Use it on a Message built from
// fields before serialising it. The error is fault.Invalid, listing every
// violation.
func (m *Message) Validate() error {
	var vs []fault.Violation
	bad := func(field, reason string) { vs = append(vs, fault.Violation{Field: field, Reason: reason}) }
	if m.Scheme != "" && !validScheme(m.Scheme) {
		bad("scheme", "must be an RFC 3986 scheme")
	}
	if len(m.Scheme)+len("://")+len(m.Domain) > MaxDomainLen {
		bad("domain", "is too long")
	} else if !validDomain(m.Domain) {
		bad("domain", "must be an RFC 3986 authority with a host")
	}
	if m.Address.IsZero() {
		bad("address", "is required")
	}
	if len(m.Statement) > MaxStatementLen {
		bad("statement", "is too long")
	} else if !validStatement(m.Statement) {
		bad("statement", "must be one line of the characters EIP-4361 allows")
	}
	checkURI := func(field, u string) {
		if len(u) > MaxURILen {
			bad(field, "is too long")
		} else if !validURI(u) {
			bad(field, "must be an RFC 3986 URI")
		}
	}
	checkURI("uri", m.URI)
	if m.Version != Version {
		bad("version", "must be 1")
	}
	if m.ChainID == 0 {
		bad("chainId", "must be a positive EIP-155 chain ID")
	}
	if len(m.Nonce) < MinNonceLen || len(m.Nonce) > MaxNonceLen || !alphanumeric(m.Nonce) {
		bad("nonce", "must be "+strconv.Itoa(MinNonceLen)+" to "+strconv.Itoa(MaxNonceLen)+" letters or digits")
	}
	if m.IssuedAt.IsZero() || !m.IssuedAt.valid() {
		bad("issuedAt", "must be an RFC 3339 date-time")
	}
	if !m.ExpirationTime.IsZero() && !m.ExpirationTime.valid() {
		bad("expirationTime", "must be an RFC 3339 date-time")
	}
	if !m.NotBefore.IsZero() && !m.NotBefore.valid() {
		bad("notBefore", "must be an RFC 3339 date-time")
	}
	if len(m.RequestID) > MaxRequestIDLen {
		bad("requestId", "is too long")
	} else if !validRequestID(m.RequestID) {
		bad("requestId", "must be RFC 3986 path characters")
	}
	if len(m.Resources) > MaxResources {
		bad("resources", "too many resources")
	} else {
		for i, r := range m.Resources {
			checkURI("resources["+strconv.Itoa(i)+"]", r)
		}
	}
	if len(vs) == 0 && len(m.String()) > MaxMessageLen {
		bad("message", "is longer than "+strconv.Itoa(MaxMessageLen)+" bytes")
	}
	if len(vs) > 0 {
		return fault.Invalidf("siwe.Message.Validate", vs, "invalid sign-in message: %s %s", vs[0].Field, vs[0].Reason)
	}
	return nil
}

func alphanumeric(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlpha(c) && !isDigit(c) {
			return false
		}
	}
	return true
}

func itoa(n int) string { return strconv.Itoa(n) }
