package kind

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// ChangeOp says what a Change does.
type ChangeOp string

// The operations of a change.
const (
	Added   ChangeOp = "added"
	Removed ChangeOp = "removed"
	Changed ChangeOp = "changed"
)

// Need says what stored data decides whether a change is safe.
type Need uint8

// The needs of a change. NeedNothing changes apply at once; the others
// are refused while the thing they remove or retype is in use.
const (
	NeedNothing     Need = iota
	NeedAccounts         // live accounts of Kind (a removed kind, a changed ID prefix)
	NeedState            // live accounts of Kind in state Name
	NeedIdentifiers      // live accounts of Kind holding identifiers of type Name
	NeedFragments        // live accounts of Kind holding fragment Name
	NeedSchema           // stored data of fragment Name of Kind that the new schema refuses
)

// Change is one difference between two kinds documents.
type Change struct {
	Op     ChangeOp
	Kind   string // the kind it belongs to
	What   string // "kind", "id_prefix", "identifier", "fragment", "schema", "sensitivity", "state", "initial", "transition", "relations"
	Name   string // the identifier type, fragment, state or transition; "" for the kind itself
	Detail string // for changes: old and new values, when short
	Need   Need
}

// Field returns the document path of the change, such as
// "kinds.org.fragments.tax_id". States are not written as such in the
// document; a state's path is "kinds.<kind>.lifecycle.states.<state>".
func (c Change) Field() string {
	at := "kinds." + c.Kind
	switch c.What {
	case "kind":
		return at
	case "identifier":
		return at + ".identifiers." + c.Name
	case "fragment", "sensitivity":
		return at + ".fragments." + c.Name
	case "schema":
		return at + ".fragments." + c.Name + ".schema"
	case "state":
		return at + ".lifecycle.states." + c.Name
	case "initial":
		return at + ".lifecycle.initial"
	case "transition":
		return at + ".lifecycle.transitions." + c.Name
	}
	return at + "." + c.What
}

// String renders the change as one line of a human-readable diff, such as
// "+ kinds.partner" or "~ kinds.org.id_prefix: org -> co".
func (c Change) String() string {
	sign := map[ChangeOp]string{Added: "+", Removed: "-", Changed: "~"}[c.Op]
	var b strings.Builder
	b.WriteString(sign + " " + c.Field())
	if c.Detail != "" {
		b.WriteString(": " + c.Detail)
	}
	return b.String()
}

// Diff lists the changes that turn old into new, ordered by kind, then as
// the document declares things (ID prefix, identifiers, fragments,
// lifecycle, relations), then by name. Each change's Need says which stored
// data decides whether it is safe; see Compatible.
func Diff(old, new *Set) []Change {
	var out []Change
	names := slices.Sorted(maps.Keys(mergeKeys(old.kinds, new.kinds)))
	for _, name := range names {
		ok, oldOK := old.kinds[name]
		nk, newOK := new.kinds[name]
		switch {
		case !oldOK:
			out = append(out, Change{Op: Added, Kind: name, What: "kind"})
		case !newOK:
			out = append(out, Change{Op: Removed, Kind: name, What: "kind", Need: NeedAccounts})
		default:
			out = append(out, diffKind(ok, nk, old.doc.Kinds[name], new.doc.Kinds[name])...)
		}
	}
	return out
}

func diffKind(o, n *Kind, os, ns KindSpec) []Change {
	var out []Change
	add := func(op ChangeOp, what, name, detail string, need Need) {
		out = append(out, Change{Op: op, Kind: n.Name, What: what, Name: name, Detail: detail, Need: need})
	}
	// addSet reports the names added to and removed from a list; only
	// removals need a check.
	addSet := func(what string, old, new []string, need Need) {
		for _, s := range setDiff(new, old) {
			add(Added, what, s, "", NeedNothing)
		}
		for _, s := range setDiff(old, new) {
			add(Removed, what, s, "", need)
		}
	}
	if o.IDPrefix != n.IDPrefix {
		add(Changed, "id_prefix", "", o.IDPrefix+" -> "+n.IDPrefix, NeedAccounts)
	}
	addSet("identifier", o.identifiers, n.identifiers, NeedIdentifiers)
	for _, name := range slices.Sorted(maps.Keys(mergeKeys(o.fragments, n.fragments))) {
		of, inOld := o.fragments[name]
		nf, inNew := n.fragments[name]
		switch {
		case !inOld:
			add(Added, "fragment", name, string(nf.Sensitivity), NeedNothing)
		case !inNew:
			add(Removed, "fragment", name, "", NeedFragments)
		default:
			if of.Sensitivity != nf.Sensitivity {
				// Stored copies are not re-sealed: data written in the clear
				// must not be declared encrypted while it exists.
				need := NeedNothing
				if nf.Sensitivity.Encrypted() && !of.Sensitivity.Encrypted() {
					need = NeedFragments
				}
				add(Changed, "sensitivity", name, string(of.Sensitivity)+" -> "+string(nf.Sensitivity), need)
			}
			if !reflect.DeepEqual(of.source, nf.source) {
				add(Changed, "schema", name, "", NeedSchema)
			}
		}
	}
	if o.initial != n.initial {
		add(Changed, "initial", "", o.initial+" -> "+n.initial, NeedNothing)
	}
	addSet("state", o.states, n.states, NeedState)
	for _, name := range slices.Sorted(maps.Keys(mergeKeys(o.transitions, n.transitions))) {
		ot, inOld := os.Lifecycle.Transitions[name]
		nt, inNew := ns.Lifecycle.Transitions[name]
		switch {
		case !inOld:
			add(Added, "transition", name, transitionText(nt), NeedNothing)
		case !inNew:
			add(Removed, "transition", name, "", NeedNothing)
		case !reflect.DeepEqual(o.transitions[name].from, n.transitions[name].from) || ot.To != nt.To || !maps.Equal(ot.Guards, nt.Guards):
			add(Changed, "transition", name, transitionText(ot)+" -> "+transitionText(nt), NeedNothing)
		}
	}
	if o.relations != n.relations {
		add(Changed, "relations", "", "", NeedNothing)
	}
	return out
}

// transitionText renders a transition as "[a, b] -> c if g1, g2".
func transitionText(t TransitionSpec) string {
	s := "[" + strings.Join(t.From, ", ") + "] -> " + t.To
	if len(t.Guards) > 0 {
		s += " if " + strings.Join(slices.Sorted(maps.Keys(t.Guards)), ", ")
	}
	return s
}

// setDiff returns the elements of a missing from b, sorted.
func setDiff(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// mergeKeys returns a set of the keys of a and b.
func mergeKeys[A, B any](a map[string]A, b map[string]B) map[string]bool {
	out := make(map[string]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// DiffText renders changes one per line, or "no changes".
func DiffText(changes []Change) string {
	if len(changes) == 0 {
		return "no changes\n"
	}
	var b strings.Builder
	for _, c := range changes {
		fmt.Fprintln(&b, c.String())
	}
	return b.String()
}
