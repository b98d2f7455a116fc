package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/atriumid/atrium/internal/kind"
	"github.com/atriumid/atrium/internal/testenv"
)

// TestPutKinds drives PUT /v1/kinds over REST: a dry run, a refused
// document, an apply, an identical document and the history.
func TestPutKinds(t *testing.T) {
	c := client{t, testenv.StartServer(t, testenv.SQLiteURL(t))}
	team := string(kind.Builtin()) + "\n  team:\n    id_prefix: team\n    lifecycle: {initial: active}\n"
	tests := []struct {
		name   string
		body   map[string]any
		status int
		want   string // a part of the body
	}{
		{"dry run", map[string]any{"document": team, "dryRun": true}, http.StatusOK, `{"version":"1","changes":["+ kinds.team"]}`},
		{"invalid", map[string]any{"document": "kinds: {Team: {id_prefix: x}}"}, http.StatusBadRequest, `"field":"kinds.Team"`},
		{"bad guard", map[string]any{"document": strings.Replace(team, "{initial: active}", "{initial: active, transitions: {go: {from: [active], to: gone, guards: {g: 'fragments.nope.x > 1'}}}}", 1)},
			http.StatusBadRequest, `"field":"kinds.team.lifecycle.transitions.go.guards.g","reason":"kind team has no fragment nope`},
		{"bad relation", map[string]any{"document": team + "    relations: \"define owner: [nobody]\"\n"}, http.StatusBadRequest, `"field":"kinds.team.relations"`},
		{"apply", map[string]any{"document": team}, http.StatusOK, `{"version":"2","applied":true,"changes":["+ kinds.team"]}`},
		{"identical", map[string]any{"document": team}, http.StatusOK, `{"version":"2"}`},
		{"unknown field", map[string]any{"document": team, "force": true}, http.StatusBadRequest, `invalid_argument`},
	}
	for _, tt := range tests {
		r := c.do("PUT", "/v1/kinds", tt.body)
		if r.status != tt.status || !strings.Contains(r.raw, tt.want) {
			t.Errorf("%s: PUT /v1/kinds = %d %s, want %d containing %s", tt.name, r.status, r.raw, tt.status, tt.want)
		}
	}
	if r := c.do("POST", "/v1/accounts", map[string]any{"kind": "team"}); r.status != http.StatusCreated {
		t.Errorf("create a team after the apply = %d %s", r.status, r.raw)
	}
	r := c.do("PUT", "/v1/kinds", map[string]any{"document": string(kind.Builtin())})
	if r.status != http.StatusBadRequest || !strings.Contains(r.raw, `"code":"failed_precondition"`) ||
		!strings.Contains(r.raw, `{"field":"kinds.team","reason":"cannot remove: accounts of kind team exist; 1 account affected"}`) {
		t.Errorf("removing a kind in use = %d %s", r.status, r.raw)
	}
	r = c.do("GET", "/v1/kinds?version=2", nil)
	keyID := strings.Split(c.srv.Key, "_")[1]
	if want := fmt.Sprintf(`"appliedBy":%q,"changes":["+ kinds.team"]`, keyID); !strings.Contains(r.raw, want) {
		t.Errorf("GET /v1/kinds?version=2 = %s, want %s", r.raw, want)
	}
	// Version 2 has its event and audit record; the initial version 1 has
	// neither, nor have the dry run, the refused and the identical applies.
	r = c.do("GET", "/v1/events", nil)
	var kindsEvents []any
	for _, e := range r.body["events"].([]any) {
		if e := e.(map[string]any); e["type"] == "atrium.kinds.applied" {
			kindsEvents = append(kindsEvents, e)
		}
	}
	if len(kindsEvents) != 1 || !strings.Contains(fmt.Sprint(kindsEvents[0]), "subject:kinds") || !strings.Contains(fmt.Sprint(kindsEvents[0]), "version:2") {
		t.Errorf("kinds events = %v; want one, about kinds, version 2", kindsEvents)
	}
	r = c.do("GET", "/v1/audit?type=atrium.kinds.applied", nil)
	if recs, _ := r.body["records"].([]any); len(recs) != 1 || recs[0].(map[string]any)["actor"] != "key:"+keyID {
		t.Errorf("GET /v1/audit?type=atrium.kinds.applied = %s; want one record by the admin key", r.raw)
	}
}
