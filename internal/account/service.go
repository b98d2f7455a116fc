package account

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/atriumid/atrium/internal/audit"
	"github.com/atriumid/atrium/internal/envelope"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/freshness"
	"github.com/atriumid/atrium/internal/identifier"
	"github.com/atriumid/atrium/internal/ids"
	"github.com/atriumid/atrium/internal/kind"
	"github.com/atriumid/atrium/internal/outbox"
	"github.com/atriumid/atrium/internal/relation"
)

// Limits on what one request may carry.
const (
	MaxFragmentBytes = 64 << 10 // encoded JSON of one fragment
	MaxIdentifiers   = 32       // identifiers in one create
	MaxRelationships = 100      // relationships in one create
	MaxReason        = 1000     // characters of a transition reason
	MaxPageSize      = 1000
	DefaultPageSize  = 50
)

// Service is the account service. It is safe for concurrent use.
type Service struct {
	store       Store
	kinds       *kind.Registry
	keys        *envelope.Keyring
	freshness   *freshness.Codec
	identifiers identifier.Normalizers
	tuples      TupleParser
	sessions    SessionRevoker
	cache       ReadCache     // nil: every read goes to the database
	replica     Replica       // nil: reads go to the primary
	encoded     *encodedReads // nil: GetEncoded and ResolveEncoded encode every read
	now         func() time.Time
}

// SessionRevoker ends the sessions of an account. The service calls it
// inside the transaction that takes an account out of its kind's initial
// state (a suspension, a closure) or erases it, so that the change and the
// end of every session commit together.
type SessionRevoker interface {
	// RevokeSessions revokes every live session of the account within tx.
	// It returns fault.Unavailable when the database fails.
	RevokeSessions(ctx context.Context, tx Tx, accountID string, now time.Time) error
}

// TupleParser parses relationship tuples and validates them against the
// live relationship model. It returns fault.Invalid with one violation per
// bad tuple, named field[i].
type TupleParser interface {
	ParseTuples(field string, raw [][3]string) ([]relation.Tuple, error)
}

// Config holds what a Service needs. Now defaults to time.Now.
type Config struct {
	Store     Store
	Kinds     *kind.Registry
	Keys      *envelope.Keyring
	Freshness *freshness.Codec
	// Identifiers normalizes identifier values; its zero value refuses
	// wallet and ENS identifiers.
	Identifiers identifier.Normalizers
	// Tuples validates the relationships given when creating an account;
	// nil refuses them.
	Tuples TupleParser
	// Sessions ends sessions on suspension and erasure; nil when the
	// deployment has none.
	Sessions SessionRevoker
	// Cache keeps what GetSince, GetFragmentSince and ResolveSince read;
	// nil caches nothing.
	Cache ReadCache
	// Replica serves those reads when they need no newer data than it
	// holds; nil reads the primary.
	Replica Replica
	// EncodedBytes is the memory budget of the cache of encoded reads
	// (GetEncoded, ResolveEncoded); 0 keeps none.
	EncodedBytes int64
	Now          func() time.Time
}

// NewService returns a Service.
func NewService(c Config) *Service {
	now := c.Now
	if now == nil {
		now = time.Now
	}
	return &Service{store: c.Store, kinds: c.Kinds, keys: c.Keys, freshness: c.Freshness, identifiers: c.Identifiers, tuples: c.Tuples, sessions: c.Sessions,
		cache: c.Cache, replica: c.Replica, encoded: newEncodedReads(c.EncodedBytes), now: now}
}

// endSessions revokes the sessions of account id within tx, when the
// deployment has sessions.
func (s *Service) endSessions(ctx context.Context, tx Tx, id string, now time.Time) error {
	if s.sessions == nil {
		return nil
	}
	return s.sessions.RevokeSessions(ctx, tx, id, now)
}

// clock returns the current time at the microsecond precision that storage
// keeps, so that what a write returns equals what a later read returns.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// document returns the live kinds document. Every method reads it once,
// at its start, and uses that Set throughout, so that a request finishes
// under the document it started with while a new one goes live.
func (s *Service) document() *kind.Set {
	set, _ := s.kinds.Current()
	return set
}

// kindOf returns the compiled kind named name from set.
func (s *Service) kindOf(op string, set *kind.Set, name string) (*kind.Kind, error) {
	k, ok := set.Kind(name)
	if !ok {
		return nil, fault.Invalidf(op, []fault.Violation{{Field: "kind", Reason: "unknown kind"}}, "unknown kind %q", name)
	}
	return k, nil
}

// token returns the freshness token of a write to account id at version v.
func (s *Service) token(id string, v int64, at time.Time) string {
	return s.freshness.Encode(freshness.Token{Account: id, Version: v, Time: at})
}

// tokenWithRevision is token for a write that also moved the relationship
// revision to rev.
func (s *Service) tokenWithRevision(id string, v int64, at time.Time, rev int64) string {
	return s.freshness.Encode(freshness.Token{Account: id, Version: v, Time: at, Revision: rev})
}

// CheckFreshness validates a freshness token presented on a read. An empty
// token is valid. A malformed or forged token is fault.Invalid.
//
// It serves the reads that always go to the primary database (List),
// which has seen every acknowledged write, so a valid token is always
// satisfied; GetSince and its kin check their tokens themselves.
func (s *Service) CheckFreshness(tok string) error {
	if tok == "" {
		return nil
	}
	_, err := s.freshness.Decode(tok)
	return err
}

