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

type team
  relations
    define member: [user, team#member]

type org
  relations
    define owner: [user]
    define admin: [user, team#member] or owner
    define member: [user, user:*, team#member] or admin
    define blocked: [user]
    define parent: [org]
    define viewer: (member or admin from parent) but not blocked
`

// TestCheckWithModelFile evaluates checks offline against a .fga model
// and a tuple file, and refuses bad models, bad tuples and tuples the
// model does not allow, with the offending line or tuple named.
func TestCheckWithModelFile(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "model.fga")
	writeFile(t, model, fgaModel)
	tuples := filepath.Join(dir, "tuples.txt")
	writeFile(t, tuples, `# teams
team:core#member@user:ann
team:all#member@team:core#member

org:acme#admin@team:all#member
org:beta#parent@org:acme
org:beta#blocked@user:bob
`)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"user:ann", "admin", "org:acme"}, "allowed"},
		{[]string{"user:ann", "viewer", "org:beta"}, "allowed"},
		{[]string{"user:ann", "member", "org:beta"}, "denied"},
		{[]string{"user:bob", "viewer", "org:acme"}, "denied"},
		{[]string{"user:bob", "viewer", "org:beta", "--tuple", "org:beta#member@user:*"}, "denied"},
		{[]string{"user:cy", "viewer", "org:beta", "--tuple", "org:beta#member@user:*"}, "allowed"},
		{[]string{"team:core#member", "admin", "org:acme"}, "allowed"},
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
	writeFile(t, badTuples, "org:acme#owner@user:ann\norg:acme#owner\n")
	refused := []struct {
		name string
		args []string
		want string
	}{
		{"model that does not type-check", []string{"--model", badModel}, "editor"},
		{"malformed tuple line", []string{"--model", model, "--tuples", badTuples}, "line 2"},
		{"tuple the model does not allow", []string{"--model", model, "--tuple", "org:acme#owner@team:core#member"}, "org:acme#owner@team:core#member"},
		{"unknown relation", []string{"--model", model, "--tuple", "org:acme#nope@user:ann"}, "nope"},
		{"missing model file", []string{"--model", filepath.Join(dir, "none.fga")}, "none.fga"},
	}
	for _, tc := range refused {
		args := append(append([]string{"check"}, tc.args...), "user:ann", "member", "org:acme")
		out, err := atrium(t, args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: atrium %s = %q, %v; want an error naming %q", tc.name, strings.Join(args, " "), out, err, tc.want)
		}
	}
	if _, err := atrium(t, "check", "--tuples", tuples, "user:ann", "member", "org:acme"); err != errUsage {
		t.Errorf("--tuples without --model = %v, want a usage error", err)
	}
}
