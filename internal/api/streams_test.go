package api_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/apikey"
	"github.com/atriumid/atrium/internal/config"
	"github.com/atriumid/atrium/internal/testenv"
)

// TestEventStreamLimit opens real streams until the limits refuse them: a
// key past its share, then anyone past the total, each with 503 and
// Retry-After, while pages of events are still served; a stream that ends
// frees its slot.
func TestEventStreamLimit(t *testing.T) {
	e := testenv.Engines()[0] // the limit is the server's, whatever the database
	srv := testenv.StartServer(t, e.URL(t), func(c *config.Config) { c.MaxEventStreams, c.MaxEventStreamsPerKey = 3, 2 })
	other, _ := apikey.New()
	if _, err := testenv.RawDB(t, srv.Database).Exec(`INSERT INTO api_keys (id, hash, role, create_time) VALUES ($1, $2, 'admin', 0)`,
		other.ID, apikey.Hash(other.Secret)); err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(hc.CloseIdleConnections)
	open := func(key string) (*http.Response, context.CancelFunc) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Accept", "text/event-stream")
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res, cancel
	}
	wantStatus := func(name string, res *http.Response, want int) {
		t.Helper()
		if res.StatusCode != want {
			b, _ := io.ReadAll(res.Body)
			t.Fatalf("%s: status %d %s, want %d", name, res.StatusCode, b, want)
		}
		if want == http.StatusServiceUnavailable {
			b, _ := io.ReadAll(res.Body)
			if res.Header.Get("Retry-After") != "5" || !strings.Contains(string(b), "event streams") {
				t.Fatalf("%s: Retry-After %q, body %s; want 5 and a message about event streams", name, res.Header.Get("Retry-After"), b)
			}
		}
	}
	gauge := func() (open, refused float64) {
		_, m := testenv.Scrape(t, srv, srv.Key)
		return m["atrium_event_streams"], m["atrium_event_streams_refused_total"]
	}

	first, closeFirst := open(srv.Key)
	wantStatus("first stream of key 1", first, 200)
	second, _ := open(srv.Key)
	wantStatus("second stream of key 1", second, 200)
	third, _ := open(srv.Key)
	wantStatus("third stream of key 1 (over its share of 2)", third, 503)
	fourth, _ := open(other.Secret)
	wantStatus("first stream of key 2", fourth, 200)
	fifth, _ := open(other.Secret)
	wantStatus("second stream of key 2 (over the total of 3)", fifth, 503)
	if o, r := gauge(); o != 3 || r != 2 {
		t.Fatalf("metrics: %g streams open, %g refused; want 3 and 2", o, r)
	}
	if page := (client{t: t, srv: srv}).do("GET", "/v1/events?page_size=1", nil); page.status != 200 {
		t.Fatalf("a page of events while streams are full = %d %s, want 200", page.status, page.raw)
	}

	closeFirst()
	deadline := time.Now().Add(20 * time.Second)
	for o, _ := gauge(); o != 2; o, _ = gauge() {
		if time.Now().After(deadline) {
			t.Fatalf("a closed stream still holds its slot: %g open", o)
		}
		time.Sleep(10 * time.Millisecond)
	}
	again, _ := open(other.Secret)
	wantStatus("second stream of key 2 after one ended", again, 200)
}
