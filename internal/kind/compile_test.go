package kind

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/atriumid/atrium/internal/fault"
)

// vio builds a violation.
func vio(field, reason string) fault.Violation { return fault.Violation{Field: field, Reason: reason} }

// violationsOf returns the violations of a fault.Invalid error, failing the
// test for any other outcome.
func violationsOf(t *testing.T, err error) []fault.Violation {
	t.Helper()
	if err == nil {
		t.Fatal("got no error, want fault.Invalid")
	}
	if !fault.Is(err, fault.Invalid) {
		t.Fatalf("error %v has kind %v, want %v", err, fault.KindOf(err), fault.Invalid)
	}
	_, vs := fault.PublicOf(err)
	return vs
}

// org wraps the body of one kind called org into a document.
func org(body string) string { return "kinds: {org: {" + body + "}}" }

// orgSchema declares kind org with one public fragment p of the given schema.
func orgSchema(schema string) string {
	return org("id_prefix: org, lifecycle: {initial: active}, fragments: {p: {sensitivity: public, schema: " + schema + "}}")
}

// orgLifecycle declares kind org with the given lifecycle.
func orgLifecycle(lifecycle string) string {
	return org("id_prefix: org, lifecycle: " + lifecycle)
}

const (
	kindRE  = "kind names must match ^[a-z][a-z0-9_]{0,31}$"
	stateRE = "state names must match ^[a-z][a-z0-9_]{0,31}$"
	transRE = "transition names must match ^[a-z][a-z0-9_]{0,31}$"
)

// loadCase is a document that Load refuses with exactly the violations want.
type loadCase struct {
	name string
	doc  string
	want []fault.Violation
}

func runLoadCases(t *testing.T, tests []loadCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load([]byte(tt.doc), CompileOptions{})
			if diff := cmp.Diff(tt.want, violationsOf(t, err)); diff != "" {
				t.Errorf("Load(%.80q) violations (-want +got):\n%s", tt.doc, diff)
			}
		})
	}
}

