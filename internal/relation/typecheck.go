package relation

import (
	"fmt"

	"github.com/atriumid/atrium/internal/fault"
)

// relKey names a relation of a type: document#viewer.
type relKey struct{ typ, rel string }

func (k relKey) String() string { return k.typ + "#" + k.rel }

// entrypointBudget bounds the search for entry points, which is exponential
// in the worst case; a model that exhausts it is rejected as too complex.
const entrypointBudget = 200_000

// typecheck applies OpenFGA's schema 1.1 rules to m and returns one
// violation per broken rule, with the path type#relation as the field:
//
//   - every type and type#relation named in a type list or a rewrite exists;
//   - a computed userset does not name its own relation;
//   - the tupleset of "x from ts" is a relation of the same type defined by a
//     type list alone, whose entries are plain types (no usersets, no
//     wildcards), and x is a relation of at least one of them;
//   - every relation has an entry point: some way for a tuple to make a
//     subject a member (intersections need one in every operand, exclusions
//     in both operands);
//   - computed usersets do not form a cycle (viewer: editor, editor: viewer).
func typecheck(m *Model) []fault.Violation {
	var vs []fault.Violation
	add := func(t *TypeDef, r *RelationDef, format string, args ...any) {
		vs = append(vs, fault.Violation{Field: t.Name + "#" + r.Name, Reason: fmt.Sprintf(format, args...)})
	}
	for _, t := range m.types {
		for _, r := range t.Relations {
			n := len(vs)
			walk(r.Rewrite, func(w *Rewrite) {
				switch w.Op {
				case OpDirect:
					for _, d := range w.Direct {
						dt := m.Type(d.Type)
						switch {
						case dt == nil:
							add(t, r, "type %s is not defined", d.Type)
						case d.Relation != "" && dt.Relation(d.Relation) == nil:
							add(t, r, "relation %s#%s is not defined", d.Type, d.Relation)
						}
					}
				case OpComputed:
					switch {
					case w.Relation == r.Name:
						add(t, r, "relation refers to itself")
					case t.Relation(w.Relation) == nil:
						add(t, r, "relation %s#%s is not defined", t.Name, w.Relation)
					}
				case OpTupleToUser:
					ts := t.Relation(w.Tupleset)
					if ts == nil {
						add(t, r, "tupleset relation %s#%s is not defined", t.Name, w.Tupleset)
						return
					}
					if ts.Rewrite.Op != OpDirect {
						add(t, r, "tupleset relation %s#%s must be defined by a type list alone", t.Name, w.Tupleset)
						return
					}
					found := false
					for _, d := range ts.Rewrite.Direct {
						if d.Relation != "" || d.Wildcard {
							add(t, r, "tupleset relation %s#%s may not allow %s", t.Name, w.Tupleset, d)
						}
						if m.relation(d.Type, w.Relation) != nil {
							found = true
						}
					}
					if !found {
						add(t, r, "no type allowed in %s#%s defines relation %s", t.Name, w.Tupleset, w.Relation)
					}
				}
			})
			if len(vs) > n {
				continue // the later rules assume references resolve
			}
		}
	}
	if len(vs) > 0 {
		return vs
	}
	e := &entrypoints{m: m, known: map[relKey]bool{}, budget: entrypointBudget}
	for _, t := range m.types {
		for _, r := range t.Relations {
			ok := e.relation(relKey{t.Name, r.Name}, map[relKey]bool{})
			if e.budget < 0 {
				return []fault.Violation{{Field: t.Name + "#" + r.Name, Reason: "model is too complex to check"}}
			}
			if !ok {
				add(t, r, "no entry point: no tuple can ever make a subject a member")
			}
		}
	}
	vs = append(vs, computedCycles(m)...)
	return vs
}

// walk calls f on every node of w, parents first.
func walk(w *Rewrite, f func(*Rewrite)) {
	f(w)
	for _, c := range w.Children {
		walk(c, f)
	}
}

// entrypoints searches for entry points with a set of relations already on
// the path, so that loops do not count as entry points. Positive answers do
// not depend on the path and are remembered.
type entrypoints struct {
	m      *Model
	known  map[relKey]bool
	budget int
}

func (e *entrypoints) relation(k relKey, path map[relKey]bool) bool {
	if e.known[k] {
		return true
	}
	e.budget--
	if e.budget < 0 || path[k] {
		return false
	}
	path[k] = true
	defer delete(path, k)
	ok := e.rewrite(k.typ, e.m.relation(k.typ, k.rel).Rewrite, path)
	if ok {
		e.known[k] = true
	}
	return ok
}

func (e *entrypoints) rewrite(typ string, w *Rewrite, path map[relKey]bool) bool {
	switch w.Op {
	case OpDirect:
		for _, d := range w.Direct {
			if d.Relation == "" || e.relation(relKey{d.Type, d.Relation}, path) {
				return true
			}
		}
		return false
	case OpComputed:
		return e.relation(relKey{typ, w.Relation}, path)
	case OpTupleToUser:
		for _, d := range e.m.relation(typ, w.Tupleset).direct {
			if e.m.relation(d.Type, w.Relation) != nil && e.relation(relKey{d.Type, w.Relation}, path) {
				return true
			}
		}
		return false
	case OpUnion:
		for _, c := range w.Children {
			if e.rewrite(typ, c, path) {
				return true
			}
		}
		return false
	default: // intersection and exclusion need every operand
		for _, c := range w.Children {
			if !e.rewrite(typ, c, path) {
				return false
			}
		}
		return true
	}
}

// computedCycles reports relations that reach themselves through computed
// usersets alone, such as viewer: editor with editor: viewer.
func computedCycles(m *Model) []fault.Violation {
	const (
		unseen = iota
		active
		done
	)
	state := map[relKey]int{}
	var vs []fault.Violation
	var visit func(k relKey) bool
	visit = func(k relKey) bool {
		switch state[k] {
		case active:
			return true
		case done:
			return false
		}
		state[k] = active
		cyclic := false
		walk(m.relation(k.typ, k.rel).Rewrite, func(w *Rewrite) {
			if w.Op == OpComputed && !cyclic {
				cyclic = visit(relKey{k.typ, w.Relation})
			}
		})
		state[k] = done
		return cyclic
	}
	for _, t := range m.types {
		for _, r := range t.Relations {
			k := relKey{t.Name, r.Name}
			if state[k] == unseen && visit(k) {
				vs = append(vs, fault.Violation{Field: k.String(), Reason: "computed usersets form a cycle"})
			}
		}
	}
	return vs
}
