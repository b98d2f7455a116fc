// Package apikey makes and checks the API keys that admins and service
// accounts present as bearer tokens.
//
// A key is "atr_<id>_<secret>": a visible prefix that secret scanners can
// match, a 12-character public id that finds the key's row, and 256 random
// bits in unpadded base64url. The full key is shown once, when it is made;
// the server stores only its SHA-256 hash, so a copy of the database does
// not hold a usable key.
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/atriumid/atrium/internal/fault"
)

// Prefix starts every key, so that leaked keys are easy to find in code,
// logs and chat, by people and by secret scanners.
const Prefix = "atr_"

// MaxLen is the longest bearer string Parse looks at. Every key made by New
// is exactly 60 bytes; the limit only bounds work on hostile input.
const MaxLen = 256

const (
	idLen       = 12                                 // base32 characters: 60 bits, unique enough for a lookup key
	idAlphabet  = "abcdefghijklmnopqrstuvwxyz234567" // RFC 4648 base32, lower-case
	secretBytes = 32
	secretLen   = 43 // unpadded base64url of secretBytes
	keyLen      = len(Prefix) + idLen + 1 + secretLen
	redacted    = "[redacted]"
)

// Key is a newly made API key. ID is public: it names the key in lists, logs
// and the database. Secret is the whole bearer string, "atr_<id>_<secret>",
// to be shown to its owner once and then forgotten; store Hash(Secret).
//
// Formatting a Key with any fmt verb, or logging it with slog, shows the id
// and "[redacted]", never the secret.
type Key struct {
	ID     string
	Secret string
}

// New makes a new random key. The error is always nil today; it is kept
// so that a future source of randomness may fail without an API change.
func New() (Key, error) {
	var b [idLen + secretBytes]byte
	rand.Read(b[:]) // never fails: crypto/rand crashes the program rather than return weak bytes
	id := make([]byte, idLen)
	for i := range id {
		id[i] = idAlphabet[b[i]&31] // 5 of the 8 random bits, so every symbol is equally likely
	}
	secret := base64.RawURLEncoding.EncodeToString(b[idLen:])
	return Key{ID: string(id), Secret: Prefix + string(id) + "_" + secret}, nil
}

// String returns the key's id in the key's shape with the secret blanked
// out: "atr_<id>_[redacted]".
func (k Key) String() string { return Prefix + k.ID + "_" + redacted }

// Format prints String for every verb, so that %v, %+v, %#v, %s and %x never
// show the secret.
func (k Key) Format(s fmt.State, _ rune) { io.WriteString(s, k.String()) }

// LogValue logs String.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalJSON always fails, so that a Key is never written whole into a
// response or a log by accident. To show the key once, put Secret in a field
// of its own.
func (k Key) MarshalJSON() ([]byte, error) {
	return nil, errors.New("apikey: a Key is never marshalled to JSON; use its fields")
}

// Parse checks that bearer has the shape of a key and returns its id, to
// find the stored hash. It does not check the secret: Verify does, against
// that hash. Anything that is not a key is fault.Unauthenticated with a
// message that never repeats the input.
func Parse(bearer string) (id string, err error) {
	if len(bearer) > MaxLen || len(bearer) != keyLen || !strings.HasPrefix(bearer, Prefix) || bearer[len(Prefix)+idLen] != '_' {
		return "", errInvalid()
	}
	id = bearer[len(Prefix) : len(Prefix)+idLen]
	for i := 0; i < len(id); i++ {
		if strings.IndexByte(idAlphabet, id[i]) < 0 {
			return "", errInvalid()
		}
	}
	// Strict decoding refuses non-zero trailing bits, so that each secret
	// has one text form; the fixed length refuses the line breaks the
	// decoder would skip.
	if b, err := base64.RawURLEncoding.Strict().DecodeString(bearer[keyLen-secretLen:]); err != nil || len(b) != secretBytes {
		return "", errInvalid()
	}
	return id, nil
}

func errInvalid() error { return fault.E("apikey.Parse", fault.Unauthenticated, "invalid API key") }

// Hash returns the SHA-256 of bearer, the only form of a key the server
// stores. A fast hash is right here, unlike for passwords: the secret holds
// 256 random bits, so no amount of hashing speed makes guessing it from the
// hash feasible, while a slow hash (argon2id, bcrypt) would cost CPU on every
// request and hand attackers a cheap way to exhaust it. For the same reason
// no salt is needed: no two keys share a secret.
func Hash(bearer string) []byte {
	h := sha256.Sum256([]byte(bearer))
	return h[:]
}

// Verify reports whether bearer hashes to stored, in time that does not
// depend on where the two differ. A bearer over MaxLen is never valid.
//
// To find the row, callers look up the id from Parse; when there is none,
// answer as for a wrong secret. The id is not secret, so its existence may
// show in timing; the secret's correctness does not.
func Verify(bearer string, stored []byte) bool {
	if len(bearer) > MaxLen {
		return false
	}
	return subtle.ConstantTimeCompare(Hash(bearer), stored) == 1
}
