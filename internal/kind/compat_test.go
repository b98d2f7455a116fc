package kind

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/atriumid/atrium/internal/audit"
	"github.com/atriumid/atrium/internal/fault"
)

// fakeUsage is a Usage where everything the live document declares is in
// use by one account, and every fragment holds the given stored data.
type fakeUsage struct {
	live    *Set
	stored  map[string][]StoredFragment // by "kind.fragment"
	scanned int                         // largest batch requested
}

func (u *fakeUsage) declared(kind string, ok func(*Kind) bool) int64 {
	if k, found := u.live.Kind(kind); found && ok(k) {
		return 1
	}
	return 0
}

func (u *fakeUsage) CountAccounts(_ context.Context, kind, state string) (int64, error) {
	return u.declared(kind, func(k *Kind) bool { return state == "" || k.HasState(state) }), nil
}

func (u *fakeUsage) CountIdentifierHolders(_ context.Context, kind, typ string) (int64, error) {
	return u.declared(kind, func(k *Kind) bool { return k.AcceptsIdentifier(typ) }), nil
}

func (u *fakeUsage) CountFragmentHolders(_ context.Context, kind, fragment string) (int64, error) {
	return u.declared(kind, func(k *Kind) bool { _, ok := k.Fragment(fragment); return ok }), nil
}

func (u *fakeUsage) ScanFragments(_ context.Context, kind, fragment, after string, limit int) ([]StoredFragment, error) {
	u.scanned = max(u.scanned, limit)
	var out []StoredFragment
	for _, f := range u.stored[kind+"."+fragment] {
		if f.AccountID > after && len(out) < limit {
			out = append(out, f)
		}
	}
	return out, nil
}

// storedData makes n stored copies of each fragment of s: an object
// holding "x" in each required property, which every fragment schema of
// the built-in document accepts.
func storedData(t testing.TB, s *Set, n int) map[string][]StoredFragment {
	out := map[string][]StoredFragment{}
	for _, kn := range s.Names() {
		k, _ := s.Kind(kn)
		for _, fn := range k.FragmentNames() {
			f, _ := k.Fragment(fn)
			data := map[string]any{}
			req, _ := f.source.(map[string]any)["required"].([]any)
			for _, r := range req {
				data[r.(string)] = "x"
			}
			if vs := f.Validate(data); len(vs) > 0 {
				t.Fatalf("stored data of %s.%s is invalid: %v", kn, fn, vs)
			}
			raw, _ := json.Marshal(data)
			for i := range n {
				out[kn+"."+fn] = append(out[kn+"."+fn], StoredFragment{AccountID: fmt.Sprintf("a%06d", i), Fragment: fn, Data: raw})
			}
		}
	}
	return out
}

func mustCompile(t testing.TB, d *Document) *Set {
	t.Helper()
	s, err := Compile(d, CompileOptions{})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return s
}

func TestDiff(t *testing.T) {
	old := loadBuiltin(t)
	d := old.Document()
	org := d.Kinds["org"]
	org.IDPrefix = "co"
	delete(org.Fragments, "tax_id")
	org.Fragments["profile"] = FragmentSpec{Sensitivity: PII, Schema: map[string]any{"type": "object"}}
	org.Identifiers = []string{"email"}
	org.Lifecycle.Transitions["close"] = TransitionSpec{From: []string{"active"}, To: "closed", Guards: map[string]string{"g": "true"}}
	delete(org.Lifecycle.Transitions, "reinstate")
	org.Relations = ""
	d.Kinds["org"] = org
	delete(d.Kinds, "service")
	d.Kinds["team"] = KindSpec{IDPrefix: "team", Lifecycle: LifecycleSpec{Initial: "active"}}
	got := strings.Split(strings.TrimSpace(DiffText(Diff(old, mustCompile(t, d)))), "\n")
	want := []string{
		"~ kinds.org.id_prefix: org -> co",
		"+ kinds.org.identifiers.email",
		"- kinds.org.identifiers.username",
		"~ kinds.org.fragments.profile: internal -> pii",
		"~ kinds.org.fragments.profile.schema",
		"- kinds.org.fragments.tax_id",
		"~ kinds.org.lifecycle.transitions.close: [active, suspended] -> closed -> [active] -> closed if g",
		"- kinds.org.lifecycle.transitions.reinstate",
		"~ kinds.org.relations",
		"- kinds.service",
		"+ kinds.team",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Diff (-want +got):\n%s", diff)
	}
	if got := DiffText(Diff(old, old)); got != "no changes\n" {
		t.Errorf("DiffText(Diff(s, s)) = %q, want no changes", got)
	}
}

