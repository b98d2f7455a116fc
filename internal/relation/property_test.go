package relation

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

// The engine is compared with a deliberately naive evaluator: it computes,
// for one subject, the value of every object#relation at once by iterating
// three-valued (Kleene) equations from "unknown" until nothing changes,
// over all tuples, with no index, no memo and no pruning. That is Fitting's
// fixpoint, the semantics the package documents; unknown is a denial.
// Like OpenFGA, an object#relation whose definition can never reach
// subjects of the asked kind is false from the start, whatever cycles it
// sits on.

var (
	propTypes = []string{"doc", "folder", "team"}
	propIDs   = []string{"a", "b", "c"}
	propUsers = []string{"u1", "u2", "u3"}
)

// propModel draws a small model: types doc, folder, team, each with a
// parent tupleset and relations r0…rN whose definitions mix type lists
// (users, wildcards, usersets), computed usersets, tuple-to-usersets, and
// "or", "and", "but not" with parentheses.
func propModel(t *rapid.T) string {
	nrel := map[string]int{}
	for _, typ := range propTypes {
		nrel[typ] = rapid.IntRange(1, 3).Draw(t, "relations of "+typ)
	}
	parents := map[string][]string{}
	for _, typ := range propTypes {
		parents[typ] = rapid.SliceOfNDistinct(rapid.SampledFrom(propTypes), 1, 2, rapid.ID[string]).Draw(t, "parents of "+typ)
	}
	var b strings.Builder
	b.WriteString("model\n  schema 1.1\ntype user\n")
	for _, typ := range propTypes {
		fmt.Fprintf(&b, "type %s\n  relations\n    define parent: [%s]\n", typ, strings.Join(parents[typ], ", "))
		for i := range nrel[typ] {
			// The first operand is always a type list so every relation
			// has an entry point; computed usersets only name earlier
			// relations so they cannot form a cycle.
			var direct []string
			for _, d := range []string{"user", "user:*"} {
				if rapid.Bool().Draw(t, "allow "+d) {
					direct = append(direct, d)
				}
			}
			if len(direct) == 0 {
				direct = append(direct, "user")
			}
			if rapid.IntRange(0, 2).Draw(t, "userset?") == 0 {
				u := rapid.SampledFrom(propTypes).Draw(t, "userset type")
				direct = append(direct, fmt.Sprintf("%s#r%d", u, rapid.IntRange(0, nrel[u]-1).Draw(t, "userset relation")))
			}
			operand := func() string {
				switch {
				case i > 0 && rapid.Bool().Draw(t, "computed?"):
					return fmt.Sprintf("r%d", rapid.IntRange(0, i-1).Draw(t, "computed"))
				default:
					p := rapid.SampledFrom(parents[typ]).Draw(t, "ttu parent")
					return fmt.Sprintf("r%d from parent", rapid.IntRange(0, nrel[p]-1).Draw(t, "ttu relation"))
				}
			}
			expr := "[" + strings.Join(slices.Compact(direct), ", ") + "]"
			switch rapid.IntRange(0, 5).Draw(t, "shape") {
			case 1:
				expr += " or " + operand()
			case 2:
				expr += " and " + operand()
			case 3:
				expr += " but not " + operand()
			case 4:
				expr = "(" + expr + " or " + operand() + ") but not " + operand()
			case 5:
				expr += " and (" + operand() + " or " + operand() + ")"
			}
			fmt.Fprintf(&b, "    define r%d: %s\n", i, expr)
		}
	}
	return b.String()
}

// propTuples draws tuples that the model's type restrictions allow.
func propTuples(t *rapid.T, m *Model) []Tuple {
	var out []Tuple
	n := rapid.IntRange(0, 30).Draw(t, "tuples")
	for range n {
		typ := rapid.SampledFrom(propTypes).Draw(t, "object type")
		td := m.Type(typ)
		rel := rapid.SampledFrom(td.Relations).Draw(t, "relation")
		d := rapid.SampledFrom(rel.Direct()).Draw(t, "restriction")
		s := Subject{Type: d.Type}
		switch {
		case d.Wildcard:
			s.ID = Wildcard
		case d.Type == "user":
			s.ID = rapid.SampledFrom(propUsers).Draw(t, "user")
		default:
			s.ID = rapid.SampledFrom(propIDs).Draw(t, "subject id")
			s.Relation = d.Relation
		}
		tp := Tuple{Object: Object{typ, rapid.SampledFrom(propIDs).Draw(t, "object id")}, Relation: rel.Name, Subject: s}
		if err := m.ValidateTuple(tp); err != nil {
			t.Fatalf("generated tuple %s: %v", tp, err)
		}
		out = append(out, tp)
	}
	return out
}

// naive is the reference evaluator.
type naive struct {
	m      *Model
	tuples []Tuple
}

