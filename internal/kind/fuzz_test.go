package kind

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/atriumid/atrium/internal/fault"
)

// FuzzLoad checks that Load never panics, fails only with fault.Invalid or
// fault.TooLarge, and that every document it accepts renders (Marshal) to
// a text that loads again to the same document.
func FuzzLoad(f *testing.F) {
	f.Add(Builtin())
	f.Add([]byte(contactDoc))
	f.Add([]byte(`{"kinds": {"org": {"id_prefix": "org", "lifecycle": {"initial": "a"}, "relations": "a\/b \ud83d\ude00"}}}`))
	f.Add([]byte(orgSchema("{type: object, properties: {a: {$ref: '#/$defs/x'}}, $defs: {x: {type: string}}}")))
	f.Add([]byte(orgSchema("{type: object, properties: {a: {const: 2001-12-14, maximum: .nan}}}")))
	f.Add([]byte(orgLifecycle("{initial: a, transitions: {go: {from: [a, x], to: b}}}")))
	f.Add([]byte("kinds: &a {org: *a}"))
	f.Add([]byte(partnerDoc(`{kyc: "fragments.kyc.level >= 1", aml: "has(fragments.kyc.checks) && state == 'pending'"}`)))
	f.Add([]byte(`{"kinds": {"org": {"id_prefix": "org", "lifecycle": {"initial": "a", "transitions": {"go": {"from": ["a"], "to": "b", "guards": {"g": "1 + "}}}}}}}`))
	f.Add([]byte("kinds: {org: {id_prefix: org, identifiers: [], fragments: {}, lifecycle: {initial: a, transitions: {}}}}"))
	f.Add([]byte("kinds: {org: {id_prefix: org, lifecycle: {initial: a}, fragments: {p: {sensitivity: pii, schema: {type: object, properties: {1: {}}}}}}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Load(data, CompileOptions{})
		if err != nil {
			if k := fault.KindOf(err); k != fault.Invalid && k != fault.TooLarge {
				t.Fatalf("Load error %v has kind %v", err, k)
			}
			return
		}
		out, err := s.Document().Marshal()
		if err != nil {
			t.Fatalf("Marshal of an accepted document: %v", err)
		}
		again, err := Load(out, CompileOptions{})
		if err != nil {
			t.Fatalf("Load(Marshal(doc)) = %v\n%s", err, out)
		}
		if diff := cmp.Diff(s.Document(), again.Document()); diff != "" {
			t.Fatalf("round trip changed the document (-before +after):\n%s", diff)
		}
	})
}
