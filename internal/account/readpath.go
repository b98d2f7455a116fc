package account

import (
	"context"
	"slices"
	"time"

	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/freshness"
)

// Snapshot is what is stored of one account, read in one transaction: the
// unit that read caches keep and replicas serve. Fragments stay in their
// stored form, sealed when pii or secret, so that no cache ever holds them
// in the clear.
type Snapshot struct {
	Account     Record
	Fragments   []FragmentRecord   // every stored fragment, by name
	Identifiers []IdentifierRecord // by type and value
	// AsOf is an instant before which every commit is in the snapshot:
	// the start of a read on the primary, or what a replica is known to
	// have applied.
	AsOf time.Time
}

// ReadCache keeps account snapshots and identifier holders between reads
// (internal/readcache implements it in memory and, optionally, Redis). It
// only has to bound staleness: a read under a freshness token checks what
// the cache returns against the token and goes to the primary when it is
// older.
type ReadCache interface {
	// Account returns the snapshot of account id from the cache, or else
	// from load; concurrent loads of one ID share one call of load. An
	// error of load is returned, not cached.
	Account(ctx context.Context, id string, load func(context.Context) (Snapshot, error)) (Snapshot, error)
	// PutAccount stores a snapshot read from the primary.
	PutAccount(ctx context.Context, snap Snapshot)
	// Holder returns the ID of the account holding the normalized
	// identifier (typ, value), or "" when none does, from the cache or
	// else from load; "" answers are cached too, as a bounded set.
	Holder(ctx context.Context, typ, value string, load func(context.Context) (string, time.Time, error)) (string, error)
	// Written tells the cache that a write of account id committed at
	// version: nothing older may be served from now on, here or, through
	// the shared layer, on other replicas.
	Written(ctx context.Context, id string, version int64)
	// IdentifierAdded tells the cache that (typ, value) may now have a
	// holder: a cached "none" for it may not be served from now on.
	IdentifierAdded(ctx context.Context, typ, value string)
}

// Replica is a read-only copy of the store that may lag behind it.
type Replica interface {
	// View runs fn in a read-only transaction on one snapshot of the copy
	// and returns an instant before which every commit is in that
	// snapshot. When the copy is farther behind than the implementation
	// allows, it reads the primary instead.
	View(ctx context.Context, fn func(ctx context.Context, r Reader) error) (time.Time, error)
}

