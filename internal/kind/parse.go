package kind

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/atriumid/atrium/internal/fault"
)

// MaxDocumentSize is the largest kinds document Parse accepts, in bytes.
const MaxDocumentSize = 1 << 20

// maxParseDepth bounds the nesting of a JSON document while it is scanned.
// Fragment schemas are bounded more tightly by Compile; this only keeps the
// scanner's recursion shallow.
const maxParseDepth = 128

// Parse decodes a kinds document from YAML or JSON text. Text that is valid
// JSON is decoded as JSON; anything else as YAML, which is a superset of
// JSON but lacks a few of its string escapes (so broken JSON gets YAML's
// error messages). Unknown fields and duplicate keys are refused in both
// forms.
//
// Parse only checks the shape of the document; Compile checks its rules.
// Errors: fault.TooLarge when data exceeds MaxDocumentSize; fault.Invalid
// for syntax and shape errors, with a violation per problem. JSON
// violations name the field's path; YAML ones name a line in the Reason.
func Parse(data []byte) (*Document, error) {
	const op = "kind.Parse"
	if len(data) > MaxDocumentSize {
		return nil, fault.E(op, fault.TooLarge, "kinds document is larger than %d bytes", MaxDocumentSize)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fault.Invalidf(op, []fault.Violation{{Field: "kinds", Reason: "the document is empty"}}, "kinds document is empty")
	}
	var (
		doc *Document
		vs  []fault.Violation
	)
	if json.Valid(data) {
		doc, vs = parseJSON(data)
	} else {
		doc, vs = parseYAML(data)
	}
	if len(vs) > 0 {
		return nil, fault.Invalidf(op, vs, "kinds document cannot be decoded")
	}
	return doc, nil
}

// parseYAML decodes YAML text strictly: unknown fields, duplicate keys and
// a second document in the stream are refused.
func parseYAML(data []byte) (*Document, []fault.Violation) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var doc Document
	if err := dec.Decode(&doc); err != nil {
		return nil, yamlViolations(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, []fault.Violation{{Reason: "the text holds more than one YAML document"}}
	}
	return &doc, nil
}

// goTypeNames maps the Go type names that yaml error messages mention to
// the document's own words.
var goTypeNames = strings.NewReplacer(
	"kind.Document", "document",
	"kind.KindSpec", "kind",
	"kind.FragmentSpec", "fragment",
	"kind.LifecycleSpec", "lifecycle",
	"kind.TransitionSpec", "transition",
	"kind.Sensitivity", "sensitivity",
	"map[string]kind.KindSpec", "map of kinds",
	"map[string]kind.FragmentSpec", "map of fragments",
	"map[string]kind.TransitionSpec", "map of transitions",
	"map[string]string", "map of guards",
)

