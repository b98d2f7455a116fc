// Package siwe reads, writes and verifies Sign-In with Ethereum messages
// (EIP-4361) for a relying party.
//
// Parse accepts exactly the ERC-4361 ABNF, with size limits on the message
// and on each term, and returns a Message whose String is the parsed text
// byte for byte, so the signature is always checked over what the wallet
// signed. Verify is the one way to accept a message: it checks the message
// against a Policy whose values the relying party must supply (origin,
// chains, the nonce it issued), the clock, and the EOA signature.
//
// Smart-contract wallets (ERC-1271, ERC-6492) need chain state and are not
// verified here: Verify reports ErrNotEOASignature, after every other check
// has passed, so that a caller with a chain client can try them next.
package siwe

import (
	"strconv"
	"strings"

	"github.com/atriumid/atrium/internal/chain"
)

// Limits on a message and its terms. EIP-4361 sets none and asks
// implementers to choose them; these leave room for any real sign-in
// request while bounding the work an attacker can cause.
const (
	MaxMessageLen   = 16 << 10 // the whole message, in bytes
	MaxDomainLen    = 255      // scheme "://" and domain together
	MaxStatementLen = 2048
	MaxURILen       = 2048 // the URI and each resource
	MinNonceLen     = 8    // from the ABNF
	MaxNonceLen     = 128
	MaxRequestIDLen = 512
	MaxResources    = 64
	maxTimestampLen = 64 // date-time with a long fraction of a second
)

// Version is the only message version EIP-4361 defines.
const Version = "1"

// The fixed text of a message, from the ABNF.
const (
	preamble       = " wants you to sign in with your Ethereum account:"
	tagURI         = "URI: "
	tagVersion     = "Version: "
	tagChainID     = "Chain ID: "
	tagNonce       = "Nonce: "
	tagIssuedAt    = "Issued At: "
	tagExpiration  = "Expiration Time: "
	tagNotBefore   = "Not Before: "
	tagRequestID   = "Request ID: "
	tagResources   = "Resources:"
	resourcePrefix = "- "
)

// Message is a Sign-In with Ethereum message. Optional terms are absent when
// they hold their zero value. The zero value is not a valid message; build
// one with Parse, or fill the fields and call Validate.
//
// A present optional term is never empty: the ABNF allows an empty statement
// line, an empty Request ID and a Resources line with no resources, but no
// serialiser emits them and Parse rejects them, so that every message has
// one text.
type Message struct {
	Scheme         string        // optional URI scheme before the domain, such as "https"
	Domain         string        // RFC 3986 authority requesting the sign-in
	Address        chain.Address // the signer; written in EIP-55 form
	Statement      string        // optional; printable ASCII from the ABNF's set, no line break
	URI            string        // RFC 3986 URI that is the subject of the sign-in
	Version        string        // always "1"
	ChainID        uint64        // EIP-155 chain ID, positive
	Nonce          string        // at least 8 ASCII letters or digits
	IssuedAt       Timestamp
	ExpirationTime Timestamp // optional
	NotBefore      Timestamp // optional
	RequestID      string    // optional; RFC 3986 pchar characters
	Resources      []string  // optional; RFC 3986 URIs
}

// String serialises m in the EIP-4361 format. For a message from Parse it
// returns the parsed text byte for byte; that text is what the wallet signed.
func (m *Message) String() string {
	var b strings.Builder
	if m.Scheme != "" {
		b.WriteString(m.Scheme)
		b.WriteString("://")
	}
	b.WriteString(m.Domain)
	b.WriteString(preamble + "\n")
	b.WriteString(m.Address.String())
	b.WriteString("\n\n")
	if m.Statement != "" {
		b.WriteString(m.Statement)
		b.WriteString("\n")
	}
	b.WriteString("\n" + tagURI)
	b.WriteString(m.URI)
	b.WriteString("\n" + tagVersion)
	b.WriteString(m.Version)
	b.WriteString("\n" + tagChainID)
	b.WriteString(strconv.FormatUint(m.ChainID, 10))
	b.WriteString("\n" + tagNonce)
	b.WriteString(m.Nonce)
	b.WriteString("\n" + tagIssuedAt)
	b.WriteString(m.IssuedAt.String())
	if !m.ExpirationTime.IsZero() {
		b.WriteString("\n" + tagExpiration)
		b.WriteString(m.ExpirationTime.String())
	}
	if !m.NotBefore.IsZero() {
		b.WriteString("\n" + tagNotBefore)
		b.WriteString(m.NotBefore.String())
	}
	if m.RequestID != "" {
		b.WriteString("\n" + tagRequestID)
		b.WriteString(m.RequestID)
	}
	if len(m.Resources) > 0 {
		b.WriteString("\n" + tagResources)
		for _, r := range m.Resources {
			b.WriteString("\n" + resourcePrefix)
			b.WriteString(r)
		}
	}
	return b.String()
}
