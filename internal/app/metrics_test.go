package app_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/config"
	"github.com/atriumid/atrium/internal/testenv"
)

// TestMetrics scrapes /metrics and shows that the series operators watch
// are there and move with what the server does: requests by route pattern,
// the outbox and a relay's lag, failed webhook attempts, audit records and
// checkpoints, and the Go and process collectors.
func TestMetrics(t *testing.T) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			srv := testenv.StartServer(t, e.URL(t), func(c *config.Config) {
				c.WebhookAllowPrivate, c.AuditCheckpoints = true, time.Second
			})
			if status, _ := testenv.Scrape(t, srv, ""); status != http.StatusUnauthorized {
				t.Errorf("GET /metrics without a key = %d, want 401", status)
			}
			status, before := testenv.Scrape(t, srv, srv.Key)
			if status != http.StatusOK {
				t.Fatalf("GET /metrics = %d", status)
			}
			for _, s := range []string{"go_goroutines", "process_cpu_seconds_total", "atrium_outbox_last_position", "atrium_outbox_retained_events",
				`atrium_relay_lag_events{relay="webhooks"}`, `atrium_webhook_deliveries{state="dead"}`, "atrium_audit_records", "atrium_metrics_store_up"} {
				if _, ok := before[s]; !ok {
					t.Errorf("series %s missing", s)
				}
			}
			// A retired cursor that never moved: its lag is every event.
			if _, err := testenv.RawDB(t, srv.Database).Exec(`INSERT INTO relay_cursors (name, pos, holder, lease_until, update_time) VALUES ('retired', 0, '', 0, 0)`); err != nil {
				t.Fatal(err)
			}
			failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.WriteHeader(http.StatusServiceUnavailable)
			}))
			defer failing.Close()
			do(t, srv, "POST", "/v1/webhooks", `{"url":"`+failing.URL+`/hook","types":["atrium.account.created"]}`, http.StatusCreated)
			id := createOrg(t, srv)
			do(t, srv, "GET", "/v1/accounts/"+id, "", http.StatusOK)
			createOrg(t, srv)

			// Wait for the failed attempt, the relay and a checkpoint.
			var after map[string]float64
			for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				_, after = testenv.Scrape(t, srv, srv.Key)
				if after[`atrium_webhook_attempts_total{outcome="retry"}`] >= 2 && after[`atrium_relay_lag_events{relay="webhooks"}`] == 0 &&
					after["atrium_audit_checkpoint_age_seconds"] > 0 {
					break
				}
			}
			last := after["atrium_outbox_last_position"]
			checks := []struct {
				series string
				want   float64
			}{
				{`atrium_http_requests_total{code="201",route="POST /v1/accounts"}`, 2},
				{`atrium_http_requests_total{code="200",route="GET /v1/accounts/{id}"}`, 1},
				{`atrium_http_requests_total{code="401",route="GET /metrics"}`, 1}, // refused before the API routed it: the outer route
				{"atrium_outbox_last_position", before["atrium_outbox_last_position"] + 2},
				{`atrium_relay_lag_events{relay="retired"}`, last},
				{`atrium_relay_lag_events{relay="webhooks"}`, 0},
				{`atrium_webhook_attempts_total{outcome="retry"}`, 2},
				{`atrium_webhook_deliveries{state="pending"}`, 2},
				{"atrium_audit_records", before["atrium_audit_records"] + 3}, // the webhook and two accounts
				{"atrium_metrics_store_up", 1},
			}
			for _, c := range checks {
				if got := after[c.series]; got != c.want {
					t.Errorf("%s = %v, want %v", c.series, got, c.want)
				}
			}
			if after["atrium_audit_checkpoint_age_seconds"] <= 0 {
				t.Error("no audit checkpoint age after a checkpoint was due")
			}
			for s := range after {
				if strings.Contains(s, id) {
					t.Errorf("series %s carries a raw path", s)
				}
			}
			if after[`atrium_http_request_duration_seconds_count{route="POST /v1/accounts"}`] != 2 {
				t.Errorf("latency of POST /v1/accounts counted %v requests, want 2", after[`atrium_http_request_duration_seconds_count{route="POST /v1/accounts"}`])
			}
		})
	}
}

// do sends an authenticated request to srv and checks its status.
func do(t *testing.T, srv *testenv.Server, method, path, body string, want int) string {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+srv.Key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s = %d %s, want %d", method, path, res.StatusCode, b, want)
	}
	return string(b)
}

// createOrg creates an org and returns its ID.
func createOrg(t *testing.T, srv *testenv.Server) string {
	t.Helper()
	b := do(t, srv, "POST", "/v1/accounts", `{"kind":"org","fragments":{"profile":{"name":"Metered"}}}`, http.StatusCreated)
	_, rest, _ := strings.Cut(b, `"id":"`)
	id, _, _ := strings.Cut(rest, `"`)
	return id
}

// TestAdmissionMetrics shows the admission limiter's state and counts on
// /metrics when load shedding is on: the limit where it starts, and
// requests admitted by priority class.
func TestAdmissionMetrics(t *testing.T) {
	srv := testenv.StartServer(t, testenv.SQLiteURL(t), func(c *config.Config) { c.Concurrency = config.Default().Concurrency })
	_, before := testenv.Scrape(t, srv, srv.Key)
	id := createOrg(t, srv)
	for range 3 {
		do(t, srv, "GET", "/v1/accounts/"+id, "", http.StatusOK)
	}
	do(t, srv, "GET", "/v1/accounts?kind=org", "", http.StatusOK)
	_, after := testenv.Scrape(t, srv, srv.Key)
	const admitted = `atrium_admission_requests_total{class="%s",outcome="admitted"}`
	if got := after[fmt.Sprintf(admitted, "bulk")] - before[fmt.Sprintf(admitted, "bulk")]; got != 1 {
		t.Errorf("bulk requests admitted: %v, want 1 (the list)", got)
	}
	if got := after[fmt.Sprintf(admitted, "standard")] - before[fmt.Sprintf(admitted, "standard")]; got < 4 {
		t.Errorf("standard requests admitted: %v, want at least 4 (a create and three reads)", got)
	}
	if got, want := after["atrium_admission_limit"], float64(config.Default().Concurrency.Initial); got != want {
		t.Errorf("atrium_admission_limit = %v, want the initial %v", got, want)
	}
	for _, s := range []string{"atrium_admission_in_flight", "atrium_admission_queued", "atrium_admission_typical_latency_seconds",
		`atrium_admission_requests_total{class="critical",outcome="shed_overload"}`} {
		if _, ok := after[s]; !ok {
			t.Errorf("series %s missing", s)
		}
	}
	srvOff := testenv.StartServer(t, testenv.SQLiteURL(t))
	if _, off := testenv.Scrape(t, srvOff, srvOff.Key); len(off) == 0 {
		t.Fatal("no series without load shedding")
	} else if _, ok := off["atrium_admission_limit"]; ok {
		t.Error("atrium_admission_limit exported with load shedding off")
	}
}
