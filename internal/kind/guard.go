package kind

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"

	"github.com/atriumid/atrium/internal/fault"
)

// Limits on transition guards, checked by Compile. A guard runs inside a
// write transaction, so both its size and its run time are bounded.
const (
	MaxGuards         = 8     // guards per transition
	MaxGuardSize      = 1024  // bytes of one guard expression
	maxGuardRecursion = 32    // parser nesting
	maxGuardCost      = 10000 // CEL cost units: a few thousand operations
)

// guardNameRE names guards; guards are named like states and transitions.
var guardNameRE = kindNameRE

// guard is a compiled transition guard: a CEL expression over the
// account's fragments that must evaluate to true for the transition to
// apply.
type guard struct {
	name string
	expr string
	prg  cel.Program
}

// guardEnv is the one CEL environment every guard compiles in. Its
// variables are fragments, a map from each fragment the kind declares to
// its data (an empty map for a fragment never written), and state, the
// account's current state. Numbers in fragment data are doubles; the
// environment compares numbers across types, so that
// fragments.kyc.level >= 1 means what it says.
var guardEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("fragments", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("state", cel.StringType),
		cel.CrossTypeNumericComparisons(true),
		cel.ParserExpressionSizeLimit(MaxGuardSize),
		cel.ParserRecursionLimit(maxGuardRecursion),
	)
})

// compileGuards compiles the guards of the transition of k at path at,
// appending a violation at "<at>.guards.<name>" for each one that does not
// parse, does not type-check to a boolean, or reads a fragment or property
// that k's schemas do not declare.
func compileGuards(k *Kind, at string, guards map[string]string, vs *[]fault.Violation) []guard {
	bad := func(field, reason string) {
		*vs = append(*vs, fault.Violation{Field: at + ".guards" + field, Reason: reason})
	}
	if len(guards) > MaxGuards {
		bad("", fmt.Sprintf("has %d guards; at most %d are allowed", len(guards), MaxGuards))
		return nil
	}
	var out []guard
	for _, name := range sortedKeys(guards) {
		if !guardNameRE.MatchString(name) {
			bad("."+name, "guard names must match "+guardNameRE.String())
			continue
		}
		g, reason := compileGuard(k, guards[name])
		if reason != "" {
			bad("."+name, reason)
			continue
		}
		g.name = name
		out = append(out, g)
	}
	return out
}

// compileGuard compiles one guard expression for kind k. It returns the
// reason the expression is refused, or "".
func compileGuard(k *Kind, expr string) (guard, string) {
	switch {
	case strings.TrimSpace(expr) == "":
		return guard{}, "a guard expression is required"
	case len(expr) > MaxGuardSize:
		return guard{}, fmt.Sprintf("is longer than %d bytes", MaxGuardSize)
	}
	env, err := guardEnv()
	if err != nil {
		return guard{}, "guards are unavailable: " + err.Error()
	}
	ast, iss := env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return guard{}, "is not a valid CEL expression: " + oneLine(iss.Err().Error())
	}
	if t := ast.OutputType(); !t.IsExactType(types.BoolType) && !t.IsExactType(types.DynType) {
		return guard{}, "must be a boolean expression, not " + cel.FormatCELType(t)
	}
	if reason := checkFragmentRefs(k, ast.NativeRep()); reason != "" {
		return guard{}, reason
	}
	prg, err := env.Program(ast, cel.CostLimit(maxGuardCost), cel.InterruptCheckFrequency(100))
	if err != nil {
		return guard{}, "cannot be compiled: " + oneLine(err.Error())
	}
	return guard{expr: expr, prg: prg}, ""
}

// oneLine keeps the first line of a CEL error, which names the problem
// and its position; the following lines draw a caret under the source.
func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimPrefix(s, "ERROR: <input>:")
}

// checkFragmentRefs type-checks what the map-typed fragments variable
// cannot: every fragments.NAME.PROP… path must name a fragment k declares
// and, as far as its schema declares properties, properties that exist;
// and a path compared with a literal must have a schema type that the
// literal can equal (a number with an integer or number property, a
// string with a string one, a boolean with a boolean one). A schema that
// allows undeclared properties (additionalProperties or patternProperties)
// ends the check at that level.
func checkFragmentRefs(k *Kind, a *celast.AST) string {
	var reasons []string
	celast.PostOrderVisit(a.Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if path := selectPath(e); len(path) > 0 {
			if _, reason := pathSchema(k, path); reason != "" {
				reasons = append(reasons, reason)
			}
			return
		}
		if reason := checkComparison(k, e); reason != "" {
			reasons = append(reasons, reason)
		}
	}))
	if len(reasons) == 0 {
		return ""
	}
	slices.Sort(reasons)
	return strings.Join(slices.Compact(reasons), "; ")
}

// pathSchema returns the schema of the property at path (fragment name
// first), nil when the schemas do not constrain it, or the reason the path
// names nothing.
func pathSchema(k *Kind, path []string) (any, string) {
	f, ok := k.fragments[path[0]]
	if !ok {
		return nil, fmt.Sprintf("kind %s has no fragment %s; its fragments: %s", k.Name, path[0], listOrNone(k.fragmentNames))
	}
	schema := f.source
	for i, p := range path[1:] {
		next, known := property(schema, p)
		if !known {
			return nil, fmt.Sprintf("fragment %s declares no property %s", f.Name, strings.Join(path[1:i+2], "."))
		}
		if next == nil {
			return nil, ""
		}
		schema = next
	}
	return schema, ""
}

