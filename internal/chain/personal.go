package chain

import (
	"errors"
	"strconv"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"

	"github.com/atriumid/atrium/internal/fault"
)

// Errors that RecoverPersonal and Recover wrap, each inside a fault.Invalid
// error, so that callers can tell a malformed signature from a malleable one.
var (
	// ErrSignatureFormat: the signature is not 65 bytes with v in
	// {0, 1, 27, 28}, nor 64 bytes (EIP-2098).
	ErrSignatureFormat = errors.New("signature must be 65 bytes (r, s, v) or 64 bytes (EIP-2098)")
	// ErrSignatureRange: r or s is 0 or not below the curve order, or no
	// public key recovers from it.
	ErrSignatureRange = errors.New("signature values out of range")
	// ErrSignatureHighS: s is above half the curve order. Every ECDSA
	// signature has such a malleated twin that ecrecover accepts; EIP-2
	// rejects it so that each signature has one form only.
	ErrSignatureHighS = errors.New("signature s is not in the lower half of the curve order (EIP-2)")
)

// personalPrefix starts every EIP-191 version 0x45 ("E") signed message.
const personalPrefix = "\x19Ethereum Signed Message:\n"

// PersonalMessageHash returns the EIP-191 (personal_sign) digest of msg:
// Keccak-256 of "\x19Ethereum Signed Message:\n", the length of msg in bytes
// as decimal text, and msg. Callers bound the size of msg.
func PersonalMessageHash(msg []byte) [32]byte {
	return Keccak256([]byte(personalPrefix), strconv.AppendInt(nil, int64(len(msg)), 10), msg)
}

// RecoverPersonal returns the address whose key made sig over the EIP-191
// digest of msg (see PersonalMessageHash). It accepts the 65-byte r‖s‖v form
// with v in {27, 28} or {0, 1} and the 64-byte EIP-2098 compact form, and
// rejects high s (EIP-2), r or s equal to 0 or not below the curve order, and
// any other length. The error is fault.Invalid wrapping ErrSignatureFormat,
// ErrSignatureRange or ErrSignatureHighS.
//
// A signature recovers to some address whenever it is well-formed; the caller
// must compare the result with the address it expects.
func RecoverPersonal(msg, sig []byte) (Address, error) {
	a, err := Recover(PersonalMessageHash(msg), sig)
	return a, fault.Wrap("chain.RecoverPersonal", fault.Invalid, err)
}

// Recover returns the address whose key made sig over digest, with the
// signature forms and rules of RecoverPersonal.
func Recover(digest [32]byte, sig []byte) (Address, error) {
	const op = "chain.Recover"
	var r, s [32]byte
	var parity byte
	switch len(sig) {
	case 65:
		copy(r[:], sig[:32])
		copy(s[:], sig[32:64])
		switch v := sig[64]; v {
		case 0, 1:
			parity = v
		case 27, 28:
			parity = v - 27
		default:
			return Address{}, sigError(op, ErrSignatureFormat)
		}
	case 64:
		// EIP-2098: the y parity is the top bit of s, which is free because
		// a low s is below 2^255.
		copy(r[:], sig[:32])
		copy(s[:], sig[32:])
		parity = s[0] >> 7
		s[0] &= 0x7f
	default:
		return Address{}, sigError(op, ErrSignatureFormat)
	}
	var rs, ss secp256k1.ModNScalar
	if rs.SetBytes(&r) != 0 || ss.SetBytes(&s) != 0 || rs.IsZero() || ss.IsZero() {
		return Address{}, sigError(op, ErrSignatureRange)
	}
	if ss.IsOverHalfOrder() {
		return Address{}, sigError(op, ErrSignatureHighS)
	}
	// ecdsa.RecoverCompact reads a recovery code of 27 + parity (for an
	// uncompressed key) before r and s. Ethereum never uses the codes for
	// an x coordinate above the curve order, so parity is 0 or 1.
	var compact [65]byte
	compact[0] = 27 + parity
	copy(compact[1:33], r[:])
	copy(compact[33:], s[:])
	pub, _, err := ecdsa.RecoverCompact(compact[:], digest[:])
	if err != nil {
		return Address{}, &fault.Error{Op: op, Kind: fault.Invalid, Msg: "invalid signature", Err: errors.Join(ErrSignatureRange, err)}
	}
	return pubkeyAddress(pub), nil
}

func sigError(op string, cause error) error {
	return &fault.Error{Op: op, Kind: fault.Invalid, Msg: "invalid signature", Err: cause}
}
