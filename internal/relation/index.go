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
	// members says which subject kinds can be in each relation, positive
	// positions only: objects of a type, or usersets type#relation.
	members kindSets
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

// kindSets maps every relation of a model to the set of subject kinds it can
// contain, as bitsets over numbered kinds.
type kindSets struct {
	rels  map[relKey]int
	kinds map[SubjectType]int
	sets  [][]uint64 // by relation number; bit n is kind n
}

func (k kindSets) has(rel relKey, s SubjectType) bool {
	ri, ok := k.rels[rel]
	if !ok {
		return false
	}
	ki, ok := k.kinds[s]
	return ok && k.sets[ri][ki/64]&(1<<(ki%64)) != 0
}

// memberKinds computes the subject kinds each relation can contain: its own
// userset, the object types in its type lists, and everything the relations
// it draws from can contain. A worklist propagates growth along the
// "draws from" edges until nothing grows.
func memberKinds(m *Model) kindSets {
	ks := kindSets{rels: map[relKey]int{}, kinds: map[SubjectType]int{}}
	number := func(s SubjectType) int {
		n, ok := ks.kinds[s]
		if !ok {
			n = len(ks.kinds)
			ks.kinds[s] = n
		}
		return n
	}
	for _, t := range m.types {
		number(SubjectType{Type: t.Name})
		for _, r := range t.Relations {
			ks.rels[relKey{t.Name, r.Name}] = len(ks.rels)
			number(SubjectType{Type: t.Name, Relation: r.Name})
		}
	}
	words := (len(ks.kinds) + 63) / 64
	set := func(bits []uint64, n int) { bits[n/64] |= 1 << (n % 64) }
	feeds := make([][]int, len(ks.rels)) // relation → the relations that draw from it
	ks.sets = make([][]uint64, len(ks.rels))
	for _, t := range m.types {
		for _, r := range t.Relations {
			k := ks.rels[relKey{t.Name, r.Name}]
			bits := make([]uint64, words)
			set(bits, ks.kinds[SubjectType{Type: t.Name, Relation: r.Name}])
			drawFrom := func(typ, rel string) {
				from := ks.rels[relKey{typ, rel}]
				feeds[from] = append(feeds[from], k)
			}
			positive(r.Rewrite, func(w *Rewrite) {
				switch w.Op {
				case OpDirect:
					for _, d := range w.Direct {
						if d.Relation == "" {
							set(bits, ks.kinds[SubjectType{Type: d.Type}])
						} else {
							drawFrom(d.Type, d.Relation)
						}
					}
				case OpComputed:
					drawFrom(t.Name, w.Relation)
				case OpTupleToUser:
					for _, d := range m.relation(t.Name, w.Tupleset).direct {
						if m.relation(d.Type, w.Relation) != nil {
							drawFrom(d.Type, w.Relation)
						}
					}
				}
			})
			ks.sets[k] = bits
		}
	}
	queue := make([]int, len(ks.sets))
	queued := make([]bool, len(ks.sets))
	for i := range queue {
		queue[i], queued[i] = i, true
	}
	for len(queue) > 0 {
		from := queue[0]
		queue = queue[1:]
		queued[from] = false
		for _, to := range feeds[from] {
			grew := false
			for w, b := range ks.sets[from] {
				if ks.sets[to][w]|b != ks.sets[to][w] {
					ks.sets[to][w] |= b
					grew = true
				}
			}
			if grew && !queued[to] {
				queued[to] = true
				queue = append(queue, to)
			}
		}
	}
	return ks
}

// canContain reports whether subjects of kind s can ever be in typ#rel.
func (x *modelIndex) canContain(typ, rel string, s SubjectType) bool {
	return x.members.has(relKey{typ, rel}, s)
}
