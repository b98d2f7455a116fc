package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// fgaModel is a standalone OpenFGA model, as written for OpenFGA.
const fgaModel = `model
  schema 1.1

type user

type group
  relations
    define member: [user, group#member]

type folder
  relations
    define editor: [user, group#member]
    define viewer: [user, user:*, group#member] or editor

type doc
  relations
    define parent: [folder]
    define banned: [user]
    define writer: [user] or editor from parent
    define reader: (writer or viewer from parent) but not banned
`

// TestCheckWithModelFile evaluates checks offline against a .fga model
// and a tuple file, and refuses bad models, bad tuples and tuples the
// model does not allow, with the offending line or tuple named.
func TestCheckWithModelFile(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "model.fga")
	writeFile(t, model, fgaModel)
	tuples := filepath.Join(dir, "tuples.txt")
	writeFile(t, tuples, `# groups
group:eng#member@user:ann
group:all#member@group:eng#member

folder:specs#editor@group:all#member
doc:plan#parent@folder:specs
doc:plan#banned@user:bob
`)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"user:ann", "writer", "doc:plan"}, "allowed"},
		{[]string{"user:ann", "reader", "doc:plan"}, "allowed"},
		{[]string{"user:ann", "writer", "doc:memo"}, "denied"},
		{[]string{"user:bob", "reader", "doc:plan"}, "denied"},
		{[]string{"user:bob", "reader", "doc:plan", "--tuple", "folder:specs#viewer@user:*"}, "denied"},
		{[]string{"user:cy", "reader", "doc:plan", "--tuple", "folder:specs#viewer@user:*"}, "allowed"},
		{[]string{"group:eng#member", "editor", "folder:specs"}, "allowed"},
	}
	for _, tc := range tests {
		args := append([]string{"check", "--model", model, "--tuples", tuples}, tc.args...)
		out, err := atrium(t, args...)
		if err != nil || out != tc.want+"\n" {
			t.Errorf("atrium %s = %q, %v; want %s", strings.Join(args, " "), out, err, tc.want)
		}
	}

	badModel := filepath.Join(dir, "bad.fga")
	writeFile(t, badModel, "model\n  schema 1.1\ntype user\ntype doc\n  relations\n    define viewer: [user] or editor\n")
	badTuples := filepath.Join(dir, "bad.txt")
	writeFile(t, badTuples, "doc:plan#banned@user:ann\ndoc:plan#banned\n")
	refused := []struct {
		name string
		args []string
		want string
	}{
		{"model that does not type-check", []string{"--model", badModel}, "editor"},
		{"malformed tuple line", []string{"--model", model, "--tuples", badTuples}, "line 2"},
		{"tuple the model does not allow", []string{"--model", model, "--tuple", "doc:plan#banned@group:eng#member"}, "doc:plan#banned@group:eng#member"},
		{"unknown relation", []string{"--model", model, "--tuple", "doc:plan#nope@user:ann"}, "nope"},
		{"missing model file", []string{"--model", filepath.Join(dir, "none.fga")}, "none.fga"},
	}
	for _, tc := range refused {
		args := append(append([]string{"check"}, tc.args...), "user:ann", "reader", "doc:plan")
		out, err := atrium(t, args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: atrium %s = %q, %v; want an error naming %q", tc.name, strings.Join(args, " "), out, err, tc.want)
		}
	}
	if _, err := atrium(t, "check", "--tuples", tuples, "user:ann", "reader", "doc:plan"); err != errUsage {
		t.Errorf("--tuples without --model = %v, want a usage error", err)
	}
}
