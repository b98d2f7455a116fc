package kind

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/ids"
)

// Limits on a kinds document, checked by Compile. They bound the work of
// compiling a hostile document and the size of every account's metadata.
const (
	MaxKinds         = 256      // kinds in a document
	MaxFragments     = 64       // fragments per kind
	MaxTransitions   = 64       // transitions per kind
	MaxFromStates    = 64       // states in one transition's from list
	MaxRelationsSize = 64 << 10 // bytes of relations text per kind
)

var (
	kindNameRE     = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
	fragmentNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	// stateNameRE also names transitions.
	stateNameRE = kindNameRE
)

// CompileOptions adjusts Compile.
type CompileOptions struct {
	// CheckRelations, when set, type-checks the relations of all kinds at
	// once. It receives every kind whose name is valid, mapped to its
	// relations text (possibly empty: a kind without relations is still a
	// type that others may name). It returns nil, a fault.Invalid error
	// whose violations name fields such as "kinds.org.relations", or any
	// other error, which aborts Compile. When nil, relations are kept
	// unchecked.
	CheckRelations func(relations map[string]string) error
}

// Set is a compiled kinds document. It is immutable, and so safe for
// concurrent use.
type Set struct {
	kinds    map[string]*Kind
	byPrefix map[string]*Kind
	names    []string
	doc      *Document // normalised; never handed out
	source   []byte
}

// Kind returns the kind called name.
func (s *Set) Kind(name string) (*Kind, bool) {
	k, ok := s.kinds[name]
	return k, ok
}

// Names returns the names of all kinds, sorted.
func (s *Set) Names() []string { return slices.Clone(s.names) }

// ByPrefix returns the kind whose accounts' IDs start with prefix.
func (s *Set) ByPrefix(prefix string) (*Kind, bool) {
	k, ok := s.byPrefix[prefix]
	return k, ok
}

// Source returns the document text as given to Load, or nil for a Set made
// by Compile from a Document.
func (s *Set) Source() []byte { return slices.Clone(s.source) }

// Document returns a copy of the compiled document, with fragment schemas
// as plain JSON values (numbers as json.Number).
func (s *Set) Document() *Document {
	d, _ := normalizeDocument(s.doc)
	return d
}

// Load parses data and compiles it; the Set keeps data as its Source. It
// returns the errors of Parse and Compile.
func Load(data []byte, opts CompileOptions) (*Set, error) {
	const op = "kind.Load"
	doc, err := Parse(data)
	if err != nil {
		return nil, fault.Wrap(op, fault.Invalid, err)
	}
	s, err := Compile(doc, opts)
	if err != nil {
		return nil, fault.Wrap(op, fault.Invalid, err)
	}
	s.source = slices.Clone(data)
	return s, nil
}

// Compile checks every rule of the kinds document and compiles it. It
// reports all problems at once: the error is fault.Invalid with one
// violation per problem, sorted by field, each field a path such as
// "kinds.org.fragments.tax_id.schema.properties.ein.pattern". An error from
// opts.CheckRelations that is not fault.Invalid aborts Compile and is
// returned wrapped, keeping its kind (fault.Internal when it has none).
//
// The rules, beyond the shape that Parse checks:
//   - there is at least one kind and at most MaxKinds; kind names match
//     ^[a-z][a-z0-9_]{0,31}$;
//   - id_prefix satisfies ids.ValidPrefix and no two kinds share one;
//   - identifiers are types from IdentifierTypes, each listed once;
//   - at most MaxFragments fragments, named ^[a-z][a-z0-9_]{0,63}$, each
//     with one of the four sensitivities (no default) and a JSON Schema
//     2020-12 whose root declares type "object", nesting at most
//     MaxSchemaDepth levels, referring only to itself (no loading of
//     other documents, from the network or from files), with valid RE2
//     patterns; known formats (email, uri, date-time, …) are asserted,
//     not just annotations, and unknown ones are ignored;
//   - the lifecycle has an initial state; states and transitions are named
//     like kinds; at most MaxTransitions transitions, each with a to state
//     and 1 to MaxFromStates distinct from states;
//   - every from state is reachable: the initial state, or reached from it
//     by following transitions. A transition out of a state that no
//     account can ever be in is a mistake, usually a typo;
//   - relations text is at most MaxRelationsSize bytes, and passes
//     opts.CheckRelations.
func Compile(doc *Document, opts CompileOptions) (*Set, error) {
	const op = "kind.Compile"
	if doc == nil {
		return nil, fault.E(op, fault.Invalid, "no kinds document")
	}
	// Schemas are normalised again, with their problems reported, as each
	// fragment is compiled.
	norm, _ := normalizeDocument(doc)
	var vs []fault.Violation
	s := &Set{kinds: make(map[string]*Kind), byPrefix: make(map[string]*Kind), doc: norm}
	switch n := len(norm.Kinds); {
	case n == 0:
		vs = append(vs, fault.Violation{Field: "kinds", Reason: "at least one kind is required"})
	case n > MaxKinds:
		vs = append(vs, fault.Violation{Field: "kinds", Reason: fmt.Sprintf("has %d kinds; at most %d are allowed", n, MaxKinds)})
		return nil, fault.Invalidf(op, vs, "kinds document has too many kinds")
	}
	s.names = sortedKeys(norm.Kinds)
	relations := make(map[string]string)
	for _, name := range s.names {
		spec := doc.Kinds[name]
		k := compileKind(name, spec, &vs)
		s.kinds[name] = k
		if prev, ok := s.byPrefix[k.IDPrefix]; ok && k.IDPrefix != "" {
			vs = append(vs, fault.Violation{Field: "kinds." + name + ".id_prefix", Reason: "is already the prefix of kind " + prev.Name})
		} else {
			s.byPrefix[k.IDPrefix] = k
		}
		if kindNameRE.MatchString(name) {
			relations[name] = spec.Relations
		}
	}
	delete(s.byPrefix, "")
	if opts.CheckRelations != nil {
		if err := opts.CheckRelations(relations); err != nil {
			if !fault.Is(err, fault.Invalid) {
				return nil, fault.Wrap(op, fault.Internal, err)
			}
			vs = append(vs, relationViolations(err)...)
		}
	}
	if len(vs) > 0 {
		vs = sortViolations(vs)
		return nil, fault.Invalidf(op, vs, "kinds document has %s", count(len(vs), "problem"))
	}
	return s, nil
}

