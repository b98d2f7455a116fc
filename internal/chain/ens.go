package chain

import (
	"strings"
	"unicode/utf8"

	"github.com/adraffy/go-ens-normalize/ensip15"

	"github.com/atriumid/atrium/internal/fault"
)

// MaxENSNameLen bounds the names NormalizeENS reads, in bytes. Real names
// are far shorter; the bound leaves room for the longest valid name in the
// ENSIP-15 validation tests (3,920 bytes of emoji sequences).
const MaxENSNameLen = 4096

// NormalizeENS returns the ENSIP-15 normalised form of name ("Nick.ETH" →
// "nick.eth"), the only form that may be hashed, stored or compared. It
// follows ENSIP-15 as of Unicode 16.0.0 (github.com/adraffy/go-ens-normalize
// v0.1.0). The empty name normalises to itself. Names that ENSIP-15 rejects
// (disallowed or confusable characters, bad hyphens, "xn--" labels that
// would decode as Punycode, …), invalid UTF-8, and names over MaxENSNameLen
// give a fault.Invalid error whose public message names no character.
func NormalizeENS(name string) (string, error) {
	const op = "chain.NormalizeENS"
	if len(name) > MaxENSNameLen {
		return "", fault.E(op, fault.Invalid, "ENS name longer than %d bytes", MaxENSNameLen)
	}
	if !utf8.ValidString(name) {
		return "", fault.E(op, fault.Invalid, "ENS name is not valid UTF-8")
	}
	norm, err := ensip15.Shared().Normalize(name)
	if err != nil {
		// The library's message quotes the offending character; keep it
		// as the internal cause only.
		return "", &fault.Error{Op: op, Kind: fault.Invalid, Msg: "not a valid ENS name (ENSIP-15)", Err: err}
	}
	return norm, nil
}

// Namehash returns the EIP-137 node of name: zero for the empty name, else
// Keccak-256 of the parent's node and the Keccak-256 of the first label.
// It hashes name as given, without normalising it: pass it through
// NormalizeENS first, or two spellings of one name hash apart.
func Namehash(name string) [32]byte {
	var node [32]byte
	for name != "" {
		i := strings.LastIndexByte(name, '.')
		label := name[i+1:]
		lh := Keccak256([]byte(label))
		node = Keccak256(node[:], lh[:])
		if i < 0 {
			break
		}
		name = name[:i]
	}
	return node
}

// DNSEncode returns name in DNS wire format, as ENSIP-10 resolve(bytes,
// bytes) and the Universal Resolver take it: each label as a length byte
// and its bytes, then a zero byte; the empty name is a single zero byte.
// Pass a normalised name. Empty labels and labels over 255 bytes cannot be
// encoded; the error is fault.Invalid.
func DNSEncode(name string) ([]byte, error) {
	const op = "chain.DNSEncode"
	if len(name) > MaxENSNameLen {
		return nil, fault.E(op, fault.Invalid, "ENS name longer than %d bytes", MaxENSNameLen)
	}
	out := make([]byte, 0, len(name)+2)
	if name == "" {
		return append(out, 0), nil
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 255 {
			return nil, fault.E(op, fault.Invalid, "ENS name has an empty label or a label over 255 bytes")
		}
		out = append(out, byte(len(label)))
		out = append(out, label...)
	}
	return append(out, 0), nil
}
