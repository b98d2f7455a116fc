package relworkload_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/atriumid/atrium/bench/relworkload"
	"github.com/atriumid/atrium/internal/kind"
	"github.com/atriumid/atrium/internal/relation"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func smallConfig() relworkload.Config {
	return relworkload.Config{
		Seed: 3, Users: 400, Groups: 60, GroupSize: 8, SubGroups: 30,
		Partners: 12, PartnerSize: 6, Orgs: 80, ParentOrgs: 10, OrgMembers: 10,
		Nested: 6, NestDepth: 5, Wide: 6, WideGroups: 25, SmallGroup: 3,
	}
}

// engineModel returns Atrium's model of the kinds document.
func engineModel(t *testing.T) *relation.Model {
	t.Helper()
	set, err := kind.Load([]byte(relworkload.KindsDocument), kind.CompileOptions{})
	if err != nil {
		t.Fatalf("kind.Load(KindsDocument): %v", err)
	}
	rels := map[string]string{}
	for _, name := range set.Names() {
		k, _ := set.Kind(name)
		rels[name] = k.Relations()
	}
	m, err := relation.ParseKindRelations(rels)
	if err != nil {
		t.Fatalf("ParseKindRelations: %v", err)
	}
	return m
}

// TestOracleMatchesEngine checks the oracle against Atrium's engine on an
// in-memory copy of a small dataset, for every query set, and that each set
// has both answers in fair numbers, so that no benchmark measures only
// denials or only grants.
func TestOracleMatchesEngine(t *testing.T) {
	m := engineModel(t)
	d := relworkload.Generate(smallConfig())
	var mem relation.MemoryTuples
	for _, tp := range d.Tuples {
		rt, err := relation.NewTuple(tp.Object, tp.Relation, tp.Subject)
		if err == nil {
			err = m.ValidateTuple(rt)
		}
		if err != nil {
			t.Fatalf("tuple %s: %v", tp, err)
		}
		mem.Write(rt)
	}
	sets := map[string][]relworkload.Check{
		"mixed": d.Mixed(600, 1), "nested": d.Nested(200, 2), "wide": d.Wide(200, 3),
	}
	for name, checks := range sets {
		yes := 0
		for _, c := range checks {
			s, _ := relation.ParseSubject(c.Subject)
			o, _ := relation.ParseObject(c.Object)
			got, err := relation.Check(context.Background(), m, &mem, relation.CheckRequest{Subject: s, Relation: c.Relation, Object: o})
			if err != nil {
				t.Fatalf("%s: Check(%s %s %s): %v", name, c.Subject, c.Relation, c.Object, err)
			}
			if got != c.Want {
				t.Errorf("%s: Check(%s %s %s) = %v, want %v (oracle)", name, c.Subject, c.Relation, c.Object, got, c.Want)
			}
			if c.Want {
				yes++
			}
		}
		if yes < len(checks)/4 || yes > len(checks)*3/4 {
			t.Errorf("%s: %d of %d checks allowed, want between a quarter and three quarters", name, yes, len(checks))
		}
	}
}

func TestGenerate(t *testing.T) {
	d := relworkload.Generate(relworkload.DefaultConfig())
	if n := len(d.Tuples); n < 100_000 {
		t.Errorf("len(Generate(DefaultConfig()).Tuples) = %d, want at least 100000", n)
	}
	seen := map[relworkload.Tuple]bool{}
	for _, tp := range d.Tuples {
		if seen[tp] {
			t.Fatalf("duplicate tuple %s", tp)
		}
		seen[tp] = true
	}
	again := relworkload.Generate(relworkload.DefaultConfig())
	if diff := cmp.Diff(d.Tuples, again.Tuples); diff != "" {
		t.Errorf("Generate is not deterministic (-first +second):\n%s", diff)
	}
	if diff := cmp.Diff(d.Mixed(100, 5), again.Mixed(100, 5)); diff != "" {
		t.Errorf("Mixed is not deterministic (-first +second):\n%s", diff)
	}
}

func TestOpenFGAModel(t *testing.T) {
	var doc struct {
		SchemaVersion string `json:"schema_version"`
		Types         []struct {
			Type      string                     `json:"type"`
			Relations map[string]json.RawMessage `json:"relations"`
		} `json:"type_definitions"`
	}
	if err := json.Unmarshal([]byte(relworkload.OpenFGAModel), &doc); err != nil {
		t.Fatalf("OpenFGAModel is not JSON: %v", err)
	}
	got := map[string][]string{}
	for _, td := range doc.Types {
		got[td.Type] = []string{}
		for r := range td.Relations {
			got[td.Type] = append(got[td.Type], r)
		}
	}
	// The relations of every type must be those of Atrium's model.
	m := engineModel(t)
	want := map[string][]string{}
	for _, td := range m.Types() {
		want[td.Name] = []string{}
		for _, r := range td.Relations {
			want[td.Name] = append(want[td.Name], r.Name)
		}
	}
	sortAll := cmpopts.SortSlices(func(a, b string) bool { return a < b })
	if diff := cmp.Diff(want, got, sortAll); diff != "" {
		t.Errorf("OpenFGAModel relations (-atrium +openfga):\n%s", diff)
	}
	if doc.SchemaVersion != "1.1" {
		t.Errorf("schema_version = %q, want 1.1", doc.SchemaVersion)
	}
}

func TestSpiceDBRelation(t *testing.T) {
	tests := []struct{ typ, rel, want string }{
		{"org", "member", "direct_member"},
		{"org", "admin", "direct_admin"},
		{"org", "owner", "owner"},
		{"org", "parent", "parent"},
		{"group", "member", "member"},
		{"partner", "member", "member"},
	}
	for _, tt := range tests {
		if got := relworkload.SpiceDBRelation(tt.typ, tt.rel); got != tt.want {
			t.Errorf("SpiceDBRelation(%q, %q) = %q, want %q", tt.typ, tt.rel, got, tt.want)
		}
	}
}
