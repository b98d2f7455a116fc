package account

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/atriumid/atrium/internal/envelope"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/ids"
	"github.com/atriumid/atrium/internal/kind"
	"github.com/atriumid/atrium/internal/relation"
)

// CreateRequest is what a new account is made of.
type CreateRequest struct {
	Kind        string
	Fragments   map[string]map[string]any
	Identifiers []IdentifierInput
	// Relationships are (object, relation, subject) tuples written in the
	// same transaction, such as ("org:$self", "owner", "user:usr_…"); the
	// ID "$self" stands for the account being created.
	Relationships [][3]string
	// Within, when set, runs in the creating transaction after the
	// account's rows are written and before its event, for writes that
	// must commit with the account, such as its first password.
	Within func(ctx context.Context, tx Tx, accountID string, now time.Time) error
}

// Self is the ID that stands for the account being created in the
// relationships of a create request.
const Self = "$self"

// Create creates an account with its fragments and identifiers in one
// transaction. It returns fault.Invalid with field violations for an unknown
// kind, fragment or identifier type, for data that fails a schema and for an
// identifier that does not normalize; fault.AlreadyExists when an identifier
// is taken.
func (s *Service) Create(ctx context.Context, req CreateRequest) (*Account, error) {
	const op = "account.Create"
	k, err := s.kindOf(op, s.document(), req.Kind)
	if err != nil {
		return nil, err
	}
	// Every problem with the request is reported at once.
	var violations []fault.Violation
	idents, err := s.normalizeAll(op, k, req.Identifiers)
	violations = appendViolations(violations, err)
	violations = appendViolations(violations, checkFragmentNames(op, k, req.Fragments))
	if err := firstNonInvalid(err); err != nil {
		return nil, err
	}
	now := s.clock()
	rec := Record{ID: ids.New(k.IDPrefix), Kind: k.Name, State: k.InitialState(), Version: 1, CreateTime: now, UpdateTime: now}
	tuples, err := s.relationships(op, rec.ID, req.Relationships)
	violations = appendViolations(violations, err)
	if err := firstNonInvalid(err); err != nil {
		return nil, err
	}

	// Encode before the transaction: validation and sealing need no lock.
	var dek envelope.DataKey
	newKey := func() (envelope.DataKey, error) {
		if rec.DataKey == nil {
			key, wrapped, err := s.keys.NewDataKey()
			if err != nil {
				return envelope.DataKey{}, err
			}
			dek, rec.DataKey = key, wrapped
		}
		return dek, nil
	}
	var frags []FragmentRecord
	for _, name := range slices.Sorted(maps.Keys(req.Fragments)) {
		f, ok := k.Fragment(name)
		if !ok {
			continue // reported above
		}
		data, sealed, err := encodeFragment(op, f, rec.ID, req.Fragments[name], "fragments."+name, newKey)
		if fault.Is(err, fault.Invalid) {
			violations = appendViolations(violations, err)
			continue
		}
		if err != nil {
			return nil, err
		}
		frags = append(frags, FragmentRecord{AccountID: rec.ID, Name: name, Version: 1, Data: data, Sealed: sealed, UpdateTime: now})
	}
	if len(violations) > 0 {
		return nil, fault.Invalidf(op, violations, "invalid account")
	}

	var rev int64
	err = s.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		if err := tx.InsertAccount(ctx, rec); err != nil {
			return err
		}
		if len(tuples) > 0 {
			var err error
			if rev, err = tx.WriteTuples(ctx, tuples); err != nil {
				return err
			}
		}
		for _, f := range frags {
			if err := tx.PutFragment(ctx, f, 0); err != nil {
				return err
			}
		}
		for i, id := range idents {
			id.AccountID, id.CreateTime = rec.ID, now
			if err := tx.InsertIdentifier(ctx, id); err != nil {
				return identifierTaken(op, fmt.Sprintf("identifiers[%d]", i), err)
			}
		}
		if req.Within != nil {
			if err := req.Within(ctx, tx, rec.ID, now); err != nil {
				return err
			}
		}
		if err := event(ctx, tx, "created", rec, now, map[string]any{"fragments": fragmentVersions(frags)}); err != nil {
			return err
		}
		return relationshipEvents(ctx, tx, tuples, now)
	})
	s.identifiersAdded(ctx, idents)
	if err != nil {
		return nil, fault.Wrap(op, fault.Internal, err)
	}
	a := &Account{ID: rec.ID, Kind: rec.Kind, State: rec.State, Version: rec.Version, CreateTime: now, UpdateTime: now,
		Fragments: map[string]Fragment{}, Freshness: s.tokenWithRevision(rec.ID, rec.Version, now, rev)}
	for _, f := range frags {
		fk, _ := k.Fragment(f.Name)
		a.Fragments[f.Name] = Fragment{AccountID: rec.ID, Name: f.Name, Version: 1, Sensitivity: fk.Sensitivity, Data: req.Fragments[f.Name], UpdateTime: now}
	}
	for _, id := range idents {
		a.Identifiers = append(a.Identifiers, Identifier{Type: id.Type, Value: id.Value, CreateTime: now})
	}
	return a, nil
}

