package relation

import (
	"errors"
	"testing"

	"github.com/atriumid/atrium/internal/fault"
)

// FuzzParseModel checks that the parser never panics, that every failure is
// a typed error, and that a parsed model formats to text that parses back
// to the same model.
func FuzzParseModel(f *testing.F) {
	for _, seed := range []string{
		"model\n  schema 1.1\ntype user\n",
		"model\n  schema 1.1\ntype user\ntype doc\n  relations\n    define viewer: [user, user:*, doc#viewer] or editor\n    define editor: [user]\n",
		// F-27/F-28 shapes: exclusion in base and in subtract, wildcard on
		// the right of exclusion and intersection, public access and a
		// userset of the same type.
		"model\n  schema 1.1\ntype user\ntype doc\n  relations\n    define blocked: [user, user:*]\n    define viewer: ([user:*] but not blocked) and allowed\n    define allowed: [user, doc#viewer]\n",
		"model\n  schema 1.1\ntype user\ntype folder\n  relations\n    define viewer: [user] but not blocked\n    define blocked: [user]\ntype doc\n  relations\n    define parent: [folder]\n    define viewer: [user:*, doc#viewer] but not viewer from parent\n",
		"model\n  schema 1.1\ntype user\ntype group\n  relations\n    define member: [user, user:*, group#member] but not (a and b)\n    define a: [user]\n    define b: [user]\n",
		"# c\nmodel # c\n  schema 1.1\ntype user\ntype doc\n  relations\n    define v: [\n  user,\n  doc#v\n]\n",
		"model\n  schema 1.1\ntype user\ntype doc\n  relations\n    define v: [user with cond]\ncondition cond(x: int) {\n  x < 1\n}\n",
		"model\n  schema 1.0\n",
		"model\n  schema 1.1\ntype doc\n  relations\n    define a: (((a or b)))\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		m, err := ParseModel(text)
		if err != nil {
			if k := fault.KindOf(err); k != fault.Invalid && k != fault.TooLarge {
				t.Fatalf("ParseModel error kind = %v (%v)", k, err)
			}
			return
		}
		out := m.String()
		again, err := ParseModel(out)
		if err != nil {
			t.Fatalf("ParseModel(format) = %v\n%s", err, out)
		}
		if again.String() != out {
			t.Fatalf("format does not round-trip:\n%s\n---\n%s", out, again)
		}
	})
}

// FuzzParseTuple checks that tuple parsing never panics, fails only with
// ErrInvalidTuple, and that a parsed tuple prints back as its input.
func FuzzParseTuple(f *testing.F) {
	for _, seed := range []string{
		"org:acme#admin@user:usr_1",
		"org:acme#member@team:t1#member",
		"doc:public#viewer@user:*",
		"doc:1#viewer@user:*#member",
		"a:b:c#d@e:f",
		"repo:acme/acme#owner@user:x|y",
		"#@:",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := ParseTuple(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidTuple) || !fault.Is(err, fault.Invalid) {
				t.Fatalf("ParseTuple error = %v, want invalid_argument wrapping ErrInvalidTuple", err)
			}
			return
		}
		if tp.String() != s {
			t.Fatalf("ParseTuple(%q).String() = %q", s, tp.String())
		}
		if err := checkTupleSyntax(tp); err != nil {
			t.Fatalf("ParseTuple(%q) accepted a tuple that fails its own checks: %v", s, err)
		}
		sub, err := ParseSubject(tp.Subject.String())
		if err != nil || sub != tp.Subject {
			t.Fatalf("ParseSubject(%q) = %v, %v, want %v", tp.Subject, sub, err, tp.Subject)
		}
	})
}

// FuzzParseTupleList checks that a tuple list never panics the parser,
// fails only with a typed error, and that every tuple it returns is one
// ParseTuple accepts, once.
func FuzzParseTupleList(f *testing.F) {
	for _, seed := range []string{
		"org:acme#admin@user:usr_1\norg:acme#member@team:t1#member\n",
		"# comment\n\n  doc:1#viewer@user:*  \r\ndoc:1#viewer@user:*\n",
		"org:acme#admin@user:usr_1\nnot a tuple\n",
		"\n\n#\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		ts, err := ParseTupleList(text)
		if err != nil {
			if !errors.Is(err, ErrInvalidTuple) || !fault.Is(err, fault.Invalid) {
				t.Fatalf("ParseTupleList error = %v, want invalid_argument wrapping ErrInvalidTuple", err)
			}
			return
		}
		seen := map[Tuple]bool{}
		for _, tp := range ts {
			again, err := ParseTuple(tp.String())
			if err != nil || again != tp {
				t.Fatalf("ParseTupleList returned %v, which does not parse back: %v", tp, err)
			}
			if seen[tp] {
				t.Fatalf("ParseTupleList returned %v twice", tp)
			}
			seen[tp] = true
		}
	})
}
