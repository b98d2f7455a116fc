package account

import (
	"context"
	"slices"
	"strings"

	"github.com/maypok86/otter/v2"

	"github.com/atriumid/atrium/internal/fault"
)

// Encoding turns an account into the bytes of a response, such as the
// JSON body of a REST answer. Name tells encodings apart in the cache of
// encoded reads, so two encodings must never share a name.
type Encoding struct {
	Name   string
	Encode func(*Account) ([]byte, error)
}

// Encoded is an account as an Encoding made it.
type Encoded struct {
	Body    []byte // shared with the cache: never modify it
	Version int64  // the account's version, for an ETag
}

// encodedKey identifies one encoded read: one snapshot of an account (its
// version and the instant it was read as of), under one kinds document,
// seen through one view of its fragments, in one encoding. A write that
// counts as one moves the version; a few writes do not (an identifier's
// verification time), and the snapshot's instant keeps those within the
// read cache's staleness bound too: a snapshot read again after they
// committed is another entry. So an entry never needs to be invalidated.
type encodedKey struct {
	id       string
	version  int64
	asOf     int64 // the snapshot's as-of instant, in nanoseconds
	document int64
	view     string // the fragment names asked for, sorted and without repeats; "" for all
	encoding string
}

// encodedReads keeps recent encoded reads, bounded by a byte budget. It
// holds only encodings of accounts whose fragments in the view are stored
// in the clear: what is sealed at rest stays sealed in every cache.
type encodedReads = otter.Cache[encodedKey, []byte]

// newEncodedReads returns a cache of encoded reads of at most budget
// bytes, or nil when budget is not positive.
func newEncodedReads(budget int64) *encodedReads {
	if budget <= 0 {
		return nil
	}
	return otter.Must(&otter.Options[encodedKey, []byte]{
		MaximumWeight: uint64(budget),
		Weigher: func(k encodedKey, b []byte) uint32 {
			return uint32(min(len(k.id)+len(k.view)+len(k.encoding)+len(b)+64, 1<<31))
		},
	})
}

// GetEncoded is GetSince with the account encoded by enc. Reads that
// GetSince would serve from the read cache are answered from a cache of
// encodings when the same snapshot was encoded before, skipping the work
// of building and encoding the account.
func (s *Service) GetEncoded(ctx context.Context, id string, fragments []string, tok string, enc Encoding) (Encoded, error) {
	const op = "account.Get"
	t, err := s.readToken(tok)
	if err != nil {
		return Encoded{}, err
	}
	if id, err = parseID(op, id); err != nil {
		return Encoded{}, err
	}
	snap, err := s.snapshot(ctx, id, t)
	if err != nil {
		return Encoded{}, fault.Wrap(op, fault.Internal, err)
	}
	return s.encode(ctx, op, snap, fragments, enc)
}

// ResolveEncoded is ResolveSince with the account encoded by enc, served
// from the cache of encodings as GetEncoded is.
func (s *Service) ResolveEncoded(ctx context.Context, typ, value, tok string, enc Encoding) (Encoded, error) {
	snap, err := s.resolveSnapshot(ctx, typ, value, tok)
	if err != nil {
		return Encoded{}, err
	}
	return s.encode(ctx, "account.Resolve", snap, nil, enc)
}

// encode returns the encoding of the account in snap seen through the
// fragments view, from the cache of encodings or else made and kept there.
func (s *Service) encode(ctx context.Context, op string, snap Snapshot, fragments []string, enc Encoding) (Encoded, error) {
	set, document := s.kinds.Current()
	key := encodedKey{id: snap.Account.ID, version: snap.Account.Version, asOf: snap.AsOf.UnixNano(), document: document,
		view: viewKey(fragments), encoding: enc.Name}
	if s.encoded != nil {
		if b, ok := s.encoded.GetIfPresent(key); ok {
			return Encoded{Body: b, Version: key.version}, nil
		}
	}
	accs, err := s.assemble(ctx, op, set, snapReader{snap}, []Record{snap.Account}, fragments)
	if err != nil {
		return Encoded{}, fault.Wrap(op, fault.Internal, err)
	}
	b, err := enc.Encode(accs[0])
	if err != nil {
		return Encoded{}, err
	}
	if s.encoded != nil && !sealedIn(snap, fragments) {
		s.encoded.Set(key, b)
	}
	return Encoded{Body: b, Version: key.version}, nil
}

// viewKey names a view of the fragments: the names sorted, without
// repeats, so that one view asked for in other words shares its entries.
func viewKey(fragments []string) string {
	if len(fragments) == 0 {
		return ""
	}
	names := slices.Clone(fragments)
	slices.Sort(names)
	return strings.Join(slices.Compact(names), ",")
}

// sealedIn reports whether any fragment of snap in the fragments view
// (every fragment when it is empty) is sealed at rest.
func sealedIn(snap Snapshot, fragments []string) bool {
	for _, f := range snap.Fragments {
		if f.Sealed && (len(fragments) == 0 || slices.Contains(fragments, f.Name)) {
			return true
		}
	}
	return false
}
