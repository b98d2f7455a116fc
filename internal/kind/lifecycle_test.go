package kind

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/atriumid/atrium/internal/fault"
)

func TestTransition(t *testing.T) {
	org, _ := loadBuiltin(t).Kind("org")
	tests := []struct {
		name, from string
		want       string
		kind       fault.Kind // of the error, when want is ""
		msg        string
	}{
		{name: "suspend", from: "active", want: "suspended"},
		{name: "reinstate", from: "suspended", want: "active"},
		{name: "close", from: "active", want: "closed"},
		{name: "close", from: "suspended", want: "closed"},
		{name: "suspend", from: "suspended", kind: fault.FailedPrecondition,
			msg: "transition suspend is not allowed from state suspended; allowed from suspended: close, reinstate"},
		{name: "reinstate", from: "active", kind: fault.FailedPrecondition,
			msg: "transition reinstate is not allowed from state active; allowed from active: close, suspend"},
		{name: "reinstate", from: "closed", kind: fault.FailedPrecondition,
			msg: "transition reinstate is not allowed from state closed; allowed from closed: none"},
		{name: "fly", from: "active", kind: fault.Invalid,
			msg: "kind org has no such transition; known transitions: close, reinstate, suspend"},
		{name: "", from: "active", kind: fault.Invalid,
			msg: "kind org has no such transition; known transitions: close, reinstate, suspend"},
	}
	for _, tt := range tests {
		got, err := org.Transition(tt.name, tt.from)
		if tt.want != "" {
			if got != tt.want || err != nil {
				t.Errorf("Transition(%q, %q) = %q, %v; want %q", tt.name, tt.from, got, err, tt.want)
			}
			continue
		}
		msg, _ := fault.PublicOf(err)
		if got != "" || !fault.Is(err, tt.kind) || msg != tt.msg {
			t.Errorf("Transition(%q, %q) = %q, %v (kind %v, message %q); want kind %v, message %q",
				tt.name, tt.from, got, err, fault.KindOf(err), msg, tt.kind, tt.msg)
		}
	}
}

func TestStates(t *testing.T) {
	doc := orgLifecycle("{initial: draft, transitions: {publish: {from: [draft, review], to: live}, submit: {from: [draft], to: review}, retire: {from: [live], to: retired}}}")
	s, err := Load([]byte(doc), CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k, _ := s.Kind("org")
	if got, want := k.States(), []string{"draft", "live", "retired", "review"}; !cmp.Equal(got, want) {
		t.Errorf("States() = %v, want %v", got, want)
	}
	if got, want := k.AllowedTransitions("draft"), []string{"publish", "submit"}; !cmp.Equal(got, want) {
		t.Errorf("AllowedTransitions(draft) = %v, want %v", got, want)
	}
	if got := k.AllowedTransitions("retired"); len(got) != 0 {
		t.Errorf("AllowedTransitions(retired) = %v, want none", got)
	}
	for state, want := range map[string]bool{"draft": true, "retired": true, "gone": false, "": false} {
		if got := k.HasState(state); got != want {
			t.Errorf("HasState(%q) = %v, want %v", state, got, want)
		}
	}
}

func TestLifecycleWithoutTransitions(t *testing.T) {
	s, err := Load([]byte(orgLifecycle("{initial: active}")), CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k, _ := s.Kind("org")
	if got, want := k.States(), []string{"active"}; !cmp.Equal(got, want) {
		t.Errorf("States() = %v, want %v", got, want)
	}
	if _, err := k.Transition("close", "active"); !fault.Is(err, fault.Invalid) {
		t.Errorf("Transition(close, active) error = %v, want kind %v", err, fault.Invalid)
	}
}
