package kind

import (
	"errors"
	"strings"
	"testing"

	"github.com/atriumid/atrium/internal/fault"
)

// partnerDoc declares a kind whose activate transition is guarded by the
// given guards (a YAML flow map).
func partnerDoc(guards string) string {
	return `kinds:
  partner:
    id_prefix: ptn
    fragments:
      kyc: {sensitivity: pii, schema: {type: object, additionalProperties: false, properties: {level: {type: integer}, checks: {type: object, properties: {aml: {type: boolean}}}}}}
      notes: {sensitivity: internal, schema: {type: object}}
    lifecycle:
      initial: pending
      transitions:
        activate: {from: [pending], to: active, guards: ` + guards + `}
`
}

func TestGuardCompile(t *testing.T) {
	const at = "kinds.partner.lifecycle.transitions.activate.guards"
	tests := []struct {
		guards string
		field  string // of the one violation; "" when the document compiles
		reason string // a part of its reason
	}{
		{guards: `{kyc: "fragments.kyc.level >= 1"}`},
		{guards: `{kyc: "has(fragments.kyc.level) && fragments.kyc.level >= 1 && state == 'pending'"}`},
		{guards: `{aml: "fragments.kyc.checks.aml == true"}`},
		{guards: `{free: "fragments.notes.anything.at.all == 1"}`},
		{guards: `{index: "fragments['kyc'].level > 0"}`},
		{guards: `{kyc: "fragments.kyc.levle >= 1"}`, field: at + ".kyc", reason: "fragment kyc declares no property levle"},
		{guards: `{kyc: "fragments.ky.level >= 1"}`, field: at + ".kyc", reason: "kind partner has no fragment ky; its fragments: kyc, notes"},
		{guards: `{dyn: "fragments.kyc.checks.aml"}`}, // dyn: checked when evaluated
		{guards: `{kyc: "fragments.kyc.level +"}`, field: at + ".kyc", reason: "is not a valid CEL expression"},
		{guards: `{kyc: "fragments.kyc.level == 'high'"}`, field: at + ".kyc", reason: "compares fragments.kyc.level, of type integer, with a string"},
		{guards: `{kyc: "true == fragments.kyc.checks.aml && 'x' < fragments.kyc.checks.aml"}`, field: at + ".kyc", reason: "compares fragments.kyc.checks.aml, of type boolean, with a string"},
		{guards: `{kyc: "fragments.kyc.level == 1.0 && fragments.notes.x == 'a'"}`},
		{guards: `{kyc: "1 + 1"}`, field: at + ".kyc", reason: "must be a boolean expression, not int"},
		{guards: `{kyc: "account.level > 1"}`, field: at + ".kyc", reason: "undeclared reference to 'account'"},
		{guards: `{kyc: ""}`, field: at + ".kyc", reason: "a guard expression is required"},
		{guards: `{Bad: "true"}`, field: at + ".Bad", reason: "guard names must match"},
		{guards: `{kyc: "` + strings.Repeat("true && ", 200) + `true"}`, field: at + ".kyc", reason: "is longer than 1024 bytes"},
	}
	for _, tt := range tests {
		_, err := Load([]byte(partnerDoc(tt.guards)), CompileOptions{})
		if tt.field == "" {
			if err != nil {
				t.Errorf("Load(guards %s) = %v, want no error", tt.guards, err)
			}
			continue
		}
		vs := violationsOf(t, err)
		if len(vs) != 1 || vs[0].Field != tt.field || !strings.Contains(vs[0].Reason, tt.reason) {
			t.Errorf("Load(guards %s) violations = %v, want one at %s containing %q", tt.guards, vs, tt.field, tt.reason)
		}
	}
}

