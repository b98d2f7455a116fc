package kind

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/atriumid/atrium/internal/fault"
)

func TestParseTooLarge(t *testing.T) {
	doc := append([]byte("kinds: {}\n#"), bytes.Repeat([]byte("x"), MaxDocumentSize)...)
	if _, err := Parse(doc); !fault.Is(err, fault.TooLarge) {
		t.Errorf("Parse(%d bytes) error = %v, want kind %v", len(doc), err, fault.TooLarge)
	}
	if _, err := Load(doc, CompileOptions{}); !fault.Is(err, fault.TooLarge) {
		t.Errorf("Load(%d bytes) error = %v, want kind %v", len(doc), err, fault.TooLarge)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []fault.Violation
	}{
		{"empty", "", []fault.Violation{vio("kinds", "the document is empty")}},
		{"blank", " \n\t\n", []fault.Violation{vio("kinds", "the document is empty")}},
		// yaml.v3 names the line where the enclosing block starts.
		{"YAML syntax", "kinds:\n  org:\n    id_prefix: org\n   lifecycle: {}\n", []fault.Violation{vio("", "line 1: did not find expected key")}},
		{"YAML tab indentation", "kinds:\n\torg: {}\n", []fault.Violation{vio("", "line 2: found character that cannot start any token")}},
		{"YAML unknown field", "kinds:\n  org:\n    id_prefix: org\n    prefix: org\n", []fault.Violation{vio("", "line 4: field prefix not found in type kind")}},
		{"YAML unknown top-level field", "kinds: {}\nversion: 2\n", []fault.Violation{vio("", "line 2: field version not found in type document")}},
		{"YAML unknown transition field", "kinds: {org: {lifecycle: {transitions: {go: {from: [a], to: b, guard: x}}}}}",
			[]fault.Violation{vio("", "line 1: field guard not found in type transition")}},
		{"YAML duplicate key", "kinds:\n  org: {}\n  org: {}\n", []fault.Violation{vio("", `line 3: mapping key "org" already defined at line 2`)}},
		{"YAML wrong type", "kinds:\n  org:\n    identifiers: email\n", []fault.Violation{vio("", "line 3: cannot unmarshal !!str `email` into []string")}},
		{"YAML two documents", "kinds: {}\n---\nkinds: {}\n", []fault.Violation{vio("", "the text holds more than one YAML document")}},
		{"YAML scalar", "hello", []fault.Violation{vio("", "line 1: cannot unmarshal !!str `hello` into document")}},
		{"broken JSON", "{\n  \"kinds\": {\n    \"org\": {\"id_prefix\": \"org\"}\n  }\n", []fault.Violation{vio("", "line 4: did not find expected ',' or '}'")}},
		{"JSON unknown field", `{"kinds": {"org": {"id_prefix": "org", "prefix": "org"}}}`,
			[]fault.Violation{vio("kinds.org.prefix", "unknown field; known fields: id_prefix, identifiers, fragments, lifecycle, relations, self_service, mfa_required")}},
		{"JSON field in another case", `{"Kinds": {}}`, []fault.Violation{vio("Kinds", "unknown field; known fields: kinds")}},
		{"JSON unknown fragment field", `{"kinds": {"org": {"fragments": {"p": {"sensitivity": "pii", "encrypted": true}}}}}`,
			[]fault.Violation{vio("kinds.org.fragments.p.encrypted", "unknown field; known fields: sensitivity, schema")}},
		{"JSON unknown lifecycle field", `{"kinds": {"org": {"lifecycle": {"initial": "a", "states": []}}}}`,
			[]fault.Violation{vio("kinds.org.lifecycle.states", "unknown field; known fields: initial, transitions")}},
		{"JSON duplicate key", `{"kinds": {"org": {"id_prefix": "org", "id_prefix": "org"}}}`,
			[]fault.Violation{vio("kinds.org.id_prefix", "the key appears more than once")}},
		{"JSON duplicate key in a schema", `{"kinds": {"org": {"fragments": {"p": {"schema": {"type": "object", "type": "string"}}}}}}`,
			[]fault.Violation{vio("kinds.org.fragments.p.schema.type", "the key appears more than once")}},
		{"JSON wrong types", `{"kinds": {"org": {"id_prefix": 5, "identifiers": "email", "fragments": [], "lifecycle": {"initial": ["a"], "transitions": {"go": {"from": "a", "to": {}}}}}}}`,
			[]fault.Violation{
				vio("kinds.org.id_prefix", "must be a string"),
				vio("kinds.org.identifiers", "must be a list of strings"),
				vio("kinds.org.fragments", "must be an object"),
				vio("kinds.org.lifecycle.initial", "must be a string"),
				vio("kinds.org.lifecycle.transitions.go.from", "must be a list of strings"),
				vio("kinds.org.lifecycle.transitions.go.to", "must be a string"),
			}},
		{"JSON wrong element type", `{"kinds": {"org": {"identifiers": ["email", 1]}}}`,
			[]fault.Violation{vio("kinds.org.identifiers.1", "must be a string")}},
		{"JSON array document", `[]`, []fault.Violation{vio("", "must be an object")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Parse([]byte(tt.doc))
			if doc != nil {
				t.Errorf("Parse(%q) returned a document", tt.doc)
			}
			if diff := cmp.Diff(tt.want, violationsOf(t, err)); diff != "" {
				t.Errorf("Parse(%q) violations (-want +got):\n%s", tt.doc, diff)
			}
		})
	}
}

