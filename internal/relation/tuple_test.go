package relation

import (
	"errors"
	"strings"
	"testing"

	"github.com/atriumid/atrium/internal/fault"
	"github.com/google/go-cmp/cmp"
)

func TestParseTuple(t *testing.T) {
	tests := []struct {
		in   string
		want Tuple
	}{
		{"org:acme#admin@user:usr_1", Tuple{Object{"org", "acme"}, "admin", Subject{Type: "user", ID: "usr_1"}}},
		{"org:acme#member@team:t1#member", Tuple{Object{"org", "acme"}, "member", Subject{"team", "t1", "member"}}},
		{"doc:public#viewer@user:*", Tuple{Object{"doc", "public"}, "viewer", Subject{Type: "user", ID: "*"}}},
		{"repo:acme/acme#owner@user:a.b-c|d=e+f~g", Tuple{Object{"repo", "acme/acme"}, "owner", Subject{Type: "user", ID: "a.b-c|d=e+f~g"}}},
	}
	for _, tc := range tests {
		got, err := ParseTuple(tc.in)
		if err != nil {
			t.Errorf("ParseTuple(%q) = %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ParseTuple(%q) (-want +got):\n%s", tc.in, diff)
		}
		if got.String() != tc.in {
			t.Errorf("ParseTuple(%q).String() = %q, want the input", tc.in, got.String())
		}
	}
}

func TestParseTupleErrors(t *testing.T) {
	for _, in := range []string{
		"",
		"org:acme#admin",
		"org:acme@user:u1",
		"org#admin@user:u1",
		"org:#admin@user:u1",
		"org:*#admin@user:u1",
		"org:a:b#admin@user:u1",
		"org:acme#@user:u1",
		"org:acme#ad min@user:u1",
		"org:acme#admin@user",
		"org:acme#admin@user:*#member",
		"org:acme#admin@user:u1#",
		"org:acme#admin@:u1",
		"org:acme#admin@user:u 1",
		"org:acme#admin@user:ü",
		"9org:acme#admin@user:u1",
		"org:" + strings.Repeat("x", MaxIDLen+1) + "#admin@user:u1",
	} {
		_, err := ParseTuple(in)
		if !fault.Is(err, fault.Invalid) || !errors.Is(err, ErrInvalidTuple) {
			t.Errorf("ParseTuple(%.40q) = %v, want invalid_argument wrapping ErrInvalidTuple", in, err)
		}
	}
}

func TestParseSubjectType(t *testing.T) {
	for in, want := range map[string]SubjectType{"user": {Type: "user"}, "team#member": {"team", "member"}} {
		got, err := ParseSubjectType(in)
		if err != nil || got != want || got.String() != in {
			t.Errorf("ParseSubjectType(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "#member", "team#", "user:*", "a b"} {
		if _, err := ParseSubjectType(in); !fault.Is(err, fault.Invalid) {
			t.Errorf("ParseSubjectType(%q) = %v, want invalid_argument", in, err)
		}
	}
}

func TestValidateTuple(t *testing.T) {
	m := mustModel(t, `model
  schema 1.1
type user
type team
  relations
    define member: [user]
type doc
  relations
    define parent: [doc]
    define viewer: [user, user:*, team#member] or viewer from parent
    define can_view: viewer`)
	tests := []struct {
		tuple string
		ok    bool
	}{
		{"doc:1#viewer@user:u1", true},
		{"doc:1#viewer@user:*", true},
		{"doc:1#viewer@team:t#member", true},
		{"doc:1#parent@doc:2", true},
		{"doc:1#parent@user:*", false},       // no wildcard on the tupleset
		{"doc:1#viewer@team:t", false},       // team objects are not allowed, only team#member
		{"doc:1#viewer@doc:2#viewer", false}, // userset not in the type list
		{"doc:1#can_view@user:u1", false},    // not directly assignable
		{"doc:1#editor@user:u1", false},      // no such relation
		{"folder:1#viewer@user:u1", false},   // no such type
	}
	for _, tc := range tests {
		tp, err := ParseTuple(tc.tuple)
		if err != nil {
			t.Fatal(err)
		}
		err = m.ValidateTuple(tp)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateTuple(%s) = %v, want ok %v", tc.tuple, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidTuple) {
			t.Errorf("ValidateTuple(%s) = %v, want ErrInvalidTuple", tc.tuple, err)
		}
	}
	bad := Tuple{Object{"doc", "a b"}, "viewer", Subject{Type: "user", ID: "u1"}}
	if err := m.ValidateTuple(bad); !errors.Is(err, ErrInvalidTuple) {
		t.Errorf("ValidateTuple(%v) = %v, want ErrInvalidTuple", bad, err)
	}
}

func mustModel(t testing.TB, text string) *Model {
	t.Helper()
	m, err := ParseModel(text)
	if err != nil {
		t.Fatalf("ParseModel = %v", err)
	}
	return m
}

func mustTuples(t testing.TB, m *Model, ts ...string) *MemoryTuples {
	t.Helper()
	store := NewMemoryTuples()
	for _, s := range ts {
		tp, err := ParseTuple(s)
		if err == nil {
			err = m.ValidateTuple(tp)
		}
		if err != nil {
			t.Fatalf("tuple %s: %v", s, err)
		}
		store.Write(tp)
	}
	return store
}

func TestParseTupleList(t *testing.T) {
	ts, err := ParseTupleList("# owners\norg:acme#owner@user:ann\n\n  org:acme#member@team:t1#member\r\norg:acme#owner@user:ann\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"org:acme#owner@user:ann", "org:acme#member@team:t1#member"}
	if len(ts) != len(want) {
		t.Fatalf("ParseTupleList = %v, want %v", ts, want)
	}
	for i, w := range want {
		if ts[i].String() != w {
			t.Errorf("tuple %d = %s, want %s", i, ts[i], w)
		}
	}
	_, err = ParseTupleList("org:acme#owner@user:ann\norg:acme#owner\n")
	if !errors.Is(err, ErrInvalidTuple) || !fault.Is(err, fault.Invalid) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("ParseTupleList(bad line 2) = %v, want invalid_argument naming line 2", err)
	}
	if _, err := ParseTupleList(strings.Repeat("\n", MaxTupleListBytes+1)); !fault.Is(err, fault.TooLarge) {
		t.Errorf("ParseTupleList(too large) = %v, want too_large", err)
	}
}