func TestCompileRules(t *testing.T) {
	tests := []loadCase{
		{"no kinds", "kinds: {}", []fault.Violation{vio("kinds", "at least one kind is required")}},
		{"null kinds", "kinds:", []fault.Violation{vio("kinds", "at least one kind is required")}},
		{"upper-case kind name", "kinds: {Org: {id_prefix: org, lifecycle: {initial: a}}}", []fault.Violation{vio("kinds.Org", kindRE)}},
		{"kind name starting with a digit", "kinds: {1org: {id_prefix: org, lifecycle: {initial: a}}}", []fault.Violation{vio("kinds.1org", kindRE)}},
		{"kind name of 33 characters", "kinds: {" + strings.Repeat("a", 33) + ": {id_prefix: org, lifecycle: {initial: a}}}",
			[]fault.Violation{vio("kinds."+strings.Repeat("a", 33), kindRE)}},
		{"missing id_prefix", org("lifecycle: {initial: a}"), []fault.Violation{vio("kinds.org.id_prefix", "is required")}},
		{"invalid id_prefix", org("id_prefix: Org, lifecycle: {initial: a}"),
			[]fault.Violation{vio("kinds.org.id_prefix", "must be 1 to 16 lower-case letters or digits, starting with a letter")}},
		{"id_prefix with an underscore", org("id_prefix: my_org, lifecycle: {initial: a}"),
			[]fault.Violation{vio("kinds.org.id_prefix", "must be 1 to 16 lower-case letters or digits, starting with a letter")}},
		{"shared id_prefix", "kinds: {a: {id_prefix: x, lifecycle: {initial: s}}, b: {id_prefix: x, lifecycle: {initial: s}}}",
			[]fault.Violation{vio("kinds.b.id_prefix", "is already the prefix of kind a")}},
		{"unknown identifier type", org("id_prefix: org, identifiers: [email, fax], lifecycle: {initial: a}"),
			[]fault.Violation{vio("kinds.org.identifiers.1", "is not an identifier type; known types: email, phone, username, wallet, ens")}},
		{"repeated identifier type", org("id_prefix: org, identifiers: [email, phone, email], lifecycle: {initial: a}"),
			[]fault.Violation{vio("kinds.org.identifiers.2", "is listed more than once")}},
		{"upper-case fragment name", org("id_prefix: org, lifecycle: {initial: a}, fragments: {Profile: {sensitivity: public, schema: {type: object}}}"),
			[]fault.Violation{vio("kinds.org.fragments.Profile", "fragment names must match ^[a-z][a-z0-9_]{0,63}$")}},
		{"missing sensitivity", org("id_prefix: org, lifecycle: {initial: a}, fragments: {p: {schema: {type: object}}}"),
			[]fault.Violation{vio("kinds.org.fragments.p.sensitivity", "is required: one of public, internal, pii, secret")}},
		{"unknown sensitivity", org("id_prefix: org, lifecycle: {initial: a}, fragments: {p: {sensitivity: private, schema: {type: object}}}"),
			[]fault.Violation{vio("kinds.org.fragments.p.sensitivity", "must be one of public, internal, pii, secret")}},
		{"missing schema", org("id_prefix: org, lifecycle: {initial: a}, fragments: {p: {sensitivity: pii}}"),
			[]fault.Violation{vio("kinds.org.fragments.p.schema", "a schema is required")}},
		{"schema that is a string", orgSchema("object"), []fault.Violation{vio("kinds.org.fragments.p.schema", "must be a JSON Schema object")}},
		{"schema that is true", orgSchema("true"), []fault.Violation{vio("kinds.org.fragments.p.schema", "must be a JSON Schema object")}},
		{"root type string", orgSchema("{type: string}"),
			[]fault.Violation{vio("kinds.org.fragments.p.schema.type", `the root of a fragment schema must declare type "object"`)}},
		{"root without type", orgSchema("{properties: {a: {type: string}}}"),
			[]fault.Violation{vio("kinds.org.fragments.p.schema.type", `the root of a fragment schema must declare type "object"`)}},
		{"keyword of the wrong type", orgSchema("{type: object, properties: {a: {type: string, maxLength: many}}}"),
			[]fault.Violation{vio("kinds.org.fragments.p.schema.properties.a.maxLength", "must be of type integer, not string")}},
		{"negative maxLength", orgSchema("{type: object, properties: {a: {type: string, maxLength: -1}}}"),
			[]fault.Violation{vio("kinds.org.fragments.p.schema.properties.a.maxLength", "must be at least 0")}},
		{"invalid pattern", orgSchema("{type: object, properties: {a: {type: string, pattern: '(['}}}"),
			[]fault.Violation{vio("kinds.org.fragments.p.schema.properties.a.pattern", "is not a valid regex")}},
		{"pattern with a lookahead", orgSchema("{type: object, properties: {a: {type: string, pattern: '(?=a)'}}}"),
			[]fault.Violation{vio("kinds.org.fragments.p.schema.properties.a.pattern", "is not a valid regex")}},
		{"reference to the network", orgSchema("{type: object, properties: {a: {$ref: 'https://example.com/s.json'}}}"),
			[]fault.Violation{vio("kinds.org.fragments.p.schema", `refers to "https://example.com/s.json", outside this schema; a fragment schema may only refer to itself`)}},
		{"reference to a file", orgSchema("{type: object, properties: {a: {$ref: 'file:///etc/passwd'}}}"),
			[]fault.Violation{vio("kinds.org.fragments.p.schema", `refers to "file:///etc/passwd", outside this schema; a fragment schema may only refer to itself`)}},
		{"relative reference", orgSchema("{type: object, properties: {a: {$ref: 'other.json'}}}"),
			[]fault.Violation{vio("kinds.org.fragments.p.schema", `refers to "https://kinds.atrium.invalid/org/other.json", outside this schema; a fragment schema may only refer to itself`)}},
		{"reference under a foreign $id", orgSchema("{type: object, $id: 'https://example.com/a.json', properties: {a: {$ref: 'b.json'}}}"),
			[]fault.Violation{vio("kinds.org.fragments.p.schema", `refers to "https://example.com/b.json", outside this schema; a fragment schema may only refer to itself`)}},
		{"dangling reference", orgSchema("{type: object, properties: {a: {$ref: '#/$defs/missing'}}}"),
			[]fault.Violation{vio("kinds.org.fragments.p.schema", `cannot be compiled: json-pointer in "#/$defs/missing" not found`)}},
		{"draft-07 $schema", orgSchema("{$schema: 'http://json-schema.org/draft-07/schema#', type: object}"),
			[]fault.Violation{vio("kinds.org.fragments.p.schema.$schema", "only JSON Schema 2020-12 (https://json-schema.org/draft/2020-12/schema) is supported")}},
		{"unquoted timestamp", orgSchema("{type: object, properties: {a: {const: 2001-12-14}}}"),
			[]fault.Violation{vio("kinds.org.fragments.p.schema.properties.a.const", "is a timestamp; quote it to make it a string")}},
		{"integer key", orgSchema("{type: object, properties: {1: {type: string}}}"),
			[]fault.Violation{vio("kinds.org.fragments.p.schema.properties", "has a key that is not a string; quote the key")}},
		{"NaN", orgSchema("{type: object, properties: {a: {maximum: .nan}}}"),
			[]fault.Violation{vio("kinds.org.fragments.p.schema.properties.a.maximum", "is not a finite number")}},
		{"infinity", orgSchema("{type: object, properties: {a: {maximum: .inf}}}"),
			[]fault.Violation{vio("kinds.org.fragments.p.schema.properties.a.maximum", "is not a finite number")}},
		{"schema too deep", orgSchema("{type: object, allOf: [" + strings.Repeat("{allOf: [", 16) + "{}" + strings.Repeat("]}", 16) + "]}"),
			[]fault.Violation{vio("kinds.org.fragments.p.schema"+strings.Repeat(".allOf.0", 16), "nests objects and arrays deeper than 32 levels")}},
		{"missing initial state", orgLifecycle("{}"), []fault.Violation{vio("kinds.org.lifecycle.initial", "is required")}},
		{"missing lifecycle", org("id_prefix: org"), []fault.Violation{vio("kinds.org.lifecycle.initial", "is required")}},
		{"invalid initial state", orgLifecycle("{initial: Active}"), []fault.Violation{vio("kinds.org.lifecycle.initial", stateRE)}},
		{"invalid transition name", orgLifecycle("{initial: a, transitions: {Go: {from: [a], to: b}}}"),
			[]fault.Violation{vio("kinds.org.lifecycle.transitions.Go", transRE)}},
		{"missing to", orgLifecycle("{initial: a, transitions: {go: {from: [a]}}}"),
			[]fault.Violation{vio("kinds.org.lifecycle.transitions.go.to", "is required")}},
		{"invalid to", orgLifecycle("{initial: a, transitions: {go: {from: [a], to: B}}}"),
			[]fault.Violation{vio("kinds.org.lifecycle.transitions.go.to", stateRE)}},
		{"missing from", orgLifecycle("{initial: a, transitions: {go: {to: b}}}"),
			[]fault.Violation{vio("kinds.org.lifecycle.transitions.go.from", "at least one state is required")}},
		{"empty from", orgLifecycle("{initial: a, transitions: {go: {from: [], to: b}}}"),
			[]fault.Violation{vio("kinds.org.lifecycle.transitions.go.from", "at least one state is required")}},
		{"invalid from", orgLifecycle("{initial: a, transitions: {go: {from: [a, 'b c'], to: b}}}"),
			[]fault.Violation{vio("kinds.org.lifecycle.transitions.go.from.1", stateRE)}},
		{"repeated from", orgLifecycle("{initial: a, transitions: {go: {from: [a, a], to: b}}}"),
			[]fault.Violation{vio("kinds.org.lifecycle.transitions.go.from.1", "is listed more than once")}},
		{"from a state never reached", orgLifecycle("{initial: a, transitions: {go: {from: [a, x], to: b}}}"),
			[]fault.Violation{vio("kinds.org.lifecycle.transitions.go.from.1", "state x is unreachable: it is neither the initial state nor reached from it by a transition")}},
		{"from a state reached only from itself", orgLifecycle("{initial: a, transitions: {loop: {from: [x], to: x}}}"),
			[]fault.Violation{vio("kinds.org.lifecycle.transitions.loop.from.0", "state x is unreachable: it is neither the initial state nor reached from it by a transition")}},
		{"from a chain of unreachable states", orgLifecycle("{initial: a, transitions: {one: {from: [x], to: y}, two: {from: [y], to: z}}}"),
			[]fault.Violation{
				vio("kinds.org.lifecycle.transitions.one.from.0", "state x is unreachable: it is neither the initial state nor reached from it by a transition"),
				vio("kinds.org.lifecycle.transitions.two.from.0", "state y is unreachable: it is neither the initial state nor reached from it by a transition"),
			}},
		{"relations too long", org("id_prefix: org, lifecycle: {initial: a}, relations: '" + strings.Repeat("x", MaxRelationsSize+1) + "'"),
			[]fault.Violation{vio("kinds.org.relations", "is longer than 65536 bytes")}},
	}
	runLoadCases(t, tests)
}