// appendViolations adds the violations of an Invalid error to vs.
func appendViolations(vs []fault.Violation, err error) []fault.Violation {
	if fe, ok := errors.AsType[*fault.Error](err); ok && fe.Kind == fault.Invalid {
		return append(vs, fe.Violations...)
	}
	return vs
}

// firstNonInvalid returns err unless it is nil or an Invalid error, whose
// violations the caller collects.
func firstNonInvalid(err error) error {
	if err == nil || fault.Is(err, fault.Invalid) {
		return nil
	}
	return err
}

// relationships parses the relationships of a create request, with Self
// standing for the new account's ID.
func (s *Service) relationships(op, id string, raw [][3]string) ([]relation.Tuple, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	if s.tuples == nil {
		return nil, fault.Invalidf(op, []fault.Violation{{Field: "relationships", Reason: "not supported"}}, "relationships are not supported")
	}
	if len(raw) > MaxRelationships {
		return nil, fault.Invalidf(op, []fault.Violation{{Field: "relationships", Reason: fmt.Sprintf("at most %d", MaxRelationships)}}, "too many relationships")
	}
	seen := map[[3]string]bool{}
	for i, r := range raw {
		if seen[r] {
			return nil, fault.Invalidf(op, []fault.Violation{{Field: fmt.Sprintf("relationships[%d]", i), Reason: "given twice"}}, "duplicate relationship")
		}
		seen[r] = true
	}
	sub := make([][3]string, len(raw))
	for i, r := range raw {
		for j, v := range r {
			if typ, oid, ok := strings.Cut(v, ":"); ok && (oid == Self || strings.HasPrefix(oid, Self+"#")) {
				v = typ + ":" + id + strings.TrimPrefix(oid, Self)
			}
			sub[i][j] = v
		}
	}
	return s.tuples.ParseTuples("relationships", sub)
}

// checkFragmentNames refuses fragments that k does not declare.
func checkFragmentNames(op string, k *kind.Kind, frags map[string]map[string]any) error {
	var vs []fault.Violation
	for _, name := range slices.Sorted(maps.Keys(frags)) {
		if _, ok := k.Fragment(name); !ok {
			vs = append(vs, fault.Violation{Field: "fragments." + name, Reason: fmt.Sprintf("kind %q has no fragment %q", k.Name, name)})
		}
	}
	if len(vs) > 0 {
		return fault.Invalidf(op, vs, "unknown fragment")
	}
	return nil
}

// fragmentVersions maps fragment names to versions, for events.
func fragmentVersions(frags []FragmentRecord) map[string]int64 {
	m := make(map[string]int64, len(frags))
	for _, f := range frags {
		m[f.Name] = f.Version
	}
	return m
}

