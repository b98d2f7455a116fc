package relation

import (
	"errors"
	"fmt"
	"strings"

	"github.com/atriumid/atrium/internal/fault"
)

// The sentinel causes wrapped by the errors of this package. Test for them
// with errors.Is; the fault.Kind of the outer error says how to answer.
var (
	// ErrUnsupported marks model text that uses an OpenFGA feature this
	// engine does not implement: conditions, modules, schema 1.0.
	ErrUnsupported = errors.New("unsupported model feature")
	// ErrUnknownType marks a reference to a type the model does not define.
	ErrUnknownType = errors.New("unknown type")
	// ErrUnknownRelation marks a reference to a relation its type does not
	// define.
	ErrUnknownRelation = errors.New("unknown relation")
	// ErrInvalidTuple marks a tuple that is malformed or breaks the model's
	// type restrictions.
	ErrInvalidTuple = errors.New("invalid tuple")
	// ErrDepthExceeded marks a query that needed more nested steps than its
	// depth limit allows.
	ErrDepthExceeded = errors.New("resolution depth exceeded")
)

// Op is the kind of a node in a relation's rewrite tree.
type Op uint8

// The rewrite operators of OpenFGA schema 1.1.
const (
	OpDirect       Op = iota + 1 // [user, team#member, user:*]: tuples written on the relation
	OpComputed                   // editor: the same object's other relation
	OpTupleToUser                // viewer from parent: Relation of every object in Tupleset
	OpUnion                      // a or b or …
	OpIntersection               // a and b and …
	OpExclusion                  // a but not b: Children[0] minus Children[1]
)

// Rewrite is one node of a relation definition. Which fields are set depends
// on Op: Direct for OpDirect; Relation for OpComputed; Relation and Tupleset
// for OpTupleToUser; Children (two or more; exactly two for OpExclusion) for
// the set operators.
type Rewrite struct {
	Op       Op
	Direct   []TypeRestriction
	Relation string
	Tupleset string
	Children []*Rewrite
}

// TypeRestriction is one entry of a direct relation's type list: objects of
// Type (user), the wildcard Type:* (user:*), or the usersets Type#Relation
// (team#member).
type TypeRestriction struct {
	Type     string
	Relation string
	Wildcard bool
}

// String renders r as it is written in the model language.
func (r TypeRestriction) String() string {
	switch {
	case r.Wildcard:
		return r.Type + ":*"
	case r.Relation != "":
		return r.Type + "#" + r.Relation
	}
	return r.Type
}

// RelationDef is one relation of a type: its name and rewrite tree.
type RelationDef struct {
	Name    string
	Rewrite *Rewrite
	// direct is the type list of the relation's direct node, nil when the
	// relation is not directly assignable.
	direct []TypeRestriction
}

// Direct returns the type restrictions of the relation's direct node, or nil
// when no tuple can be written on the relation.
func (r *RelationDef) Direct() []TypeRestriction { return r.direct }

// TypeDef is one type of the model and its relations in declaration order.
type TypeDef struct {
	Name      string
	Relations []*RelationDef
	byName    map[string]*RelationDef
}

// Relation returns the relation called name, or nil.
func (t *TypeDef) Relation(name string) *RelationDef {
	if t == nil {
		return nil
	}
	return t.byName[name]
}

// Model is a parsed and type-checked authorization model. It is immutable
// and safe for concurrent use.
type Model struct {
	types  []*TypeDef
	byName map[string]*TypeDef
	index  *modelIndex
}

// Types returns the types of m in declaration order. The slice must not be
// modified.
func (m *Model) Types() []*TypeDef { return m.types }

// Type returns the type called name, or nil.
func (m *Model) Type(name string) *TypeDef { return m.byName[name] }

// relation returns typ#rel or nil.
func (m *Model) relation(typ, rel string) *RelationDef {
	return m.byName[typ].Relation(rel)
}

// String formats m in the OpenFGA modeling language. Parsing the result
// gives a model equal to m.
func (m *Model) String() string {
	var b strings.Builder
	b.WriteString("model\n  schema 1.1\n")
	for _, t := range m.types {
		fmt.Fprintf(&b, "\ntype %s\n", t.Name)
		if len(t.Relations) == 0 {
			continue
		}
		b.WriteString("  relations\n")
		for _, r := range t.Relations {
			fmt.Fprintf(&b, "    define %s: %s\n", r.Name, r.Rewrite)
		}
	}
	return b.String()
}

// String renders w as it is written in the model language, with parentheses
// around nested operators.
func (w *Rewrite) String() string {
	var b strings.Builder
	w.format(&b, false)
	return b.String()
}

func (w *Rewrite) format(b *strings.Builder, nested bool) {
	switch w.Op {
	case OpDirect:
		b.WriteByte('[')
		for i, r := range w.Direct {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(r.String())
		}
		b.WriteByte(']')
	case OpComputed:
		b.WriteString(w.Relation)
	case OpTupleToUser:
		b.WriteString(w.Relation + " from " + w.Tupleset)
	default:
		word := map[Op]string{OpUnion: " or ", OpIntersection: " and ", OpExclusion: " but not "}[w.Op]
		if nested {
			b.WriteByte('(')
		}
		for i, c := range w.Children {
			if i > 0 {
				b.WriteString(word)
			}
			c.format(b, true)
		}
		if nested {
			b.WriteByte(')')
		}
	}
}

// fail builds a *fault.Error of kind k wrapping cause, with a public message.
func fail(op string, k fault.Kind, cause error, format string, args ...any) error {
	return &fault.Error{Op: op, Kind: k, Msg: fmt.Sprintf(format, args...), Err: cause}
}