func TestCompileLimits(t *testing.T) {
	many := func(n int, item func(i int) string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = item(i)
		}
		return strings.Join(parts, ", ")
	}
	tests := []loadCase{
		{"too many kinds", "kinds: {" + many(MaxKinds+1, func(i int) string {
			return fmt.Sprintf("k%d: {id_prefix: k%d, lifecycle: {initial: a}}", i, i)
		}) + "}", []fault.Violation{vio("kinds", "has 257 kinds; at most 256 are allowed")}},
		{"too many fragments", org("id_prefix: org, lifecycle: {initial: a}, fragments: {" + many(MaxFragments+1, func(i int) string {
			return fmt.Sprintf("f%d: {sensitivity: public, schema: {type: object}}", i)
		}) + "}"), []fault.Violation{vio("kinds.org.fragments", "has 65 fragments; at most 64 are allowed")}},
		{"too many transitions", orgLifecycle("{initial: a, transitions: {" + many(MaxTransitions+1, func(i int) string {
			return fmt.Sprintf("t%d: {from: [a], to: a}", i)
		}) + "}}"), []fault.Violation{vio("kinds.org.lifecycle.transitions", "has 65 transitions; at most 64 are allowed")}},
		{"too many from states", orgLifecycle("{initial: s0, transitions: {go: {from: [" + many(MaxFromStates+1, func(i int) string {
			return fmt.Sprintf("s%d", i)
		}) + "], to: s1}}}"), append([]fault.Violation{vio("kinds.org.lifecycle.transitions.go.from", "has 65 states; at most 64 are allowed")},
			unreachable("go", 2, MaxFromStates+1)...)},
	}
	runLoadCases(t, tests)
}