func TestCheckGuards(t *testing.T) {
	s, err := Load([]byte(partnerDoc(`{kyc: "fragments.kyc.level + 1 >= 2", aml: "!has(fragments.kyc.checks) || fragments.kyc.checks.aml"}`)), CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k, _ := s.Kind("partner")
	if !k.HasGuards("activate") || k.HasGuards("nope") {
		t.Fatalf("HasGuards: activate %v, nope %v; want true, false", k.HasGuards("activate"), k.HasGuards("nope"))
	}
	tests := []struct {
		frags map[string]map[string]any
		guard string // the guard named in the error; "" when all hold
	}{
		{frags: map[string]map[string]any{"kyc": {"level": 1.0}}},
		{frags: map[string]map[string]any{"kyc": {"level": 3.0, "checks": map[string]any{"aml": true}}}},
		{frags: map[string]map[string]any{"kyc": {"level": 0.0}}, guard: "kyc"},
		{frags: map[string]map[string]any{"kyc": {"level": 2.0, "checks": map[string]any{"aml": false}}}, guard: "aml"},
		{frags: map[string]map[string]any{"kyc": {"level": "high"}}, guard: "kyc"},
		{frags: map[string]map[string]any{"kyc": {}}, guard: "kyc"},
		{frags: nil, guard: "kyc"},
	}
	for _, tt := range tests {
		err := k.CheckGuards("activate", "pending", tt.frags)
		if tt.guard == "" {
			if err != nil {
				t.Errorf("CheckGuards(%v) = %v, want nil", tt.frags, err)
			}
			continue
		}
		msg, _ := fault.PublicOf(err)
		if !fault.Is(err, fault.FailedPrecondition) || !strings.Contains(msg, "guard "+tt.guard+" ") {
			t.Errorf("CheckGuards(%v) = %v, want FailedPrecondition naming guard %s", tt.frags, err, tt.guard)
		}
	}
}

// TestGuardCost checks that a guard that would run long is stopped by its
// cost limit and fails.
func TestGuardCost(t *testing.T) {
	list := "[" + strings.TrimSuffix(strings.Repeat("1,", 30), ",") + "]"
	expr := list + ".all(a, " + list + ".all(b, " + list + ".all(c, a + b + c > 0)))"
	s, err := Load([]byte(partnerDoc(`{slow: "`+expr+`"}`)), CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k, _ := s.Kind("partner")
	err = k.CheckGuards("activate", "pending", nil)
	if !fault.Is(err, fault.FailedPrecondition) || !strings.Contains(errors.Unwrap(err).Error(), "cost limit") {
		t.Errorf("CheckGuards of a costly guard = %v, want FailedPrecondition caused by the cost limit", err)
	}
}

// FuzzGuard checks that compiling any guard expression never panics, and
// that a guard that compiles evaluates without panicking.
func FuzzGuard(f *testing.F) {
	for _, g := range []string{
		"fragments.kyc.level >= 1", "has(fragments.kyc.level)", "state == 'pending'",
		"fragments.kyc.checks.aml || fragments.notes.x.y[0] == 'a'", "[1,2,3].all(x, x > 0)",
		"fragments.kyc.level.matches('a+')", "size(fragments) > 1", "1 / 0 == 1", "((((true))))",
	} {
		f.Add(g)
	}
	s, err := Load([]byte(partnerDoc(`{kyc: "true"}`)), CompileOptions{})
	if err != nil {
		f.Fatal(err)
	}
	k, _ := s.Kind("partner")
	frags := map[string]map[string]any{"kyc": {"level": 2.0, "checks": map[string]any{"aml": true}}, "notes": {"x": map[string]any{"y": []any{"a"}}}}
	f.Fuzz(func(t *testing.T, expr string) {
		g, reason := compileGuard(k, expr)
		if reason != "" {
			return
		}
		g.name = "g"
		kk := *k
		kk.transitions = map[string]transition{"t": {guards: []guard{g}}}
		if err := kk.CheckGuards("t", "pending", frags); err != nil && !fault.Is(err, fault.FailedPrecondition) {
			t.Fatalf("CheckGuards(%q) = %v, want nil or FailedPrecondition", expr, err)
		}
	})
}
