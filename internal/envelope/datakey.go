package envelope

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/atriumid/atrium/internal/fault"
)

// The format of a wrapped data key, version 1:
//
//	0x01 | len(kekID) (1 byte) | kekID | nonce (12) | AES-256-GCM(DEK) (32) | tag (16)
//
// sealed under the KEK named by kekID, with associated data wrapAAD followed
// by every byte before the nonce, so the version and the KEK id cannot be
// altered. The KEK id travels in the clear so that Unwrap can find the KEK
// after a rotation.
//
// The format of a ciphertext sealed by a DataKey, version 1:
//
//	0x01 | nonce (12) | AES-256-GCM(plaintext) | tag (16)
//
// with associated data dataAAD, the version byte and the caller's aad.
const (
	wrapVersion = 0x01
	dataVersion = 0x01
	nonceSize   = 12
	tagSize     = 16
	wrapAAD     = "atrium envelope wrapped data key\x00"
	dataAAD     = "atrium envelope data\x00"

	// MaxPlaintext is the largest plaintext Seal accepts: far above any
	// fragment, and a bound on what Open will try to decrypt.
	MaxPlaintext = 16 << 20

	// Overhead is how many bytes Seal adds to a plaintext.
	Overhead = 1 + nonceSize + tagSize
)

var errZeroKey = errors.New("the zero DataKey holds no key")

// DataKey is one account's 256-bit data encryption key (DEK), unwrapped and
// ready to seal and open that account's data. Its key bytes are never
// exported and never printed: every fmt verb and slog show "[redacted]". The
// zero DataKey holds no key; its methods return Internal errors. A DataKey is
// safe for concurrent use.
type DataKey struct {
	aead cipher.AEAD // holds the key schedule only behind a pointer, so even a %v of an enclosing struct prints an address
}

// Format prints "[redacted]" for every verb.
func (DataKey) Format(s fmt.State, _ rune) { io.WriteString(s, redacted) }

// LogValue logs "[redacted]".
func (DataKey) LogValue() slog.Value { return slog.StringValue(redacted) }

// NewDataKey makes a random data key and returns it with its wrapped form,
// sealed under the primary KEK, for storing beside the account. Deleting
// every copy of wrapped shreds whatever the key sealed.
func (r *Keyring) NewDataKey() (dek DataKey, wrapped []byte, err error) {
	raw := make([]byte, keySize)
	defer clear(raw)
	rand.Read(raw) // never fails: crypto/rand crashes the program rather than return weak bytes
	return DataKey{aead: newAEAD(raw)}, r.wrap(raw), nil
}

// Unwrap recovers the data key from its wrapped form. A wrapped key under a
// KEK the keyring lacks is fault.Internal with cause ErrUnknownKey; a
// malformed or altered one is fault.Internal with cause ErrCorrupt. Neither
// error shows any key material, and neither is the caller's fault: they mean
// a misconfigured keyring or damaged storage.
func (r *Keyring) Unwrap(wrapped []byte) (DataKey, error) {
	raw, _, err := r.unwrap(wrapped)
	if err != nil {
		return DataKey{}, fault.Wrap("envelope.Unwrap", fault.Internal, err)
	}
	defer clear(raw)
	return DataKey{aead: newAEAD(raw)}, nil
}

// Rewrap returns wrapped re-sealed under the primary KEK, and true, when it
// was sealed under another KEK; it returns wrapped itself and false when it
// is already under the primary. Either way wrapped is authenticated first, so
// a rotation job also finds damaged keys. Errors are as for Unwrap.
func (r *Keyring) Rewrap(wrapped []byte) ([]byte, bool, error) {
	raw, id, err := r.unwrap(wrapped)
	if err != nil {
		return nil, false, fault.Wrap("envelope.Rewrap", fault.Internal, err)
	}
	defer clear(raw)
	if id == r.primary {
		return wrapped, false, nil
	}
	return r.wrap(raw), true, nil
}

func (r *Keyring) wrap(raw []byte) []byte {
	id := r.primary
	header := append([]byte{wrapVersion, byte(len(id))}, id...)
	out := make([]byte, len(header), len(header)+nonceSize+keySize+tagSize)
	copy(out, header)
	return r.keks[id].Seal(out, nil, raw, append([]byte(wrapAAD), header...))
}