// unreachable lists the violations for from states s<from>…s<to-1> of
// transition name, in the order Compile sorts them.
func unreachable(name string, from, to int) []fault.Violation {
	var vs []fault.Violation
	for i := from; i < to; i++ {
		vs = append(vs, fault.Violation{
			Field:  fmt.Sprintf("kinds.org.lifecycle.transitions.%s.from.%d", name, i),
			Reason: fmt.Sprintf("state s%d is unreachable: it is neither the initial state nor reached from it by a transition", i),
		})
	}
	return sortViolations(vs)
}

func TestCompileReportsAllProblems(t *testing.T) {
	doc := `
kinds:
  Bad: {id_prefix: bad, lifecycle: {initial: a}}
  org:
    id_prefix: Org
    identifiers: [email, fax, email]
    fragments:
      profile: {sensitivity: private, schema: {type: object, properties: {name: {type: string, maxLength: x}}}}
      tax_id: {schema: {type: string}}
    lifecycle:
      transitions:
        close: {from: [active, gone], to: closed}
  team:
    id_prefix: bad
    lifecycle: {initial: active}
`
	want := []fault.Violation{
		vio("kinds.Bad", kindRE),
		vio("kinds.org.fragments.profile.schema.properties.name.maxLength", "must be of type integer, not string"),
		vio("kinds.org.fragments.profile.sensitivity", "must be one of public, internal, pii, secret"),
		vio("kinds.org.fragments.tax_id.schema.type", `the root of a fragment schema must declare type "object"`),
		vio("kinds.org.fragments.tax_id.sensitivity", "is required: one of public, internal, pii, secret"),
		vio("kinds.org.id_prefix", "must be 1 to 16 lower-case letters or digits, starting with a letter"),
		vio("kinds.org.identifiers.1", "is not an identifier type; known types: email, phone, username, wallet, ens"),
		vio("kinds.org.identifiers.2", "is listed more than once"),
		vio("kinds.org.lifecycle.initial", "is required"),
		vio("kinds.org.lifecycle.transitions.close.from.0", "state active is unreachable: it is neither the initial state nor reached from it by a transition"),
		vio("kinds.org.lifecycle.transitions.close.from.1", "state gone is unreachable: it is neither the initial state nor reached from it by a transition"),
		vio("kinds.team.id_prefix", "is already the prefix of kind Bad"),
	}
	_, err := Load([]byte(doc), CompileOptions{})
	if diff := cmp.Diff(want, violationsOf(t, err)); diff != "" {
		t.Errorf("Load violations (-want +got):\n%s", diff)
	}
	if msg, _ := fault.PublicOf(err); msg != "kinds document has 12 problems" {
		t.Errorf("Load message = %q, want %q", msg, "kinds document has 12 problems")
	}
}