// Get returns the account with the given ID and the fragments named in
// fragments (all when empty). An erased account is returned as a tombstone.
// It returns fault.NotFound for an unknown ID and fault.Invalid for a
// malformed ID or an unknown fragment name.
func (s *Service) Get(ctx context.Context, id string, fragments []string) (*Account, error) {
	return s.get(ctx, id, fragments, s.primary)
}

// GetSince is Get served from the read cache or the database replica
// when they hold data no older than the write that made the freshness
// token tok, and from the primary database otherwise. With tok empty, the
// data may be as old as the cache's staleness bound. A malformed or forged
// token is fault.Invalid.
func (s *Service) GetSince(ctx context.Context, id string, fragments []string, tok string) (*Account, error) {
	t, err := s.readToken(tok)
	if err != nil {
		return nil, err
	}
	return s.get(ctx, id, fragments, s.cached(t))
}

func (s *Service) get(ctx context.Context, id string, fragments []string, view viewFunc) (*Account, error) {
	const op = "account.Get"
	id, err := parseID(op, id)
	if err != nil {
		return nil, err
	}
	var out []*Account
	set := s.document()
	err = view(ctx, id, func(ctx context.Context, r Reader) error {
		rec, err := r.Account(ctx, id)
		if err != nil {
			return err
		}
		out, err = s.assemble(ctx, op, set, r, []Record{rec}, fragments)
		return err
	})
	if err != nil {
		return nil, fault.Wrap(op, fault.Internal, err)
	}
	return out[0], nil
}

// assemble reads the fragments and identifiers of recs and builds
// accounts, with the sensitivities that set declares.
func (s *Service) assemble(ctx context.Context, op string, set *kind.Set, r Reader, recs []Record, names []string) ([]*Account, error) {
	byID := make(map[string]*Account, len(recs))
	keys := make(map[string][]byte, len(recs))
	live := make([]string, 0, len(recs))
	out := make([]*Account, len(recs))
	for i, rec := range recs {
		a := &Account{ID: rec.ID, Kind: rec.Kind, State: rec.State, Version: rec.Version, CreateTime: rec.CreateTime,
			UpdateTime: rec.UpdateTime, EraseTime: rec.EraseTime, Fragments: map[string]Fragment{}}
		out[i], byID[rec.ID], keys[rec.ID] = a, a, rec.DataKey
		if rec.EraseTime.IsZero() {
			live = append(live, rec.ID)
		}
	}
	if len(names) > 0 {
		for _, rec := range recs {
			if k, ok := set.Kind(rec.Kind); ok {
				for _, n := range names {
					if _, ok := k.Fragment(n); !ok {
						return nil, fault.Invalidf(op, []fault.Violation{{Field: "fragments", Reason: fmt.Sprintf("kind %q has no fragment %q", k.Name, n)}}, "unknown fragment")
					}
				}
			}
		}
	}
	if len(live) == 0 {
		return out, nil
	}
	frags, err := r.Fragments(ctx, live, names)
	if err != nil {
		return nil, err
	}
	for _, fr := range frags {
		a := byID[fr.AccountID]
		data, err := decodeFragment(op, fr, func() (envelope.DataKey, error) { return s.keys.Unwrap(keys[fr.AccountID]) })
		if err != nil {
			return nil, err
		}
		f := Fragment{AccountID: a.ID, Name: fr.Name, Version: fr.Version, Data: data, UpdateTime: fr.UpdateTime}
		if k, ok := set.Kind(a.Kind); ok {
			if fk, ok := k.Fragment(fr.Name); ok {
				f.Sensitivity = fk.Sensitivity
			}
		}
		a.Fragments[fr.Name] = f
	}
	idents, err := r.Identifiers(ctx, live)
	if err != nil {
		return nil, err
	}
	for _, ir := range idents {
		a := byID[ir.AccountID]
		a.Identifiers = append(a.Identifiers, Identifier{Type: ir.Type, Value: ir.Value, VerifyTime: ir.VerifyTime, CreateTime: ir.CreateTime})
	}
	return out, nil
}

