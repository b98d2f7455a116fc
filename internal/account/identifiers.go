package account

import (
	"context"
	"fmt"
	"time"

	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/identifier"
	"github.com/atriumid/atrium/internal/kind"
)

// AddIdentifier adds an identifier to a live account. It returns
// fault.Invalid for a type the kind does not accept or a value that does not
// normalize, fault.AlreadyExists when any account holds it,
// fault.FailedPrecondition for an erased account and fault.NotFound for an
// unknown one.
func (s *Service) AddIdentifier(ctx context.Context, id string, in IdentifierInput) (*Identifier, error) {
	const op = "account.AddIdentifier"
	id, err := parseID(op, id)
	if err != nil {
		return nil, err
	}
	var out *Identifier
	var version int64 // the account's, after the write
	var added []IdentifierRecord
	set := s.document()
	err = s.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		now := s.clock()
		rec, k, err := s.touchLive(ctx, tx, op, set, id, now)
		if err != nil {
			return err
		}
		norm, err := s.normalizeAll(op, k, []IdentifierInput{in})
		if err != nil {
			return err
		}
		ir := norm[0]
		ir.AccountID, ir.CreateTime = id, now
		added, version = norm, rec.Version
		if err := tx.InsertIdentifier(ctx, ir); err != nil {
			return identifierTaken(op, "value", err)
		}
		out = &Identifier{Type: ir.Type, Value: ir.Value, CreateTime: now, Freshness: s.token(id, rec.Version, now)}
		return event(ctx, tx, "identifier_added", rec, now, map[string]any{"identifier_type": ir.Type})
	})
	s.identifiersAdded(ctx, added)
	if err != nil {
		return nil, fault.Wrap(op, fault.Internal, err)
	}
	s.written(ctx, id, version)
	return out, nil
}

// Resolve returns the account that holds the identifier (typ, value), with
// all its fragments. It returns fault.Invalid for an unknown type or a value
// that does not normalize and fault.NotFound when no account holds it.
func (s *Service) Resolve(ctx context.Context, typ, value string) (*Account, error) {
	const op = "account.Resolve"
	norm, err := s.identifiers.Normalize(identifier.Type(typ), value)
	if err != nil {
		return nil, fault.Wrap(op, fault.Invalid, err)
	}
	snap, err := s.resolvePrimary(ctx, op, typ, norm)
	if err != nil {
		return nil, err
	}
	return s.assembleSnapshot(ctx, op, snap)
}

// ResolveSince is Resolve served from the read cache and the database
// replica, within the cache's staleness bound, when tok is empty; with a
// token it reads the primary, the one place known to hold the token's
// write whichever account it made. Unknown identifiers are remembered
// (bounded) until one is added. A malformed or forged token is
// fault.Invalid.
func (s *Service) ResolveSince(ctx context.Context, typ, value, tok string) (*Account, error) {
	const op = "account.Resolve"
	snap, err := s.resolveSnapshot(ctx, typ, value, tok)
	if err != nil {
		return nil, err
	}
	return s.assembleSnapshot(ctx, op, snap)
}

// assembleSnapshot builds the account in snap with all its fragments.
func (s *Service) assembleSnapshot(ctx context.Context, op string, snap Snapshot) (*Account, error) {
	out, err := s.assemble(ctx, op, s.document(), snapReader{snap}, []Record{snap.Account}, nil)
	if err != nil {
		return nil, fault.Wrap(op, fault.Internal, err)
	}
	return out[0], nil
}

// resolveSnapshot returns the snapshot of the account holding (typ,
// value), with ResolveSince's freshness rules.
func (s *Service) resolveSnapshot(ctx context.Context, typ, value, tok string) (Snapshot, error) {
	const op = "account.Resolve"
	t, err := s.readToken(tok)
	if err != nil {
		return Snapshot{}, err
	}
	norm, err := s.identifiers.Normalize(identifier.Type(typ), value)
	if err != nil {
		return Snapshot{}, fault.Wrap(op, fault.Invalid, err)
	}
	if t != nil {
		return s.resolvePrimary(ctx, op, typ, norm)
	}
	id, err := s.holder(ctx, typ, norm)
	if err != nil {
		return Snapshot{}, fault.Wrap(op, fault.Internal, err)
	}
	if id == "" {
		return Snapshot{}, fault.E(op, fault.NotFound, "no account holds this identifier")
	}
	snap, err := s.snapshot(ctx, id, nil)
	if err == nil {
		_, err = snapReader{snap}.Resolve(ctx, typ, norm)
	}
	if err != nil {
		// The holder was erased, or the cached answer is older than the
		// account: ask the primary.
		return s.resolvePrimary(ctx, op, typ, norm)
	}
	return snap, nil
}

