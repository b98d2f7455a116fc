package relation

import (
	"context"
	"slices"
	"strings"
)

// ExpandRequest asks for the userset tree of Object#Relation.
type ExpandRequest struct {
	Object     Object
	Relation   string
	Contextual []Tuple
}

// Tree is one level of a userset tree, as in Zanzibar's Expand: the rewrite
// of Object#Relation with its leaves filled from the tuples. Leaves are not
// expanded further; expand a userset leaf with another call.
//
// By Op: OpDirect lists in Subjects the subjects written on the relation
// (objects, wildcards and usersets); OpComputed names in Subjects the one
// userset Object#Relation it stands for; OpTupleToUser lists in Subjects
// the usersets parent#relation of every parent in the tupleset; the set
// operators have Children in order (for OpExclusion, base then subtracted).
type Tree struct {
	Op       Op
	Object   Object
	Relation string
	Subjects []Subject
	Children []*Tree
}

// Expand returns the userset tree of req.Object#req.Relation. Subjects are
// sorted by their written form; tuples that no longer match the model's
// type restrictions are left out.
func Expand(ctx context.Context, m *Model, r TupleReader, req ExpandRequest) (*Tree, error) {
	const op = "relation.Expand"
	if err := checkID(req.Object.ID); err != nil {
		return nil, invalidTuple(op, "object %s: %v", req.Object, err)
	}
	if err := m.validateTarget(op, req.Object.Type, req.Relation); err != nil {
		return nil, err
	}
	r, err := withContextual(op, m, r, req.Contextual)
	if err != nil {
		return nil, err
	}
	e := expander{op: op, m: m, r: r}
	return e.tree(ctx, req.Object, req.Relation, m.relation(req.Object.Type, req.Relation).Rewrite)
}

type expander struct {
	op string
	m  *Model
	r  TupleReader
}

func (e expander) tree(ctx context.Context, obj Object, rel string, w *Rewrite) (*Tree, error) {
	t := &Tree{Op: w.Op, Object: obj, Relation: rel}
	switch w.Op {
	case OpDirect:
		subs, err := e.read(ctx, obj, rel, w.Direct)
		if err != nil {
			return nil, err
		}
		t.Subjects = subs
	case OpComputed:
		t.Relation = w.Relation
		t.Subjects = []Subject{{Type: obj.Type, ID: obj.ID, Relation: w.Relation}}
	case OpTupleToUser:
		t.Relation = w.Relation
		var usable []TypeRestriction
		for _, d := range e.m.relation(obj.Type, w.Tupleset).direct {
			if e.m.relation(d.Type, w.Relation) != nil {
				usable = append(usable, d)
			}
		}
		parents, err := e.read(ctx, obj, w.Tupleset, usable)
		if err != nil {
			return nil, err
		}
		for _, p := range parents {
			t.Subjects = append(t.Subjects, Subject{Type: p.Type, ID: p.ID, Relation: w.Relation})
		}
	default:
		for _, c := range w.Children {
			ct, err := e.tree(ctx, obj, rel, c)
			if err != nil {
				return nil, err
			}
			t.Children = append(t.Children, ct)
		}
	}
	return t, nil
}

// read returns the subjects of obj#rel that the type list admits, sorted.
func (e expander) read(ctx context.Context, obj Object, rel string, direct []TypeRestriction) ([]Subject, error) {
	if len(direct) == 0 {
		return nil, nil
	}
	qs := make([]SubjectQuery, len(direct))
	for i, d := range direct {
		qs[i] = SubjectQuery{Type: d.Type, Relation: d.Relation}
		if d.Wildcard {
			qs[i].IDs = []string{Wildcard}
		}
	}
	subs, err := readSubjects(ctx, e.r, obj, rel, qs)
	if err != nil {
		return nil, readError(e.op, err)
	}
	subs = slices.DeleteFunc(subs, func(s Subject) bool { return !allows(direct, s) })
	slices.SortFunc(subs, func(a, b Subject) int { return strings.Compare(a.String(), b.String()) })
	return subs, nil
}
