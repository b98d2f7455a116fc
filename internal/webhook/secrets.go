package webhook

import (
	"encoding/binary"

	"github.com/atriumid/atrium/internal/envelope"
	"github.com/atriumid/atrium/internal/fault"
)

// Sealer encrypts webhook signing secrets at rest, as pii and secret
// fragments are: each secret under a data key of its own, wrapped by the
// key-encryption keys that live outside the database. Someone who reads
// the database cannot sign webhooks.
type Sealer struct {
	Keys *envelope.Keyring
}

// aad binds a sealed secret to its webhook.
func aad(id string) []byte { return []byte("atrium webhook secret\x00" + id) }

// Seal returns the stored form of webhook id's secret: the wrapped data key
// (length-prefixed), then the sealed secret.
func (s Sealer) Seal(id string, secret []byte) ([]byte, error) {
	dek, wrapped, err := s.Keys.NewDataKey()
	if err != nil {
		return nil, err
	}
	sealed, err := dek.Seal(secret, aad(id))
	if err != nil {
		return nil, fault.Wrap("webhook.Seal", fault.Internal, err)
	}
	out := binary.AppendUvarint(nil, uint64(len(wrapped)))
	return append(append(out, wrapped...), sealed...), nil
}

// Open returns the secret of webhook id from its stored form. A stored
// form that does not open (a damaged row, or a key no longer configured)
// is fault.Internal.
func (s Sealer) Open(id string, stored []byte) ([]byte, error) {
	const op = "webhook.Open"
	n, k := binary.Uvarint(stored)
	if k <= 0 || n > uint64(len(stored)-k) {
		return nil, fault.E(op, fault.Internal, "stored webhook secret is malformed")
	}
	dek, err := s.Keys.Unwrap(stored[k : k+int(n)])
	if err != nil {
		return nil, fault.Wrap(op, fault.Internal, err)
	}
	secret, err := dek.Open(stored[k+int(n):], aad(id))
	if err != nil {
		return nil, fault.Wrap(op, fault.Internal, err)
	}
	return secret, nil
}
