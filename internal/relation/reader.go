package relation

import (
	"context"
	"slices"
	"sort"
	"sync"

	"github.com/atriumid/atrium/internal/fault"
)

// SubjectQuery selects subjects in a read: those of kind {Type, Relation}
// (Relation "" for objects and the wildcard Type:*), and when IDs is not
// nil only those whose id is in IDs ("*" selects the wildcard).
type SubjectQuery struct {
	Type     string
	Relation string
	IDs      []string
}

func (q SubjectQuery) matches(s Subject) bool {
	return s.Type == q.Type && s.Relation == q.Relation && (q.IDs == nil || slices.Contains(q.IDs, s.ID))
}

// TupleReader is the storage the evaluator reads tuples from. A SQL store
// serves both methods from two indexes: (object type, object id, relation,
// subject) for ReadSubjects and (subject, object type, relation) for
// ReadObjects.
//
// Both methods return each matching tuple once, in any order; the evaluator
// sorts what it returns to callers. They see one consistent snapshot for
// the duration of one query (a read transaction or a snapshot revision), so
// that an answer never mixes states. An error fails the whole query: the
// evaluator never guesses, so a failed read is never an "allowed". A
// *fault.Error keeps its kind (return fault.Unavailable when the database
// is down); any other error is reported as fault.Unavailable. A done ctx
// must end the read with ctx.Err().
type TupleReader interface {
	// ReadSubjects returns the tuples objectType:id#relation@s, for every
	// id in objectIDs, whose subject s matches at least one of the
	// queries. The evaluator reads many objects at once when it meets
	// several usersets of the same relation, so that a store answers one
	// level of the graph in one query. It is never called with an empty
	// list of ids or of queries, nor with the same id twice.
	ReadSubjects(ctx context.Context, objectType string, objectIDs []string, relation string, queries []SubjectQuery) ([]Tuple, error)
	// ReadObjects returns the ids of the objects o of type objectType with
	// a tuple objectType:o#relation@subject, matching subject exactly (a
	// wildcard subject matches only wildcard tuples).
	ReadObjects(ctx context.Context, objectType, relation string, subject Subject) ([]string, error)
}

// readSubjects returns the subjects of the tuples object#relation@s that
// match one of the queries.
func readSubjects(ctx context.Context, r TupleReader, object Object, relation string, queries []SubjectQuery) ([]Subject, error) {
	ts, err := r.ReadSubjects(ctx, object.Type, []string{object.ID}, relation, queries)
	if err != nil {
		return nil, err
	}
	out := make([]Subject, len(ts))
	for i, t := range ts {
		out[i] = t.Subject
	}
	return out, nil
}

// MemoryTuples is an in-memory TupleReader: a set of tuples indexed both
// ways. The zero value is empty and ready; it is safe for concurrent use.
type MemoryTuples struct {
	mu       sync.RWMutex
	forward  map[objRel][]Subject    // guarded by mu
	backward map[subjTarget][]string // guarded by mu
	present  map[Tuple]struct{}      // guarded by mu
}

type objRel struct {
	obj Object
	rel string
}

type subjTarget struct {
	sub     Subject
	objType string
	rel     string
}

// NewMemoryTuples returns a MemoryTuples holding ts (duplicates are kept
// once).
func NewMemoryTuples(ts ...Tuple) *MemoryTuples {
	m := &MemoryTuples{}
	m.Write(ts...)
	return m
}

// Write adds ts; tuples already present are ignored. It does not validate
// them against a model: use Model.ValidateTuple first.
func (m *MemoryTuples) Write(ts ...Tuple) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.present == nil {
		m.forward = map[objRel][]Subject{}
		m.backward = map[subjTarget][]string{}
		m.present = map[Tuple]struct{}{}
	}
	for _, t := range ts {
		if _, ok := m.present[t]; ok {
			continue
		}
		m.present[t] = struct{}{}
		k := objRel{t.Object, t.Relation}
		m.forward[k] = append(m.forward[k], t.Subject)
		b := subjTarget{t.Subject, t.Object.Type, t.Relation}
		m.backward[b] = append(m.backward[b], t.Object.ID)
	}
}