func TestCompileNil(t *testing.T) {
	if _, err := Compile(nil, CompileOptions{}); !fault.Is(err, fault.Invalid) {
		t.Errorf("Compile(nil) error = %v, want kind %v", err, fault.Invalid)
	}
}

func TestCheckRelations(t *testing.T) {
	doc := "kinds: {org: {id_prefix: org, lifecycle: {initial: a}, relations: 'define member: [user]'}, user: {id_prefix: usr, lifecycle: {initial: a}}, Bad: {id_prefix: bad, lifecycle: {initial: a}}}"
	t.Run("receives every validly named kind", func(t *testing.T) {
		var got map[string]string
		_, err := Load([]byte(doc), CompileOptions{CheckRelations: func(r map[string]string) error { got = r; return nil }})
		violationsOf(t, err) // Bad is still a bad name
		want := map[string]string{"org": "define member: [user]", "user": ""}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("CheckRelations argument (-want +got):\n%s", diff)
		}
	})
	tests := []struct {
		name string
		err  error
		want []fault.Violation
	}{
		{"violations are merged", fault.Invalidf("relation.Check", []fault.Violation{vio("kinds.org.relations", "type team is not declared")}, "bad model"),
			[]fault.Violation{vio("kinds.Bad", kindRE), vio("kinds.org.relations", "type team is not declared")}},
		{"a message becomes a violation", fault.E("relation.Check", fault.Invalid, "bad model"),
			[]fault.Violation{vio("kinds", "relations: bad model"), vio("kinds.Bad", kindRE)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load([]byte(doc), CompileOptions{CheckRelations: func(map[string]string) error { return tt.err }})
			if diff := cmp.Diff(tt.want, violationsOf(t, err)); diff != "" {
				t.Errorf("Load violations (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("other errors abort", func(t *testing.T) {
		boom := errors.New("engine broke")
		_, err := Load([]byte(doc), CompileOptions{CheckRelations: func(map[string]string) error { return boom }})
		if !errors.Is(err, boom) || fault.KindOf(err) != fault.Internal {
			t.Errorf("Load error = %v (kind %v), want %v of kind %v", err, fault.KindOf(err), boom, fault.Internal)
		}
	})
}
