package relation

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/atriumid/atrium/internal/fault"
	"github.com/google/go-cmp/cmp"
)

func TestParseModel(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // the formatted model
	}{
		{
			name: "types and relations",
			in: `model
  schema 1.1
type user
type team
  relations
    define member: [user]
type org
  relations
    define owner: [user]
    define viewer: [user, team#member, user:*] or owner`,
			want: `model
  schema 1.1

type user

type team
  relations
    define member: [user]

type org
  relations
    define owner: [user]
    define viewer: [user, team#member, user:*] or owner
`,
		},
		{
			name: "comments, blank lines, line breaks in a type list",
			in: `# a model
model
  schema 1.1   # trailing comment

type user # people
type team
  relations
    # members
    define member: [
      user,
      team#member
    ]
`,
			want: `model
  schema 1.1

type user

type team
  relations
    define member: [user, team#member]
`,
		},
		{
			name: "parentheses, exclusion, tuple-to-userset, hyphens, keyword-like type names",
			in: `model
  schema 1.1
type user
type module
  relations
    define parent-dir: [module]
    define a: [user]
    define b: [user]
    define c: [user]
    define viewer: ([user] or a) but not (b and c from parent-dir)
    define editor: a and (b or c) and viewer
    define flat: (a or b) or (c or viewer)`,
			want: `model
  schema 1.1

type user

type module
  relations
    define parent-dir: [module]
    define a: [user]
    define b: [user]
    define c: [user]
    define viewer: ([user] or a) but not (b and c from parent-dir)
    define editor: a and (b or c) and viewer
    define flat: a or b or c or viewer
`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseModel(tc.in)
			if err != nil {
				t.Fatalf("ParseModel = %v", err)
			}
			if diff := cmp.Diff(tc.want, m.String()); diff != "" {
				t.Errorf("ParseModel(…).String() (-want +got):\n%s", diff)
			}
			again, err := ParseModel(m.String())
			if err != nil || again.String() != m.String() {
				t.Errorf("reparse = %v, %v; want the same model", again, err)
			}
		})
	}
}

func TestParseModelErrors(t *testing.T) {
	const head = "model\n  schema 1.1\ntype user\n"
	tests := []struct {
		name        string
		in          string
		contains    string
		unsupported bool
	}{
		{"no header", "type user", `1:1: expected "model"`, false},
		{"schema 1.0", "model\n  schema 1.0\n", "schema 1.0 models are not supported", true},
		{"schema 2", "model\n  schema 2.0\n", "2:10: expected schema version 1.1", false},
		{"condition block", head + "condition c(x: int) {\n x < 1\n}\n", "conditions are not supported", true},
		{"condition on a type", head + "type doc\n  relations\n    define v: [user with c]\n", "conditions are not supported", true},
		{"module", "module foo\n", "modular models are not supported", true},
		{"mixed operators", head + "type doc\n  relations\n    define a: [user]\n    define b: [user] or a and a\n", `7:27: mixing "or"`, false},
		{"two but not", head + "type doc\n  relations\n    define a: [user]\n    define b: [user] but not a but not a\n", `a second "but not"`, false},
		{"type list not first", head + "type doc\n  relations\n    define a: [user]\n    define b: a or [user]\n", "7:20: a direct type list must be the first operand", false},
		{"but without not", head + "type doc\n  relations\n    define a: [user] but a\n", `expected "not"`, false},
		{"unclosed list", head + "type doc\n  relations\n    define a: [user\n", `expected ","`, false},
		{"unclosed paren", head + "type doc\n  relations\n    define a: [user]\n    define b: (a or a\n", `expected ")"`, false},
		{"reserved name", head + "type doc\n  relations\n    define this: [user]\n", `relation name "this": reserved word`, false},
		{"bad name", head + "type 9doc\n", "not a name", false},
		{"duplicate relation", head + "type doc\n  relations\n    define a: [user]\n    define a: [user]\n", "defined twice", false},
		{"duplicate type list entry", head + "type doc\n  relations\n    define a: [user, user]\n", "appears twice", false},
		{"empty relations block", head + "type doc\n  relations\n", `expected "define"`, false},
		{"junk after definition", head + "type doc\n  relations\n    define a: [user] ]\n", "expected end of line", false},
		{"deep nesting", head + "type doc\n  relations\n    define a: [user]\n    define b: " + strings.Repeat("(", 20) + "a" + strings.Repeat(")", 20) + "\n", "nested deeper", false},
		{"too large", head + strings.Repeat("#", MaxModelBytes), "larger than", false},

		{"duplicate type", head + "type user\n", "user: type is defined twice", false},
		{"unknown type", head + "type doc\n  relations\n    define a: [group]\n", "doc#a: type group is not defined", false},
		{"unknown userset relation", head + "type doc\n  relations\n    define a: [doc#nope]\n", "doc#a: relation doc#nope is not defined", false},
		{"unknown computed", head + "type doc\n  relations\n    define a: nope\n", "doc#a: relation doc#nope is not defined", false},
		{"self reference", head + "type doc\n  relations\n    define a: [user] or a\n", "doc#a: relation refers to itself", false},
		{"unknown tupleset", head + "type doc\n  relations\n    define a: x from parent\n", "tupleset relation doc#parent is not defined", false},
		{"tupleset not direct", head + "type doc\n  relations\n    define p: [doc] or q\n    define q: [doc]\n    define a: [user] or a from p\n", "must be defined by a type list alone", false},
		{"tupleset userset", head + "type doc\n  relations\n    define p: [doc#a]\n    define a: [user] or a from p\n", "may not allow doc#a", false},
		{"tupleset wildcard", head + "type doc\n  relations\n    define p: [doc, user:*]\n    define a: [user] or a from p\n", "may not allow user:*", false},
		{"ttu relation nowhere", head + "type doc\n  relations\n    define p: [user]\n    define a: [user] or a from p\n", "no type allowed in doc#p defines relation a", false},
		{"computed cycle", head + "type doc\n  relations\n    define a: [user] or b\n    define b: a\n", "computed usersets form a cycle", false},
		{"no entry point", head + "type doc\n  relations\n    define a: [doc#a]\n", "doc#a: no entry point", false},
		{"intersection without entry", head + "type doc\n  relations\n    define p: [doc]\n    define a: [user] and a from p\n", "doc#a: no entry point", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseModel(tc.in)
			if err == nil {
				t.Fatalf("ParseModel = %v, want an error containing %q", m, tc.contains)
			}
			if k := fault.KindOf(err); k != fault.Invalid && k != fault.TooLarge {
				t.Errorf("ParseModel error kind = %v, want invalid_argument", k)
			}
			if !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("ParseModel error = %q, want it to contain %q", err, tc.contains)
			}
			if got := errors.Is(err, ErrUnsupported); got != tc.unsupported {
				t.Errorf("errors.Is(err, ErrUnsupported) = %v, want %v", got, tc.unsupported)
			}
		})
	}
}