func TestCompatible(t *testing.T) {
	old := loadBuiltin(t)
	d := old.Document()
	user := d.Kinds["user"]
	user.Identifiers = slices.DeleteFunc(user.Identifiers, func(s string) bool { return s == "ens" })
	p := user.Fragments["profile"]
	schema := p.Schema.(map[string]any)
	schema["required"] = []any{"display_name"}
	user.Fragments["profile"] = p
	delete(user.Lifecycle.Transitions, "close")
	d.Kinds["user"] = user
	next := mustCompile(t, d)
	u := &fakeUsage{live: old, stored: storedData(t, old, ScanBatch+7)}
	err := Compatible(context.Background(), u, next, Diff(old, next), nil)
	_, vs := fault.PublicOf(err)
	want := []fault.Violation{
		{Field: "kinds.user.identifiers.ens", Reason: "cannot remove: user accounts hold ens identifiers; 1 account affected"},
		{Field: "kinds.user.fragments.profile.schema", Reason: "stored profile data fails the new schema; 507 accounts affected"},
		{Field: "kinds.user.lifecycle.states.closed", Reason: "cannot remove: user accounts are in state closed; 1 account affected"},
	}
	if !fault.Is(err, fault.FailedPrecondition) {
		t.Fatalf("Compatible = %v, want FailedPrecondition", err)
	}
	if diff := cmp.Diff(want, vs); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
	if u.scanned != ScanBatch {
		t.Errorf("largest batch read = %d, want %d", u.scanned, ScanBatch)
	}
}

// TestSensitivityRaise: declaring a fragment encrypted is refused while
// accounts hold it in the clear; lowering it is accepted.
func TestSensitivityRaise(t *testing.T) {
	old := loadBuiltin(t)
	for _, tc := range []struct {
		to      Sensitivity
		refused bool
	}{{PII, true}, {Secret, true}, {Public, false}} {
		d := old.Document()
		user := d.Kinds["user"]
		p := user.Fragments["profile"]
		p.Sensitivity = tc.to
		user.Fragments["profile"] = p
		d.Kinds["user"] = user
		next := mustCompile(t, d)
		err := Compatible(context.Background(), &fakeUsage{live: old}, next, Diff(old, next), nil)
		_, vs := fault.PublicOf(err)
		if got := err != nil; got != tc.refused || (tc.refused && (len(vs) != 1 || !strings.Contains(vs[0].Reason, "unencrypted"))) {
			t.Errorf("profile internal -> %s: Compatible = %v %v; want refused %v", tc.to, err, vs, tc.refused)
		}
	}
}