// readToken decodes the freshness token of a read; "" asks for nothing.
func (s *Service) readToken(tok string) (*freshness.Token, error) {
	if tok == "" {
		return nil, nil
	}
	t, err := s.freshness.Decode(tok)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// fromPrimary reads the snapshot of account id on the primary and stores
// it in the cache.
func (s *Service) fromPrimary(ctx context.Context, id string) (Snapshot, error) {
	snap, err := s.loadSnapshot(ctx, id, nil)
	if err == nil && s.cache != nil {
		s.cache.PutAccount(ctx, snap)
	}
	return snap, err
}

// loadSnapshot reads the snapshot of account id on the primary, or on
// replica when it is not nil.
func (s *Service) loadSnapshot(ctx context.Context, id string, replica Replica) (Snapshot, error) {
	var snap Snapshot
	read := func(ctx context.Context, r Reader) error {
		var err error
		snap, err = readSnapshot(ctx, r, id, snap.AsOf)
		return err
	}
	if replica != nil {
		asOf, err := replica.View(ctx, read)
		snap.AsOf = asOf
		return snap, err
	}
	snap.AsOf = s.now()
	err := s.store.View(ctx, read)
	return snap, err
}

// readSnapshot reads the snapshot of account id through r.
func readSnapshot(ctx context.Context, r Reader, id string, asOf time.Time) (Snapshot, error) {
	snap := Snapshot{AsOf: asOf}
	var err error
	if snap.Account, err = r.Account(ctx, id); err != nil {
		return snap, err
	}
	if !snap.Account.EraseTime.IsZero() {
		return snap, nil
	}
	if snap.Fragments, err = r.Fragments(ctx, []string{id}, nil); err != nil {
		return snap, err
	}
	snap.Identifiers, err = r.Identifiers(ctx, []string{id})
	return snap, err
}

// snapshot returns account id no older than the write that made tok (any
// age within the cache's and the replica's bounds when tok is nil): from
// the cache or the replica when they hold the token's write, else from the
// primary.
//
// Only a token of the same account can be checked against a snapshot
// (its version counts every write of the account); a token of another
// write says nothing about what a copy of this account holds, so such a
// read goes to the primary, which has every acknowledged write.
func (s *Service) snapshot(ctx context.Context, id string, tok *freshness.Token) (Snapshot, error) {
	if tok != nil && tok.Account != id {
		return s.fromPrimary(ctx, id)
	}
	load := func(ctx context.Context) (Snapshot, error) { return s.loadSnapshot(ctx, id, s.replica) }
	var snap Snapshot
	var err error
	if s.cache != nil {
		snap, err = s.cache.Account(ctx, id, load)
	} else {
		snap, err = load(ctx)
	}
	if tok != nil && (fault.Is(err, fault.NotFound) || err == nil && snap.Account.Version < tok.Version) {
		return s.fromPrimary(ctx, id)
	}
	return snap, err
}

// written tells the cache that a write of account id committed at
// version.
func (s *Service) written(ctx context.Context, id string, version int64) {
	if s.cache != nil {
		s.cache.Written(ctx, id, version)
	}
}

// identifiersAdded tells the cache that the identifiers may have a holder
// now; called after a create or an add, whether it committed or not (a
// conflict means another request committed the identifier).
func (s *Service) identifiersAdded(ctx context.Context, ids []IdentifierRecord) {
	if s.cache == nil {
		return
	}
	for _, id := range ids {
		s.cache.IdentifierAdded(ctx, id.Type, id.Value)
	}
}

// snapReader is a Reader over the snapshot of one account.
type snapReader struct{ snap Snapshot }

// Account implements Reader.
func (r snapReader) Account(_ context.Context, id string) (Record, error) {
	if id != r.snap.Account.ID {
		return Record{}, fault.E("account.Snapshot", fault.NotFound, "account not found")
	}
	return r.snap.Account, nil
}

// Accounts implements Reader; a snapshot of one account cannot list.
func (r snapReader) Accounts(context.Context, Query) ([]Record, error) {
	return nil, fault.E("account.Snapshot", fault.Internal, "a snapshot cannot list accounts")
}

// Fragments implements Reader on the snapshot of one account.
func (r snapReader) Fragments(_ context.Context, accountIDs, names []string) ([]FragmentRecord, error) {
	if !slices.Contains(accountIDs, r.snap.Account.ID) {
		return nil, nil
	}
	var out []FragmentRecord
	for _, f := range r.snap.Fragments {
		if len(names) == 0 || slices.Contains(names, f.Name) {
			out = append(out, f)
		}
	}
	return out, nil
}

// Identifiers implements Reader on the snapshot of one account.
func (r snapReader) Identifiers(_ context.Context, accountIDs []string) ([]IdentifierRecord, error) {
	if !slices.Contains(accountIDs, r.snap.Account.ID) {
		return nil, nil
	}
	return r.snap.Identifiers, nil
}

// Resolve implements Reader on the snapshot of one account: it finds only
// the account's own identifiers.
func (r snapReader) Resolve(_ context.Context, typ, value string) (string, error) {
	for _, id := range r.snap.Identifiers {
		if id.Type == typ && id.Value == value {
			return r.snap.Account.ID, nil
		}
	}
	return "", fault.E("account.Snapshot", fault.NotFound, "identifier not found")
}

// viewFunc runs fn on a reader that holds account id.
type viewFunc func(ctx context.Context, id string, fn func(ctx context.Context, r Reader) error) error

// primary is the viewFunc of the primary database.
func (s *Service) primary(ctx context.Context, _ string, fn func(ctx context.Context, r Reader) error) error {
	return s.store.View(ctx, fn)
}

// cached returns the viewFunc that reads account snapshots no older than
// tok (see snapshot).
func (s *Service) cached(tok *freshness.Token) viewFunc {
	return func(ctx context.Context, id string, fn func(ctx context.Context, r Reader) error) error {
		snap, err := s.snapshot(ctx, id, tok)
		if err != nil {
			return err
		}
		return fn(ctx, snapReader{snap})
	}
}
