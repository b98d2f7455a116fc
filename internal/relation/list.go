package relation

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/atriumid/atrium/internal/fault"
)

// DefaultListLimit is the most results ListObjects and ListSubjects return
// when the request's Limit is zero.
const DefaultListLimit = 1000

// ListObjectsRequest asks for the objects of Type to which Subject has
// Relation.
type ListObjectsRequest struct {
	Type       string
	Relation   string
	Subject    Subject
	Contextual []Tuple
	MaxDepth   int // overrides DefaultMaxDepth when positive, up to MaxDepthLimit
	Limit      int // overrides DefaultListLimit when positive
}

// ListObjects returns the ids of the objects o of req.Type for which
// Check(req.Subject, req.Relation, o) is true, sorted, at most the limit
// (the first ones in order).
//
// It walks the model backwards from the subject, through the tuples that
// name it, the usersets and parents that contain those objects, and so on
// up to req.Type; every candidate found is then confirmed with Check, so
// intersections, exclusions and wildcards give exactly Check's answers.
func ListObjects(ctx context.Context, m *Model, r TupleReader, req ListObjectsRequest) ([]string, error) {
	const op = "relation.ListObjects"
	if err := m.validateTarget(op, req.Type, req.Relation); err != nil {
		return nil, err
	}
	if err := m.validateSubject(op, req.Subject); err != nil {
		return nil, err
	}
	r, err := withContextual(op, m, r, req.Contextual)
	if err != nil {
		return nil, err
	}
	candidates, err := reverseWalk(ctx, op, m, r, req.Type, req.Relation, req.Subject)
	if err != nil {
		return nil, err
	}
	c := newChecker(op, m, r, req.Subject, req.MaxDepth)
	var out []string
	for _, id := range candidates {
		ok, err := c.allowed(ctx, Object{req.Type, id}, req.Relation)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return truncate(out, req.Limit), nil
}

func truncate[T any](s []T, limit int) []T {
	if limit <= 0 {
		limit = DefaultListLimit
	}
	if len(s) > limit {
		return s[:limit]
	}
	return s
}

// reverseWalk finds the ids of the objects of typ whose rel may contain s:
// a superset of the answer, found by following the model's positive edges
// backwards from s.
func reverseWalk(ctx context.Context, op string, m *Model, r TupleReader, typ, rel string, s Subject) ([]string, error) {
	x := m.index
	seen := map[objRel]bool{}
	var queue []objRel
	var found []string
	push := func(o Object, q string) {
		k := objRel{o, q}
		if seen[k] || !x.canContain(typ, rel, SubjectType{o.Type, q}) {
			return
		}
		seen[k] = true
		queue = append(queue, k)
		if o.Type == typ && q == rel {
			found = append(found, o.ID)
		}
	}
	read := func(parents []relKey, sub Subject) error {
		for _, p := range parents {
			ids, err := r.ReadObjects(ctx, p.typ, p.rel, sub)
			if err != nil {
				return readError(op, err)
			}
			for _, id := range ids {
				push(Object{p.typ, id}, p.rel)
			}
		}
		return nil
	}
	var err error
	switch {
	case s.Relation != "":
		push(s.Object(), s.Relation)
	case s.IsWildcard():
		err = read(x.wildcardParents[s.Type], s)
	default:
		err = read(x.objectParents[s.Type], s)
		if err == nil {
			err = read(x.wildcardParents[s.Type], Subject{Type: s.Type, ID: Wildcard})
		}
	}
	if err != nil {
		return nil, err
	}
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, ctxError(op, err)
		}
		n := queue[0]
		queue = queue[1:]
		k := relKey{n.obj.Type, n.rel}
		for _, p := range x.computedParents[k] {
			push(n.obj, p)
		}
		if err := read(x.usersetParents[k], Subject{n.obj.Type, n.obj.ID, n.rel}); err != nil {
			return nil, err
		}
		for _, u := range x.ttuParents[k] {
			ids, err := r.ReadObjects(ctx, u.typ, u.tupleset, Subject{Type: n.obj.Type, ID: n.obj.ID})
			if err != nil {
				return nil, readError(op, err)
			}
			for _, id := range ids {
				push(Object{u.typ, id}, u.rel)
			}
		}
	}
	return found, nil
}

// ListSubjectsRequest asks for the subjects of kind Filter that have
// Relation to Object: users (Filter user) or usersets (Filter team#member).
type ListSubjectsRequest struct {
	Object     Object
	Relation   string
	Filter     SubjectType
	Contextual []Tuple
	MaxDepth   int // overrides DefaultMaxDepth when positive, up to MaxDepthLimit
	Limit      int // overrides DefaultListLimit when positive
}