// TestParseJSONEscapes covers JSON string escapes that YAML decoders do not
// all read: the escaped solidus and UTF-16 surrogate pairs.
func TestParseJSONEscapes(t *testing.T) {
	doc, err := Parse([]byte(`{"kinds": {"org": {"relations": "a\/b \ud83d\ude00 \u00e9"}}}`))
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	if got, want := doc.Kinds["org"].Relations, "a/b 😀 é"; got != want {
		t.Errorf("relations = %q, want %q", got, want)
	}
}

func TestParseNull(t *testing.T) {
	for _, text := range []string{"null", "kinds:", "kinds: {org: }", `{"kinds": {"org": null}}`} {
		if _, err := Parse([]byte(text)); err != nil {
			t.Errorf("Parse(%q) = %v, want no error", text, err)
		}
	}
}

// TestYAMLAndJSONAgree compiles the same document written both ways.
func TestYAMLAndJSONAgree(t *testing.T) {
	yamlDoc := `
kinds:
  team:
    id_prefix: team
    identifiers: [username]
    fragments:
      profile:
        sensitivity: internal
        schema:
          type: object
          required: [name]
          properties:
            name: {type: string, maxLength: 200}
            size: {type: integer, minimum: 1, maximum: 10000}
            public: {type: boolean, default: false}
            motto: {type: [string, "null"]}
    lifecycle:
      initial: active
      transitions:
        archive: {from: [active], to: archived}
    relations: |
      define member: [user]
`
	jsonDoc := `{
	"kinds": {
		"team": {
			"id_prefix": "team",
			"identifiers": ["username"],
			"fragments": {
				"profile": {
					"sensitivity": "internal",
					"schema": {
						"type": "object",
						"required": ["name"],
						"properties": {
							"name": {"type": "string", "maxLength": 200},
							"size": {"type": "integer", "minimum": 1, "maximum": 10000},
							"public": {"type": "boolean", "default": false},
							"motto": {"type": ["string", "null"]}
						}
					}
				}
			},
			"lifecycle": {"initial": "active", "transitions": {"archive": {"from": ["active"], "to": "archived"}}},
			"relations": "define member: [user]\n"
		}
	}
}`
	fromYAML, err := Load([]byte(yamlDoc), CompileOptions{})
	if err != nil {
		t.Fatalf("Load(YAML) = %v", err)
	}
	fromJSON, err := Load([]byte(jsonDoc), CompileOptions{})
	if err != nil {
		t.Fatalf("Load(JSON) = %v", err)
	}
	if diff := cmp.Diff(fromYAML.Document(), fromJSON.Document()); diff != "" {
		t.Errorf("documents differ (-YAML +JSON):\n%s", diff)
	}
	for _, s := range []*Set{fromYAML, fromJSON} {
		k, _ := s.Kind("team")
		f, _ := k.Fragment("profile")
		got := f.Validate(decode(t, `{"name": "x", "size": 0, "motto": 3}`))
		want := []fault.Violation{vio("motto", "must be of type null or string, not number"), vio("size", "must be at least 1")}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Validate (-want +got):\n%s", diff)
		}
	}
}