func TestParseKindRelations(t *testing.T) {
	m, err := ParseKindRelations(designKinds)
	if err != nil {
		t.Fatalf("ParseKindRelations = %v", err)
	}
	var names []string
	for _, typ := range m.Types() {
		names = append(names, typ.Name)
	}
	if diff := cmp.Diff([]string{"org", "partner", "user"}, names); diff != "" {
		t.Errorf("ParseKindRelations types (-want +got):\n%s", diff)
	}
	if got, want := m.Type("org").Relation("viewer").Rewrite.String(), "member or admin from parent"; got != want {
		t.Errorf("org#viewer = %q, want %q", got, want)
	}

	tests := []struct {
		name  string
		kinds map[string]string
		field string
		msg   string
	}{
		{"syntax error", map[string]string{"user": "", "org": "define owner: [user]\ndefine admin: [user] or"}, "kinds.org.relations", "2:24: expected relation name"},
		{"not a define", map[string]string{"org": "relations\n"}, "kinds.org.relations", `1:1: expected define`},
		{"bad kind name", map[string]string{"or": ""}, "kinds.or", "reserved word"},
		{"type error", map[string]string{"org": "define owner: [user]"}, "org#owner", "type user is not defined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKindRelations(tc.kinds)
			_, vs := fault.PublicOf(err)
			if !fault.Is(err, fault.Invalid) || len(vs) == 0 {
				t.Fatalf("ParseKindRelations = %v, want invalid_argument with violations", err)
			}
			if vs[0].Field != tc.field || !strings.Contains(vs[0].Reason, tc.msg) {
				t.Errorf("ParseKindRelations violation = %+v, want field %q and reason containing %q", vs[0], tc.field, tc.msg)
			}
		})
	}
}

// TestLargeModel parses a model at the relation limit whose relations all
// feed each other, the worst case for the index and the entry-point search.
func TestLargeModel(t *testing.T) {
	var b strings.Builder
	b.WriteString("model\n  schema 1.1\ntype user\n")
	const types, perType = 16, MaxRelations / 16
	for i := range types {
		fmt.Fprintf(&b, "type t%d\n  relations\n    define parent: [t%d]\n", i, (i+1)%types)
		for j := 1; j < perType; j++ {
			fmt.Fprintf(&b, "    define r%d: [user, t%d#r%d] or r%d from parent", j, (i+3)%types, perType-j, j)
			if j > 1 {
				fmt.Fprintf(&b, " or r%d", j-1)
			}
			b.WriteString("\n")
		}
	}
	m, err := ParseModel(b.String())
	if err != nil {
		t.Fatalf("ParseModel(%d bytes) = %v", b.Len(), err)
	}
	if !m.index.canContain("t0", "r1", SubjectType{"t5", "r63"}) {
		t.Errorf("t0#r1 should reach t5#r63 through the userset chain")
	}
	if _, err := ParseModel(b.String() + "type extra\n  relations\n    define one_too_many: [user]\n"); !fault.Is(err, fault.Invalid) {
		t.Errorf("ParseModel(one relation over the limit) = %v, want invalid_argument", err)
	}
}
