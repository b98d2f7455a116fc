package account

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/atriumid/atrium/internal/fault"
)

// Transition applies the named lifecycle transition to a live account. The
// transition's guards are evaluated over the account's fragments inside
// the transaction, under the account's row lock, so no concurrent write
// can change what they read before the state changes. It returns
// fault.Invalid for a transition the kind does not declare,
// fault.FailedPrecondition when it does not apply in the current state
// (naming the transitions allowed from it), when a guard fails (naming the
// guard) or when the account is erased, and fault.NotFound for an unknown
// account.
func (s *Service) Transition(ctx context.Context, id, transition, reason string) (*Account, error) {
	const op = "account.Transition"
	id, err := parseID(op, id)
	if err != nil {
		return nil, err
	}
	if utf8.RuneCountInString(reason) > MaxReason || !utf8.ValidString(reason) {
		return nil, fault.Invalidf(op, []fault.Violation{{Field: "reason", Reason: fmt.Sprintf("at most %d characters of UTF-8", MaxReason)}}, "bad reason")
	}
	var out *Account
	set := s.document()
	err = s.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		now := s.clock()
		rec, k, err := s.touchLive(ctx, tx, op, set, id, now)
		if err != nil {
			return err
		}
		to, err := k.Transition(transition, rec.State)
		if err != nil {
			return err
		}
		accs, err := s.assemble(ctx, op, set, tx, []Record{rec}, nil)
		if err != nil {
			return err
		}
		out = accs[0]
		if k.HasGuards(transition) {
			if err := k.CheckGuards(transition, rec.State, fragmentData(out)); err != nil {
				return err
			}
		}
		if err := tx.SetState(ctx, id, to); err != nil {
			return err
		}
		if to != k.InitialState() {
			if err := s.endSessions(ctx, tx, id, now); err != nil {
				return err
			}
		}
		from := rec.State
		rec.State, out.State = to, to
		out.Freshness = s.token(id, rec.Version, now)
		return event(ctx, tx, "transitioned", rec, now, map[string]any{"transition": transition, "from": from, "to": to, "reason": reason})
	})
	if err != nil {
		return nil, fault.Wrap(op, fault.Internal, err)
	}
	s.written(ctx, id, out.Version)
	return out, nil
}

// errAlreadyErased rolls back the transaction of an erasure that found a
// tombstone.
var errAlreadyErased = errors.New("already erased")

// Erase erases an account: its fragments are deleted and its data key is
// destroyed, so sealed copies left in backups or logs can no longer be
// opened (crypto-shredding); its identifiers are released for reuse; the
// account stays as a tombstone in state "erased" so that references to its
// ID still resolve. Erasing a tombstone returns it unchanged. It returns
// fault.NotFound for an unknown account.
func (s *Service) Erase(ctx context.Context, id string) (*Account, error) {
	const op = "account.Erase"
	id, err := parseID(op, id)
	if err != nil {
		return nil, err
	}
	var out *Account
	err = s.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		now := s.clock()
		rec, err := tx.TouchAccount(ctx, id, now)
		if err != nil {
			return err
		}
		if !rec.EraseTime.IsZero() {
			// Already a tombstone: answer with it, and roll back the touch
			// so that erasing twice changes nothing.
			out = &Account{ID: rec.ID, Kind: rec.Kind, State: rec.State, Version: rec.Version - 1, CreateTime: rec.CreateTime,
				UpdateTime: rec.EraseTime, EraseTime: rec.EraseTime, Fragments: map[string]Fragment{}}
			return errAlreadyErased
		}
		if err := tx.Erase(ctx, id, now); err != nil {
			return err
		}
		if err := s.endSessions(ctx, tx, id, now); err != nil {
			return err
		}
		out = &Account{ID: rec.ID, Kind: rec.Kind, State: Erased, Version: rec.Version, CreateTime: rec.CreateTime,
			UpdateTime: now, EraseTime: now, Fragments: map[string]Fragment{}, Freshness: s.token(id, rec.Version, now)}
		return event(ctx, tx, "erased", rec, now, nil)
	})
	if errors.Is(err, errAlreadyErased) {
		return out, nil
	}
	if err != nil {
		return nil, fault.Wrap(op, fault.Internal, err)
	}
	s.written(ctx, id, out.Version)
	return out, nil
}

// fragmentData maps the fragments of a to their data, for guards.
func fragmentData(a *Account) map[string]map[string]any {
	out := make(map[string]map[string]any, len(a.Fragments))
	for name, f := range a.Fragments {
		out[name] = f.Data
	}
	return out
}
