package kind

import (
	"encoding/json"
	"maps"
	"math"
	"reflect"
	"strconv"
	"time"

	"github.com/atriumid/atrium/internal/fault"
)

// MaxSchemaDepth bounds the nesting of objects and arrays in a fragment
// schema. Real schemas stay far below it; the bound keeps compilation and
// validation recursion shallow for hostile documents.
const MaxSchemaDepth = 32

// normalizeDocument returns a deep copy of d whose fragment schemas hold
// only JSON values (see toJSON), with a violation for every value that
// cannot be converted. Empty lists and maps become nil, as they read back
// after Marshal. The copy shares nothing mutable with d.
func normalizeDocument(d *Document) (*Document, []fault.Violation) {
	var vs []fault.Violation
	out := &Document{Kinds: make(map[string]KindSpec, len(d.Kinds))}
	for name, k := range d.Kinds {
		c := k
		c.Identifiers = append([]string(nil), k.Identifiers...)
		c.Fragments, c.Lifecycle.Transitions = nil, nil
		if len(k.Fragments) > 0 {
			c.Fragments = make(map[string]FragmentSpec, len(k.Fragments))
			for fname, f := range k.Fragments {
				path := []string{"kinds", name, "fragments", fname, "schema"}
				f.Schema = toJSON(f.Schema, path, 0, &vs)
				c.Fragments[fname] = f
			}
		}
		if len(k.Lifecycle.Transitions) > 0 {
			c.Lifecycle.Transitions = make(map[string]TransitionSpec, len(k.Lifecycle.Transitions))
			for tname, t := range k.Lifecycle.Transitions {
				t.From = append([]string(nil), t.From...)
				if len(t.Guards) > 0 {
					t.Guards = maps.Clone(t.Guards)
				} else {
					t.Guards = nil
				}
				c.Lifecycle.Transitions[tname] = t
			}
		}
		out.Kinds[name] = c
	}
	return out, vs
}

// toJSON converts a value decoded from YAML (or built in Go) into the
// values encoding/json produces with UseNumber: nil, bool, string,
// json.Number, []any and map[string]any. YAML gives int and float64
// numbers, map[any]any for mappings with non-string keys and time.Time for
// unquoted dates; numbers are converted, the rest is reported at path.
// depth counts the enclosing objects and arrays.
func toJSON(v any, path []string, depth int, vs *[]fault.Violation) any {
	bad := func(reason string) any {
		*vs = append(*vs, fault.Violation{Field: joinPath(path), Reason: reason})
		return nil
	}
	switch v := v.(type) {
	case nil, bool, string:
		return v
	case json.Number:
		if !json.Valid([]byte(v)) {
			return bad("is not a valid JSON number")
		}
		return v
	case time.Time:
		return bad("is a timestamp; quote it to make it a string")
	case map[string]any, map[any]any, []any:
		if depth >= MaxSchemaDepth {
			return bad("nests objects and arrays deeper than " + strconv.Itoa(MaxSchemaDepth) + " levels")
		}
	default:
		return number(v, bad)
	}
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = toJSON(e, append(path, k), depth+1, vs)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			ks, ok := k.(string)
			if !ok {
				bad("has a key that is not a string; quote the key")
				continue
			}
			out[ks] = toJSON(e, append(path, ks), depth+1, vs)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = toJSON(e, append(path, strconv.Itoa(i)), depth+1, vs)
		}
		return out
	}
	return nil
}

// number converts a Go number of any type to a json.Number.
func number(v any, bad func(reason string) any) any {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return json.Number(strconv.FormatInt(rv.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return json.Number(strconv.FormatUint(rv.Uint(), 10))
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return bad("is not a finite number")
		}
		return json.Number(strconv.FormatFloat(f, 'g', -1, rv.Type().Bits()))
	}
	return bad("is not a JSON value")
}
