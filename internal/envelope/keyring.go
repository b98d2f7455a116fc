// Package envelope encrypts sensitive data at rest (the pii and secret
// fragments) with envelope encryption designed for crypto-shredding.
//
// Each account has its own random data key (DEK). Fragment data is sealed
// with the DEK; the DEK is stored only wrapped (encrypted) under a
// key-encryption key (KEK) from the Keyring, which lives outside the
// database. Erasing an account deletes its wrapped DEK, and with it every way
// to read the account's ciphertexts, including copies left in backups.
//
// KEKs rotate: the first key of a Keyring wraps new DEKs, the others only
// unwrap, and Rewrap moves an old wrapped DEK to the primary without touching
// the data it protects. Every sealed format starts with a version byte so the
// format can change later.
//
// Key material never reaches a log line: Key, Keyring and DataKey print as
// "[redacted]" (or only their ids) under every fmt verb and in slog, and no
// error carries key bytes. Errors are *fault.Error values; see each function
// for its kinds.
package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/atriumid/atrium/internal/fault"
)

const (
	keySize        = 32   // AES-256, for KEKs and DEKs alike
	maxKeyIDLen    = 32   // also bounds the id length byte of a wrapped DEK
	maxKeyringKeys = 64   // more keys than any sane rotation history
	maxKeyringSpec = 8192 // fits maxKeyringKeys entries of "id:base64" with room to spare
	redacted       = "[redacted]"
)

// ErrUnknownKey is the cause (inside an Internal fault) of unwrapping a data
// key whose key-encryption key is not in the keyring: a KEK was removed while
// data keys wrapped under it still exist, or a replica runs with an older
// keyring than the one that wrapped the key.
var ErrUnknownKey = errors.New("wrapped data key names a key-encryption key that is not in the keyring")

// ErrCorrupt is the cause (inside an Internal fault) of failing to open a
// ciphertext or a wrapped data key: it is malformed, was altered, was sealed
// under another key, or is presented with other associated data.
var ErrCorrupt = errors.New("ciphertext is malformed, altered, or does not belong to this key and context")

// Key is one key-encryption key (KEK): an id, recorded in every data key it
// wraps so that the right KEK can be found after rotation, and a 32-byte
// secret.
//
// Formatting a Key with any fmt verb or logging it with slog shows only its
// id; String returns the secret itself, for writing a key file. A Key held in
// an unexported field of another struct is printed by fmt field by field,
// secret included, so keep Keys in a Keyring, not in structs.
type Key struct {
	ID     string
	Secret []byte
}

// GenerateKey returns a new KEK with the given id and a random secret. The id
// must be 1 to 32 ASCII letters, digits, '_' or '-' (fault.Invalid
// otherwise).
func GenerateKey(id string) (Key, error) {
	if !validKeyID(id) {
		return Key{}, fault.E("envelope.GenerateKey", fault.Invalid, "key id must be 1 to %d letters, digits, '_' or '-'", maxKeyIDLen)
	}
	secret := make([]byte, keySize)
	rand.Read(secret) // never fails: crypto/rand crashes the program rather than return weak bytes
	return Key{ID: id, Secret: secret}, nil
}

// String returns the key in the form ParseKeyring reads, "id:base64", secret
// included. It exists to write a fresh key file; fmt and slog never call it
// (see Format and LogValue).
func (k Key) String() string {
	return k.ID + ":" + base64.StdEncoding.EncodeToString(k.Secret)
}

// Format prints the id and "[redacted]" for every verb, so that %v, %+v, %#v,
// %s and %x never show the secret.
func (k Key) Format(s fmt.State, _ rune) { io.WriteString(s, k.ID+":"+redacted) }

// LogValue logs the id only.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.ID + ":" + redacted) }

// MarshalJSON always fails: a KEK has no business in a JSON document, and
// failing loudly beats writing the secret or silently writing a placeholder.
func (k Key) MarshalJSON() ([]byte, error) {
	return nil, errors.New("envelope: a key-encryption key is never marshalled to JSON")
}

// Keyring holds the key-encryption keys by id. The first key is the primary:
// it wraps every new data key. The others only unwrap, so that data keys
// wrapped before a rotation stay readable until Rewrap moves them. A Keyring
// is immutable and safe for concurrent use.
type Keyring struct {
	primary string
	ids     []string // primary first, in the order given; for printing
	keks    map[string]cipher.AEAD
}

