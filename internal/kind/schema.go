package kind

import (
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	jskind "github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/atriumid/atrium/internal/fault"
)

// draft2020 is the only dialect a fragment schema may declare in $schema.
const draft2020 = "https://json-schema.org/draft/2020-12/schema"

// schemaBase is the base URI a fragment schema is compiled under. Relative
// references resolve against it; since the compiler has no loader, any
// reference that leaves the schema fails to compile instead of fetching
// anything, from the network or from files.
const schemaBase = "https://kinds.atrium.invalid/"

// Fragment is a compiled fragment declaration: its name, its sensitivity
// and its JSON Schema, compiled once by Compile.
type Fragment struct {
	Name        string
	Sensitivity Sensitivity
	schema      *jsonschema.Schema
	source      any // the normalised schema, for guards to look properties up
}

// Validate checks v, a value decoded from JSON with json.Decoder.UseNumber,
// against the fragment's schema, and returns one violation per problem
// (none when v is valid), sorted by field. Field is the dotted path inside
// the fragment data ("name", "addresses.0.city", "" for the root). Reasons
// never repeat the value, which may be personal data.
func (f *Fragment) Validate(v any) []fault.Violation {
	if f.schema == nil { // a Fragment not made by Compile
		return []fault.Violation{{Reason: "the fragment has no compiled schema"}}
	}
	err := f.schema.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []fault.Violation{{Reason: "is not a valid JSON value"}}
	}
	var vs []fault.Violation
	flatten(ve, &vs)
	return sortViolations(vs)
}

// compileSchema checks and compiles the (already normalised) schema of the
// fragment at path, appending every problem to vs.
func compileSchema(schema any, path []string, vs *[]fault.Violation) *jsonschema.Schema {
	bad := func(sub []string, reason string) {
		*vs = append(*vs, fault.Violation{Field: joinPath(append(slices.Clone(path), sub...)), Reason: reason})
	}
	if schema == nil {
		bad(nil, "a schema is required")
		return nil
	}
	obj, ok := schema.(map[string]any)
	if !ok {
		bad(nil, "must be a JSON Schema object")
		return nil
	}
	if obj["type"] != "object" {
		bad([]string{"type"}, `the root of a fragment schema must declare type "object"`)
	}
	if d, ok := obj["$schema"]; ok && d != draft2020 && d != draft2020+"#" {
		bad([]string{"$schema"}, "only JSON Schema 2020-12 ("+draft2020+") is supported")
		return nil
	}
	loc := schemaBase + url.PathEscape(path[1]) + "/" + url.PathEscape(path[3]) + ".json"
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(loc, schema); err != nil {
		bad(nil, "cannot be compiled")
		return nil
	}
	sch, err := c.Compile(loc)
	if err != nil {
		before := len(*vs)
		compileViolations(err, loc, path, vs)
		if len(*vs) == before {
			bad(nil, "cannot be compiled")
		}
		return nil
	}
	return sch
}

// compileViolations describes a schema compilation error. A schema that
// breaks the 2020-12 meta-schema gets one violation per problem, at its
// place inside the schema.
func compileViolations(err error, loc string, path []string, vs *[]fault.Violation) {
	var (
		sve *jsonschema.SchemaValidationError
		lue *jsonschema.LoadURLError
		rxe *jsonschema.InvalidRegexError
	)
	switch {
	case errors.As(err, &sve):
		var ve *jsonschema.ValidationError
		if errors.As(sve.Err, &ve) {
			var inner []fault.Violation
			flatten(ve, &inner)
			for _, v := range inner {
				*vs = append(*vs, fault.Violation{Field: joinNonEmpty(joinPath(path), v.Field), Reason: v.Reason})
			}
		}
	case errors.As(err, &lue):
		*vs = append(*vs, fault.Violation{Field: joinPath(path), Reason: fmt.Sprintf(
			"refers to %q, outside this schema; a fragment schema may only refer to itself", strings.TrimPrefix(lue.URL, loc))})
	case errors.As(err, &rxe):
		*vs = append(*vs, fault.Violation{Field: joinNonEmpty(joinPath(path), pointerPath(rxe.URL, loc)),
			Reason: "is not a valid regular expression (Go RE2 syntax)"})
	default:
		*vs = append(*vs, fault.Violation{Field: joinPath(path), Reason: "cannot be compiled: " + strings.ReplaceAll(err.Error(), loc, "")})
	}
}

// pointerPath turns "loc#/a/b" into "a.b"; other URLs give "".
func pointerPath(u, loc string) string {
	ptr, ok := strings.CutPrefix(u, loc+"#")
	if !ok || ptr == "" {
		return ""
	}
	toks := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	for i, t := range toks {
		t, _ = url.PathUnescape(t)
		toks[i] = strings.NewReplacer("~1", "/", "~0", "~").Replace(t)
	}
	return joinPath(toks)
}

// joinNonEmpty joins two dotted paths, either of which may be empty.
func joinNonEmpty(a, b string) string {
	switch {
	case b == "":
		return a
	case a == "":
		return b
	}
	return a + "." + b
}