// additive draws one change that adds something to d: a kind, a fragment,
// an identifier type, a state and a transition, an optional schema
// property, or a guard.
func additive(t *rapid.T, d *Document) string {
	names := sortedKeys(d.Kinds)
	kn := rapid.SampledFrom(names).Draw(t, "kind")
	k := d.Kinds[kn]
	switch op := rapid.IntRange(0, 5).Draw(t, "op"); op {
	case 0:
		name := rapid.StringMatching(`new[a-z]{1,8}`).Draw(t, "new kind")
		d.Kinds[name] = KindSpec{IDPrefix: name[:min(len(name), 8)], Lifecycle: LifecycleSpec{Initial: "active"}}
		return "kind " + name
	case 1:
		name := rapid.StringMatching(`new[a-z]{1,8}`).Draw(t, "fragment")
		if k.Fragments == nil {
			k.Fragments = map[string]FragmentSpec{}
		}
		k.Fragments[name] = FragmentSpec{Sensitivity: Internal, Schema: map[string]any{"type": "object", "required": []any{"x"}}}
	case 2:
		typ := rapid.SampledFrom(IdentifierTypes).Draw(t, "identifier")
		if !slices.Contains(k.Identifiers, typ) {
			k.Identifiers = append(k.Identifiers, typ)
		}
	case 3:
		name := rapid.StringMatching(`new[a-z]{1,8}`).Draw(t, "transition")
		if k.Lifecycle.Transitions == nil {
			k.Lifecycle.Transitions = map[string]TransitionSpec{}
		}
		k.Lifecycle.Transitions[name] = TransitionSpec{From: []string{k.Lifecycle.Initial}, To: name + "_state"}
	case 4:
		if len(k.Fragments) == 0 {
			return "nothing"
		}
		fn := rapid.SampledFrom(sortedKeys(k.Fragments)).Draw(t, "fragment")
		f := k.Fragments[fn]
		schema := f.Schema.(map[string]any)
		props, _ := schema["properties"].(map[string]any)
		if props == nil {
			props = map[string]any{}
		}
		props[rapid.StringMatching(`new[a-z]{1,8}`).Draw(t, "property")] = map[string]any{"type": rapid.SampledFrom([]string{"string", "integer", "boolean"}).Draw(t, "type")}
		schema["properties"] = props
		k.Fragments[fn] = f
	case 5:
		if len(k.Lifecycle.Transitions) == 0 {
			return "nothing"
		}
		tn := rapid.SampledFrom(sortedKeys(k.Lifecycle.Transitions)).Draw(t, "transition")
		tr := k.Lifecycle.Transitions[tn]
		tr.Guards = map[string]string{"g": "state != 'x'"}
		k.Lifecycle.Transitions[tn] = tr
	}
	d.Kinds[kn] = k
	return kn
}

// TestAdditiveAlwaysAccepted: whatever one adds to a document in full use,
// the compatibility check accepts it.
func TestAdditiveAlwaysAccepted(t *testing.T) {
	old := loadBuiltin(t)
	stored := storedData(t, old, 3)
	rapid.Check(t, func(t *rapid.T) {
		d := old.Document()
		for range rapid.IntRange(1, 4).Draw(t, "changes") {
			additive(t, d)
		}
		next, err := Compile(d, CompileOptions{})
		if err != nil {
			t.Fatalf("Compile after additive changes: %v", err)
		}
		u := &fakeUsage{live: old, stored: stored}
		if err := Compatible(context.Background(), u, next, Diff(old, next), nil); err != nil {
			t.Fatalf("Compatible = %v, want nil for additive changes %v", err, Diff(old, next))
		}
	})
}

