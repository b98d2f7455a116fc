package api_test

import (
	"strings"
	"testing"
)

func TestRelationships(t *testing.T) {
	forEachServer(t, func(t *testing.T, c client) {
		u := c.do("POST", "/v1/accounts", map[string]any{"kind": "user", "identifiers": []any{map[string]any{"type": "username", "value": "alice"}}})
		alice := "user:" + u.body["id"].(string)
		org := c.do("POST", "/v1/accounts", map[string]any{"kind": "org", "fragments": map[string]any{"profile": map[string]any{"name": "Acme"}},
			"relationships": []any{map[string]any{"object": "org:$self", "relation": "owner", "subject": alice}}})
		if org.status != 201 {
			t.Fatalf("create org with owner = %d %s", org.status, org.raw)
		}
		acme := "org:" + org.body["id"].(string)
		// The owner tuple written with the org has its event, after the
		// org's own, as a write through the relationships API would.
		ev := c.do("GET", "/v1/events", nil)
		var got []string
		for _, e := range ev.body["events"].([]any) {
			e := e.(map[string]any)
			got = append(got, e["type"].(string)+" "+e["subject"].(string))
		}
		if want := "atrium.account.created " + org.body["id"].(string) + ",atrium.relationship.written " + acme; !strings.HasSuffix(strings.Join(got, ","), want) {
			t.Errorf("events = %v, want them to end with %s", got, want)
		}
		r := c.do("POST", "/v1/check", map[string]any{"subject": alice, "relation": "member", "object": acme, "freshnessToken": org.body["freshnessToken"]})
		if r.status != 200 || r.body["allowed"] != true || r.body["revision"] != "1" {
			t.Fatalf("owner is member = %d %s", r.status, r.raw)
		}
		w := c.do("POST", "/v1/relationships:write", map[string]any{"writes": []any{
			map[string]any{"object": acme, "relation": "member", "subject": "user:bob"},
			map[string]any{"object": "org:child", "relation": "parent", "subject": acme},
		}})
		if w.status != 200 || w.body["freshnessToken"] == "" || w.body["revision"] != "2" {
			t.Fatalf("write = %d %s", w.status, w.raw)
		}
		tok := w.body["freshnessToken"]
		r = c.do("POST", "/v1/check", map[string]any{"subject": "user:bob", "relation": "viewer", "object": acme, "freshnessToken": tok})
		if r.body["allowed"] != true {
			t.Errorf("bob viewer = %s", r.raw)
		}
		r = c.do("POST", "/v1/check", map[string]any{"subject": alice, "relation": "viewer", "object": "org:child", "freshnessToken": tok})
		if r.body["allowed"] != true {
			t.Errorf("alice viewer of child through parent = %s", r.raw)
		}
		r = c.do("POST", "/v1/check", map[string]any{"subject": "user:carol", "relation": "member", "object": acme,
			"contextualTuples": []any{map[string]any{"object": acme, "relation": "member", "subject": "user:carol"}}})
		if r.body["allowed"] != true {
			t.Errorf("carol with a contextual tuple = %s", r.raw)
		}
		r = c.do("POST", "/v1/check:batch", map[string]any{"checks": []any{
			map[string]any{"subject": "user:bob", "relation": "admin", "object": acme},
			map[string]any{"subject": alice, "relation": "admin", "object": acme},
			map[string]any{"subject": "nonsense", "relation": "admin", "object": acme},
		}})
		res, _ := r.body["results"].([]any)
		if r.status != 200 || len(res) != 3 || res[0].(map[string]any)["allowed"] != nil || res[1].(map[string]any)["allowed"] != true || res[2].(map[string]any)["error"] == nil {
			t.Errorf("batch = %d %s", r.status, r.raw)
		}
		r = c.do("POST", "/v1/list-objects", map[string]any{"type": "org", "relation": "viewer", "subject": alice})
		if objs, _ := r.body["objects"].([]any); len(objs) != 2 {
			t.Errorf("list-objects = %s", r.raw)
		}
		r = c.do("POST", "/v1/list-subjects", map[string]any{"object": acme, "relation": "member", "subjectType": "user", "pageSize": 1})
		if subs, _ := r.body["subjects"].([]any); len(subs) != 1 || r.body["nextPageToken"] == nil {
			t.Fatalf("list-subjects page 1 = %s", r.raw)
		}
		r = c.do("POST", "/v1/list-subjects", map[string]any{"object": acme, "relation": "member", "subjectType": "user", "pageSize": 1, "pageToken": r.body["nextPageToken"]})
		if subs, _ := r.body["subjects"].([]any); len(subs) != 1 || r.body["nextPageToken"] != nil {
			t.Errorf("list-subjects page 2 = %s", r.raw)
		}
		r = c.do("POST", "/v1/expand", map[string]any{"object": acme, "relation": "member"})
		if tree, _ := r.body["tree"].(map[string]any); r.status != 200 || tree["operation"] != "union" {
			t.Errorf("expand = %d %s", r.status, r.raw)
		}
		r = c.do("POST", "/v1/expand", map[string]any{"object": acme, "relation": "owner",
			"contextualTuples": []any{map[string]any{"object": acme, "relation": "owner", "subject": "user:dave"}}})
		if !strings.Contains(r.raw, "user:dave") {
			t.Errorf("expand with a contextual tuple = %s", r.raw)
		}
		r = c.do("POST", "/v1/relationships:read", map[string]any{"object": acme, "freshnessToken": tok})
		if rels, _ := r.body["relationships"].([]any); len(rels) != 2 {
			t.Errorf("read = %s", r.raw)
		}
		// Erasing alice removes every tuple that names her.
		c.do("DELETE", "/v1/accounts/"+strings.TrimPrefix(alice, "user:"), nil)
		r = c.do("POST", "/v1/check", map[string]any{"subject": alice, "relation": "owner", "object": acme})
		if r.body["allowed"] == true {
			t.Errorf("an erased account keeps its relationships: %s", r.raw)
		}

		for _, bad := range []struct {
			path string
			body string
		}{
			{"/v1/relationships:write", `{"writes":[{"object":"org","relation":"member","subject":"user:x"}]}`},
			{"/v1/relationships:write", `{"writes":[{"object":"org:x","relation":"boss","subject":"user:x"}]}`},
			{"/v1/relationships:write", `{"writes":[{"object":"org:x","relation":"owner","subject":"org:y"}]}`},
			{"/v1/relationships:write", `{"deletes":[{"object":"org:x","relation":"owner","subject":"user:nobody"}]}`},
			{"/v1/relationships:write", `{"writes":[{"object":"` + acme + `","relation":"member","subject":"user:bob"}]}`},
			{"/v1/relationships:write", `{}`},
			{"/v1/relationships:write", `{"writes":[],"onDuplicate":"maybe"}`},
			{"/v1/check", `{"subject":"user:x","relation":"member","object":"planet:p"}`},
			{"/v1/check", `{"subject":"user:x","relation":"nope","object":"org:p"}`},
			{"/v1/check", `{"subject":"x","relation":"member","object":"org:p"}`},
			{"/v1/check", `{"subject":"user:x","relation":"member","object":"org:p","freshnessToken":"forged"}`},
			{"/v1/check", `{"subject":"user:` + strings.Repeat("x", 300) + `","relation":"member","object":"org:p"}`},
			{"/v1/list-objects", `{"type":"org","relation":"member","subject":"user:x","pageToken":"%%"}`},
			{"/v1/list-subjects", `{"object":"org:p","relation":"member","subjectType":"user#"}`},
			{"/v1/expand", `{"object":"org:p","relation":"nope"}`},
			{"/v1/relationships:read", `{"object":""}`},
			{"/v1/relationships:read", `{"object":"org:","freshnessToken":"forged"}`},
			{"/v1/expand", `{"object":"org:p","relation":"member","contextualTuples":[{"object":"org:p","relation":"boss","subject":"user:x"}]}`},
		} {
			r := c.do("POST", bad.path, bad.body)
			if r.status != 400 || r.body["code"] != "invalid_argument" {
				t.Errorf("POST %s %s = %d %s; want 400 invalid_argument", bad.path, bad.body, r.status, r.raw)
			}
		}
	})
}