// unwrap returns the raw DEK of wrapped and the id of the KEK it was under.
// The caller clears the DEK after use.
func (r *Keyring) unwrap(wrapped []byte) ([]byte, string, error) {
	if len(wrapped) < 2 {
		return nil, "", fmt.Errorf("%w: wrapped key too short", ErrCorrupt)
	}
	if wrapped[0] != wrapVersion {
		return nil, "", fmt.Errorf("%w: unknown wrapped key version %d", ErrCorrupt, wrapped[0])
	}
	n := int(wrapped[1])
	if n == 0 || n > maxKeyIDLen || len(wrapped) != 2+n+nonceSize+keySize+tagSize {
		return nil, "", fmt.Errorf("%w: wrapped key has the wrong length", ErrCorrupt)
	}
	id := string(wrapped[2 : 2+n])
	kek, ok := r.keks[id]
	if !ok {
		return nil, "", fmt.Errorf("%w: %q", ErrUnknownKey, id)
	}
	raw, err := kek.Open(nil, nil, wrapped[2+n:], append([]byte(wrapAAD), wrapped[:2+n]...))
	if err != nil {
		return nil, "", fmt.Errorf("%w: wrapped key failed authentication under %q", ErrCorrupt, id)
	}
	return raw, id, nil
}

// Seal encrypts plaintext with AES-256-GCM under a random nonce, binding it
// to aad: Open succeeds only with the same aad. Pass FragmentAAD(account,
// fragment) so that a ciphertext copied to another account or fragment does
// not open. A plaintext over MaxPlaintext is fault.TooLarge; a zero DataKey
// is fault.Internal.
func (d DataKey) Seal(plaintext, aad []byte) ([]byte, error) {
	const op = "envelope.Seal"
	if d.aead == nil {
		return nil, fault.Wrap(op, fault.Internal, errZeroKey)
	}
	if len(plaintext) > MaxPlaintext {
		return nil, fault.E(op, fault.TooLarge, "data is too large to store")
	}
	out := make([]byte, 1, len(plaintext)+Overhead)
	out[0] = dataVersion
	return d.aead.Seal(out, nil, plaintext, sealAAD(out[:1], aad)), nil
}

// Open decrypts a ciphertext made by Seal under the same data key and aad.
// Anything else — another key, another aad, a changed, truncated or extended
// ciphertext, an unknown version — is fault.Internal with cause ErrCorrupt:
// stored ciphertexts are never the caller's input, so failing to open one
// means damaged storage or a bug.
func (d DataKey) Open(ciphertext, aad []byte) ([]byte, error) {
	const op = "envelope.Open"
	if d.aead == nil {
		return nil, fault.Wrap(op, fault.Internal, errZeroKey)
	}
	switch {
	case len(ciphertext) < Overhead || len(ciphertext) > MaxPlaintext+Overhead:
		return nil, fault.Wrap(op, fault.Internal, fmt.Errorf("%w: ciphertext has the wrong length", ErrCorrupt))
	case ciphertext[0] != dataVersion:
		return nil, fault.Wrap(op, fault.Internal, fmt.Errorf("%w: unknown ciphertext version %d", ErrCorrupt, ciphertext[0]))
	}
	plaintext, err := d.aead.Open(nil, nil, ciphertext[1:], sealAAD(ciphertext[:1], aad))
	if err != nil {
		return nil, fault.Wrap(op, fault.Internal, fmt.Errorf("%w: ciphertext failed authentication", ErrCorrupt))
	}
	return plaintext, nil
}

func sealAAD(version, aad []byte) []byte {
	b := make([]byte, 0, len(dataAAD)+len(version)+len(aad))
	return append(append(append(b, dataAAD...), version...), aad...)
}

// FragmentAAD returns the associated data that binds a fragment's ciphertext
// to its account and fragment name. Each part is length-prefixed, so no two
// different pairs give the same bytes.
func FragmentAAD(account, fragment string) []byte {
	b := make([]byte, 0, 2*binary.MaxVarintLen64+len(account)+len(fragment))
	b = binary.AppendUvarint(b, uint64(len(account)))
	b = append(b, account...)
	b = binary.AppendUvarint(b, uint64(len(fragment)))
	return append(b, fragment...)
}