// NewKeyring returns a keyring of keys, the first being the primary. It
// needs 1 to 64 keys with unique ids of 1 to 32 letters, digits, '_' or '-'
// and 32-byte secrets; anything else is fault.Invalid, with a message that
// names the key's position but never its secret. The secrets are not retained
// as given: the caller may clear them afterwards.
func NewKeyring(keys []Key) (*Keyring, error) {
	const op = "envelope.NewKeyring"
	if len(keys) == 0 {
		return nil, fault.E(op, fault.Invalid, "keyring needs at least one key")
	}
	if len(keys) > maxKeyringKeys {
		return nil, fault.E(op, fault.Invalid, "keyring holds at most %d keys", maxKeyringKeys)
	}
	r := &Keyring{primary: keys[0].ID, keks: make(map[string]cipher.AEAD, len(keys))}
	for i, k := range keys {
		switch {
		case !validKeyID(k.ID):
			return nil, fault.E(op, fault.Invalid, "key %d: id must be 1 to %d letters, digits, '_' or '-'", i+1, maxKeyIDLen)
		case r.keks[k.ID] != nil:
			return nil, fault.E(op, fault.Invalid, "key %d: duplicate id", i+1)
		case len(k.Secret) != keySize:
			return nil, fault.E(op, fault.Invalid, "key %d: secret must be %d bytes", i+1, keySize)
		}
		r.keks[k.ID] = newAEAD(k.Secret)
		r.ids = append(r.ids, k.ID)
	}
	return r, nil
}

// ParseKeyring reads a keyring from its text form,
// "id1:base64key,id2:base64key", the first key being the primary. Each key is
// standard or URL-safe base64, padded or not, of 32 bytes. Spaces around
// entries and a trailing newline are ignored. Errors are fault.Invalid and
// name the entry by position only: they never echo any part of the spec,
// which may hold key material in the wrong place.
func ParseKeyring(spec string) (*Keyring, error) {
	const op = "envelope.ParseKeyring"
	if len(spec) > maxKeyringSpec {
		return nil, fault.E(op, fault.Invalid, "keyring spec is longer than %d bytes", maxKeyringSpec)
	}
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, fault.E(op, fault.Invalid, "keyring spec is empty")
	}
	entries := strings.Split(spec, ",")
	if len(entries) > maxKeyringKeys {
		return nil, fault.E(op, fault.Invalid, "keyring holds at most %d keys", maxKeyringKeys)
	}
	keys := make([]Key, 0, len(entries))
	for i, e := range entries {
		id, enc, ok := strings.Cut(strings.TrimSpace(e), ":")
		if !ok {
			return nil, fault.E(op, fault.Invalid, "keyring entry %d: want id:base64key", i+1)
		}
		if !validKeyID(id) {
			return nil, fault.E(op, fault.Invalid, "keyring entry %d: id must be 1 to %d letters, digits, '_' or '-'", i+1, maxKeyIDLen)
		}
		secret, ok := decodeSecret(enc)
		if !ok {
			return nil, fault.E(op, fault.Invalid, "keyring entry %d: key must be base64 of %d bytes", i+1, keySize)
		}
		keys = append(keys, Key{ID: id, Secret: secret})
	}
	r, err := NewKeyring(keys)
	for _, k := range keys {
		clear(k.Secret)
	}
	return r, fault.Wrap(op, fault.Invalid, err)
}

// PrimaryID returns the id of the key that wraps new data keys.
func (r *Keyring) PrimaryID() string { return r.primary }

// Format prints the key ids, primary first, and nothing else. It has a value
// receiver so that Keyring values and pointers are both covered.
func (r Keyring) Format(s fmt.State, _ rune) {
	fmt.Fprintf(s, "envelope.Keyring{primary: %s, ids: [%s]}", r.primary, strings.Join(r.ids, " "))
}

// LogValue logs the key ids, primary first.
func (r Keyring) LogValue() slog.Value {
	return slog.GroupValue(slog.String("primary", r.primary), slog.Any("ids", r.ids))
}

// decodeSecret decodes a 32-byte key in any of the four base64 alphabets.
// Strict decoding rejects non-zero padding bits, so each key has exactly one
// text form per alphabet.
func decodeSecret(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.Strict().DecodeString(s)
		// The decoder skips '\r' and '\n'; the length check refuses them.
		if err == nil && len(b) == keySize && enc.EncodedLen(keySize) == len(s) {
			return b, true
		}
		clear(b)
	}
	return nil, false
}

func validKeyID(id string) bool {
	if len(id) == 0 || len(id) > maxKeyIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// newAEAD returns AES-256-GCM that draws a random 96-bit nonce for every Seal
// and prefixes it to the output. Random nonces are safe here: each key seals
// few messages (one DEK per account, one KEK per rotation period), far below
// the 2^32 messages after which random 96-bit nonces risk repeating.
func newAEAD(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic("envelope: " + err.Error()) // unreachable: callers pass 32 bytes
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		panic("envelope: " + err.Error()) // unreachable: AES has a 16-byte block
	}
	return aead
}
