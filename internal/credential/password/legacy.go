package password

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/scrypt"

	"github.com/atriumid/atrium/internal/fault"
)

// Algorithms of imported hashes. A stored hash of any of them verifies,
// and is replaced by an argon2id hash at the next successful login.
const (
	AlgArgon2id     = "argon2id"
	AlgArgon2i      = "argon2i"
	AlgBcrypt       = "bcrypt"
	AlgScrypt       = "scrypt"
	AlgPBKDF2SHA256 = "pbkdf2-sha256"
)

// Bounds on the cost of imported hashes, so that a hash supplied to an
// import cannot make a login compute without limit.
const (
	maxBcryptCost  = 16
	maxScryptLogN  = 20
	maxScryptRP    = 64
	maxPBKDF2Iters = 10_000_000
)

// legacy is a parsed hash of another algorithm than argon2id.
type legacy struct {
	alg     string
	bcrypt  []byte // the whole modular-crypt string
	salt    []byte
	key     []byte
	iter    int    // pbkdf2 iterations
	logN    int    // scrypt
	r, p    int    // scrypt
	argon2i Params // argon2i
}

// Algorithm returns the algorithm of a stored or imported hash string, or
// fault.Invalid when it is not one Verify accepts (malformed, or costs out
// of bounds). It accepts argon2id and argon2i PHC strings, bcrypt ($2a$,
// $2b$, $2y$), scrypt in PHC form ($scrypt$ln=…,r=…,p=…$salt$key), and
// PBKDF2-SHA256 as passlib ($pbkdf2-sha256$rounds$salt$key) and Django
// (pbkdf2_sha256$iterations$salt$key) write it.
func Algorithm(encoded string) (string, error) {
	if _, err := Parse(encoded); err == nil {
		return AlgArgon2id, nil
	}
	l, err := parseLegacy(encoded)
	return l.alg, err
}

func parseLegacy(encoded string) (legacy, error) {
	bad := fault.E("password.Parse", fault.Invalid, "not a supported password hash")
	if len(encoded) > maxEncoded || strings.ContainsAny(encoded, "\r\n\x00") {
		return legacy{}, bad
	}
	parts := strings.Split(encoded, "$")
	switch {
	case len(parts) == 4 && parts[0] == "" && (parts[1] == "2a" || parts[1] == "2b" || parts[1] == "2y"):
		cost, err := bcrypt.Cost([]byte(encoded))
		if err != nil || cost > maxBcryptCost || len(encoded) != 60 {
			return legacy{}, bad
		}
		return legacy{alg: AlgBcrypt, bcrypt: []byte(encoded)}, nil
	case len(parts) == 6 && parts[0] == "" && parts[1] == "argon2i" && parts[2] == "v="+strconv.Itoa(argon2.Version):
		// The argon2id parser reads the same fields.
		d, err := Parse("$argon2id$" + strings.Join(parts[2:], "$"))
		if err != nil {
			return legacy{}, bad
		}
		return legacy{alg: AlgArgon2i, argon2i: d.Params, salt: d.Salt, key: d.Key}, nil
	case len(parts) == 5 && parts[0] == "" && parts[1] == "scrypt":
		l := legacy{alg: AlgScrypt}
		for i, kv := range strings.Split(parts[2], ",") {
			name, v, ok := strings.Cut(kv, "=")
			n, err := strconv.Atoi(v)
			if !ok || err != nil || i > 2 || name != []string{"ln", "r", "p"}[i] || strconv.Itoa(n) != v {
				return legacy{}, bad
			}
			*[]*int{&l.logN, &l.r, &l.p}[i] = n
		}
		if l.logN < 1 || l.logN > maxScryptLogN || l.r < 1 || l.p < 1 || l.r*l.p > maxScryptRP {
			return legacy{}, bad
		}
		var err error
		if l.salt, l.key, err = saltAndKey(base64.RawStdEncoding, parts[3], parts[4]); err != nil {
			return legacy{}, bad
		}
		return l, nil
	case len(parts) == 5 && parts[0] == "" && parts[1] == "pbkdf2-sha256":
		l := legacy{alg: AlgPBKDF2SHA256}
		var err error
		if l.iter, err = iterations(parts[2]); err != nil {
			return legacy{}, bad
		}
		// passlib's "adapted base64": "." for "+", no padding.
		ab64 := base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789./").WithPadding(base64.NoPadding)
		if l.salt, l.key, err = saltAndKey(ab64, parts[3], parts[4]); err != nil || len(l.key) != sha256.Size {
			return legacy{}, bad
		}
		return l, nil
	case len(parts) == 4 && parts[0] == "pbkdf2_sha256":
		l := legacy{alg: AlgPBKDF2SHA256, salt: []byte(parts[2])}
		var err error
		if l.iter, err = iterations(parts[1]); err != nil || parts[2] == "" {
			return legacy{}, bad
		}
		if l.key, err = base64.StdEncoding.Strict().DecodeString(parts[3]); err != nil || len(l.key) != sha256.Size {
			return legacy{}, bad
		}
		return l, nil
	}
	return legacy{}, bad
}

func iterations(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || strconv.Itoa(n) != v || n < 1 || n > maxPBKDF2Iters {
		return 0, fault.E("password.Parse", fault.Invalid, "iterations out of range")
	}
	return n, nil
}

func saltAndKey(enc *base64.Encoding, salt, key string) ([]byte, []byte, error) {
	s, err := enc.Strict().DecodeString(salt)
	if err != nil || len(s) < 4 {
		return nil, nil, fault.E("password.Parse", fault.Invalid, "bad salt")
	}
	k, err := enc.Strict().DecodeString(key)
	if err != nil || len(k) < 16 || len(k) > 64 {
		return nil, nil, fault.E("password.Parse", fault.Invalid, "bad key")
	}
	return s, k, nil
}

// verify checks pw as the legacy system hashed it: the raw input, not
// normalized. bcrypt reads at most 72 bytes, so a longer password never
// matches a bcrypt hash rather than matching on its first 72 bytes only
//
func (l legacy) verify(pw string) bool {
	var key []byte
	switch l.alg {
	case AlgBcrypt:
		if len(pw) > 72 {
			return false
		}
		return bcrypt.CompareHashAndPassword(l.bcrypt, []byte(pw)) == nil
	case AlgArgon2i:
		key = argon2.Key([]byte(pw), l.salt, l.argon2i.Time, l.argon2i.Memory, l.argon2i.Threads, uint32(len(l.key)))
	case AlgScrypt:
		var err error
		if key, err = scrypt.Key([]byte(pw), l.salt, 1<<l.logN, l.r, l.p, len(l.key)); err != nil {
			return false
		}
	case AlgPBKDF2SHA256:
		var err error
		if key, err = pbkdf2.Key(sha256.New, pw, l.salt, l.iter, len(l.key)); err != nil {
			return false
		}
	}
	return subtle.ConstantTimeCompare(key, l.key) == 1
}
