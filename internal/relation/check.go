package relation

import (
	"context"
	"errors"
	"slices"

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
//
// It reads an object once for all the relations a check of it may visit
// (see plan), and reads the next level of the graph ahead, in one read for
// all its usersets, before walking it depth first.
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
	plans    map[relKey]*plan
	// read holds the direct reads made so far: the subjects of
	// object#relation that directQueries selects. sets holds the tupleset
	// reads: the objects in object#tupleset.
	read map[objRel][]Subject
	sets map[objRel][]Subject
	seen map[objRel]bool // of one walk of proves
}

// plan is what one read of an object brings for a check of one of its
// relations: the relations that the check may visit on the same object
// (through computed usersets and set operations) whose direct part may
// hold the subject, and the tuple-to-userset steps that may lead to it.
type plan struct {
	direct []string
	ttus   []*Rewrite
}

func newChecker(op string, m *Model, r TupleReader, s Subject, maxDepth int) *checker {
	return &checker{
		op: op, m: m, r: r, subject: s, kind: SubjectType{s.Type, s.Relation},
		maxDepth: depthLimit(maxDepth),
		memo:     map[objRel]tri{}, active: map[objRel]bool{}, queries: map[relKey][]SubjectQuery{},
		plans: map[relKey]*plan{}, read: map[objRel][]Subject{}, sets: map[objRel][]Subject{}, seen: map[objRel]bool{},
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
	if err := c.ensure(ctx, []objRel{k}, 1); err != nil {
		return no, err
	}
	if c.proves(obj, rel, depth) {
		c.memo[k] = yes
		return yes, nil
	}
	if err := c.ensure(ctx, c.ahead(obj, rel), readAhead); err != nil {
		return no, err
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

// direct answers the direct part of obj#rel from its read, made by check
// before it evaluates the rewrite of obj's relation.
func (c *checker) direct(ctx context.Context, obj Object, rel string, depth int) (tri, error) {
	subs := c.read[objRel{obj, rel}]
	if c.hit(subs) {
		return yes, nil
	}
	next := make([]objRel, len(subs))
	for i, s := range subs {
		next[i] = objRel{s.Object(), s.Relation}
	}
	return c.anyOf(ctx, next, depth)
}

// readAhead is how many usersets are read ahead at a time: enough for one
// read to serve a whole level of a wide graph, few enough that a subject
// found early does not pay for reading thousands of siblings.
const readAhead = 32

// anyOf answers whether the subject is in any of the usersets next. It
// reads ahead, readAhead usersets at a time and in one read, what they
// hold, and looks first at those that what is read proves to hold the
// subject: the order of a union does not change its answer.
func (c *checker) anyOf(ctx context.Context, next []objRel, depth int) (tri, error) {
	var acc anyOf
	for i := range next {
		if i%readAhead == 0 {
			batch := next[i:min(i+readAhead, len(next))]
			if err := c.ensure(ctx, batch, readAhead); err != nil {
				return no, err
			}
			first := 0
			for j, k := range batch {
				if c.proves(k.obj, k.rel, depth+1) {
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

// plan returns the plan of a check of typ#rel (see plan).
func (c *checker) plan(typ, rel string) *plan {
	if p, ok := c.plans[relKey{typ, rel}]; ok {
		return p
	}
	p := &plan{}
	seen := map[string]bool{}
	var walk func(r string, w *Rewrite)
	walk = func(r string, w *Rewrite) {
		switch w.Op {
		case OpDirect:
			if len(c.directQueries(typ, r)) > 0 {
				p.direct = append(p.direct, r)
			}
		case OpComputed:
			if !seen[w.Relation] && c.m.index.canContain(typ, w.Relation, c.kind) {
				seen[w.Relation] = true
				walk(w.Relation, c.m.relation(typ, w.Relation).Rewrite)
			}
		case OpTupleToUser:
			for _, d := range c.m.relation(typ, w.Tupleset).direct {
				if c.m.index.canContain(d.Type, w.Relation, c.kind) {
					p.ttus = append(p.ttus, w)
					break
				}
			}
		default:
			for _, ch := range w.Children {
				walk(r, ch)
			}
		}
	}
	if c.m.index.canContain(typ, rel, c.kind) {
		seen[rel] = true
		walk(rel, c.m.relation(typ, rel).Rewrite)
	}
	c.plans[relKey{typ, rel}] = p
	return p
}

// tuplesetQueries returns the read of the tupleset typ#ts: every object it
// holds, whichever relation of theirs is computed from it.
func (c *checker) tuplesetQueries(typ, ts string) []SubjectQuery {
	var qs []SubjectQuery
	for _, d := range c.m.relation(typ, ts).direct {
		if !slices.ContainsFunc(qs, func(q SubjectQuery) bool { return q.Type == d.Type }) {
			qs = append(qs, SubjectQuery{Type: d.Type})
		}
	}
	return qs
}

// ensure reads what the plans of up to limit of keys need and is not read
// yet, in one read (two when a relation is both read directly and as a
// tupleset). Keys already answered or with nothing left to read do not
// count towards limit.
func (c *checker) ensure(ctx context.Context, keys []objRel, limit int) error {
	var b readBatch
	for _, k := range keys {
		if limit == 0 {
			break
		}
		if _, done := c.memo[k]; done {
			continue
		}
		p := c.plan(k.obj.Type, k.rel)
		added := false
		for _, r := range p.direct {
			if _, done := c.read[objRel{k.obj, r}]; !done {
				added = b.add(k.obj, r, false, c.directQueries) || added
			}
		}
		for _, w := range p.ttus {
			if _, done := c.sets[objRel{k.obj, w.Tupleset}]; !done {
				added = b.add(k.obj, w.Tupleset, true, c.tuplesetQueries) || added
			}
		}
		if added {
			limit--
		}
	}
	// A relation read both ways goes to a second read: a reader never
	// sees the same relation twice in one.
	var calls [2][]SubjectRead
	for i, rd := range b.reads {
		n := 0
		if b.tupleset[i] && b.find(rd.ObjectType, rd.Relation, false) >= 0 {
			n = 1
		}
		calls[n] = append(calls[n], rd)
	}
	for n, call := range calls {
		if len(call) == 0 {
			continue
		}
		ts, err := c.r.ReadSubjects(ctx, call)
		if err != nil {
			return readError(c.op, err)
		}
		into := func(typ, rel string) map[objRel][]Subject {
			if n == 0 && b.find(typ, rel, false) >= 0 {
				return c.read
			}
			return c.sets
		}
		for _, rd := range call {
			m := into(rd.ObjectType, rd.Relation)
			for _, id := range rd.ObjectIDs {
				m[objRel{Object{rd.ObjectType, id}, rd.Relation}] = []Subject{}
			}
		}
		for _, t := range ts {
			m := into(t.Object.Type, t.Relation)
			k := objRel{t.Object, t.Relation}
			m[k] = append(m[k], t.Subject)
		}
	}
	return nil
}

// readBatch gathers the reads of one ensure: reads[i] reads a direct part,
// or a tupleset when tupleset[i] is set.
type readBatch struct {
	reads    []SubjectRead
	tupleset []bool
}

// find returns the index of the read of typ#rel, or -1.
func (b *readBatch) find(typ, rel string, tupleset bool) int {
	for i, rd := range b.reads {
		if rd.ObjectType == typ && rd.Relation == rel && b.tupleset[i] == tupleset {
			return i
		}
	}
	return -1
}

// add adds obj to the read of obj.Type#rel, made with the queries that
// queries returns, and reports whether obj was not in it yet.
func (b *readBatch) add(obj Object, rel string, tupleset bool, queries func(typ, rel string) []SubjectQuery) bool {
	i := b.find(obj.Type, rel, tupleset)
	if i < 0 {
		i = len(b.reads)
		b.reads = append(b.reads, SubjectRead{ObjectType: obj.Type, Relation: rel, Queries: queries(obj.Type, rel)})
		b.tupleset = append(b.tupleset, tupleset)
	}
	if slices.Contains(b.reads[i].ObjectIDs, obj.ID) {
		return false
	}
	b.reads[i].ObjectIDs = append(b.reads[i].ObjectIDs, obj.ID)
	return true
}

// ahead returns the usersets that a check of obj#rel visits next, as far
// as what is read tells: those of the direct parts and tuplesets of its
// plan.
func (c *checker) ahead(obj Object, rel string) []objRel {
	p := c.plan(obj.Type, rel)
	var out []objRel
	for _, r := range p.direct {
		for _, s := range c.read[objRel{obj, r}] {
			if s.Relation != "" {
				out = append(out, objRel{s.Object(), s.Relation})
			}
		}
	}
	for _, w := range p.ttus {
		for _, o := range c.parents(obj, w) {
			out = append(out, objRel{o, w.Relation})
		}
	}
	return out
}

// proves reports whether what is read already proves that the subject has
// rel to obj, reached within the depth limit through direct parts,
// computed usersets, unions, intersections and tuple-to-userset steps.
// Each of these only adds members, so a proof is a yes whatever the rest
// of the graph holds; not finding one says nothing.
func (c *checker) proves(obj Object, rel string, depth int) bool {
	clear(c.seen)
	return c.provesFrom(obj, rel, depth)
}

// provesFrom is proves within one walk: c.seen keeps it from visiting a
// userset twice.
func (c *checker) provesFrom(obj Object, rel string, depth int) bool {
	k := objRel{obj, rel}
	if v, ok := c.memo[k]; ok {
		return v == yes
	}
	if c.seen[k] || depth > c.maxDepth || !c.m.index.canContain(obj.Type, rel, c.kind) {
		return false
	}
	c.seen[k] = true
	return c.provesRewrite(obj, rel, c.m.relation(obj.Type, rel).Rewrite, depth)
}

func (c *checker) provesRewrite(obj Object, rel string, w *Rewrite, depth int) bool {
	switch w.Op {
	case OpDirect:
		return c.hit(c.read[objRel{obj, rel}])
	case OpComputed:
		return c.provesFrom(obj, w.Relation, depth+1)
	case OpTupleToUser:
		for _, o := range c.parents(obj, w) {
			if c.provesFrom(o, w.Relation, depth+1) {
				return true
			}
		}
		return false
	case OpUnion:
		for _, ch := range w.Children {
			if c.provesRewrite(obj, rel, ch, depth) {
				return true
			}
		}
		return false
	case OpIntersection:
		for _, ch := range w.Children {
			if !c.provesRewrite(obj, rel, ch, depth) {
				return false
			}
		}
		return true
	}
	return false // an exclusion needs to know what is not there
}

func (c *checker) tupleToUserset(ctx context.Context, obj Object, w *Rewrite, depth int) (tri, error) {
	parents := c.parents(obj, w)
	next := make([]objRel, len(parents))
	for i, p := range parents {
		next[i] = objRel{p, w.Relation}
	}
	return c.anyOf(ctx, next, depth)
}

// parents returns the objects in obj's tupleset w.Tupleset, as read, whose
// w.Relation can hold the subject.
func (c *checker) parents(obj Object, w *Rewrite) []Object {
	var out []Object
	for _, s := range c.sets[objRel{obj, w.Tupleset}] {
		// Wildcards come from a model that allowed one.
		if s.Relation == "" && !s.IsWildcard() && c.m.index.canContain(s.Type, w.Relation, c.kind) {
			out = append(out, s.Object())
		}
	}
	return out
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
