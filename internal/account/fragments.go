package account

import (
	"context"
	"fmt"

	"github.com/atriumid/atrium/internal/envelope"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/kind"
)

// GetFragment returns one fragment of an account. A declared fragment that
// was never written is returned empty at version 0. It returns
// fault.NotFound for an unknown or erased account and fault.Invalid for a
// fragment the kind does not declare.
func (s *Service) GetFragment(ctx context.Context, id, name string) (*Fragment, error) {
	return s.getFragment(ctx, id, name, s.primary)
}

// GetFragmentSince is GetFragment served as GetSince serves accounts:
// never older than the write that made tok.
func (s *Service) GetFragmentSince(ctx context.Context, id, name, tok string) (*Fragment, error) {
	t, err := s.readToken(tok)
	if err != nil {
		return nil, err
	}
	return s.getFragment(ctx, id, name, s.cached(t))
}

func (s *Service) getFragment(ctx context.Context, id, name string, view viewFunc) (*Fragment, error) {
	const op = "account.GetFragment"
	id, err := parseID(op, id)
	if err != nil {
		return nil, err
	}
	var out *Fragment
	set := s.document()
	err = view(ctx, id, func(ctx context.Context, r Reader) error {
		rec, err := r.Account(ctx, id)
		if err != nil {
			return err
		}
		if !rec.EraseTime.IsZero() {
			return fault.E(op, fault.NotFound, "account erased")
		}
		fk, err := s.fragmentOf(op, set, rec.Kind, name)
		if err != nil {
			return err
		}
		out = &Fragment{AccountID: id, Name: name, Sensitivity: fk.Sensitivity, Data: map[string]any{}}
		frs, err := r.Fragments(ctx, []string{id}, []string{name})
		if err != nil || len(frs) == 0 {
			return err
		}
		out.Version, out.UpdateTime = frs[0].Version, frs[0].UpdateTime
		out.Data, err = decodeFragment(op, frs[0], func() (envelope.DataKey, error) { return s.keys.Unwrap(rec.DataKey) })
		return err
	})
	if err != nil {
		return nil, fault.Wrap(op, fault.Internal, err)
	}
	return out, nil
}

// fragmentOf returns the declaration of fragment name of kind kindName in
// set.
func (s *Service) fragmentOf(op string, set *kind.Set, kindName, name string) (*kind.Fragment, error) {
	k, err := s.kindOf(op, set, kindName)
	if err != nil {
		return nil, err
	}
	f, ok := k.Fragment(name)
	if !ok {
		return nil, unknownFragment(op, kindName, name)
	}
	return f, nil
}

// unknownFragment is the error for a fragment name a kind does not declare.
func unknownFragment(op, kindName, name string) error {
	return fault.Invalidf(op, []fault.Violation{{Field: "name", Reason: fmt.Sprintf("kind %q has no fragment %q", kindName, name)}}, "unknown fragment")
}

// FragmentWrite is a write of one fragment. When Expected is not nil the
// write succeeds only if the fragment is at version *Expected (0: never
// written); otherwise it applies to whatever version is current.
type FragmentWrite struct {
	AccountID string
	Name      string
	Expected  *int64
}

// PutFragment replaces the data of one fragment. See UpdateFragment for
// the errors.
func (s *Service) PutFragment(ctx context.Context, w FragmentWrite, data map[string]any) (*Fragment, error) {
	return s.updateFragment(ctx, "account.PutFragment", w, func(map[string]any) map[string]any { return data })
}

// PatchFragment applies a JSON merge patch (RFC 7396) to one fragment: a
// null removes a field, an object merges recursively, anything else
// replaces. See UpdateFragment for the errors.
func (s *Service) PatchFragment(ctx context.Context, w FragmentWrite, patch map[string]any) (*Fragment, error) {
	return s.updateFragment(ctx, "account.PatchFragment", w, func(cur map[string]any) map[string]any {
		return mergePatch(cur, patch)
	})
}

// updateFragment writes one fragment with compare-and-swap on its version.
// The new data is computed from the current data under the account's row
// lock, so that concurrent writers of one fragment never lose an update,
// and writers of different fragments never conflict. It returns
// fault.Aborted (with the current version in the message) when Expected
// does not match, fault.Invalid when the result fails the schema,
// fault.FailedPrecondition for an erased account and fault.NotFound for an
// unknown one.
func (s *Service) updateFragment(ctx context.Context, op string, w FragmentWrite, next func(cur map[string]any) map[string]any) (*Fragment, error) {
	id, err := parseID(op, w.AccountID)
	if err != nil {
		return nil, err
	}
	var out *Fragment
	var version int64 // the account's, after the write
	set := s.document()
	err = s.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		now := s.clock()
		rec, k, err := s.touchLive(ctx, tx, op, set, id, now)
		if err != nil {
			return err
		}
		fk, ok := k.Fragment(w.Name)
		if !ok {
			return unknownFragment(op, k.Name, w.Name)
		}
		dek := func() (envelope.DataKey, error) { return s.dataKey(ctx, tx, &rec) }
		cur := FragmentRecord{AccountID: id, Name: w.Name}
		curData := map[string]any{}
		frs, err := tx.Fragments(ctx, []string{id}, []string{w.Name})
		if err != nil {
			return err
		}
		if len(frs) > 0 {
			cur = frs[0]
			if curData, err = decodeFragment(op, cur, dek); err != nil {
				return err
			}
		}
		if w.Expected != nil && *w.Expected != cur.Version {
			return fault.E(op, fault.Aborted, "fragment %q is at version %d, not %d", w.Name, cur.Version, *w.Expected)
		}
		data := next(curData)
		raw, sealed, err := encodeFragment(op, fk, id, data, "data", dek)
		if err != nil {
			return err
		}
		fr := FragmentRecord{AccountID: id, Name: w.Name, Version: cur.Version + 1, Data: raw, Sealed: sealed, UpdateTime: now}
		if err := tx.PutFragment(ctx, fr, cur.Version); err != nil {
			return err
		}
		out = &Fragment{AccountID: id, Name: w.Name, Version: fr.Version, Sensitivity: fk.Sensitivity, Data: data,
			UpdateTime: now, Freshness: s.token(id, rec.Version, now)}
		version = rec.Version
		return event(ctx, tx, "fragment_updated", rec, now, map[string]any{"fragment": w.Name, "fragment_version": fr.Version})
	})
	if err != nil {
		return nil, fault.Wrap(op, fault.Internal, err)
	}
	s.written(ctx, id, version)
	return out, nil
}

// mergePatch applies an RFC 7396 merge patch to target and returns the
// result; target is not modified.
func mergePatch(target, patch map[string]any) map[string]any {
	out := make(map[string]any, len(target)+len(patch))
	for k, v := range target {
		out[k] = v
	}
	for k, v := range patch {
		switch pv := v.(type) {
		case nil:
			delete(out, k)
		case map[string]any:
			tv, _ := out[k].(map[string]any)
			out[k] = mergePatch(tv, pv)
		default:
			out[k] = v
		}
	}
	return out
}