// yamlViolations turns a yaml error into violations. Their Field is empty:
// a yaml error knows a line, not a path; the line is in the Reason.
func yamlViolations(err error) []fault.Violation {
	if te, ok := errors.AsType[*yaml.TypeError](err); ok {
		vs := make([]fault.Violation, 0, len(te.Errors))
		for _, e := range te.Errors {
			vs = append(vs, fault.Violation{Reason: goTypeNames.Replace(e)})
		}
		return vs
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	return []fault.Violation{{Reason: goTypeNames.Replace(msg)}}
}

// parseJSON decodes JSON text. encoding/json alone would accept duplicate
// keys and match field names case-insensitively, so a scan of the token
// stream first enforces what the YAML decoder enforces; then the document
// is decoded with numbers kept as json.Number.
func parseJSON(data []byte) (*Document, []fault.Violation) {
	sc := jsonScan{dec: json.NewDecoder(bytes.NewReader(data))}
	sc.dec.UseNumber()
	if err := sc.value(nil); err != nil {
		return nil, []fault.Violation{sc.violation(err)}
	}
	if len(sc.vs) > 0 {
		return nil, sc.vs
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var doc Document
	if err := dec.Decode(&doc); err != nil {
		return nil, []fault.Violation{sc.violation(err)}
	}
	return &doc, nil
}

// jsonScan walks the tokens of a JSON text and checks what the YAML decoder
// checks: no duplicate keys anywhere; at the levels that map to Go structs,
// only known fields and values of the right type. Unlike errors from
// encoding/json, its violations name the full path.
type jsonScan struct {
	dec *json.Decoder
	vs  []fault.Violation
}

// shapes describes the document down to fragment schemas, in document
// order: what each path holds. "*" matches any one name or index. Paths
// that match no rule (inside a schema) may hold anything.
var shapes = func() []shapeRule {
	var rules []shapeRule
	for _, r := range []struct{ pattern, shape string }{
		{"", "document"},
		{"kinds", "map"},
		{"kinds.*", "kind"},
		{"kinds.*.id_prefix", "string"},
		{"kinds.*.identifiers", "list"},
		{"kinds.*.identifiers.*", "string"},
		{"kinds.*.fragments", "map"},
		{"kinds.*.fragments.*", "fragment"},
		{"kinds.*.fragments.*.sensitivity", "string"},
		{"kinds.*.fragments.*.schema", "any"},
		{"kinds.*.lifecycle", "lifecycle"},
		{"kinds.*.lifecycle.initial", "string"},
		{"kinds.*.lifecycle.transitions", "map"},
		{"kinds.*.lifecycle.transitions.*", "transition"},
		{"kinds.*.lifecycle.transitions.*.from", "list"},
		{"kinds.*.lifecycle.transitions.*.from.*", "string"},
		{"kinds.*.lifecycle.transitions.*.to", "string"},
		{"kinds.*.lifecycle.transitions.*.guards", "map"},
		{"kinds.*.lifecycle.transitions.*.guards.*", "string"},
		{"kinds.*.relations", "string"},
		{"kinds.*.self_service", "bool"},
		{"kinds.*.mfa_required", "bool"},
	} {
		var segs []string
		if r.pattern != "" {
			segs = strings.Split(r.pattern, ".")
		}
		rules = append(rules, shapeRule{segs, r.shape})
	}
	return rules
}()

// shapeRule says that the paths matching segs hold a shape: "document",
// "kind", "fragment", "lifecycle" or "transition" (objects with known
// fields), "map" (an object keyed by names), "list" (of strings), "string"
// or "any".
type shapeRule struct {
	segs  []string
	shape string
}

func (r shapeRule) matches(path []string) bool {
	if len(path) != len(r.segs) {
		return false
	}
	for i, seg := range r.segs {
		if seg != "*" && seg != path[i] {
			return false
		}
	}
	return true
}

// shapeOf returns the shape at path, "any" when no rule matches.
func shapeOf(path []string) string {
	for _, r := range shapes {
		if r.matches(path) {
			return r.shape
		}
	}
	return "any"
}

// knownFields returns the fields allowed in the object at path, or nil when
// any key is allowed there (maps of names, and fragment schemas).
func knownFields(path []string) []string {
	switch shapeOf(path) {
	case "map", "list", "string", "bool", "any":
		return nil
	}
	var known []string
	for _, r := range shapes {
		n := len(r.segs)
		if n == len(path)+1 && r.segs[n-1] != "*" && (shapeRule{r.segs[:n-1], ""}).matches(path) {
			known = append(known, r.segs[n-1])
		}
	}
	return known
}

// fits reports whether the first token of a value suits shape.
func fits(shape string, tok json.Token) bool {
	if tok == nil { // null: the field keeps its zero value, as in YAML
		return true
	}
	switch shape {
	case "string":
		_, ok := tok.(string)
		return ok
	case "bool":
		_, ok := tok.(bool)
		return ok
	case "list":
		return tok == json.Delim('[')
	case "any":
		return true
	}
	return tok == json.Delim('{')
}

var shapeNames = map[string]string{
	"document": "an object", "kind": "an object", "fragment": "an object", "lifecycle": "an object",
	"transition": "an object", "map": "an object", "string": "a string", "list": "a list of strings", "bool": "true or false",
}

func (s *jsonScan) value(path []string) error {
	if len(path) > maxParseDepth {
		return fmt.Errorf("nesting deeper than %d levels", maxParseDepth)
	}
	tok, err := s.dec.Token()
	if err != nil {
		return err
	}
	if shape := shapeOf(path); !fits(shape, tok) {
		s.vs = append(s.vs, fault.Violation{Field: joinPath(path), Reason: "must be " + shapeNames[shape]})
	}
	switch tok {
	case json.Delim('{'):
		return s.object(path)
	case json.Delim('['):
		for i := 0; s.dec.More(); i++ {
			if err := s.value(append(path, strconv.Itoa(i))); err != nil {
				return err
			}
		}
		_, err = s.dec.Token()
		return err
	}
	return nil
}

func (s *jsonScan) object(path []string) error {
	known := knownFields(path)
	seen := make(map[string]bool)
	for s.dec.More() {
		tok, err := s.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		field := joinPath(append(path, key))
		switch {
		case seen[key]:
			s.vs = append(s.vs, fault.Violation{Field: field, Reason: "the key appears more than once"})
		case known != nil && !slices.Contains(known, key):
			s.vs = append(s.vs, fault.Violation{Field: field, Reason: "unknown field; known fields: " + strings.Join(known, ", ")})
		}
		seen[key] = true
		if err := s.value(append(path, key)); err != nil {
			return err
		}
	}
	_, err := s.dec.Token()
	return err
}

// violation describes an error that the scan did not foresee; a JSON text
// that passed json.Valid and the scan has no syntax or type error left.
func (s *jsonScan) violation(err error) fault.Violation {
	return fault.Violation{Reason: goTypeNames.Replace(strings.TrimPrefix(err.Error(), "json: "))}
}

// joinPath renders a path as the dotted field name of a violation.
func joinPath(path []string) string { return strings.Join(path, ".") }

// Marshal renders d as indented JSON, which Parse reads back. Fragment
// schemas are first converted to plain JSON values; Marshal fails with
// fault.Invalid when one holds a value JSON cannot express.
func (d *Document) Marshal() ([]byte, error) {
	const op = "kind.Document.Marshal"
	out, vs := normalizeDocument(d)
	if len(vs) > 0 {
		return nil, fault.Invalidf(op, vs, "kinds document cannot be rendered as JSON")
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fault.Wrap(op, fault.Invalid, err)
	}
	return b, nil
}