// reachable returns, for every type#relation, the subject kinds that its
// definition can reach through the positive side of its operators.
func (n naive) reachable() map[relKey]map[SubjectType]bool {
	out := map[relKey]map[SubjectType]bool{}
	for _, t := range n.m.Types() {
		for _, r := range t.Relations {
			out[relKey{t.Name, r.Name}] = map[SubjectType]bool{{t.Name, r.Name}: true}
		}
	}
	for changed := true; changed; {
		changed = false
		add := func(dst map[SubjectType]bool, k SubjectType) {
			if !dst[k] {
				dst[k] = true
				changed = true
			}
		}
		for _, t := range n.m.Types() {
			for _, r := range t.Relations {
				dst := out[relKey{t.Name, r.Name}]
				for _, d := range r.Direct() {
					if d.Relation == "" {
						add(dst, SubjectType{Type: d.Type})
					}
				}
				for _, k := range n.refs(t.Name, r.Rewrite) {
					for kind := range out[k] {
						add(dst, kind)
					}
				}
			}
		}
	}
	return out
}

// refs returns the relations that the positive side of w draws members
// from.
func (n naive) refs(typ string, w *Rewrite) []relKey {
	var out []relKey
	switch w.Op {
	case OpDirect:
		for _, d := range w.Direct {
			if d.Relation != "" {
				out = append(out, relKey{d.Type, d.Relation})
			}
		}
	case OpComputed:
		out = append(out, relKey{typ, w.Relation})
	case OpTupleToUser:
		for _, d := range n.m.Type(typ).Relation(w.Tupleset).Direct() {
			if n.m.Type(d.Type).Relation(w.Relation) != nil {
				out = append(out, relKey{d.Type, w.Relation})
			}
		}
	case OpExclusion:
		out = n.refs(typ, w.Children[0])
	default:
		for _, c := range w.Children {
			out = append(out, n.refs(typ, c)...)
		}
	}
	return out
}

// values returns the value of every object#relation for subject s.
func (n naive) values(s Subject) map[objRel]tri {
	possible := n.reachable()
	val := map[objRel]tri{}
	var nodes []objRel
	for _, typ := range propTypes {
		for _, id := range propIDs {
			for _, r := range n.m.Type(typ).Relations {
				k := objRel{Object{typ, id}, r.Name}
				val[k] = unknown
				if !possible[relKey{typ, r.Name}][SubjectType{s.Type, s.Relation}] {
					val[k] = no
					continue
				}
				nodes = append(nodes, k)
			}
		}
	}
	for changed := true; changed; {
		changed = false
		for _, k := range nodes {
			v := n.eval(k.obj, k.rel, n.m.Type(k.obj.Type).Relation(k.rel).Rewrite, s, val)
			if s.Relation == k.rel && s.Object() == k.obj {
				v = yes
			}
			if v != val[k] {
				val[k] = v
				changed = true
			}
		}
	}
	return val
}

func or3(a, b tri) tri {
	switch {
	case a == yes || b == yes:
		return yes
	case a == unknown || b == unknown:
		return unknown
	}
	return no
}

func not3(a tri) tri {
	switch a {
	case yes:
		return no
	case no:
		return yes
	}
	return unknown
}

func and3(a, b tri) tri { return not3(or3(not3(a), not3(b))) }

// admitted reports whether a type list admits s, written out again here so
// the reference does not lean on the engine's helpers.
func admitted(direct []TypeRestriction, s Subject) bool {
	for _, d := range direct {
		if d.Type == s.Type && d.Relation == s.Relation && d.Wildcard == (s.ID == Wildcard) {
			return true
		}
	}
	return false
}

func (n naive) eval(obj Object, rel string, w *Rewrite, s Subject, val map[objRel]tri) tri {
	switch w.Op {
	case OpDirect:
		v := no
		for _, tp := range n.tuples {
			if tp.Object != obj || tp.Relation != rel || !admitted(w.Direct, tp.Subject) {
				continue
			}
			sub := tp.Subject
			switch {
			case sub == s:
				v = yes
			case sub.ID == Wildcard && s.Relation == "" && sub.Type == s.Type:
				v = yes
			case sub.Relation != "":
				v = or3(v, val[objRel{sub.Object(), sub.Relation}])
			}
		}
		return v
	case OpComputed:
		return val[objRel{obj, w.Relation}]
	case OpTupleToUser:
		v := no
		ts := n.m.Type(obj.Type).Relation(w.Tupleset)
		for _, tp := range n.tuples {
			if tp.Object != obj || tp.Relation != w.Tupleset || !admitted(ts.Direct(), tp.Subject) {
				continue
			}
			if n.m.Type(tp.Subject.Type).Relation(w.Relation) != nil {
				v = or3(v, val[objRel{tp.Subject.Object(), w.Relation}])
			}
		}
		return v
	case OpUnion:
		v := no
		for _, c := range w.Children {
			v = or3(v, n.eval(obj, rel, c, s, val))
		}
		return v
	case OpIntersection:
		v := yes
		for _, c := range w.Children {
			v = and3(v, n.eval(obj, rel, c, s, val))
		}
		return v
	default:
		return and3(n.eval(obj, rel, w.Children[0], s, val), not3(n.eval(obj, rel, w.Children[1], s, val)))
	}
}

