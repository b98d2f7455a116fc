package kind

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func loadBuiltin(t testing.TB) *Set {
	t.Helper()
	s, err := Load(Builtin(), CompileOptions{})
	if err != nil {
		t.Fatalf("Load(Builtin()) = %v, want no error", err)
	}
	return s
}

func TestBuiltin(t *testing.T) {
	s := loadBuiltin(t)
	if got, want := s.Names(), []string{"org", "service", "user"}; !cmp.Equal(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	if !bytes.Equal(s.Source(), Builtin()) {
		t.Error("Source() differs from Builtin()")
	}
	type fragment struct {
		Name        string
		Sensitivity Sensitivity
	}
	type summary struct {
		Prefix      string
		Identifiers []string
		Fragments   []fragment
		Initial     string
		States      []string
		Transitions []string
	}
	lifecycle := summary{Initial: "active", States: []string{"active", "closed", "suspended"}, Transitions: []string{"close", "reinstate", "suspend"}}
	with := func(prefix string, identifiers []string, fragments ...fragment) summary {
		s := lifecycle
		s.Prefix, s.Identifiers, s.Fragments = prefix, identifiers, fragments
		return s
	}
	want := map[string]summary{
		"user": with("usr", []string{"email", "phone", "username", "wallet", "ens"},
			fragment{"agreements", Internal}, fragment{"contact", PII}, fragment{"profile", Internal}),
		"org":     with("org", []string{"username"}, fragment{"profile", Internal}, fragment{"tax_id", Secret}),
		"service": with("svc", []string{"username"}, fragment{"profile", Internal}),
	}
	for name, want := range want {
		k, ok := s.Kind(name)
		if !ok {
			t.Fatalf("Kind(%q) not found", name)
		}
		got := summary{Prefix: k.IDPrefix, Identifiers: k.IdentifierTypes(), Initial: k.InitialState(), States: k.States(), Transitions: k.TransitionNames()}
		for _, fn := range k.FragmentNames() {
			f, _ := k.Fragment(fn)
			got.Fragments = append(got.Fragments, fragment{f.Name, f.Sensitivity})
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("kind %s (-want +got):\n%s", name, diff)
		}
		if byPrefix, ok := s.ByPrefix(want.Prefix); !ok || byPrefix != k {
			t.Errorf("ByPrefix(%q) = %v, %v; want kind %s", want.Prefix, byPrefix, ok, name)
		}
	}
	org, _ := s.Kind("org")
	if r := org.Relations(); !strings.Contains(r, "define viewer: member or admin from parent") || strings.Contains(r, "partner") {
		t.Errorf("org relations = %q, want the viewer rule and no partner type", r)
	}
	if _, ok := s.ByPrefix("zzz"); ok {
		t.Error("ByPrefix(zzz) found a kind")
	}
	if _, ok := s.Kind("partner"); ok {
		t.Error("Kind(partner) found a kind")
	}
}

func TestAcceptsIdentifier(t *testing.T) {
	s := loadBuiltin(t)
	tests := []struct {
		kind, typ string
		want      bool
	}{
		{"user", "email", true},
		{"user", "wallet", true},
		{"user", "ens", true},
		{"org", "username", true},
		{"org", "email", false},
		{"service", "phone", false},
		{"user", "fax", false},
	}
	for _, tt := range tests {
		k, _ := s.Kind(tt.kind)
		if got := k.AcceptsIdentifier(tt.typ); got != tt.want {
			t.Errorf("Kind(%s).AcceptsIdentifier(%s) = %v, want %v", tt.kind, tt.typ, got, tt.want)
		}
	}
}

func TestSensitivityEncrypted(t *testing.T) {
	for s, want := range map[Sensitivity]bool{Public: false, Internal: false, PII: true, Secret: true} {
		if got := s.Encrypted(); got != want {
			t.Errorf("%s.Encrypted() = %v, want %v", s, got, want)
		}
		if !s.Valid() {
			t.Errorf("%s.Valid() = false, want true", s)
		}
	}
	if Sensitivity("private").Valid() {
		t.Error(`Sensitivity("private").Valid() = true, want false`)
	}
}

func TestSetIsImmutable(t *testing.T) {
	s := loadBuiltin(t)
	s.Names()[0] = "changed"
	s.Document().Kinds["org"] = KindSpec{}
	s.Source()[0] = '!'
	user, _ := s.Kind("user")
	user.IdentifierTypes()[0] = "changed"
	user.States()[0] = "changed"
	user.FragmentNames()[0] = "changed"
	if s.Names()[0] != "org" || s.Document().Kinds["org"].IDPrefix != "org" || s.Source()[0] == '!' ||
		user.IdentifierTypes()[0] != "email" || user.States()[0] != "active" || user.FragmentNames()[0] != "agreements" {
		t.Error("changing a returned slice or map changed the Set")
	}
}
