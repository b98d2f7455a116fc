package chain

import (
	"strconv"
	"strings"

	"github.com/atriumid/atrium/internal/fault"
)

// MaxAccountIDLen is the longest text ParseAccountID reads: "eip155:", a
// chain ID of at most 20 digits (the largest uint64), ":" and a 42-character
// address. Longer input is rejected before it is looked at.
const MaxAccountIDLen = len("eip155:") + 20 + 1 + addressTextLen

// namespace is the only CAIP-2 namespace Atrium knows: EVM chains, whose
// reference is the EIP-155 chain ID in decimal.
const namespace = "eip155"

// AccountID is a CAIP-10 account ID in the eip155 namespace: an address on
// one EVM chain, such as "eip155:1:0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B".
type AccountID struct {
	ChainID uint64 // the EIP-155 chain ID; never 0 in a parsed AccountID
	Address Address
}

// ParseAccountID parses a CAIP-10 account ID "eip155:<chain>:<address>".
// The chain ID is decimal, positive and without leading zeros; the address
// follows ParseAddress (EIP-55 checksum checked when mixed case). Other
// namespaces are rejected. The error is fault.Invalid.
func ParseAccountID(s string) (AccountID, error) {
	const op = "chain.ParseAccountID"
	if len(s) > MaxAccountIDLen {
		return AccountID{}, fault.E(op, fault.Invalid, "account ID longer than %d bytes", MaxAccountIDLen)
	}
	ns, rest, ok := strings.Cut(s, ":")
	if !ok {
		return AccountID{}, fault.E(op, fault.Invalid, `account ID must be "eip155:<chain ID>:<address>"`)
	}
	if ns != namespace {
		return AccountID{}, fault.E(op, fault.Invalid, `account ID namespace must be "eip155"`)
	}
	ref, addr, ok := strings.Cut(rest, ":")
	if !ok {
		return AccountID{}, fault.E(op, fault.Invalid, `account ID must be "eip155:<chain ID>:<address>"`)
	}
	id, err := ParseChainID(ref)
	if err != nil {
		return AccountID{}, fault.Wrap(op, fault.Invalid, err)
	}
	a, err := ParseAddress(addr)
	if err != nil {
		return AccountID{}, fault.Wrap(op, fault.Invalid, err)
	}
	return AccountID{ChainID: id, Address: a}, nil
}

// ParseChainID parses an EIP-155 chain ID written in decimal: positive, at
// most 2^64-1, with no sign, no leading zero and nothing else, so that each
// chain ID has exactly one text. The error is fault.Invalid.
func ParseChainID(s string) (uint64, error) {
	const op = "chain.ParseChainID"
	if s == "" || len(s) > 20 || s[0] == '0' {
		return 0, fault.E(op, fault.Invalid, "chain ID must be a positive decimal number without leading zeros")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fault.E(op, fault.Invalid, "chain ID must be a positive decimal number without leading zeros")
		}
	}
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fault.E(op, fault.Invalid, "chain ID does not fit in 64 bits")
	}
	return id, nil
}

// String returns the canonical CAIP-10 text, with the address in EIP-55
// form: "eip155:1:0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B".
func (a AccountID) String() string {
	return namespace + ":" + strconv.FormatUint(a.ChainID, 10) + ":" + a.Address.String()
}

// Control says how control of an address was proven, which decides whether
// the wallet is the same on every chain (see the package documentation).
type Control uint8

// The ways to prove control of an address.
const (
	// KeyControl is proof by an ECDSA signature that recovers to the
	// address (EIP-191, as RecoverPersonal checks): it holds on every chain.
	KeyControl Control = iota + 1
	// ContractControl is proof by the code at the address (ERC-1271,
	// ERC-6492) on one chain: it holds on that chain only.
	ContractControl
)

// Key returns the text that identifies the wallet for uniqueness, given how
// control of it was proven: "eip155:0:<EIP-55 address>" for KeyControl,
// whatever the chain, and the canonical account ID a.String() for
// ContractControl (or any other value, failing safe to the narrower scope).
func (a AccountID) Key(c Control) string {
	if c == KeyControl {
		return namespace + ":0:" + a.Address.String()
	}
	return a.String()
}

// MarshalText encodes a as its canonical CAIP-10 text.
func (a AccountID) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText parses text as ParseAccountID does.
func (a *AccountID) UnmarshalText(text []byte) error {
	if len(text) > MaxAccountIDLen {
		return fault.E("chain.AccountID.UnmarshalText", fault.Invalid, "account ID longer than %d bytes", MaxAccountIDLen)
	}
	v, err := ParseAccountID(string(text))
	if err != nil {
		return err
	}
	*a = v
	return nil
}