func TestPropertyEngineMatchesNaive(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		text := propModel(t)
		m, err := ParseModel(text)
		if err != nil {
			t.Skipf("model rejected: %v", err) // e.g. a tupleset loop with no entry point
		}
		m2, err := ParseModel(m.String())
		if err != nil || m2.String() != m.String() {
			t.Fatalf("format does not round-trip: %v\n%s", err, m)
		}
		tuples := propTuples(t, m)
		store := NewMemoryTuples(tuples...)
		// Check reads some tuples from a store and the rest as contextual
		// tuples; the answers must not change.
		split := rapid.IntRange(0, len(tuples)).Draw(t, "contextual split")
		partial, contextual := NewMemoryTuples(tuples[:split]...), tuples[split:]
		ref := naive{m, tuples}
		ctx := context.Background()
		const depth = 200 // these graphs are small; never hit the limit
		subjects := []Subject{{Type: "user", ID: "u1"}, {Type: "user", ID: "u2"}, {Type: "user", ID: Wildcard}}
		for _, typ := range propTypes {
			subjects = append(subjects, Subject{Type: typ, ID: "a", Relation: "r0"})
		}
		for _, s := range subjects {
			val := ref.values(s)
			var batch []CheckRequest
			for _, typ := range propTypes {
				for _, r := range m.Type(typ).Relations {
					var want []string
					for _, id := range propIDs {
						obj := Object{typ, id}
						w := val[objRel{obj, r.Name}] == yes
						req := CheckRequest{Subject: s, Relation: r.Name, Object: obj, MaxDepth: depth}
						batch = append(batch, req)
						req.Contextual = contextual
						got, err := Check(ctx, m, partial, req)
						if err != nil || got != w {
							t.Fatalf("Check(%s, %s, %s) = %v, %v, want %v\n%s\n%v", s, r.Name, obj, got, err, w, m, tuples)
						}
						if w {
							want = append(want, id)
						}
					}
					got, err := ListObjects(ctx, m, store, ListObjectsRequest{Type: typ, Relation: r.Name, Subject: s, MaxDepth: depth})
					if err != nil {
						t.Fatalf("ListObjects(%s, %s, %s) error %v", s, r.Name, typ, err)
					}
					if diff := cmp.Diff(want, got, cmpEmpty); diff != "" {
						t.Fatalf("ListObjects(%s, %s, %s) (-want +got):\n%s\n%s\n%v", s, r.Name, typ, diff, m, tuples)
					}
				}
			}
			// A batch shares what it learns between checks.
			results, err := BatchCheck(ctx, m, store, batch)
			if err != nil {
				t.Fatalf("BatchCheck: %v", err)
			}
			for i, res := range results {
				q := batch[i]
				if w := val[objRel{q.Object, q.Relation}] == yes; res.Err != nil || res.Allowed != w {
					t.Fatalf("BatchCheck #%d (%s, %s, %s) = %v, %v, want %v\n%s\n%v", i, s, q.Relation, q.Object, res.Allowed, res.Err, w, m, tuples)
				}
			}
		}
		checkListSubjects(t, m, store, ref, tuples)
	})
}

// checkListSubjects compares ListSubjects with the reference: every listed
// subject is a member; every member is listed, or covered by a listed
// wildcard; and the wildcard is listed exactly when the wildcard subject
// itself is a member. Usersets have no wildcard: the lists are exact.
func checkListSubjects(t *rapid.T, m *Model, store *MemoryTuples, ref naive, tuples []Tuple) {
	ctx := context.Background()
	filters := []SubjectType{{Type: "user"}}
	for _, typ := range propTypes {
		filters = append(filters, SubjectType{Type: typ, Relation: "r0"})
	}
	for _, f := range filters {
		var candidates []Subject
		if f.Relation == "" {
			for _, u := range append(slices.Clone(propUsers), Wildcard) {
				candidates = append(candidates, Subject{Type: f.Type, ID: u})
			}
		} else {
			for _, id := range propIDs {
				candidates = append(candidates, Subject{Type: f.Type, ID: id, Relation: f.Relation})
			}
		}
		vals := map[Subject]map[objRel]tri{}
		for _, c := range candidates {
			vals[c] = ref.values(c)
		}
		for _, typ := range propTypes {
			for _, r := range m.Type(typ).Relations {
				for _, id := range propIDs {
					obj := Object{typ, id}
					got, err := ListSubjects(ctx, m, store, ListSubjectsRequest{Object: obj, Relation: r.Name, Filter: f, MaxDepth: 200})
					if err != nil {
						t.Fatalf("ListSubjects(%s, %s, %s) error %v", obj, r.Name, f, err)
					}
					wildListed := slices.Contains(got, Subject{Type: f.Type, ID: Wildcard})
					for _, c := range candidates {
						member := vals[c][objRel{obj, r.Name}] == yes
						listed := slices.Contains(got, c)
						if listed && !member || member && !listed && (c.IsWildcard() || !wildListed) {
							t.Fatalf("ListSubjects(%s, %s, %s) = %v, but %s member = %v\n%s\n%v", obj, r.Name, f, got, c, member, m, tuples)
						}
					}
				}
			}
		}
	}
}

// cmpEmpty makes nil and empty slices equal.
var cmpEmpty = cmp.Comparer(func(a, b []string) bool { return slices.Equal(a, b) })