// comparisons are the CEL operators whose operands must have one type.
var comparisons = []string{"_==_", "_!=_", "_<_", "_<=_", "_>_", "_>=_"}

// literalTypes maps a CEL literal's type to the JSON Schema types of the
// values it can equal.
var literalTypes = map[*types.Type][]string{
	types.StringType: {"string"},
	types.IntType:    {"integer", "number"},
	types.UintType:   {"integer", "number"},
	types.DoubleType: {"integer", "number"},
	types.BoolType:   {"boolean"},
}

// checkComparison reports a comparison of a fragment property with a
// literal of a type the property's schema never holds.
func checkComparison(k *Kind, e celast.Expr) string {
	if e.Kind() != celast.CallKind || !slices.Contains(comparisons, e.AsCall().FunctionName()) || len(e.AsCall().Args()) != 2 {
		return ""
	}
	args := e.AsCall().Args()
	for i, arg := range args {
		lit := args[1-i]
		path := selectPath(arg)
		if len(path) < 2 || lit.Kind() != celast.LiteralKind {
			continue
		}
		schema, _ := pathSchema(k, path)
		obj, _ := schema.(map[string]any)
		want, _ := obj["type"].(string)
		lt, _ := lit.AsLiteral().Type().(*types.Type)
		can, known := literalTypes[lt]
		if want == "" || !known || slices.Contains(can, want) {
			continue
		}
		return fmt.Sprintf("compares fragments.%s, of type %s, with a %s", strings.Join(path, "."), want, lit.AsLiteral().Type().TypeName())
	}
	return ""
}

// selectPath returns the field names of a chain of selections rooted at
// the fragments variable (fragments.kyc.level gives kyc, level), or nil.
func selectPath(e celast.Expr) []string {
	var path []string
	for e.Kind() == celast.SelectKind {
		s := e.AsSelect()
		path = append(path, s.FieldName())
		e = s.Operand()
	}
	if e.Kind() != celast.IdentKind || e.AsIdent() != "fragments" || len(path) == 0 {
		return nil
	}
	slices.Reverse(path)
	return path
}

// property looks up property name in an object schema. It returns the
// property's schema and true when declared; nil and true when the schema
// does not constrain it (no declared properties, or additional ones
// allowed); nil and false when the schema declares properties and forbids
// others.
func property(schema any, name string) (any, bool) {
	obj, ok := schema.(map[string]any)
	if !ok {
		return nil, true
	}
	if props, ok := obj["properties"].(map[string]any); ok {
		if p, ok := props[name]; ok {
			return p, true
		}
	} else {
		return nil, true
	}
	if _, ok := obj["patternProperties"]; ok {
		return nil, true
	}
	switch ap := obj["additionalProperties"].(type) {
	case nil:
		return nil, false
	case bool:
		return nil, ap
	}
	return nil, true
}

// HasGuards reports whether transition name of k declares guards, so that
// callers read an account's fragments only when a guard needs them.
func (k *Kind) HasGuards(transition string) bool {
	return len(k.transitions[transition].guards) > 0
}

// CheckGuards evaluates the guards of transition name for an account of
// k in state with the given fragment data (by fragment name; fragments
// never written may be missing). It returns nil when every guard holds,
// and fault.FailedPrecondition naming the first failing guard, in name
// order, otherwise. A guard that cannot be evaluated (it reads a field the
// data lacks, or exceeds its cost limit) fails; the reason is kept as the
// hidden cause, since it may describe the data.
func (k *Kind) CheckGuards(name, state string, fragments map[string]map[string]any) error {
	const op = "kind.CheckGuards"
	t := k.transitions[name]
	if len(t.guards) == 0 {
		return nil
	}
	frags := make(map[string]any, len(k.fragmentNames))
	for _, f := range k.fragmentNames {
		if d, ok := fragments[f]; ok && d != nil {
			frags[f] = typed(k.fragments[f].source, d)
		} else {
			frags[f] = map[string]any{}
		}
	}
	vars := map[string]any{"fragments": frags, "state": state}
	for _, g := range t.guards {
		out, _, err := g.prg.Eval(vars)
		if err == nil && out == types.True {
			continue
		}
		if err == nil {
			err = fmt.Errorf("guard evaluated to %v", out)
		}
		return &fault.Error{Op: op, Kind: fault.FailedPrecondition, Err: err,
			Msg: fmt.Sprintf("transition %s is refused: guard %s (%s) is not met", name, g.name, g.expr)}
	}
	return nil
}

// typed returns v, decoded from JSON, with the numbers that schema
// declares integers as int64, so that a guard's integer arithmetic
// (fragments.kyc.level + 1) works: CEL does not mix int and double in
// arithmetic. Other numbers stay float64. v is not modified.
func typed(schema, v any) any {
	obj, _ := schema.(map[string]any)
	switch v := v.(type) {
	case float64:
		if obj["type"] == "integer" && v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return int64(v)
		}
	case map[string]any:
		props, _ := obj["properties"].(map[string]any)
		if props == nil {
			return v
		}
		out := make(map[string]any, len(v))
		for name, e := range v {
			out[name] = typed(props[name], e)
		}
		return out
	case []any:
		items, ok := obj["items"].(map[string]any)
		if !ok {
			return v
		}
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = typed(items, e)
		}
		return out
	}
	return v
}