// ListSubjects returns the subjects of kind req.Filter that have
// req.Relation to req.Object, sorted by their written form, at most the
// limit. It follows OpenFGA's ListUsers: the answer may contain the
// wildcard type:*, meaning every object of the type except those excluded
// by a "but not"; objects are listed by id when a tuple names them, even if
// the wildcard covers them too. Every listed subject passes Check.
func ListSubjects(ctx context.Context, m *Model, r TupleReader, req ListSubjectsRequest) ([]Subject, error) {
	const op = "relation.ListSubjects"
	if err := checkID(req.Object.ID); err != nil {
		return nil, fail(op, fault.Invalid, ErrInvalidTuple, "object %s: %v", req.Object, err)
	}
	if err := m.validateTarget(op, req.Object.Type, req.Relation); err != nil {
		return nil, err
	}
	f := req.Filter
	if m.Type(f.Type) == nil {
		return nil, fail(op, fault.Invalid, ErrUnknownType, "filter %s: type %s is not defined", f, f.Type)
	}
	if f.Relation != "" && m.relation(f.Type, f.Relation) == nil {
		return nil, fail(op, fault.Invalid, ErrUnknownRelation, "filter %s: relation is not defined", f)
	}
	r, err := withContextual(op, m, r, req.Contextual)
	if err != nil {
		return nil, err
	}
	l := &lister{op: op, m: m, r: r, filter: f, maxDepth: depthLimit(req.MaxDepth), memo: map[objRel]*subjectSet{}, active: map[objRel]bool{}, seen: map[string]bool{}}
	set, err := l.list(ctx, req.Object, req.Relation, 0)
	if err != nil {
		return nil, err
	}
	var out []Subject
	for id := range set.ids {
		out = append(out, Subject{Type: f.Type, ID: id, Relation: f.Relation})
	}
	if set.wild {
		out = append(out, Subject{Type: f.Type, ID: Wildcard})
	}
	if l.cut {
		// A cycle was cut while listing, so the sets around it may be
		// wrong either way. Check, which fails closed on cycles, decides
		// every subject seen on the way instead.
		out, err = l.confirm(ctx, req, r)
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b Subject) int { return strings.Compare(a.String(), b.String()) })
	return truncate(out, req.Limit), nil
}

// subjectSet is a set of subjects of the filter's kind, by id: the ids
// listed, plus, when wild, every id except those in except.
type subjectSet struct {
	ids    map[string]bool
	wild   bool
	except map[string]bool
}

var emptySet = &subjectSet{}

func (s *subjectSet) has(id string) bool {
	return s.ids[id] || s.wild && !s.except[id]
}

func union(a, b *subjectSet) *subjectSet {
	out := &subjectSet{ids: maps.Clone(a.ids), wild: a.wild || b.wild}
	if out.ids == nil {
		out.ids = map[string]bool{}
	}
	maps.Copy(out.ids, b.ids)
	if out.wild {
		out.except = keep(a.except, b.except, func(id string) bool { return !a.has(id) && !b.has(id) })
	}
	return out
}

func intersect(a, b *subjectSet) *subjectSet {
	both := func(id string) bool { return a.has(id) && b.has(id) }
	out := &subjectSet{ids: keep(a.ids, b.ids, both), wild: a.wild && b.wild}
	if out.wild {
		out.except = keep(a.except, b.except, func(id string) bool { return !both(id) })
	}
	return out
}

func subtract(a, b *subjectSet) *subjectSet {
	// An id b leaves out can be in the difference even when no tuple names
	// it in a: user:* but not (user:* but not user:u1) is user:u1.
	out := &subjectSet{ids: keep(a.ids, b.except, func(id string) bool { return a.has(id) && !b.has(id) }), wild: a.wild && !b.wild}
	if out.wild {
		out.except = keep(a.except, b.ids, func(string) bool { return true })
	}
	return out
}

// keep returns the ids of x and y for which f holds.
func keep(x, y map[string]bool, f func(string) bool) map[string]bool {
	out := map[string]bool{}
	for _, m := range []map[string]bool{x, y} {
		for id := range m {
			if f(id) {
				out[id] = true
			}
		}
	}
	return out
}

// lister computes subject sets for one filter. Like checker, it remembers
// only the sets computed without cutting a cycle.
type lister struct {
	op       string
	m        *Model
	r        TupleReader
	filter   SubjectType
	maxDepth int
	memo     map[objRel]*subjectSet
	active   map[objRel]bool
	cut      bool            // a cycle was cut somewhere in this request
	cutHere  int             // cycles cut below the node being computed
	seen     map[string]bool // every id of the filter's kind read
}

// confirm returns the subjects seen while listing, and the wildcard, that
// pass Check.
func (l *lister) confirm(ctx context.Context, req ListSubjectsRequest, r TupleReader) ([]Subject, error) {
	f := l.filter
	candidates := []Subject{}
	for id := range l.seen {
		candidates = append(candidates, Subject{Type: f.Type, ID: id, Relation: f.Relation})
	}
	if f.Relation == "" {
		candidates = append(candidates, Subject{Type: f.Type, ID: Wildcard})
	}
	var out []Subject
	for _, s := range candidates {
		ok, err := newChecker(l.op, l.m, r, s, req.MaxDepth).allowed(ctx, req.Object, req.Relation)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, s)
		}
	}
	return out, nil
}

