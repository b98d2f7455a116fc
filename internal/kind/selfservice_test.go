package kind

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestSelfService(t *testing.T) {
	set, err := Load([]byte(org("id_prefix: org, identifiers: [username], self_service: true, lifecycle: {initial: active}")), CompileOptions{})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if k, _ := set.Kind("org"); !k.SelfService() {
		t.Errorf("SelfService() = false, want true")
	}
	_, err = Load([]byte(org("id_prefix: org, self_service: true, lifecycle: {initial: active}")), CompileOptions{})
	want := []any{vio("kinds.org.self_service", "needs an identifier type to register with")}
	if diff := cmp.Diff(want, toAny(violationsOf(t, err)), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Load(self_service without identifiers) violations (-want +got):\n%s", diff)
	}
	set, err = Load([]byte(org("id_prefix: org, identifiers: [username], mfa_required: true, lifecycle: {initial: active}")), CompileOptions{})
	if k, _ := set.Kind("org"); err != nil || !k.MFARequired() {
		t.Errorf("MFARequired() = false, %v; want true", err)
	}
	builtin, err := Load(Builtin(), CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"user": true, "org": false, "service": false} {
		if k, _ := builtin.Kind(name); k.SelfService() != want {
			t.Errorf("builtin %s SelfService() = %v, want %v", name, k.SelfService(), want)
		}
	}
}

func toAny[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}
