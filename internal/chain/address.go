package chain

import (
	"encoding/hex"
	"errors"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/atriumid/atrium/internal/fault"
)

// AddressLen is the length of an Ethereum address in bytes.
const AddressLen = 20

// addressTextLen is the length of an address as text: "0x" and 40 hex digits.
const addressTextLen = 2 + 2*AddressLen

// Address is a 20-byte Ethereum account address. The zero value is the zero
// address, 0x0000…0000.
type Address [AddressLen]byte

// ErrChecksum is the cause of the error that ParseAddress and
// ParseAddressStrict return for an address whose letters do not follow the
// EIP-55 mixed-case checksum. It usually means a typo.
var ErrChecksum = errors.New("EIP-55 checksum mismatch")

// ParseAddress parses "0x" followed by 40 hexadecimal digits. An address in
// mixed case must carry a correct EIP-55 checksum; an address that is all
// lower case or all upper case carries no checksum and is accepted as is.
// Use ParseAddressStrict where the checksum is mandatory. The error is
// fault.Invalid, with ErrChecksum as cause for a checksum mismatch.
func ParseAddress(s string) (Address, error) {
	return parseAddress("chain.ParseAddress", s, false)
}

// ParseAddressStrict parses an address that must be exactly its EIP-55
// checksummed form, as EIP-4361 requires of the address in a Sign-In with
// Ethereum message. The error is fault.Invalid, with ErrChecksum as cause for
// a checksum mismatch.
func ParseAddressStrict(s string) (Address, error) {
	return parseAddress("chain.ParseAddressStrict", s, true)
}

func parseAddress(op, s string, strict bool) (Address, error) {
	var a Address
	if len(s) != addressTextLen || s[0] != '0' || s[1] != 'x' {
		return a, fault.E(op, fault.Invalid, `address must be "0x" and 40 hexadecimal digits`)
	}
	if _, err := hex.Decode(a[:], []byte(s[2:])); err != nil {
		return Address{}, fault.E(op, fault.Invalid, `address must be "0x" and 40 hexadecimal digits`)
	}
	lower, upper := false, false
	for i := 2; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'f':
			lower = true
		case 'A' <= c && c <= 'F':
			upper = true
		}
	}
	if (strict || (lower && upper)) && a.String() != s {
		return Address{}, &fault.Error{Op: op, Kind: fault.Invalid, Msg: "address checksum does not match (EIP-55)", Err: ErrChecksum}
	}
	return a, nil
}

// String returns the address in its EIP-55 mixed-case checksummed form,
// "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed".
func (a Address) String() string {
	var buf [addressTextLen]byte
	buf[0], buf[1] = '0', 'x'
	hex.Encode(buf[2:], a[:])
	// EIP-55: upper-case the i-th hex letter when the i-th nibble of the
	// Keccak-256 of the lower-case hex text is 8 or more.
	h := Keccak256(buf[2:])
	for i := 0; i < 2*AddressLen; i++ {
		c := buf[2+i]
		if c < 'a' {
			continue // a digit has no case
		}
		nibble := h[i/2]
		if i%2 == 0 {
			nibble >>= 4
		}
		if nibble&0x0f >= 8 {
			buf[2+i] = c - 'a' + 'A'
		}
	}
	return string(buf[:])
}

// IsZero reports whether a is the zero address.
func (a Address) IsZero() bool { return a == Address{} }

// MarshalText encodes a in its EIP-55 form.
func (a Address) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText parses text as ParseAddress does.
func (a *Address) UnmarshalText(text []byte) error {
	if len(text) != addressTextLen {
		return fault.E("chain.Address.UnmarshalText", fault.Invalid, `address must be "0x" and 40 hexadecimal digits`)
	}
	v, err := ParseAddress(string(text))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// pubkeyAddress returns the address of a public key: the last 20 bytes of
// the Keccak-256 of its uncompressed encoding without the 0x04 prefix.
func pubkeyAddress(pub *secp256k1.PublicKey) Address {
	h := Keccak256(pub.SerializeUncompressed()[1:])
	var a Address
	copy(a[:], h[32-AddressLen:])
	return a
}
