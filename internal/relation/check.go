package relation

import (
	"context"
	"errors"

	"github.com/atriumid/atrium/internal/fault"
)

// DefaultMaxDepth is the depth limit of a query when the request leaves it
// zero: how many computed usersets, usersets and tuple-to-userset steps may
// be nested, as in OpenFGA.
const DefaultMaxDepth = 25

// MaxDepthLimit caps the depth limit a request may ask for: deeper
// recursion would only hide a runaway graph.
const MaxDepthLimit = 256

// depthLimit returns the depth limit for a request's MaxDepth.
func depthLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultMaxDepth
	case n > MaxDepthLimit:
		return MaxDepthLimit
	}
	return n
}

// MaxBatch is the most checks one BatchCheck call may carry.
const MaxBatch = 100

// CheckRequest asks whether Subject has Relation to Object.
type CheckRequest struct {
	Subject  Subject
	Relation string
	Object   Object
	// Contextual tuples count as written for this request only. They must
	// satisfy the model's type restrictions.
	Contextual []Tuple
	// MaxDepth overrides DefaultMaxDepth when positive, up to
	// MaxDepthLimit.
	MaxDepth int
}

// CheckResult is the answer to one check of a batch.
type CheckResult struct {
	Allowed bool
	Err     error
}

// Check reports whether req.Subject has req.Relation to req.Object under m,
// reading tuples from r. It returns false with an error whenever it cannot
// decide (see the package documentation for the kinds).
func Check(ctx context.Context, m *Model, r TupleReader, req CheckRequest) (bool, error) {
	const op = "relation.Check"
	if err := validateCheck(op, m, req); err != nil {
		return false, err
	}
	r, err := withContextual(op, m, r, req.Contextual)
	if err != nil {
		return false, err
	}
	c := newChecker(op, m, r, req.Subject, req.MaxDepth)
	return c.allowed(ctx, req.Object, req.Relation)
}

func validateCheck(op string, m *Model, req CheckRequest) error {
	if err := checkID(req.Object.ID); err != nil {
		return fail(op, fault.Invalid, ErrInvalidTuple, "object %s: %v", req.Object, err)
	}
	if err := m.validateTarget(op, req.Object.Type, req.Relation); err != nil {
		return err
	}
	return m.validateSubject(op, req.Subject)
}

// BatchCheck runs the checks of reqs and returns one result per request, in
// order. Checks without contextual tuples share what they learn about the
// same subject. The error is set only when the batch itself is refused
// (more than MaxBatch requests); each check's own failure is in its result.
func BatchCheck(ctx context.Context, m *Model, r TupleReader, reqs []CheckRequest) ([]CheckResult, error) {
	const op = "relation.BatchCheck"
	if len(reqs) > MaxBatch {
		return nil, fault.E(op, fault.Invalid, "more than %d checks in one batch", MaxBatch)
	}
	out := make([]CheckResult, len(reqs))
	type shareKey struct {
		s     Subject
		depth int
	}
	shared := map[shareKey]*checker{}
	for i, req := range reqs {
		if len(req.Contextual) > 0 {
			out[i].Allowed, out[i].Err = Check(ctx, m, r, req)
			continue
		}
		if err := validateCheck(op, m, req); err != nil {
			out[i].Err = err
			continue
		}
		k := shareKey{req.Subject, req.MaxDepth}
		c := shared[k]
		if c == nil {
			c = newChecker(op, m, r, req.Subject, req.MaxDepth)
			shared[k] = c
		}
		out[i].Allowed, out[i].Err = c.allowed(ctx, req.Object, req.Relation)
	}
	return out, nil
}

// tri is a three-valued answer: a sub-problem met again while it is being
// evaluated is unknown.
type tri uint8

const (
	no tri = iota
	yes
	unknown
)

// checker answers membership questions for one subject. It remembers every
// definite answer (yes or no) for the lifetime of one request; unknown
// answers depend on what is being evaluated around them and are never
// remembered. Not safe for concurrent use.
type checker struct {
	op       string
	m        *Model
	r        TupleReader
	subject  Subject
	kind     SubjectType
	maxDepth int
	memo     map[objRel]tri
	active   map[objRel]bool
	queries  map[relKey][]SubjectQuery // direct-read queries per relation
	// read holds direct reads made ahead of need (see prefetch): the
	// subjects of object#relation that directQueries selects.
	read map[objRel][]Subject
}

func newChecker(op string, m *Model, r TupleReader, s Subject, maxDepth int) *checker {
	return &checker{
		op: op, m: m, r: r, subject: s, kind: SubjectType{s.Type, s.Relation},
		maxDepth: depthLimit(maxDepth),
		memo:     map[objRel]tri{}, active: map[objRel]bool{}, queries: map[relKey][]SubjectQuery{},
		read: map[objRel][]Subject{},
	}
}

// allowed answers one top-level question; unknown is a denial.
func (c *checker) allowed(ctx context.Context, obj Object, rel string) (bool, error) {
	v, err := c.check(ctx, obj, rel, 0)
	if err != nil {
		return false, err
	}
	return v == yes, nil
}