// ListRequest selects a page of accounts.
type ListRequest struct {
	Kind      string
	State     string
	PageSize  int
	PageToken string
}

// pageToken is the decoded form of an opaque page token: where the last page
// ended and the filters it was made for (AIP-158: a token is valid only
// with the same filters).
type pageToken struct {
	After string `json:"a"`
	Kind  string `json:"k"`
	State string `json:"s"`
}

// List returns a page of accounts of one kind, optionally in one state, in
// ID (creation) order, and the token of the next page ("" at the end).
// Pages are keyed by ID, not by offset, so inserts do not shift them: every
// account that existed when paging began is returned exactly once, in
// order. An account committed while a client pages appears only if its ID
// sorts after the page the client has reached (a page is not a snapshot).
// It returns fault.Invalid for a missing kind, a bad page size or a page
// token that is malformed or made for other filters.
func (s *Service) List(ctx context.Context, req ListRequest) ([]*Account, string, error) {
	const op = "account.List"
	if req.Kind == "" {
		return nil, "", fault.Invalidf(op, []fault.Violation{{Field: "kind", Reason: "required"}}, "kind is required")
	}
	set := s.document()
	k, err := s.kindOf(op, set, req.Kind)
	if err != nil {
		return nil, "", err
	}
	if req.State != "" && req.State != Erased && !slices.Contains(k.States(), req.State) {
		return nil, "", fault.Invalidf(op, []fault.Violation{{Field: "state", Reason: fmt.Sprintf("kind %q has no state %q", k.Name, req.State)}}, "unknown state")
	}
	size := req.PageSize
	switch {
	case size == 0:
		size = DefaultPageSize
	case size < 0 || size > MaxPageSize:
		return nil, "", fault.Invalidf(op, []fault.Violation{{Field: "page_size", Reason: fmt.Sprintf("must be between 0 and %d", MaxPageSize)}}, "bad page size")
	}
	q := Query{Kind: req.Kind, State: req.State, Limit: size + 1}
	if req.PageToken != "" {
		t, err := decodePageToken(req.PageToken)
		if err != nil || t.Kind != req.Kind || t.State != req.State {
			return nil, "", fault.Invalidf(op, []fault.Violation{{Field: "page_token", Reason: "malformed, or made for other filters"}}, "bad page token")
		}
		q.After = t.After
	}
	var out []*Account
	more := false
	err = s.store.View(ctx, func(ctx context.Context, r Reader) error {
		recs, err := r.Accounts(ctx, q)
		if err != nil {
			return err
		}
		if more = len(recs) > size; more {
			recs = recs[:size]
		}
		out, err = s.assemble(ctx, op, set, r, recs, nil)
		return err
	})
	if err != nil {
		return nil, "", fault.Wrap(op, fault.Internal, err)
	}
	next := ""
	if more {
		next = encodePageToken(pageToken{After: out[len(out)-1].ID, Kind: req.Kind, State: req.State})
	}
	return out, next, nil
}

func encodePageToken(t pageToken) string {
	b, _ := json.Marshal(t) // strings only: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePageToken(s string) (pageToken, error) {
	var t pageToken
	if len(s) > 512 {
		return t, fault.E("account.pageToken", fault.Invalid, "page token too long")
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return t, err
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return t, err
	}
	if _, _, err := ids.Parse(t.After); err != nil {
		return t, err
	}
	return t, nil
}

// parseID checks that id is a well-formed account ID and returns its
// canonical form.
func parseID(op, id string) (string, error) {
	_, c, err := ids.Parse(id)
	if err != nil {
		return "", fault.Invalidf(op, []fault.Violation{{Field: "id", Reason: "not an account ID"}}, "malformed account ID")
	}
	return c, nil
}