// TestRemovalInUseAlwaysRefused: removing a kind, fragment, identifier
// type or state that accounts use is refused, naming what was removed.
func TestRemovalInUseAlwaysRefused(t *testing.T) {
	old := loadBuiltin(t)
	stored := storedData(t, old, 1)
	rapid.Check(t, func(t *rapid.T) {
		d := old.Document()
		kn := rapid.SampledFrom(old.Names()).Draw(t, "kind")
		k := d.Kinds[kn]
		var field string
		switch rapid.IntRange(0, 3).Draw(t, "op") {
		case 0:
			delete(d.Kinds, kn)
			field = "kinds." + kn
		case 1:
			fn := rapid.SampledFrom(sortedKeys(k.Fragments)).Draw(t, "fragment")
			delete(k.Fragments, fn)
			field = "kinds." + kn + ".fragments." + fn
		case 2:
			i := rapid.IntRange(0, len(k.Identifiers)-1).Draw(t, "identifier")
			field = "kinds." + kn + ".identifiers." + k.Identifiers[i]
			k.Identifiers = slices.Delete(slices.Clone(k.Identifiers), i, i+1)
		case 3:
			// Every built-in lifecycle has close leading to closed.
			delete(k.Lifecycle.Transitions, "close")
			field = "kinds." + kn + ".lifecycle.states.closed"
		}
		if _, ok := d.Kinds[kn]; ok {
			d.Kinds[kn] = k
		}
		if len(d.Kinds) == 0 {
			t.Skip("no kind left")
		}
		next, err := Compile(d, CompileOptions{})
		if err != nil {
			t.Fatalf("Compile after a removal: %v", err)
		}
		u := &fakeUsage{live: old, stored: stored}
		err = Compatible(context.Background(), u, next, Diff(old, next), nil)
		_, vs := fault.PublicOf(err)
		if !fault.Is(err, fault.FailedPrecondition) || !slices.ContainsFunc(vs, func(v fault.Violation) bool { return v.Field == field }) {
			t.Fatalf("Compatible = %v %v, want FailedPrecondition naming %s", err, vs, field)
		}
	})
}

func TestRegistryAdvance(t *testing.T) {
	s := loadBuiltin(t)
	r := NewRegistry(s, 2)
	if r.Advance(s, 1) || r.Advance(s, 2) {
		t.Error("Advance to an older or equal version swapped")
	}
	if !r.Advance(s, 3) {
		t.Error("Advance to a newer version did not swap")
	}
	if _, v := r.Current(); v != 3 {
		t.Errorf("version after Advance = %d, want 3", v)
	}
}

func TestDecodeStored(t *testing.T) {
	v, err := decodeJSON([]byte(`{"n": 1.50}`))
	if err != nil || v.(map[string]any)["n"] != json.Number("1.50") {
		t.Errorf("decodeJSON = %v, %v; want n as json.Number", v, err)
	}
}

// memStore is a Store in memory with no accounts.
type memStore struct {
	fakeUsage
	versions []Version
	trails   []*Trail
}

func (m *memStore) LatestKinds(context.Context) (Version, error) {
	if len(m.versions) == 0 {
		return Version{}, fault.E("test", fault.NotFound, "none")
	}
	return m.versions[len(m.versions)-1], nil
}

func (m *memStore) LatestKindsNumber(context.Context) (int64, error) {
	return int64(len(m.versions)), nil
}

func (m *memStore) KindsVersion(_ context.Context, n int64) (Version, error) {
	if n < 1 || int(n) > len(m.versions) {
		return Version{}, fault.E("test", fault.NotFound, "none")
	}
	return m.versions[n-1], nil
}

func (m *memStore) AppendKinds(_ context.Context, v Version, trail *Trail) error {
	m.trails = append(m.trails, trail)
	if int(v.Number) != len(m.versions)+1 {
		return fault.E("test", fault.AlreadyExists, "taken")
	}
	m.versions = append(m.versions, v)
	return nil
}