func (c *checker) check(ctx context.Context, obj Object, rel string, depth int) (tri, error) {
	k := objRel{obj, rel}
	if v, ok := c.memo[k]; ok {
		return v, nil
	}
	if c.active[k] {
		return unknown, nil
	}
	if c.subject.Relation == rel && c.subject.ID == obj.ID && c.subject.Type == obj.Type {
		return yes, nil // a userset contains itself
	}
	if !c.m.index.canContain(obj.Type, rel, c.kind) {
		return no, nil
	}
	if depth > c.maxDepth {
		return no, depthError(c.op, c.maxDepth)
	}
	if err := ctx.Err(); err != nil {
		return no, ctxError(c.op, err)
	}
	c.active[k] = true
	v, err := c.rewrite(ctx, obj, rel, c.m.relation(obj.Type, rel).Rewrite, depth)
	delete(c.active, k)
	if err != nil {
		return no, err
	}
	if v != unknown {
		c.memo[k] = v
	}
	return v, nil
}

func (c *checker) rewrite(ctx context.Context, obj Object, rel string, w *Rewrite, depth int) (tri, error) {
	switch w.Op {
	case OpDirect:
		return c.direct(ctx, obj, rel, depth)
	case OpComputed:
		return c.check(ctx, obj, w.Relation, depth+1)
	case OpTupleToUser:
		return c.tupleToUserset(ctx, obj, w, depth)
	case OpUnion:
		var acc anyOf
		for _, ch := range w.Children {
			if acc.add(c.rewrite(ctx, obj, rel, ch, depth)) {
				break
			}
		}
		return acc.result()
	case OpIntersection:
		v, firstErr := yes, error(nil)
		for _, ch := range w.Children {
			cv, err := c.rewrite(ctx, obj, rel, ch, depth)
			switch {
			case err != nil:
				if firstErr == nil {
					firstErr = err
				}
			case cv == no:
				return no, nil
			case cv == unknown:
				v = unknown
			}
		}
		if firstErr != nil {
			return no, firstErr
		}
		return v, nil
	default: // exclusion
		base, baseErr := c.rewrite(ctx, obj, rel, w.Children[0], depth)
		if baseErr == nil && base == no {
			return no, nil
		}
		sub, err := c.rewrite(ctx, obj, rel, w.Children[1], depth)
		switch {
		case err == nil && sub == yes:
			return no, nil
		case baseErr != nil:
			return no, baseErr
		case err != nil:
			return no, err
		case base == unknown || sub == unknown:
			return unknown, nil
		}
		return yes, nil
	}
}

// anyOf folds the answers of a union: yes wins over errors, errors over
// unknown, unknown over no.
type anyOf struct {
	v   tri
	err error
}

// add folds one answer and reports whether the union is decided.
func (a *anyOf) add(v tri, err error) bool {
	switch {
	case err != nil:
		if a.err == nil {
			a.err = err
		}
	case v == yes:
		a.v, a.err = yes, nil
		return true
	case v == unknown:
		a.v = unknown
	}
	return false
}

func (a *anyOf) result() (tri, error) {
	if a.err != nil {
		return no, a.err
	}
	return a.v, nil
}

// directQueries returns the reads that find, among the tuples of typ#rel,
// the subject itself, its type's wildcard, and the usersets that may
// contain it.
func (c *checker) directQueries(typ, rel string) []SubjectQuery {
	k := relKey{typ, rel}
	if q, ok := c.queries[k]; ok {
		return q
	}
	var qs []SubjectQuery
	var ids []string
	s := c.subject
	for _, d := range c.m.relation(typ, rel).direct {
		switch {
		case d.Relation != "":
			if c.m.index.canContain(d.Type, d.Relation, c.kind) {
				qs = append(qs, SubjectQuery{Type: d.Type, Relation: d.Relation})
			}
		case d.Type != s.Type || s.Relation != "":
		case d.Wildcard:
			ids = append(ids, Wildcard)
		case !s.IsWildcard():
			ids = append(ids, s.ID)
		}
	}
	if len(ids) > 0 {
		qs = append(qs, SubjectQuery{Type: s.Type, IDs: ids})
	}
	c.queries[k] = qs
	return qs
}

// hit reports whether subs, read with directQueries, hold the subject itself:
// the read asked only for the subject and its wildcard among plain
// subjects, and a userset subject is found as itself.
func (c *checker) hit(subs []Subject) bool {
	for _, s := range subs {
		if s.Relation == "" || s == c.subject {
			return true
		}
	}
	return false
}