// Delete removes ts; tuples not present are ignored.
func (m *MemoryTuples) Delete(ts ...Tuple) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range ts {
		if _, ok := m.present[t]; !ok {
			continue
		}
		delete(m.present, t)
		k := objRel{t.Object, t.Relation}
		m.forward[k] = slices.DeleteFunc(m.forward[k], func(s Subject) bool { return s == t.Subject })
		b := subjTarget{t.Subject, t.Object.Type, t.Relation}
		m.backward[b] = slices.DeleteFunc(m.backward[b], func(id string) bool { return id == t.Object.ID })
	}
}

// Tuples returns every tuple, sorted by their written form.
func (m *MemoryTuples) Tuples() []Tuple {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Tuple, 0, len(m.present))
	for t := range m.present {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// Len returns the number of tuples.
func (m *MemoryTuples) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.present)
}

// ReadSubjects implements TupleReader.
func (m *MemoryTuples) ReadSubjects(ctx context.Context, objectType string, objectIDs []string, relation string, queries []SubjectQuery) ([]Tuple, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []Tuple
	for _, id := range objectIDs {
		obj := Object{objectType, id}
		for _, s := range m.forward[objRel{obj, relation}] {
			for _, q := range queries {
				if q.matches(s) {
					out = append(out, Tuple{Object: obj, Relation: relation, Subject: s})
					break
				}
			}
		}
	}
	return out, nil
}

// ReadObjects implements TupleReader.
func (m *MemoryTuples) ReadObjects(ctx context.Context, objectType, relation string, subject Subject) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Clone(m.backward[subjTarget{subject, objectType, relation}]), nil
}

// overlay reads from a base reader and from contextual tuples, the union of
// both. Contextual tuples already in the base appear once.
type overlay struct {
	base  TupleReader
	extra *MemoryTuples
}

func (o overlay) ReadSubjects(ctx context.Context, objectType string, objectIDs []string, relation string, queries []SubjectQuery) ([]Tuple, error) {
	a, err := o.base.ReadSubjects(ctx, objectType, objectIDs, relation, queries)
	if err != nil {
		return nil, err
	}
	b, _ := o.extra.ReadSubjects(ctx, objectType, objectIDs, relation, queries)
	return appendNew(a, b), nil
}

func (o overlay) ReadObjects(ctx context.Context, objectType, relation string, subject Subject) ([]string, error) {
	a, err := o.base.ReadObjects(ctx, objectType, relation, subject)
	if err != nil {
		return nil, err
	}
	b, _ := o.extra.ReadObjects(ctx, objectType, relation, subject)
	return appendNew(a, b), nil
}

// appendNew appends to a the elements of b it does not hold yet. The
// contextual side is small (MaxContextualTuples), so the scan is cheap.
func appendNew[T comparable](a, b []T) []T {
	for _, x := range b {
		if !slices.Contains(a, x) {
			a = append(a, x)
		}
	}
	return a
}

// MaxContextualTuples is the most contextual tuples one query may carry.
const MaxContextualTuples = 100

// withContextual validates the contextual tuples of a query against m and
// returns r overlaid with them. Errors are fault.Invalid wrapping
// ErrInvalidTuple.
func withContextual(op string, m *Model, r TupleReader, ts []Tuple) (TupleReader, error) {
	if len(ts) == 0 {
		return r, nil
	}
	if len(ts) > MaxContextualTuples {
		return nil, fail(op, fault.Invalid, ErrInvalidTuple, "more than %d contextual tuples", MaxContextualTuples)
	}
	for _, t := range ts {
		if err := m.ValidateTuple(t); err != nil {
			return nil, fault.Wrap(op, fault.Invalid, err)
		}
	}
	return overlay{base: r, extra: NewMemoryTuples(ts...)}, nil
}