func TestApplier(t *testing.T) {
	ctx := context.Background()
	empty := &Set{kinds: map[string]*Kind{}, doc: &Document{}}
	st := &memStore{fakeUsage: fakeUsage{live: empty}}
	reg := NewRegistry(nil, 0)
	a := NewApplier(ApplierConfig{Store: st, Registry: reg})
	res, err := a.Apply(ctx, ApplyRequest{Source: Builtin(), AppliedBy: "k1"})
	if err != nil || !res.Applied || res.Version != 1 || len(res.Changes) != 3 {
		t.Fatalf("first Apply = %+v, %v; want version 1 adding 3 kinds", res, err)
	}
	if _, v := reg.Current(); v != 1 || st.versions[0].AppliedBy != "k1" || st.versions[0].Diff != "+ kinds.org\n+ kinds.service\n+ kinds.user\n" {
		t.Errorf("after Apply: registry at %d, stored %+v", v, st.versions[0])
	}
	if res, err := a.Apply(ctx, ApplyRequest{Source: Builtin()}); err != nil || res.Applied || res.Version != 1 {
		t.Errorf("Apply of the live document = %+v, %v; want nothing stored", res, err)
	}
	team := append(Builtin(), "\n  team:\n    id_prefix: team\n    lifecycle: {initial: active}\n"...)
	if res, err := a.Apply(ctx, ApplyRequest{Source: team, DryRun: true}); err != nil || res.Applied || len(st.versions) != 1 {
		t.Errorf("dry run = %+v, %v; want nothing stored", res, err)
	}
	if _, err := a.Apply(ctx, ApplyRequest{Source: []byte("kinds: {}")}); !fault.Is(err, fault.Invalid) {
		t.Errorf("Apply of an invalid document = %v, want Invalid", err)
	}
	// Another replica stored version 2 after this one read version 1.
	racing := &racingStore{memStore: st}
	b := NewApplier(ApplierConfig{Store: racing, Registry: NewRegistry(nil, 0)})
	if _, err := b.Apply(ctx, ApplyRequest{Source: team}); !fault.Is(err, fault.Aborted) {
		t.Errorf("Apply that lost a race = %v, want Aborted", err)
	}
}

// TestApplierTrail checks that every apply after the first hands the store
// its event and audit record, attributed to the caller, and that the
// first (the database's initial document) has none.
func TestApplierTrail(t *testing.T) {
	st := &memStore{fakeUsage: fakeUsage{live: &Set{kinds: map[string]*Kind{}, doc: &Document{}}}}
	a := NewApplier(ApplierConfig{Store: st, Registry: NewRegistry(nil, 0)})
	ctx := audit.WithActor(context.Background(), audit.Actor{Principal: "key:k1", IP: "192.0.2.1", RequestID: "req_1"})
	if _, err := a.Apply(ctx, ApplyRequest{Source: Builtin()}); err != nil {
		t.Fatal(err)
	}
	team := append(Builtin(), "\n  team:\n    id_prefix: team\n    lifecycle: {initial: active}\n"...)
	if _, err := a.Apply(ctx, ApplyRequest{Source: team}); err != nil {
		t.Fatal(err)
	}
	if len(st.trails) != 2 || st.trails[0] != nil || st.trails[1] == nil {
		t.Fatalf("trails = %v; want none for version 1, one for version 2", st.trails)
	}
	tr := st.trails[1]
	var data struct {
		Version, Previous int64
		Changes           []string
	}
	if err := json.Unmarshal(tr.Event.Data, &data); err != nil {
		t.Fatal(err)
	}
	if tr.Event.Type != "atrium.kinds.applied" || tr.Event.Subject != KindsSubject || data.Version != 2 || data.Previous != 1 ||
		len(data.Changes) != 1 || data.Changes[0] != "kinds.team" {
		t.Errorf("event = %s %s %s; want atrium.kinds.applied about kinds, version 2 after 1 adding kinds.team", tr.Event.Type, tr.Event.Subject, tr.Event.Data)
	}
	if tr.Audit.Type != tr.Event.Type || tr.Audit.Actor.Principal != "key:k1" || tr.Audit.Actor.RequestID != "req_1" ||
		!strings.Contains(string(tr.Audit.Data), tr.Event.ID) {
		t.Errorf("audit entry = %+v; want the event's type, the caller and the event's ID", tr.Audit)
	}
}

// racingStore lets another apply store the next version between a read of
// the latest version and the append.
type racingStore struct{ *memStore }

func (r *racingStore) AppendKinds(ctx context.Context, v Version, trail *Trail) error {
	r.memStore.AppendKinds(ctx, Version{Number: v.Number, Source: []byte("x")}, nil)
	return r.memStore.AppendKinds(ctx, v, trail)
}
