package relation

// modelIndex holds what the evaluator derives from a model once: the
// reverse edges that ListObjects walks from a subject up to objects, and for
// every relation the kinds of subject that can ever be its members, which
// lets Check and ListSubjects skip branches that cannot lead anywhere.
type modelIndex struct {
	// computedParents[k] lists the relations of k.typ whose rewrite uses
	// k.rel as a computed userset in a positive position (not under the
	// subtracted side of "but not").
	computedParents map[relKey][]string
	// usersetParents[k] lists the relations whose type list allows the
	// userset k.typ#k.rel.
	usersetParents map[relKey][]relKey
	// ttuParents[k] lists "k.rel from ts" uses, positive, whose tupleset
	// allows objects of k.typ.
	ttuParents map[relKey][]ttuUse
	// objectParents[t] lists the relations whose type list allows plain
	// objects of type t; wildcardParents[t] those that allow t:*.
	objectParents   map[string][]relKey
	wildcardParents map[string][]relKey
	// members[k] is the set of subject kinds that can be in k, positive
	// positions only: objects of a type, or usersets type#relation.
	members map[relKey]map[SubjectType]bool
}

// ttuUse is one "computed from tupleset" on relation rel of type typ.
type ttuUse struct {
	typ, tupleset, rel string
}

func newIndex(m *Model) *modelIndex {
	x := &modelIndex{
		computedParents: map[relKey][]string{},
		usersetParents:  map[relKey][]relKey{},
		ttuParents:      map[relKey][]ttuUse{},
		objectParents:   map[string][]relKey{},
		wildcardParents: map[string][]relKey{},
		members:         map[relKey]map[SubjectType]bool{},
	}
	for _, t := range m.types {
		for _, r := range t.Relations {
			k := relKey{t.Name, r.Name}
			for _, d := range r.direct {
				switch {
				case d.Wildcard:
					x.wildcardParents[d.Type] = append(x.wildcardParents[d.Type], k)
				case d.Relation != "":
					u := relKey{d.Type, d.Relation}
					x.usersetParents[u] = append(x.usersetParents[u], k)
				default:
					x.objectParents[d.Type] = append(x.objectParents[d.Type], k)
				}
			}
			positive(r.Rewrite, func(w *Rewrite) {
				switch w.Op {
				case OpComputed:
					c := relKey{t.Name, w.Relation}
					x.computedParents[c] = append(x.computedParents[c], r.Name)
				case OpTupleToUser:
					for _, d := range m.relation(t.Name, w.Tupleset).direct {
						c := relKey{d.Type, w.Relation}
						x.ttuParents[c] = append(x.ttuParents[c], ttuUse{t.Name, w.Tupleset, r.Name})
					}
				}
			})
		}
	}
	x.members = memberKinds(m)
	return x
}

// positive calls f on the leaves of w that can add members: everything
// except the subtracted side of "but not".
func positive(w *Rewrite, f func(*Rewrite)) {
	switch w.Op {
	case OpUnion, OpIntersection:
		for _, c := range w.Children {
			positive(c, f)
		}
	case OpExclusion:
		positive(w.Children[0], f)
	default:
		f(w)
	}
}

// memberKinds computes, by fixpoint, the subject kinds each relation can
// contain. A relation always contains its own userset.
func memberKinds(m *Model) map[relKey]map[SubjectType]bool {
	out := map[relKey]map[SubjectType]bool{}
	for _, t := range m.types {
		for _, r := range t.Relations {
			out[relKey{t.Name, r.Name}] = map[SubjectType]bool{{Type: t.Name, Relation: r.Name}: true}
		}
	}
	for changed := true; changed; {
		changed = false
		merge := func(dst map[SubjectType]bool, src map[SubjectType]bool) {
			for s := range src {
				if !dst[s] {
					dst[s] = true
					changed = true
				}
			}
		}
		for _, t := range m.types {
			for _, r := range t.Relations {
				set := out[relKey{t.Name, r.Name}]
				positive(r.Rewrite, func(w *Rewrite) {
					switch w.Op {
					case OpDirect:
						for _, d := range w.Direct {
							if d.Relation == "" {
								merge(set, map[SubjectType]bool{{Type: d.Type}: true})
							} else {
								merge(set, out[relKey{d.Type, d.Relation}])
							}
						}
					case OpComputed:
						merge(set, out[relKey{t.Name, w.Relation}])
					case OpTupleToUser:
						for _, d := range m.relation(t.Name, w.Tupleset).direct {
							if s, ok := out[relKey{d.Type, w.Relation}]; ok {
								merge(set, s)
							}
						}
					}
				})
			}
		}
	}
	return out
}

// canContain reports whether subjects of kind s can ever be in typ#rel.
func (x *modelIndex) canContain(typ, rel string, s SubjectType) bool {
	return x.members[relKey{typ, rel}][s]
}
