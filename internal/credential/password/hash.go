// Package password owns memorized secrets: the policy a new password must
// meet (NIST SP 800-63B §5.1.1.2) and the argon2id hashes they are stored
// as.
//
// A password is normalized to NFKC before it is measured, checked or
// hashed, so canonically equivalent spellings verify; it is never truncated
// nor case-folded. Hashes are PHC strings that carry their parameters
// ($argon2id$v=19$m=19456,t=2,p=1$salt$key), so a change of parameters
// applies to new hashes while old ones still verify, and NeedsRehash tells
// when a stored hash should be replaced at the next successful login.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/atriumid/atrium/internal/fault"
	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// Params are argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
}

// OWASP are the parameters of the OWASP Password Storage Cheat Sheet's
// first argon2id configuration: 19 MiB, 2 passes, 1 thread.
var OWASP = Params{Memory: 19 * 1024, Time: 2, Threads: 1}

// Cheap are deliberately weak parameters that make tests fast. They must
// never protect a real password.
var Cheap = Params{Memory: 64, Time: 1, Threads: 1}

const (
	saltBytes = 16 // 128 bits, per credential
	keyBytes  = 32
	// maxEncoded bounds a stored hash string before it is parsed.
	maxEncoded = 256
	// Bounds on parameters read from a stored hash, so a corrupt row cannot
	// make verification allocate without limit.
	maxMemory = 1 << 21 // 2 GiB in KiB
	maxTime   = 64
)

// Validate reports whether p can be used to hash: argon2 needs at least 8
// KiB of memory per thread and one pass.
func (p Params) Validate() error {
	if p.Threads == 0 || p.Time == 0 || p.Time > maxTime || p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory {
		return fault.E("password.Params", fault.Invalid, "argon2id parameters out of range")
	}
	return nil
}

// Normalize returns the NFKC form of pw, the form that is measured, checked
// and hashed.
func Normalize(pw string) string { return norm.NFKC.String(pw) }

// Hash returns the PHC string of pw hashed with p and a fresh random salt.
// The caller checks the policy first: Hash refuses only inputs over
// MaxBytes, so that no caller can make it hash without bound.
func Hash(pw string, p Params) (string, error) {
	const op = "password.Hash"
	if len(pw) > MaxBytes {
		return "", tooLong(op)
	}
	if err := p.Validate(); err != nil {
		return "", err
	}
	salt := make([]byte, saltBytes)
	if _, err := rand.Read(salt); err != nil {
		return "", fault.Wrap(op, fault.Internal, err)
	}
	key := argon2.IDKey([]byte(Normalize(pw)), salt, p.Time, p.Memory, p.Threads, keyBytes)
	return encode(p, salt, key), nil
}

func encode(p Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Decoded is a parsed PHC hash string.
type Decoded struct {
	Params Params
	Salt   []byte
	Key    []byte
}

// Parse parses an argon2id PHC string. It returns fault.Invalid for
// anything else, including parameters out of range.
func Parse(encoded string) (Decoded, error) {
	const op = "password.Parse"
	bad := fault.E(op, fault.Invalid, "not an argon2id hash")
	// The base64 decoder skips line breaks; a stored hash has none.
	if len(encoded) > maxEncoded || strings.ContainsAny(encoded, "\r\n") {
		return Decoded{}, bad
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return Decoded{}, bad
	}
	var d Decoded
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return Decoded{}, bad
	}
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(kv[i], name+"=")
		if !ok || v == "" || (len(v) > 1 && v[0] == '0') {
			return Decoded{}, bad
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return Decoded{}, bad
		}
		switch name {
		case "m":
			d.Params.Memory = uint32(n)
		case "t":
			d.Params.Time = uint32(n)
		case "p":
			if n > 255 {
				return Decoded{}, bad
			}
			d.Params.Threads = uint8(n)
		}
	}
	if d.Params.Validate() != nil {
		return Decoded{}, bad
	}
	var err error
	if d.Salt, err = base64.RawStdEncoding.Strict().DecodeString(parts[4]); err != nil || len(d.Salt) < 8 {
		return Decoded{}, bad
	}
	if d.Key, err = base64.RawStdEncoding.Strict().DecodeString(parts[5]); err != nil || len(d.Key) < 16 || len(d.Key) > 64 {
		return Decoded{}, bad
	}
	return d, nil
}

// Verify reports whether pw matches the stored hash encoded. The whole
// password is compared (after NFKC), in constant time. An imported hash
// of another algorithm (see Algorithm) is verified as that algorithm does. It returns
// fault.Invalid for a malformed hash and for a password over MaxBytes,
// which is refused before any hashing.
func Verify(pw, encoded string) (bool, error) {
	const op = "password.Verify"
	if len(pw) > MaxBytes {
		return false, tooLong(op)
	}
	d, err := Parse(encoded)
	if err != nil {
		l, lerr := parseLegacy(encoded)
		if lerr != nil {
			return false, err
		}
		return l.verify(pw), nil
	}
	key := argon2.IDKey([]byte(Normalize(pw)), d.Salt, d.Params.Time, d.Params.Memory, d.Params.Threads, uint32(len(d.Key)))
	return subtle.ConstantTimeCompare(key, d.Key) == 1, nil
}

// NeedsRehash reports whether the stored hash was made with parameters
// other than p, so it should be replaced after the next successful
// verification.
func NeedsRehash(encoded string, p Params) bool {
	d, err := Parse(encoded)
	return err != nil || d.Params != p || len(d.Salt) != saltBytes || len(d.Key) != keyBytes
}

// Dummy returns a hash made with p of a random password, for verifying
// against when an identifier is unknown, so that a login for an unknown
// account costs the same time as one for a wrong password.
func Dummy(p Params) (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fault.Wrap("password.Dummy", fault.Internal, err)
	}
	return Hash(base64.RawStdEncoding.EncodeToString(b), p)
}
