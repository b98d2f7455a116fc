package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/config"
	"github.com/atriumid/atrium/internal/kind"
	"github.com/atriumid/atrium/internal/natsbus"
	"github.com/atriumid/atrium/internal/outbox"
	"github.com/atriumid/atrium/internal/testenv"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// delivered is one event as a consumer got it.
type delivered struct {
	id, typ, subject string
}

// collector keeps what one consumer got, deduped by event ID as the
// documentation tells consumers to.
type collector struct {
	mu   sync.Mutex
	seen map[string]bool
	got  []delivered
}

func (c *collector) add(body []byte) {
	var ce outbox.CloudEvent
	if err := json.Unmarshal(body, &ce); err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	if !c.seen[ce.ID] {
		c.seen[ce.ID] = true
		c.got = append(c.got, delivered{ce.ID, ce.Type, ce.Subject})
	}
}

// only returns what c got of the events in ids, in arrival order.
func (c *collector) only(ids map[string]bool) []delivered {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []delivered
	for _, d := range c.got {
		if ids[d.id] {
			out = append(out, d)
		}
	}
	return out
}

// documentedScenario returns the event types of the worked example in
// docs/events.md, in order.
func documentedScenario(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "docs", "events.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	typ := regexp.MustCompile("`(atrium\\.[a-z_.]+)`")
	var out []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			in = line == "## A worked example"
		case in && strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "| step"):
			cols := strings.Split(line, "|")
			for _, m := range typ.FindAllStringSubmatch(cols[len(cols)-2], -1) {
				out = append(out, m[1])
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("docs/events.md has no worked example")
	}
	return out
}

// TestScriptedScenario runs the worked example of docs/events.md through a
// real server that relays to NATS JetStream and delivers to a webhook on
// loopback, and shows that the outbox, a JetStream consumer and the
// webhook receiver each see exactly the documented events: once each
// after deduplication by ID, and in each account's order (T-F2).
func TestScriptedScenario(t *testing.T) {
	natsURL := testenv.NatsURL(t)
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			start := time.Now().Add(-time.Second)
			hooks := &collector{}
			recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				hooks.add(b)
			}))
			defer recv.Close()
			srv := testenv.StartServer(t, e.URL(t), func(c *config.Config) {
				c.NatsURL, c.WebhookAllowPrivate = natsURL, true
			})
			do(t, srv, "POST", "/v1/webhooks", `{"url":"`+recv.URL+`/hook"}`, http.StatusCreated)

			// The scenario of the worked example, step by step.
			user := created(t, do(t, srv, "POST", "/v1/accounts", `{"kind":"user","identifiers":[{"type":"email","value":"ada@example.com"}],
				"fragments":{"profile":{"display_name":"Ada"}}}`, http.StatusCreated))
			org := created(t, do(t, srv, "POST", "/v1/accounts", `{"kind":"org","fragments":{"profile":{"name":"Analytical Engines"}}}`, http.StatusCreated))
			owner := `{"object":"org:` + org + `","relation":"owner","subject":"user:` + user + `"}`
			do(t, srv, "POST", "/v1/relationships:write", `{"writes":[`+owner+`]}`, http.StatusOK)
			do(t, srv, "PATCH", "/v1/accounts/"+org+"/fragments/profile", `{"data":{"name":"Analytical Engines Ltd"}}`, http.StatusOK)
			do(t, srv, "POST", "/v1/accounts/"+user+"/identifiers", `{"type":"username","value":"ada"}`, http.StatusCreated)
			do(t, srv, "POST", "/v1/accounts/"+org+":transition", `{"transition":"suspend","reason":"unpaid invoice"}`, http.StatusOK)
			do(t, srv, "POST", "/v1/relationships:write", `{"deletes":[`+owner+`]}`, http.StatusOK)
			team := string(kind.Builtin()) + "\n  team:\n    id_prefix: team\n    lifecycle: {initial: active}\n"
			body, _ := json.Marshal(map[string]string{"document": team})
			do(t, srv, "PUT", "/v1/kinds", string(body), http.StatusOK)

			// The outbox holds the documented sequence.
			var page struct {
				Events []outbox.CloudEvent
			}
			if err := json.Unmarshal([]byte(do(t, srv, "GET", "/v1/events?page_size=100", "", http.StatusOK)), &page); err != nil {
				t.Fatal(err)
			}
			want := documentedScenario(t)
			var written []delivered
			ours := map[string]bool{}
			for _, ce := range page.Events {
				written = append(written, delivered{ce.ID, ce.Type, ce.Subject})
				ours[ce.ID] = true
			}
			if got := types(written); !slices.Equal(got, want) {
				t.Fatalf("outbox events = %v\nwant (docs/events.md) %v", got, want)
			}

			// A JetStream consumer of the shared stream, which other
			// servers may publish to as well: it keeps this server's events.
			jsEvents := &collector{}
			nc, err := nats.Connect(natsURL)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			js, _ := jetstream.New(nc)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var cons jetstream.Consumer
			for cons == nil && ctx.Err() == nil { // the relay creates the stream on its first publish
				cons, err = js.OrderedConsumer(ctx, natsbus.DefaultStream, jetstream.OrderedConsumerConfig{
					FilterSubjects: []string{"atrium.>"}, DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &start})
				if err != nil {
					time.Sleep(100 * time.Millisecond)
				}
			}
			if cons == nil {
				t.Fatalf("no JetStream stream %s: %v", natsbus.DefaultStream, err)
			}
			cc, err := cons.Consume(func(m jetstream.Msg) { jsEvents.add(m.Data()) })
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Stop()
			for ctx.Err() == nil && (len(jsEvents.only(ours)) < len(want) || len(hooks.only(ours)) < len(want)) {
				time.Sleep(50 * time.Millisecond)
			}

			// JetStream keeps the outbox order, so each account's order.
			if got := jsEvents.only(ours); !slices.Equal(got, written) {
				t.Errorf("JetStream consumer got %v\nwant %v", got, written)
			}
			// Webhook attempts run concurrently, so deliveries of different
			// events may arrive in any order; each subject's events,
			// ordered by their time-ordered IDs, are its outbox order.
			got := hooks.only(ours)
			if len(got) != len(written) {
				t.Errorf("webhook receiver got %d of the %d events: %v", len(got), len(written), got)
			}
			for subject, seq := range bySubject(written) {
				hs := bySubject(got)[subject]
				slices.SortFunc(hs, func(a, b delivered) int { return strings.Compare(a.id, b.id) })
				if !slices.Equal(hs, seq) {
					t.Errorf("webhook receiver got, about %s, %v\nwant %v", subject, hs, seq)
				}
			}
		})
	}
}

// created returns the ID in the answer to a creation.
func created(t *testing.T, body string) string {
	t.Helper()
	var a struct{ ID string }
	if err := json.Unmarshal([]byte(body), &a); err != nil || a.ID == "" {
		t.Fatalf("no id in %s", body)
	}
	return a.ID
}

func types(ds []delivered) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.typ
	}
	return out
}

func bySubject(ds []delivered) map[string][]delivered {
	out := map[string][]delivered{}
	for _, d := range ds {
		out[d.subject] = append(out[d.subject], d)
	}
	return out
}