func (c *checker) direct(ctx context.Context, obj Object, rel string, depth int) (tri, error) {
	subs, ok := c.read[objRel{obj, rel}]
	if !ok {
		qs := c.directQueries(obj.Type, rel)
		if len(qs) == 0 {
			return no, nil
		}
		var err error
		if subs, err = readSubjects(ctx, c.r, obj, rel, qs); err != nil {
			return no, readError(c.op, err)
		}
	}
	if c.hit(subs) {
		return yes, nil
	}
	next := make([]objRel, len(subs))
	for i, s := range subs {
		next[i] = objRel{s.Object(), s.Relation}
	}
	return c.anyOf(ctx, next, depth)
}

// readAhead is how many usersets anyOf reads ahead at a time: enough for
// one read to serve a whole level of a wide graph, few enough that a
// subject found early does not pay for reading thousands of siblings.
const readAhead = 32

// anyOf answers whether the subject is in any of the usersets next. It
// reads ahead, readAhead usersets at a time and in one read per relation,
// what their direct parts hold, and looks first at those that hold the
// subject itself: the order of a union does not change its answer.
func (c *checker) anyOf(ctx context.Context, next []objRel, depth int) (tri, error) {
	var acc anyOf
	for i := range next {
		if i%readAhead == 0 {
			batch := next[i:min(i+readAhead, len(next))]
			if err := c.prefetch(ctx, batch); err != nil {
				return no, err
			}
			first := 0
			for j, k := range batch {
				if c.hit(c.read[k]) {
					batch[first], batch[j] = batch[j], batch[first]
					first++
				}
			}
		}
		if acc.add(c.check(ctx, next[i].obj, next[i].rel, depth+1)) {
			break
		}
	}
	return acc.result()
}

// prefetch reads, for the usersets in next that are neither answered nor
// read yet, what their direct parts select: one read for all the objects
// of each relation met at least twice (one object alone is read when it is
// checked).
func (c *checker) prefetch(ctx context.Context, next []objRel) error {
	if len(next) < 2 {
		return nil
	}
	groups := map[relKey][]string{}
	var order []relKey
	seen := map[objRel]bool{}
	for _, k := range next {
		if _, done := c.memo[k]; done || seen[k] {
			continue
		}
		if _, done := c.read[k]; done {
			continue
		}
		seen[k] = true
		rk := relKey{k.obj.Type, k.rel}
		if _, ok := groups[rk]; !ok {
			order = append(order, rk)
		}
		groups[rk] = append(groups[rk], k.obj.ID)
	}
	for _, rk := range order {
		ids := groups[rk]
		if len(ids) < 2 || !c.m.index.canContain(rk.typ, rk.rel, c.kind) {
			continue
		}
		qs := c.directQueries(rk.typ, rk.rel)
		if len(qs) == 0 {
			continue
		}
		ts, err := c.r.ReadSubjects(ctx, rk.typ, ids, rk.rel, qs)
		if err != nil {
			return readError(c.op, err)
		}
		for _, id := range ids {
			c.read[objRel{Object{rk.typ, id}, rk.rel}] = []Subject{}
		}
		for _, t := range ts {
			k := objRel{t.Object, t.Relation}
			c.read[k] = append(c.read[k], t.Subject)
		}
	}
	return nil
}

func (c *checker) tupleToUserset(ctx context.Context, obj Object, w *Rewrite, depth int) (tri, error) {
	parents, err := readParents(ctx, c.op, c.m, c.r, obj, w, c.kind)
	if err != nil {
		return no, err
	}
	next := make([]objRel, len(parents))
	for i, p := range parents {
		next[i] = objRel{p, w.Relation}
	}
	return c.anyOf(ctx, next, depth)
}

// readParents returns the objects in obj's tupleset w.Tupleset whose
// w.Relation can contain subjects of kind k.
func readParents(ctx context.Context, op string, m *Model, r TupleReader, obj Object, w *Rewrite, k SubjectType) ([]Object, error) {
	var qs []SubjectQuery
	for _, d := range m.relation(obj.Type, w.Tupleset).direct {
		if m.index.canContain(d.Type, w.Relation, k) {
			qs = append(qs, SubjectQuery{Type: d.Type})
		}
	}
	if len(qs) == 0 {
		return nil, nil
	}
	subs, err := readSubjects(ctx, r, obj, w.Tupleset, qs)
	if err != nil {
		return nil, readError(op, err)
	}
	out := make([]Object, 0, len(subs))
	for _, s := range subs {
		if !s.IsWildcard() { // tuples from a model that allowed one
			out = append(out, s.Object())
		}
	}
	return out, nil
}

func depthError(op string, max int) error {
	return fail(op, fault.FailedPrecondition, ErrDepthExceeded, "the relationship graph is deeper than %d steps", max)
}

// ctxError classifies a context's error.
func ctxError(op string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fault.Wrap(op, fault.DeadlineExceeded, err)
	}
	return fault.Wrap(op, fault.Canceled, err)
}

// readError classifies a TupleReader's error: its own kind when it has one,
// the context's when the request ended, else Unavailable.
func readError(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		if _, ok := errors.AsType[*fault.Error](err); !ok {
			return ctxError(op, err)
		}
	}
	return fault.Wrap(op, fault.Unavailable, err)
}