// touchLive touches the live account id (see Tx.TouchAccount) at now and
// returns it with its kind in set. An erased account is
// fault.FailedPrecondition.
func (s *Service) touchLive(ctx context.Context, tx Tx, op string, set *kind.Set, id string, now time.Time) (Record, *kind.Kind, error) {
	rec, err := tx.TouchAccount(ctx, id, now)
	if err != nil {
		return rec, nil, err
	}
	if !rec.EraseTime.IsZero() {
		return rec, nil, fault.E(op, fault.FailedPrecondition, "account is erased")
	}
	k, err := s.kindOf(op, set, rec.Kind)
	return rec, k, err
}

// dataKey returns the data key of the touched account rec, creating and
// storing one when the account has none yet.
func (s *Service) dataKey(ctx context.Context, tx Tx, rec *Record) (envelope.DataKey, error) {
	if rec.DataKey != nil {
		return s.keys.Unwrap(rec.DataKey)
	}
	dek, wrapped, err := s.keys.NewDataKey()
	if err != nil {
		return envelope.DataKey{}, err
	}
	if err := tx.SetDataKey(ctx, rec.ID, wrapped); err != nil {
		return envelope.DataKey{}, err
	}
	rec.DataKey = wrapped
	return dek, nil
}

// encodeFragment validates data against f's schema and returns its stored
// form, sealed when f is pii or secret. dek is used only for those.
func encodeFragment(op string, f *kind.Fragment, accountID string, data map[string]any, field string, dek func() (envelope.DataKey, error)) ([]byte, bool, error) {
	if data == nil {
		data = map[string]any{}
	}
	if vs := f.Validate(data); len(vs) > 0 {
		for i := range vs {
			vs[i].Field = joinField(field, vs[i].Field)
		}
		return nil, false, fault.Invalidf(op, vs, "fragment %q does not match its schema", f.Name)
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, false, fault.Invalidf(op, []fault.Violation{{Field: field, Reason: "not representable as JSON"}}, "fragment %q is not JSON", f.Name)
	}
	if len(raw) > MaxFragmentBytes {
		return nil, false, &fault.Error{Op: op, Kind: fault.TooLarge, Msg: fmt.Sprintf("fragment %q is larger than %d bytes", f.Name, MaxFragmentBytes)}
	}
	if !f.Sensitivity.Encrypted() {
		return raw, false, nil
	}
	key, err := dek()
	if err != nil {
		return nil, false, err
	}
	sealed, err := key.Seal(raw, envelope.FragmentAAD(accountID, f.Name))
	if err != nil {
		return nil, false, fault.Wrap(op, fault.Internal, err)
	}
	return sealed, true, nil
}

// decodeFragment opens a stored fragment. dek is consulted only for sealed
// fragments.
func decodeFragment(op string, r FragmentRecord, dek func() (envelope.DataKey, error)) (map[string]any, error) {
	raw := r.Data
	if r.Sealed {
		key, err := dek()
		if err != nil {
			return nil, err
		}
		if raw, err = key.Open(r.Data, envelope.FragmentAAD(r.AccountID, r.Name)); err != nil {
			return nil, fault.Wrap(op, fault.Internal, err)
		}
	}
	var data map[string]any
	if err := json.Unmarshal(raw, &data); err != nil {
		return nil, fault.Wrap(op, fault.Internal, err)
	}
	return data, nil
}

// joinField joins a field path prefix and a path inside it.
func joinField(prefix, field string) string {
	switch {
	case field == "":
		return prefix
	case prefix == "":
		return field
	}
	return prefix + "." + field
}

// relationshipEvents appends the event and audit record of each tuple
// written with an account, as a relationship write through the
// relationships API would.
func relationshipEvents(ctx context.Context, tx Tx, tuples []relation.Tuple, now time.Time) error {
	for _, t := range tuples {
		e := outbox.New("atrium.relationship.written", t.Object.String(), now, t.Fields())
		if err := tx.AppendEvent(ctx, e); err != nil {
			return err
		}
		if err := tx.AppendAudit(ctx, audit.Entry{ID: ids.New("aud"), Type: e.Type, Time: now, Data: e.Data, Actor: audit.ActorFrom(ctx)}); err != nil {
			return err
		}
	}
	return nil
}

// event appends an account event of type "atrium.account."+typ and its
// audit record, attributed to the actor in ctx. Every mutation ends here,
// so no change commits without both.
func event(ctx context.Context, tx Tx, typ string, rec Record, now time.Time, data map[string]any) error {
	if data == nil {
		data = map[string]any{}
	}
	data["kind"] = rec.Kind
	data["version"] = rec.Version
	e := outbox.New("atrium.account."+typ, rec.ID, now, data)
	if err := tx.AppendEvent(ctx, e); err != nil {
		return err
	}
	// A transition's reason is free text, which may name a person: the
	// audit chain cannot forget it, so it keeps the event's ID instead.
	delete(data, "reason")
	data["event"] = e.ID
	b, err := json.Marshal(data)
	if err != nil {
		return fault.Wrap("account.event", fault.Internal, err)
	}
	entry := audit.Entry{ID: ids.New("aud"), Type: e.Type, Account: rec.ID, Time: now, Data: b, Actor: audit.ActorFrom(ctx)}
	if typ == "erased" {
		entry.Forget = rec.ID
	}
	return tx.AppendAudit(ctx, entry)
}
