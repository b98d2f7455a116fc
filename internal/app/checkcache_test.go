package app_test

import (
	"testing"

	"github.com/atriumid/atrium/internal/config"
	"github.com/atriumid/atrium/internal/testenv"
)

// checkReads returns the check results srv's read cache has answered from
// each level so far, from its metrics.
func checkReads(t *testing.T, srv *testenv.Server) map[string]float64 {
	t.Helper()
	_, samples := testenv.Scrape(t, srv, srv.Key)
	out := map[string]float64{}
	for _, from := range []string{"memory", "redis", "database"} {
		out[from] = samples[`atrium_read_cache_reads_total{entries="checks",from="`+from+`"}`]
	}
	return out
}

// TestCheckResultsSharedAcrossReplicas shows that a check result computed
// on one replica is served from Redis on another at the same revision,
// and that a write's freshness token moves both past it.
func TestCheckResultsSharedAcrossReplicas(t *testing.T) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			url, prefix := testenv.RedisURL(t)
			configure := func(c *config.Config) { c.RedisURL, c.RedisPrefix = url, prefix }
			srvA := testenv.StartServer(t, e.URL(t), configure)
			srvB := testenv.StartPeer(t, srvA, configure)
			a, b := newClient(t, srvA), newClient(t, srvB)

			st, _, user := a.do("POST", "/v1/accounts", "", map[string]any{"kind": "user"})
			if st != 201 {
				t.Fatalf("create user: %d %v", st, user)
			}
			st, _, org := a.do("POST", "/v1/accounts", "", map[string]any{"kind": "org", "fragments": map[string]any{"profile": map[string]any{"name": "Acme"}}})
			if st != 201 {
				t.Fatalf("create org: %d %v", st, org)
			}
			owner := map[string]any{"object": "org:" + org["id"].(string), "relation": "owner", "subject": "user:" + user["id"].(string)}
			st, _, w := a.do("POST", "/v1/relationships:write", "", map[string]any{"writes": []any{owner}})
			if st != 200 {
				t.Fatalf("write: %d %v", st, w)
			}
			check := func(c *client, token any) (bool, string) {
				t.Helper()
				st, _, r := c.do("POST", "/v1/check", "", map[string]any{"subject": owner["subject"], "relation": "member", "object": owner["object"], "freshnessToken": token})
				if st != 200 {
					t.Fatalf("check: %d %v", st, r)
				}
				return r["allowed"] == true, r["revision"].(string)
			}
			step := func(name string, c *client, srv *testenv.Server, token any, want bool, from string) string {
				t.Helper()
				before := checkReads(t, srv)
				allowed, rev := check(c, token)
				after := checkReads(t, srv)
				if allowed != want {
					t.Fatalf("%s: allowed = %v, want %v", name, allowed, want)
				}
				for _, level := range []string{"memory", "redis", "database"} {
					wantDelta := 0.0
					if level == from {
						wantDelta = 1
					}
					if d := after[level] - before[level]; d != wantDelta {
						t.Fatalf("%s: %g checks answered from %s, want %g (before %v, after %v)", name, d, level, wantDelta, before, after)
					}
				}
				return rev
			}
			rev1 := step("first check on A", a, srvA, w["freshnessToken"], true, "database")
			if rev := step("same check on B", b, srvB, w["freshnessToken"], true, "redis"); rev != rev1 {
				t.Fatalf("B answered at revision %s, A at %s", rev, rev1)
			}
			step("again on B", b, srvB, w["freshnessToken"], true, "memory")

			st, _, w = b.do("POST", "/v1/relationships:write", "", map[string]any{"deletes": []any{owner}})
			if st != 200 {
				t.Fatalf("delete: %d %v", st, w)
			}
			rev2 := step("after the delete on B", b, srvB, w["freshnessToken"], false, "database")
			if rev2 == rev1 {
				t.Fatalf("the delete did not move the revision from %s", rev1)
			}
			step("after the delete on A", a, srvA, w["freshnessToken"], false, "redis")
		})
	}
}
