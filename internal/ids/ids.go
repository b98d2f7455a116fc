// Package ids makes and parses Atrium's identifiers: a short type prefix, an
// underscore and 26 characters of Crockford base32 that encode a UUIDv7, for
// example "org_01JD3QZ8M6X4T5W2K9B7C1D0EF".
//
// IDs sort by creation time (to the millisecond, then randomly), read well in
// logs, and say what they name. The prefix comes from the kinds document, so
// the package knows no prefixes itself.
package ids

import (
	"errors"
	"strings"

	"github.com/google/uuid"
)

// MaxPrefixLen is the longest ID prefix accepted.
const MaxPrefixLen = 16

const (
	encodedLen = 26
	alphabet   = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
)

var decodeMap = func() [256]byte {
	var m [256]byte
	for i := range m {
		m[i] = 0xFF
	}
	for i := 0; i < len(alphabet); i++ {
		m[alphabet[i]] = byte(i)
		m[strings.ToLower(alphabet)[i]] = byte(i)
	}
	return m
}()

// ErrMalformed is returned by Parse for text that is not an ID.
var ErrMalformed = errors.New("malformed id")

// New returns a new time-ordered ID with the given prefix. The prefix must
// satisfy ValidPrefix; New panics otherwise, since prefixes come from a
// validated kinds document.
func New(prefix string) string {
	if !ValidPrefix(prefix) {
		panic("ids: invalid prefix " + prefix)
	}
	u := uuid.Must(uuid.NewV7())
	return prefix + "_" + encode(u)
}

// ValidPrefix reports whether p may prefix IDs: 1 to MaxPrefixLen lower-case
// ASCII letters or digits, starting with a letter.
func ValidPrefix(p string) bool {
	if len(p) == 0 || len(p) > MaxPrefixLen || p[0] < 'a' || p[0] > 'z' {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// Parse splits id into its prefix and checks the encoded part. The returned
// ID is canonical (upper-case body); Parse accepts a lower-case body.
func Parse(id string) (prefix, canonical string, err error) {
	i := strings.LastIndexByte(id, '_')
	if i <= 0 || !ValidPrefix(id[:i]) || len(id)-i-1 != encodedLen {
		return "", "", ErrMalformed
	}
	body := id[i+1:]
	if decodeMap[body[0]] > 7 { // 130 bits encode 128: the first symbol holds 3 bits
		return "", "", ErrMalformed
	}
	for j := 0; j < len(body); j++ {
		if decodeMap[body[j]] == 0xFF {
			return "", "", ErrMalformed
		}
	}
	return id[:i], id[:i+1] + strings.ToUpper(body), nil
}

// encode writes the 128 bits of u as 26 base32 symbols, most significant
// first, so that the text sorts like the bytes.
func encode(u uuid.UUID) string {
	var out [encodedLen]byte
	// Treat u as a 130-bit number with two leading zero bits.
	var acc uint64
	bits := 2 // the two padding bits come first
	n := 0
	for _, b := range u {
		acc = acc<<8 | uint64(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			out[n] = alphabet[(acc>>uint(bits))&31]
			n++
		}
	}
	return string(out[:n])
}
