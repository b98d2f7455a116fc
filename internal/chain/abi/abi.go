// Package abi encodes and decodes the few Solidity ABI shapes Atrium's
// contract calls use: static words (address, bytes32, uint256 up to 64
// bits) and dynamic bytes and strings, in a tuple as abi.encode lays them
// out. Decoding reads untrusted output of a JSON-RPC endpoint, so every
// offset and length is checked against the data, and no input makes it
// panic.
package abi

import (
	"errors"

	"github.com/atriumid/atrium/internal/chain"
)

// ErrEncoding is returned for data that is not the expected ABI encoding.
var ErrEncoding = errors.New("malformed ABI encoding")

// WordLen is the size of an ABI head word.
const WordLen = 32

// Encode returns the ABI encoding of a tuple, as abi.encode does: one head
// word per value (the value itself, or for []byte, string and []string the
// offset of its tail), then the tails (length, then content padded to a
// multiple of 32 bytes; for []string the count, then the strings encoded as
// a tuple). Values are chain.Address, [32]byte, uint64, []byte, string or
// []string; any other type is a programming error and panics.
func Encode(args ...any) []byte {
	head := make([]byte, 0, WordLen*len(args))
	var tail []byte
	for _, a := range args {
		var w [WordLen]byte
		switch a := a.(type) {
		case chain.Address:
			copy(w[12:], a[:])
		case [32]byte:
			w = a
		case uint64:
			putUint(&w, a)
		case []byte:
			putUint(&w, uint64(WordLen*len(args)+len(tail)))
			tail = appendTail(tail, a)
		case string:
			putUint(&w, uint64(WordLen*len(args)+len(tail)))
			tail = appendTail(tail, []byte(a))
		case []string:
			putUint(&w, uint64(WordLen*len(args)+len(tail)))
			var n [WordLen]byte
			putUint(&n, uint64(len(a)))
			elems := make([]any, len(a))
			for i, s := range a {
				elems[i] = s
			}
			tail = append(append(tail, n[:]...), Encode(elems...)...)
		default:
			panic("abi.Encode: unsupported type") // a bug in the caller, not input
		}
		head = append(head, w[:]...)
	}
	return append(head, tail...)
}

// Call returns the calldata of a call: the 4-byte selector, then Encode of
// the arguments.
func Call(selector [4]byte, args ...any) []byte {
	return append(selector[:], Encode(args...)...)
}

func appendTail(tail, b []byte) []byte {
	var n [WordLen]byte
	putUint(&n, uint64(len(b)))
	tail = append(tail, n[:]...)
	tail = append(tail, b...)
	return append(tail, make([]byte, (WordLen-len(b)%WordLen)%WordLen)...)
}

func putUint(w *[WordLen]byte, n uint64) {
	for i := WordLen - 1; i >= WordLen-8; i-- {
		w[i] = byte(n)
		n >>= 8
	}
}

// Address decodes head word i of data as an address: 12 zero bytes, then
// the 20 address bytes.
func Address(data []byte, i int) (chain.Address, error) {
	w, ok := word(data, i)
	if !ok || !zero(w[:12]) {
		return chain.Address{}, ErrEncoding
	}
	return chain.Address(w[12:]), nil
}

// Bytes decodes the dynamic bytes or string value whose offset is head
// word i of data, and returns a copy. The offset must be a multiple of 32
// and the length and content must lie inside data.
func Bytes(data []byte, i int) ([]byte, error) {
	off, n, err := dynamic(data, i)
	if err != nil || n > len(data)-off-WordLen {
		return nil, ErrEncoding
	}
	return append([]byte(nil), data[off+WordLen:off+WordLen+n]...), nil
}

// dynamic reads head word i of data as the offset of a dynamic value,
// which must be a multiple of 32 with a length word inside data, and
// returns the offset and that length (not yet checked against data).
func dynamic(data []byte, i int) (off, n int, err error) {
	w, ok := word(data, i)
	if !ok {
		return 0, 0, ErrEncoding
	}
	off, ok = small(w)
	if !ok || off%WordLen != 0 || off > len(data)-WordLen {
		return 0, 0, ErrEncoding
	}
	n, ok = small(data[off : off+WordLen])
	if !ok {
		return 0, 0, ErrEncoding
	}
	return off, n, nil
}

// word returns head word i of data.
func word(data []byte, i int) ([]byte, bool) {
	if i < 0 || i >= len(data)/WordLen {
		return nil, false
	}
	return data[i*WordLen : (i+1)*WordLen], true
}

// small reads a word as an int, reporting false when it does not fit in 31
// bits (no data that long is ever read).
func small(w []byte) (int, bool) {
	if !zero(w[:28]) || w[28]&0x80 != 0 {
		return 0, false
	}
	return int(w[28])<<24 | int(w[29])<<16 | int(w[30])<<8 | int(w[31]), true
}

func zero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Strings decodes the dynamic string[] whose offset is head word i of
// data, refusing more than max elements.
func Strings(data []byte, i, max int) ([]string, error) {
	off, n, err := dynamic(data, i)
	if err != nil || n > max {
		return nil, ErrEncoding
	}
	elems := data[off+WordLen:] // element offsets count from here
	out := make([]string, 0, n)
	for j := range n {
		b, err := Bytes(elems, j)
		if err != nil {
			return nil, err
		}
		out = append(out, string(b))
	}
	return out, nil
}

// Bytes4 decodes head word i of data as a bytes4 value: 4 bytes, then 28
// zero bytes.
func Bytes4(data []byte, i int) ([4]byte, error) {
	w, ok := word(data, i)
	if !ok || !zero(w[4:]) {
		return [4]byte{}, ErrEncoding
	}
	return [4]byte(w[:4]), nil
}