// holder returns the ID of the account holding (typ, norm), "" for none,
// through the cache when there is one.
func (s *Service) holder(ctx context.Context, typ, norm string) (string, error) {
	load := func(ctx context.Context) (string, time.Time, error) {
		var id string
		find := func(ctx context.Context, r Reader) error {
			var err error
			id, err = r.Resolve(ctx, typ, norm)
			if fault.Is(err, fault.NotFound) {
				return nil
			}
			return err
		}
		if s.replica != nil {
			asOf, err := s.replica.View(ctx, find)
			return id, asOf, err
		}
		asOf := s.now()
		return id, asOf, s.store.View(ctx, find)
	}
	if s.cache == nil {
		id, _, err := load(ctx)
		return id, err
	}
	return s.cache.Holder(ctx, typ, norm, load)
}

// resolvePrimary reads the holder of (typ, norm) and its account's
// snapshot on the primary.
func (s *Service) resolvePrimary(ctx context.Context, op, typ, norm string) (Snapshot, error) {
	snap := Snapshot{AsOf: s.now()}
	err := s.store.View(ctx, func(ctx context.Context, r Reader) error {
		id, err := r.Resolve(ctx, typ, norm)
		if err != nil {
			return err
		}
		snap, err = readSnapshot(ctx, r, id, snap.AsOf)
		return err
	})
	if err != nil {
		return Snapshot{}, fault.Wrap(op, fault.Internal, err)
	}
	return snap, nil
}

// normalizeAll checks that k accepts each identifier's type and returns the
// normalized identifiers, refusing duplicates within the request. Every
// problem is reported as a violation of "identifiers[i]".
func (s *Service) normalizeAll(op string, k *kind.Kind, in []IdentifierInput) ([]IdentifierRecord, error) {
	if len(in) > MaxIdentifiers {
		return nil, fault.Invalidf(op, []fault.Violation{{Field: "identifiers", Reason: fmt.Sprintf("at most %d", MaxIdentifiers)}}, "too many identifiers")
	}
	var vs []fault.Violation
	out := make([]IdentifierRecord, 0, len(in))
	seen := map[[2]string]bool{}
	for i, id := range in {
		field := fmt.Sprintf("identifiers[%d]", i)
		if !k.AcceptsIdentifier(id.Type) {
			vs = append(vs, fault.Violation{Field: field + ".type", Reason: fmt.Sprintf("kind %q does not accept identifier type %q", k.Name, id.Type)})
			continue
		}
		v, err := s.identifiers.Normalize(identifier.Type(id.Type), id.Value)
		if err != nil {
			msg, _ := fault.PublicOf(err)
			vs = append(vs, fault.Violation{Field: field + ".value", Reason: msg})
			continue
		}
		key := [2]string{id.Type, v}
		if seen[key] {
			vs = append(vs, fault.Violation{Field: field, Reason: "given twice"})
			continue
		}
		seen[key] = true
		out = append(out, IdentifierRecord{Type: id.Type, Value: v})
	}
	if len(vs) > 0 {
		return nil, fault.Invalidf(op, vs, "invalid identifiers")
	}
	return out, nil
}

// identifierTaken adds the field to an AlreadyExists error from the store.
func identifierTaken(op, field string, err error) error {
	if fault.Is(err, fault.AlreadyExists) {
		return &fault.Error{Op: op, Kind: fault.AlreadyExists, Msg: "identifier already in use",
			Violations: []fault.Violation{{Field: field, Reason: "already in use"}}, Err: err}
	}
	return err
}