// flatten turns a validation error tree into violations at the instance
// locations of its leaves. Groups whose meaning is "one of several shapes"
// (anyOf, oneOf) are reported once, at their own location, since listing
// why each alternative failed helps nobody.
func flatten(e *jsonschema.ValidationError, vs *[]fault.Violation) {
	field := joinPath(e.InstanceLocation)
	add := func(f, reason string) { *vs = append(*vs, fault.Violation{Field: f, Reason: reason}) }
	switch k := e.ErrorKind.(type) {
	case *jskind.Schema, *jskind.Group, *jskind.Reference, *jskind.AllOf:
		if len(e.Causes) == 0 {
			add(field, "is not valid")
		}
		for _, c := range e.Causes {
			flatten(c, vs)
		}
		return
	case *jskind.AnyOf:
		add(field, "does not match any of the allowed shapes")
	case *jskind.OneOf:
		if len(k.Subschemas) == 0 {
			add(field, "does not match any of the allowed shapes")
		} else {
			add(field, "matches more than one of the allowed shapes")
		}
	case *jskind.Required:
		for _, m := range k.Missing {
			add(joinNonEmpty(field, m), "is required")
		}
	case *jskind.DependentRequired:
		for _, m := range k.Missing {
			add(joinNonEmpty(field, m), fmt.Sprintf("is required when %q is present", k.Prop))
		}
	case *jskind.Dependency:
		for _, m := range k.Missing {
			add(joinNonEmpty(field, m), fmt.Sprintf("is required when %q is present", k.Prop))
		}
	case *jskind.AdditionalProperties:
		for _, p := range k.Properties {
			add(joinNonEmpty(field, p), "is not an allowed property")
		}
	case *jskind.PropertyNames:
		add(joinNonEmpty(field, k.Property), "is not an allowed property name")
		return
	default:
		add(field, reason(e.ErrorKind))
	}
}

// reason describes one failed keyword without repeating the value that
// failed it. Values taken from the schema (limits, patterns, allowed
// values) are shown, since they belong to the kinds document.
func reason(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *jskind.Type:
		return fmt.Sprintf("must be of type %s, not %s", strings.Join(k.Want, " or "), k.Got)
	case *jskind.Enum:
		return "must be one of the allowed values" + listed(k.Want)
	case *jskind.Const:
		return "must be the one allowed value" + listed([]any{k.Want})
	case *jskind.Format:
		return "is not a valid " + k.Want
	case *jskind.Pattern:
		return fmt.Sprintf("does not match the pattern %q", k.Want)
	case *jskind.MinLength:
		return fmt.Sprintf("must be at least %s long", count(k.Want, "character"))
	case *jskind.MaxLength:
		return fmt.Sprintf("must be at most %s long", count(k.Want, "character"))
	case *jskind.MinItems:
		return "must have at least " + count(k.Want, "item")
	case *jskind.MaxItems:
		return "must have at most " + count(k.Want, "item")
	case *jskind.MinProperties:
		return "must have at least " + count(k.Want, "property")
	case *jskind.MaxProperties:
		return "must have at most " + count(k.Want, "property")
	case *jskind.UniqueItems:
		return fmt.Sprintf("must not repeat items (items %d and %d are equal)", k.Duplicates[0], k.Duplicates[1])
	case *jskind.Minimum:
		return "must be at least " + rat(k.Want)
	case *jskind.Maximum:
		return "must be at most " + rat(k.Want)
	case *jskind.ExclusiveMinimum:
		return "must be greater than " + rat(k.Want)
	case *jskind.ExclusiveMaximum:
		return "must be less than " + rat(k.Want)
	case *jskind.MultipleOf:
		return "must be a multiple of " + rat(k.Want)
	case *jskind.FalseSchema:
		return "is not allowed"
	case *jskind.Not:
		return "matches a shape that is not allowed"
	case *jskind.Contains, *jskind.MinContains, *jskind.MaxContains:
		return "does not have the required number of matching items"
	case *jskind.AdditionalItems:
		return "has more items than allowed"
	case *jskind.InvalidJsonValue:
		return "is not a valid JSON value"
	}
	return "is not valid"
}

// count renders "1 item", "2 items", "2 properties".
func count(n int, noun string) string {
	switch {
	case n == 1:
	case strings.HasSuffix(noun, "y"):
		noun = strings.TrimSuffix(noun, "y") + "ies"
	default:
		noun += "s"
	}
	return strconv.Itoa(n) + " " + noun
}

// listed renders schema-supplied allowed values, when they are few and
// simple, as ": a, b, c".
func listed(want []any) string {
	const maxListed = 10
	if len(want) > maxListed {
		return ""
	}
	parts := make([]string, 0, len(want))
	for _, w := range want {
		switch w.(type) {
		case map[string]any, []any:
			return ""
		}
		parts = append(parts, fmt.Sprintf("%v", w))
		if s, ok := w.(string); ok {
			parts[len(parts)-1] = strconv.Quote(s)
		}
	}
	return ": " + strings.Join(parts, ", ")
}

func rat(r *big.Rat) string {
	if r == nil {
		return "the limit"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	return strings.TrimRight(strings.TrimRight(r.FloatString(12), "0"), ".")
}

// sortViolations orders violations by field then reason and drops exact
// duplicates, so that results do not depend on map iteration order.
func sortViolations(vs []fault.Violation) []fault.Violation {
	slices.SortStableFunc(vs, func(a, b fault.Violation) int {
		if c := strings.Compare(a.Field, b.Field); c != 0 {
			return c
		}
		return strings.Compare(a.Reason, b.Reason)
	})
	return slices.Compact(vs)
}