// relationViolations extracts the violations of a fault.Invalid error from
// CheckRelations, or makes one of its public message.
func relationViolations(err error) []fault.Violation {
	var fe *fault.Error
	if errors.As(err, &fe) && len(fe.Violations) > 0 {
		return fe.Violations
	}
	msg, _ := fault.PublicOf(err)
	return []fault.Violation{{Field: "kinds", Reason: "relations: " + msg}}
}

// compileKind checks and compiles one kind, appending its problems to vs.
// The returned Kind is only meaningful when no problem was found.
func compileKind(name string, spec KindSpec, vs *[]fault.Violation) *Kind {
	at := "kinds." + name
	bad := func(field, reason string) { *vs = append(*vs, fault.Violation{Field: at + field, Reason: reason}) }
	if !kindNameRE.MatchString(name) {
		bad("", "kind names must match "+kindNameRE.String())
	}
	k := &Kind{Name: name, IDPrefix: spec.IDPrefix, relations: spec.Relations}
	switch {
	case spec.IDPrefix == "":
		bad(".id_prefix", "is required")
	case !ids.ValidPrefix(spec.IDPrefix):
		bad(".id_prefix", fmt.Sprintf("must be 1 to %d lower-case letters or digits, starting with a letter", ids.MaxPrefixLen))
	}
	for i, typ := range spec.Identifiers {
		switch {
		case !slices.Contains(IdentifierTypes, typ):
			bad(".identifiers."+strconv.Itoa(i), "is not an identifier type; known types: "+strings.Join(IdentifierTypes, ", "))
		case slices.Contains(k.identifiers, typ):
			bad(".identifiers."+strconv.Itoa(i), "is listed more than once")
		default:
			k.identifiers = append(k.identifiers, typ)
		}
	}
	k.selfService = spec.SelfService
	k.mfaRequired = spec.MFARequired
	if spec.SelfService && len(k.identifiers) == 0 {
		bad(".self_service", "needs an identifier type to register with")
	}
	k.fragments, k.fragmentNames = compileFragments(name, spec.Fragments, vs)
	compileLifecycle(k, at+".lifecycle", spec.Lifecycle, vs)
	if len(spec.Relations) > MaxRelationsSize {
		bad(".relations", fmt.Sprintf("is longer than %d bytes", MaxRelationsSize))
	}
	return k
}

// compileFragments checks and compiles the fragments of the named kind.
func compileFragments(kind string, specs map[string]FragmentSpec, vs *[]fault.Violation) (map[string]*Fragment, []string) {
	at := "kinds." + kind
	bad := func(field, reason string) {
		*vs = append(*vs, fault.Violation{Field: at + ".fragments" + field, Reason: reason})
	}
	if len(specs) > MaxFragments {
		bad("", fmt.Sprintf("has %d fragments; at most %d are allowed", len(specs), MaxFragments))
		return nil, nil
	}
	names := sortedKeys(specs)
	frags := make(map[string]*Fragment, len(specs))
	for _, name := range names {
		spec := specs[name]
		if !fragmentNameRE.MatchString(name) {
			bad("."+name, "fragment names must match "+fragmentNameRE.String())
		}
		switch {
		case spec.Sensitivity == "":
			bad("."+name+".sensitivity", "is required: one of public, internal, pii, secret")
		case !spec.Sensitivity.Valid():
			bad("."+name+".sensitivity", "must be one of public, internal, pii, secret")
		}
		path := []string{"kinds", kind, "fragments", name, "schema"}
		f := &Fragment{Name: name, Sensitivity: spec.Sensitivity}
		before := len(*vs)
		if schema := toJSON(spec.Schema, path, 0, vs); len(*vs) == before {
			f.schema, f.source = compileSchema(schema, path, vs), schema
		}
		frags[name] = f
	}
	return frags, names
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
