package siwe

import (
	"strings"

	"github.com/atriumid/atrium/internal/chain"
	"github.com/atriumid/atrium/internal/fault"
)

// Parse reads an EIP-4361 message. It accepts exactly the ERC-4361 ABNF:
// the terms in their order, lines separated by LF alone, nothing after the
// last term, printable ASCII only, an EIP-55 checksummed address, version 1,
// a nonce of at least 8 letters or digits, RFC 3339 times and RFC 3986 URIs,
// within the size limits of this package; and it rejects the empty optional
// terms described on Message. For the returned message m, m.String() == text.
// The error is fault.Invalid, with a violation naming the offending term.
func Parse(text string) (*Message, error) {
	const op = "siwe.Parse"
	if len(text) > MaxMessageLen {
		return nil, invalid(op, "message", "message is longer than "+itoa(MaxMessageLen)+" bytes")
	}
	for i := 0; i < len(text); i++ {
		if c := text[i]; (c < 0x20 || c > 0x7e) && c != '\n' {
			return nil, invalid(op, "message", "only printable ASCII and LF line breaks are allowed")
		}
	}
	p := parser{lines: strings.Split(text, "\n")}
	m, err := p.message()
	if err != nil {
		return nil, fault.Wrap(op, fault.Invalid, err)
	}
	if err := m.Validate(); err != nil {
		return nil, fault.Wrap(op, fault.Invalid, err)
	}
	if m.String() != text {
		// Every term is read from its own text, so this means a form that
		// serialises differently slipped through; refuse it rather than
		// verify a signature over other bytes.
		return nil, invalid(op, "message", "message is not in canonical form")
	}
	return m, nil
}

// parser walks the lines of a message in the order the ABNF fixes.
type parser struct {
	lines []string
	n     int // index of the next line
}

// next returns the next line, or "" and false at the end.
func (p *parser) next() (string, bool) {
	if p.n >= len(p.lines) {
		return "", false
	}
	p.n++
	return p.lines[p.n-1], true
}

// tagged reads the next line, which must be tag followed by a value.
func (p *parser) tagged(tag, field string) (string, error) {
	line, ok := p.next()
	if !ok {
		return "", invalid("siwe.Parse", field, "missing "+strings.TrimSuffix(tag, ": "))
	}
	v, ok := strings.CutPrefix(line, tag)
	if !ok {
		return "", invalid("siwe.Parse", field, "expected "+strings.TrimSuffix(tag, ": ")+" on line "+itoa(p.n))
	}
	return v, nil
}

// optional reads the next line if it starts with tag.
func (p *parser) optional(tag string) (string, bool) {
	if p.n < len(p.lines) {
		if v, ok := strings.CutPrefix(p.lines[p.n], tag); ok {
			p.n++
			return v, true
		}
	}
	return "", false
}

func (p *parser) message() (*Message, error) {
	const op = "siwe.Parse"
	m := &Message{}
	first, _ := p.next()
	origin, ok := strings.CutSuffix(first, preamble)
	if !ok {
		return nil, invalid(op, "domain", "first line must end with \""+preamble+"\"")
	}
	if len(origin) > MaxDomainLen {
		return nil, invalid(op, "domain", "domain is too long")
	}
	if scheme, domain, ok := strings.Cut(origin, "://"); ok {
		m.Scheme, m.Domain = scheme, domain
	} else {
		m.Domain = origin
	}
	addr, _ := p.next()
	a, err := chain.ParseAddressStrict(addr)
	if err != nil {
		return nil, fault.Invalidf(op, []fault.Violation{{Field: "address", Reason: "must be an EIP-55 checksummed address"}}, "invalid sign-in message")
	}
	m.Address = a
	if blank, _ := p.next(); blank != "" {
		return nil, invalid(op, "statement", "expected an empty line after the address")
	}
	// [ statement LF ] LF: a non-empty line is the statement, and an empty
	// line must follow it. An empty statement is rejected (see Message).
	line, _ := p.next()
	if line != "" {
		m.Statement = line
		if blank, _ := p.next(); blank != "" {
			return nil, invalid(op, "statement", "statement must be one line followed by an empty line")
		}
	}
	if m.URI, err = p.tagged(tagURI, "uri"); err != nil {
		return nil, err
	}
	if m.Version, err = p.tagged(tagVersion, "version"); err != nil {
		return nil, err
	}
	id, err := p.tagged(tagChainID, "chainId")
	if err != nil {
		return nil, err
	}
	if m.ChainID, err = chain.ParseChainID(id); err != nil {
		return nil, invalid(op, "chainId", "chain ID must be a positive decimal number without leading zeros")
	}
	if m.Nonce, err = p.tagged(tagNonce, "nonce"); err != nil {
		return nil, err
	}
	issued, err := p.tagged(tagIssuedAt, "issuedAt")
	if err != nil {
		return nil, err
	}
	if m.IssuedAt, err = parseTime(issued, "issuedAt"); err != nil {
		return nil, err
	}
	if v, ok := p.optional(tagExpiration); ok {
		if m.ExpirationTime, err = parseTime(v, "expirationTime"); err != nil {
			return nil, err
		}
	}
	if v, ok := p.optional(tagNotBefore); ok {
		if m.NotBefore, err = parseTime(v, "notBefore"); err != nil {
			return nil, err
		}
	}
	if v, ok := p.optional(tagRequestID); ok {
		if v == "" {
			return nil, invalid(op, "requestId", "request ID is present but empty")
		}
		m.RequestID = v
	}
	if p.n < len(p.lines) && p.lines[p.n] == tagResources {
		p.n++
		for p.n < len(p.lines) {
			r, ok := strings.CutPrefix(p.lines[p.n], resourcePrefix)
			if !ok {
				return nil, invalid(op, "resources", "each resource must be on its own line after \"- \"")
			}
			if len(m.Resources) == MaxResources {
				return nil, invalid(op, "resources", "too many resources")
			}
			m.Resources = append(m.Resources, r)
			p.n++
		}
		if len(m.Resources) == 0 {
			return nil, invalid(op, "resources", "resources line is present but lists none")
		}
	}
	if p.n < len(p.lines) {
		return nil, invalid(op, "message", "unexpected text on line "+itoa(p.n+1))
	}
	return m, nil
}

func parseTime(s, field string) (Timestamp, error) {
	ts, err := ParseTimestamp(s)
	if err != nil {
		return Timestamp{}, invalid("siwe.Parse", field, "must be an RFC 3339 date-time")
	}
	return ts, nil
}

// invalid returns a fault.Invalid error with one violation. Reasons name
// the term and the rule, never the content of the message.
func invalid(op, field, reason string) error {
	return fault.Invalidf(op, []fault.Violation{{Field: field, Reason: reason}}, "invalid sign-in message: %s", reason)
}
