package chain

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/atriumid/atrium/internal/fault"
)

// MaxWrappedSignatureLen bounds the ERC-6492 signatures UnwrapERC6492 reads.
// A wrapper holds a factory call that deploys a wallet (typically a few
// hundred bytes) and the wallet's own signature.
const MaxWrappedSignatureLen = 64 << 10

// erc6492Magic ends every ERC-6492 signature: 0x6492 repeated to 32 bytes.
var erc6492Magic = bytes.Repeat([]byte{0x64, 0x92}, 16)

// ErrERC6492Encoding is the cause of the error UnwrapERC6492 returns when the
// bytes before the magic suffix are not abi.encode(address, bytes, bytes).
var ErrERC6492Encoding = errors.New("malformed ERC-6492 wrapper")

// IsERC6492 reports whether sig ends with the 32-byte ERC-6492 magic suffix
// (0x6492…6492): a signature of a smart-contract wallet that may not be
// deployed yet. ERC-6492 requires this check before ERC-1271 or ecrecover.
func IsERC6492(sig []byte) bool {
	return len(sig) >= len(erc6492Magic) && bytes.Equal(sig[len(sig)-len(erc6492Magic):], erc6492Magic)
}

// UnwrapERC6492 splits an ERC-6492 signature into the factory that deploys
// the wallet, the calldata to send it, and the wallet's own signature, by
// decoding the ABI encoding of (address, bytes, bytes) that precedes the
// magic suffix. It checks every offset and length against the input and
// returns copies. The error is fault.Invalid, wrapping ErrERC6492Encoding
// when the encoding is malformed.
func UnwrapERC6492(sig []byte) (factory Address, factoryCalldata, innerSig []byte, err error) {
	const op = "chain.UnwrapERC6492"
	if len(sig) > MaxWrappedSignatureLen {
		return Address{}, nil, nil, fault.E(op, fault.Invalid, "signature longer than %d bytes", MaxWrappedSignatureLen)
	}
	if !IsERC6492(sig) {
		return Address{}, nil, nil, fault.E(op, fault.Invalid, "not an ERC-6492 signature")
	}
	data := sig[:len(sig)-len(erc6492Magic)]
	bad := func() (Address, []byte, []byte, error) {
		return Address{}, nil, nil, &fault.Error{Op: op, Kind: fault.Invalid, Msg: "malformed ERC-6492 signature", Err: ErrERC6492Encoding}
	}
	if len(data) < 3*32 {
		return bad()
	}
	// An address is a word with 12 zero bytes before its 20.
	if !allZero(data[:12]) {
		return bad()
	}
	copy(factory[:], data[12:32])
	factoryCalldata, ok := abiBytes(data, data[32:64])
	if !ok {
		return bad()
	}
	innerSig, ok = abiBytes(data, data[64:96])
	if !ok {
		return bad()
	}
	return factory, factoryCalldata, innerSig, nil
}

// abiBytes decodes the dynamic bytes value whose head word (its offset from
// the start of data) is head. The offset must point past the three head
// words, be a multiple of 32, and the length and content must lie inside
// data. It returns a copy.
func abiBytes(data, head []byte) ([]byte, bool) {
	off, ok := abiWord(head)
	if !ok || off < 3*32 || off%32 != 0 || off > len(data)-32 {
		return nil, false
	}
	n, ok := abiWord(data[off : off+32])
	if !ok || n > len(data)-off-32 {
		return nil, false
	}
	return bytes.Clone(data[off+32 : off+32+n]), true
}

// abiWord reads a 32-byte big-endian unsigned word as an int, reporting
// false when it does not fit in 24 bits (no input that long is read).
func abiWord(w []byte) (int, bool) {
	if !allZero(w[:29]) {
		return 0, false
	}
	return int(w[29])<<16 | int(w[30])<<8 | int(w[31]), true
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// ParseSignature decodes a signature written as "0x" and an even number of
// hexadecimal digits, as wallets return it, up to MaxWrappedSignatureLen
// bytes. It checks only the encoding. The error is fault.Invalid.
func ParseSignature(s string) ([]byte, error) {
	const op = "chain.ParseSignature"
	if len(s) > 2+2*MaxWrappedSignatureLen {
		return nil, fault.E(op, fault.Invalid, "signature longer than %d bytes", MaxWrappedSignatureLen)
	}
	h, ok := strings.CutPrefix(s, "0x")
	if !ok {
		return nil, fault.E(op, fault.Invalid, `signature must be "0x" and hexadecimal digits`)
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return nil, fault.E(op, fault.Invalid, `signature must be "0x" and an even number of hexadecimal digits`)
	}
	return b, nil
}
