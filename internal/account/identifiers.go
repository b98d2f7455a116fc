package account

import (
	"context"
	"fmt"

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
		if err := tx.InsertIdentifier(ctx, ir); err != nil {
			return identifierTaken(op, "value", err)
		}
		out = &Identifier{Type: ir.Type, Value: ir.Value, CreateTime: now, Freshness: s.token(id, rec.Version, now)}
		return event(ctx, tx, "identifier_added", rec, now, map[string]any{"identifier_type": ir.Type})
	})
	if err != nil {
		return nil, fault.Wrap(op, fault.Internal, err)
	}
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
	var out []*Account
	set := s.document()
	err = s.store.View(ctx, func(ctx context.Context, r Reader) error {
		id, err := r.Resolve(ctx, typ, norm)
		if err != nil {
			return err
		}
		rec, err := r.Account(ctx, id)
		if err != nil {
			return err
		}
		out, err = s.assemble(ctx, op, set, r, []Record{rec}, nil)
		return err
	})
	if err != nil {
		return nil, fault.Wrap(op, fault.Internal, err)
	}
	return out[0], nil
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