// TestMarshalRoundTrip re-reads the rendering of every document it loads.
func TestMarshalRoundTrip(t *testing.T) {
	for name, text := range map[string]string{"builtin": string(Builtin()), "contact": contactDoc} {
		s, err := Load([]byte(text), CompileOptions{})
		if err != nil {
			t.Fatalf("Load(%s) = %v", name, err)
		}
		out, err := s.Document().Marshal()
		if err != nil {
			t.Fatalf("Marshal(%s) = %v", name, err)
		}
		if !json.Valid(out) {
			t.Fatalf("Marshal(%s) is not JSON: %s", name, out)
		}
		again, err := Load(out, CompileOptions{})
		if err != nil {
			t.Fatalf("Load(Marshal(%s)) = %v", name, err)
		}
		if diff := cmp.Diff(s.Document(), again.Document()); diff != "" {
			t.Errorf("%s: documents differ after a round trip (-before +after):\n%s", name, diff)
		}
	}
}

func TestMarshalRefusesNonJSON(t *testing.T) {
	doc := &Document{Kinds: map[string]KindSpec{"org": {Fragments: map[string]FragmentSpec{"p": {Schema: map[string]any{"x": make(chan int)}}}}}}
	_, err := doc.Marshal()
	want := []fault.Violation{vio("kinds.org.fragments.p.schema.x", "is not a JSON value")}
	if diff := cmp.Diff(want, violationsOf(t, err)); diff != "" {
		t.Errorf("Marshal violations (-want +got):\n%s", diff)
	}
}

func TestCompileGoValues(t *testing.T) {
	// A Document built in Go may hold any Go number type in a schema.
	doc := &Document{Kinds: map[string]KindSpec{"org": {
		IDPrefix:  "org",
		Lifecycle: LifecycleSpec{Initial: "active"},
		Fragments: map[string]FragmentSpec{"p": {Sensitivity: Public, Schema: map[string]any{
			"type":       "object",
			"properties": map[string]any{"n": map[string]any{"type": "integer", "maximum": int32(3), "minimum": uint8(1)}},
		}}},
	}}}
	s, err := Compile(doc, CompileOptions{})
	if err != nil {
		t.Fatalf("Compile = %v", err)
	}
	k, _ := s.Kind("org")
	f, _ := k.Fragment("p")
	if got := f.Validate(decode(t, `{"n": 4}`)); !strings.Contains(joinReasons(got), "must be at most 3") {
		t.Errorf("Validate(n: 4) = %v, want a maximum violation", got)
	}
}

func joinReasons(vs []fault.Violation) string {
	var b strings.Builder
	for _, v := range vs {
		b.WriteString(v.Field + ": " + v.Reason + "\n")
	}
	return b.String()
}

func TestParseAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		p := "*a" + string(rune('0'+i-1))
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [" + strings.Repeat(p+", ", 9) + p + "]\n")
	}
	b.WriteString("kinds: {org: {id_prefix: org, lifecycle: {initial: a}, fragments: {p: {sensitivity: public, schema: {type: object, enum: *a9}}}}}\n")
	_, err := Parse([]byte(b.String()))
	want := []fault.Violation{vio("", "document contains excessive aliasing")}
	if diff := cmp.Diff(want, violationsOf(t, err)); diff != "" {
		t.Errorf("Parse(alias bomb) violations (-want +got):\n%s", diff)
	}
}
