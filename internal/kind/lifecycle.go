package kind

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/atriumid/atrium/internal/fault"
)

// Kind is a compiled kind: what accounts of one kind may hold and how they
// move between states. It is immutable.
type Kind struct {
	Name     string // the kind's name, such as "org"
	IDPrefix string // the prefix of its accounts' IDs, such as "org"

	identifiers     []string // in document order
	fragments       map[string]*Fragment
	fragmentNames   []string // sorted
	initial         string
	states          []string // sorted
	transitions     map[string]transition
	transitionNames []string // sorted
	relations       string
	selfService     bool
	mfaRequired     bool
}

// transition is a compiled TransitionSpec.
type transition struct {
	from   []string // sorted
	to     string
	guards []guard // sorted by name
}

// SelfService reports whether anyone may register an account of kind k.
func (k *Kind) SelfService() bool { return k.selfService }

// MFARequired reports whether the accounts of kind k must have a second
// factor.
func (k *Kind) MFARequired() bool { return k.mfaRequired }

// AcceptsIdentifier reports whether accounts of k may hold identifiers of
// type typ.
func (k *Kind) AcceptsIdentifier(typ string) bool { return slices.Contains(k.identifiers, typ) }

// IdentifierTypes returns the identifier types k accepts, in document order.
func (k *Kind) IdentifierTypes() []string { return slices.Clone(k.identifiers) }

// Fragment returns the fragment of k called name.
func (k *Kind) Fragment(name string) (*Fragment, bool) {
	f, ok := k.fragments[name]
	return f, ok
}

// FragmentNames returns the names of k's fragments, sorted.
func (k *Kind) FragmentNames() []string { return slices.Clone(k.fragmentNames) }

// InitialState returns the state new accounts of k start in.
func (k *Kind) InitialState() string { return k.initial }

// States returns every state of k, sorted: the initial state and every state
// a transition starts from or leads to.
func (k *Kind) States() []string { return slices.Clone(k.states) }

// HasState reports whether state is one of k's states.
func (k *Kind) HasState(state string) bool {
	_, ok := slices.BinarySearch(k.states, state)
	return ok
}

// TransitionNames returns the names of k's transitions, sorted.
func (k *Kind) TransitionNames() []string { return slices.Clone(k.transitionNames) }

// AllowedTransitions returns the names of the transitions k allows from
// state, sorted.
func (k *Kind) AllowedTransitions(from string) []string {
	var out []string
	for _, name := range k.transitionNames {
		if _, ok := slices.BinarySearch(k.transitions[name].from, from); ok {
			out = append(out, name)
		}
	}
	return out
}

// Transition returns the state that transition name leads to from state
// from. It fails with fault.Invalid when k has no transition called name
// (the message lists the known ones), and with fault.FailedPrecondition when
// the transition does not start from from (the message lists the
// transitions allowed from it).
func (k *Kind) Transition(name, from string) (to string, err error) {
	const op = "kind.Transition"
	t, ok := k.transitions[name]
	if !ok {
		return "", fault.Invalidf(op, []fault.Violation{{Field: "transition", Reason: "is not a transition of kind " + k.Name}},
			"kind %s has no such transition; known transitions: %s", k.Name, listOrNone(k.transitionNames))
	}
	if _, ok := slices.BinarySearch(t.from, from); !ok {
		return "", fault.E(op, fault.FailedPrecondition,
			"transition %s is not allowed from state %s; allowed from %s: %s", name, from, from, listOrNone(k.AllowedTransitions(from)))
	}
	return t.to, nil
}

// Relations returns k's relations text (OpenFGA modeling language).
func (k *Kind) Relations() string { return k.relations }

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// compileLifecycle checks the lifecycle spec and fills in the states and
// transitions of k, appending problems to vs; at is the lifecycle's path.
func compileLifecycle(k *Kind, at string, spec LifecycleSpec, vs *[]fault.Violation) {
	bad := func(field, reason string) { *vs = append(*vs, fault.Violation{Field: at + field, Reason: reason}) }
	switch {
	case spec.Initial == "":
		bad(".initial", "is required")
	case !stateNameRE.MatchString(spec.Initial):
		bad(".initial", "state names must match "+stateNameRE.String())
	}
	k.initial = spec.Initial
	if len(spec.Transitions) > MaxTransitions {
		bad(".transitions", fmt.Sprintf("has %d transitions; at most %d are allowed", len(spec.Transitions), MaxTransitions))
		return
	}
	states := map[string]bool{spec.Initial: true}
	k.transitions = make(map[string]transition, len(spec.Transitions))
	k.transitionNames = sortedKeys(spec.Transitions)
	for _, name := range k.transitionNames {
		t := spec.Transitions[name]
		tat := ".transitions." + name
		if !stateNameRE.MatchString(name) {
			bad(tat, "transition names must match "+stateNameRE.String())
		}
		switch {
		case t.To == "":
			bad(tat+".to", "is required")
		case !stateNameRE.MatchString(t.To):
			bad(tat+".to", "state names must match "+stateNameRE.String())
		}
		switch {
		case len(t.From) == 0:
			bad(tat+".from", "at least one state is required")
		case len(t.From) > MaxFromStates:
			bad(tat+".from", fmt.Sprintf("has %d states; at most %d are allowed", len(t.From), MaxFromStates))
		}
		for i, f := range t.From {
			switch {
			case !stateNameRE.MatchString(f):
				bad(tat+".from."+strconv.Itoa(i), "state names must match "+stateNameRE.String())
			case slices.Contains(t.From[:i], f):
				bad(tat+".from."+strconv.Itoa(i), "is listed more than once")
			}
			states[f] = true
		}
		states[t.To] = true
		from := slices.Clone(t.From)
		slices.Sort(from)
		k.transitions[name] = transition{from: slices.Compact(from), to: t.To, guards: compileGuards(k, at+tat, t.Guards, vs)}
	}
	delete(states, "")
	k.states = sortedKeys(states)
	checkReachable(k, at, spec, bad)
}

// checkReachable reports every from state that no account can be in: one
// that is neither the initial state nor reached from it by transitions.
func checkReachable(k *Kind, at string, spec LifecycleSpec, bad func(field, reason string)) {
	reached := map[string]bool{k.initial: true}
	for changed := true; changed; {
		changed = false
		for _, t := range k.transitions {
			if !reached[t.to] && slices.ContainsFunc(t.from, func(f string) bool { return reached[f] }) {
				reached[t.to] = true
				changed = true
			}
		}
	}
	for _, name := range k.transitionNames {
		for i, f := range spec.Transitions[name].From {
			if !reached[f] && stateNameRE.MatchString(f) {
				bad(fmt.Sprintf(".transitions.%s.from.%d", name, i),
					fmt.Sprintf("state %s is unreachable: it is neither the initial state nor reached from it by a transition", f))
			}
		}
	}
}