func (l *lister) list(ctx context.Context, obj Object, rel string, depth int) (*subjectSet, error) {
	k := objRel{obj, rel}
	if s, ok := l.memo[k]; ok {
		return s, nil
	}
	if l.active[k] {
		l.cut = true
		l.cutHere++
		return emptySet, nil
	}
	if !l.m.index.canContain(obj.Type, rel, l.filter) {
		return emptySet, nil
	}
	if depth > l.maxDepth {
		return nil, depthError(l.op, l.maxDepth)
	}
	if err := ctx.Err(); err != nil {
		return nil, ctxError(l.op, err)
	}
	l.active[k] = true
	before := l.cutHere
	s, err := l.rewrite(ctx, obj, rel, l.m.relation(obj.Type, rel).Rewrite, depth)
	delete(l.active, k)
	if err != nil {
		return nil, err
	}
	if l.filter.Relation == rel && l.filter.Type == obj.Type {
		s = union(s, &subjectSet{ids: map[string]bool{obj.ID: true}})
		l.seen[obj.ID] = true
	}
	if l.cutHere == before {
		l.memo[k] = s
	}
	return s, nil
}

func (l *lister) rewrite(ctx context.Context, obj Object, rel string, w *Rewrite, depth int) (*subjectSet, error) {
	switch w.Op {
	case OpDirect:
		return l.direct(ctx, obj, rel, w.Direct, depth)
	case OpComputed:
		return l.list(ctx, obj, w.Relation, depth+1)
	case OpTupleToUser:
		parents, err := readParents(ctx, l.op, l.m, l.r, obj, w, l.filter)
		if err != nil {
			return nil, err
		}
		acc := emptySet
		for _, p := range parents {
			s, err := l.list(ctx, p, w.Relation, depth+1)
			if err != nil {
				return nil, err
			}
			acc = union(acc, s)
		}
		return acc, nil
	case OpUnion:
		acc := emptySet
		for _, ch := range w.Children {
			s, err := l.rewrite(ctx, obj, rel, ch, depth)
			if err != nil {
				return nil, err
			}
			acc = union(acc, s)
		}
		return acc, nil
	case OpIntersection:
		var acc *subjectSet
		for _, ch := range w.Children {
			s, err := l.rewrite(ctx, obj, rel, ch, depth)
			if err != nil {
				return nil, err
			}
			if acc == nil {
				acc = s
			} else {
				acc = intersect(acc, s)
			}
		}
		return acc, nil
	default: // exclusion
		// Like intersections, no short cut on an empty side: when a cycle
		// is cut, confirm needs every subject a tuple names on the way.
		base, err := l.rewrite(ctx, obj, rel, w.Children[0], depth)
		if err != nil {
			return nil, err
		}
		sub, err := l.rewrite(ctx, obj, rel, w.Children[1], depth)
		if err != nil {
			return nil, err
		}
		return subtract(base, sub), nil
	}
}

// direct reads the tuples of obj#rel that can lead to the filter's kind:
// matching subjects are listed, usersets are expanded.
func (l *lister) direct(ctx context.Context, obj Object, rel string, direct []TypeRestriction, depth int) (*subjectSet, error) {
	f := l.filter
	var qs []SubjectQuery
	plain, wild := false, false
	for _, d := range direct {
		switch {
		case d.Relation != "":
			if l.m.index.canContain(d.Type, d.Relation, f) {
				qs = append(qs, SubjectQuery{Type: d.Type, Relation: d.Relation})
			}
		case d.Type != f.Type || f.Relation != "":
		case d.Wildcard:
			wild = true
		default:
			plain = true
		}
	}
	switch {
	case plain && wild:
		qs = append(qs, SubjectQuery{Type: f.Type})
	case plain:
		qs = append(qs, SubjectQuery{Type: f.Type}) // wildcard tuples are dropped below
	case wild:
		qs = append(qs, SubjectQuery{Type: f.Type, IDs: []string{Wildcard}})
	}
	if len(qs) == 0 {
		return emptySet, nil
	}
	subs, err := readSubjects(ctx, l.r, obj, rel, qs)
	if err != nil {
		return nil, readError(l.op, err)
	}
	acc := &subjectSet{ids: map[string]bool{}}
	var usersets []Subject
	for _, s := range subs {
		switch {
		case s.Relation != "":
			usersets = append(usersets, s)
			if s.Relation == f.Relation && s.Type == f.Type {
				l.seen[s.ID] = true
			}
		case s.IsWildcard():
			acc.wild = acc.wild || wild
		default:
			acc.ids[s.ID] = true
			l.seen[s.ID] = true
		}
	}
	for _, s := range usersets {
		set, err := l.list(ctx, s.Object(), s.Relation, depth+1)
		if err != nil {
			return nil, err
		}
		acc = union(acc, set)
	}
	return acc, nil
}
