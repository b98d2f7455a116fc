package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/audit"
	"github.com/atriumid/atrium/internal/envelope"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/ids"
	"github.com/atriumid/atrium/internal/outbox"
	"github.com/atriumid/atrium/internal/sqlstore"
	"github.com/atriumid/atrium/internal/testenv"
	"github.com/atriumid/atrium/internal/webhook"
)

var t0 = time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC) // before the events testenv.Touch writes

// receiver records the requests it gets and answers the first fail of
// them with 500.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	fail int
	got  []*http.Request
	body [][]byte
}

func newReceiver(t *testing.T, fail int) *receiver {
	r := &receiver{fail: fail}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.got, r.body = append(r.got, req), append(r.body, b)
		if r.fail != 0 {
			r.fail--
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func TestDelivery(t *testing.T) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := testenv.OpenDB(t, e.URL(t))
			store := db.Webhooks()
			flaky, broken, other := newReceiver(t, 2), newReceiver(t, -1), newReceiver(t, 0)
			keys, err := envelope.ParseKeyring("k1:" + strings.Repeat("A", 43) + "=")
			if err != nil {
				t.Fatal(err)
			}
			sealer := &webhook.Sealer{Keys: keys}
			subs := map[string]webhook.Subscription{}
			for name, s := range map[string]struct {
				url   string
				types []string
			}{"flaky": {flaky.URL, []string{"atrium.account.*"}}, "broken": {broken.URL, nil}, "other": {other.URL, []string{"atrium.kinds.applied"}}} {
				secret, _ := webhook.NewSecret()
				sub := webhook.Subscription{ID: ids.New("whk"), URL: s.url, Types: s.types, CreateTime: t0}
				if sub.Secret, err = sealer.Seal(sub.ID, secret); err != nil {
					t.Fatal(err)
				}
				if err := store.CreateWebhook(ctx, sub, testAudit("created")); err != nil {
					t.Fatal(err)
				}
				sub.Secret = secret
				subs[name] = sub
			}
			events := writeEvents(t, db, 3)

			now := t0.Add(time.Minute)
			clock := func() time.Time { return now }
			fan := &outbox.Relay{Name: "webhooks", Holder: "test", Log: db.Events(), Publisher: &webhook.FanOut{Store: store, Source: "/test", Now: clock}, Now: clock}
			for range 2 { // the second pass changes nothing: repeats are ignored
				if _, err := fan.Step(ctx); err != nil {
					t.Fatal(err)
				}
				for _, r := range events {
					if err := (&webhook.FanOut{Store: store, Now: clock}).Publish(ctx, r); err != nil {
						t.Fatal(err)
					}
				}
			}
			sender := &webhook.Sender{Store: store, Client: webhook.Guard{AllowPrivate: true}.Client(), Now: clock, Secrets: sealer,
				Jitter: func(n int64) int64 { return n - 1 }}
			for range webhook.MaxAttempts + 2 {
				if _, err := sender.Step(ctx); err != nil {
					t.Fatal(err)
				}
				now = now.Add(7 * time.Hour) // past the longest backoff
			}
			assertStates(t, store, subs["flaky"].ID, webhook.Delivered, 3, 0)
			assertStates(t, store, subs["broken"].ID, webhook.Dead, 3, webhook.MaxAttempts)
			if n := len(other.got); n != 0 {
				t.Errorf("a subscription to other types got %d requests", n)
			}
			if n := len(flaky.got); n != 5 {
				t.Errorf("flaky receiver got %d requests, want 3 events + 2 retries", n)
			}
			// Every request is signed per Standard Webhooks and carries the
			// CloudEvent.
			for i, req := range flaky.got {
				id, ts := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp")
				sec, _ := strconv.ParseInt(ts, 10, 64)
				if want := webhook.Sign(subs["flaky"].Secret, id, time.Unix(sec, 0), flaky.body[i]); req.Header.Get("webhook-signature") != want {
					t.Errorf("request %d: signature %q, want %q", i, req.Header.Get("webhook-signature"), want)
				}
				var ce outbox.CloudEvent
				if err := json.Unmarshal(flaky.body[i], &ce); err != nil || ce.ID != id || ce.SpecVersion != "1.0" {
					t.Errorf("request %d: body %s is not the CloudEvent %s", i, flaky.body[i], id)
				}
			}
			// Redelivery of a dead letter starts its attempts again.
			dead := events[0].Pos
			if err := store.Redeliver(ctx, subs["broken"].ID, dead, now, testAudit("redelivered")); err != nil {
				t.Fatal(err)
			}
			before := len(broken.got)
			sender.Step(ctx)
			ds, _ := store.Deliveries(ctx, subs["broken"].ID, "", dead-1, 1)
			if len(broken.got) != before+1 || len(ds) != 1 || ds[0].State != webhook.Pending || ds[0].Attempts != 1 || ds[0].LastStatus != 500 {
				t.Errorf("after redelivery: %d new requests, delivery %+v; want one attempt, pending with 1 attempt and status 500", len(broken.got)-before, ds)
			}
			counts, err := store.DeliveryCounts(ctx)
			if err != nil || counts[webhook.Delivered] != 3 || counts[webhook.Dead] != 2 || counts[webhook.Pending] != 1 {
				t.Errorf("DeliveryCounts = %v, %v", counts, err)
			}
			if n, err := store.PruneDeliveries(ctx, now.Add(time.Hour), 100); err != nil || n != 5 {
				t.Errorf("PruneDeliveries = %d, %v; want the 3 delivered and the 2 dead", n, err)
			}
			if err := store.DeleteWebhook(ctx, subs["broken"].ID, now, testAudit("deleted")); err != nil {
				t.Fatal(err)
			}
			if n, err := store.PruneDeliveries(ctx, t0, 100); err != nil || n != 1 {
				t.Errorf("PruneDeliveries after deleting the webhook = %d, %v; want its pending one", n, err)
			}
			// Each change above committed its audit record; refused ones none.
			if err := store.Redeliver(ctx, subs["broken"].ID, 1<<40, now, testAudit("redelivered")); !fault.Is(err, fault.NotFound) {
				t.Errorf("Redeliver of an unknown delivery = %v, want NotFound", err)
			}
			if err := store.DeleteWebhook(ctx, subs["broken"].ID, now, testAudit("deleted")); !fault.Is(err, fault.NotFound) {
				t.Errorf("DeleteWebhook twice = %v, want NotFound", err)
			}
			var types []string
			recs, _ := db.Audit().Records(ctx, audit.Query{Limit: 100})
			for _, r := range recs {
				types = append(types, r.Type)
			}
			want := "atrium.webhook.created,atrium.webhook.created,atrium.webhook.created,atrium.webhook.redelivered,atrium.webhook.deleted"
			if strings.Join(types, ",") != want {
				t.Errorf("audit records %v; want %s", types, want)
			}
		})
	}
}

func assertStates(t *testing.T, store *sqlstore.WebhookStore, id, state string, n, attempts int) {
	t.Helper()
	ds, err := store.Deliveries(context.Background(), id, "", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != n {
		t.Fatalf("%d deliveries, want %d", len(ds), n)
	}
	for _, d := range ds {
		if d.State != state || (attempts > 0 && d.Attempts != attempts) {
			t.Errorf("delivery %s: state %s after %d attempts (%s); want %s", d.EventID, d.State, d.Attempts, d.LastError, state)
		}
	}
}

// writeEvents appends n account events and returns them.
func writeEvents(t *testing.T, db *sqlstore.DB, n int) []outbox.Record {
	t.Helper()
	ctx := context.Background()
	id := testenv.Accounts(t, db, 1)[0]
	for range n {
		if err := testenv.Touch(ctx, db, id); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := db.Events().After(ctx, 0, n)
	if err != nil || len(recs) != n {
		t.Fatalf("After = %d events, %v", len(recs), err)
	}
	return recs
}

// testAudit returns an audit record of a webhook change, as the API makes.
func testAudit(what string) audit.Entry {
	return audit.Entry{ID: ids.New("aud"), Type: "atrium.webhook." + what, Time: t0, Data: []byte(`{}`)}
}

// blockingReceiver holds every request until release is closed, and
// reports each arrival on arrived.
type blockingReceiver struct {
	*httptest.Server
	arrived chan struct{}
	release chan struct{}
}

func newBlockingReceiver(t *testing.T) *blockingReceiver {
	r := &blockingReceiver{arrived: make(chan struct{}, 100), release: make(chan struct{})}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.arrived <- struct{}{}
		select {
		case <-r.release:
		case <-req.Context().Done():
		}
	}))
	t.Cleanup(func() {
		select {
		case <-r.release:
		default:
			close(r.release)
		}
		r.Close()
	})
	return r
}

// subscribe creates a subscription of every type to url, with its secret
// in the clear, and fans the given events out to it.
func subscribe(t *testing.T, store *sqlstore.WebhookStore, url string, events []outbox.Record, now time.Time) webhook.Subscription {
	t.Helper()
	ctx := context.Background()
	sub := webhook.Subscription{ID: ids.New("whk"), URL: url, Secret: []byte("secret"), CreateTime: t0}
	if err := store.CreateWebhook(ctx, sub, testAudit("created")); err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if err := (&webhook.FanOut{Store: store, Now: func() time.Time { return now }}).Publish(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	return sub
}

// senderFixture subscribes url to n new events in a new database of
// engine e and returns the store, the subscription and a Sender of it
// whose clock stands at now.
func senderFixture(t *testing.T, e testenv.Engine, url string, n int, now time.Time) (*sqlstore.WebhookStore, webhook.Subscription, *webhook.Sender) {
	t.Helper()
	db := testenv.OpenDB(t, e.URL(t))
	store := db.Webhooks()
	sub := subscribe(t, store, url, writeEvents(t, db, n), now)
	sender := &webhook.Sender{Store: store, Client: webhook.Guard{AllowPrivate: true}.Client(), Now: func() time.Time { return now }}
	return store, sub, sender
}

// TestSenderClaimsWhenASlotIsFree shows that a Sender claims a delivery
// only once it can attempt it: while its slots are busy, the rest of the
// batch stays due for other senders, so no claim runs out while waiting
// (T-F2: a lapsed claim lets a second sender deliver the same event
// concurrently).
func TestSenderClaimsWhenASlotIsFree(t *testing.T) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			recv := newBlockingReceiver(t)
			now := t0.Add(time.Minute)
			store, sub, sender := senderFixture(t, e, recv.URL, 8, now)
			sender.Batch = 8
			done := make(chan int)
			go func() {
				n, _ := sender.Step(ctx)
				done <- n
			}()
			for range 4 { // every slot is busy
				<-recv.arrived
			}
			due, err := store.Due(ctx, now, 100)
			if err != nil || len(due) != 4 {
				t.Errorf("while 4 attempts run, %d deliveries are due (%v); want the 4 not yet attempted", len(due), err)
			}
			close(recv.release)
			if n := <-done; n != 8 {
				t.Errorf("Step made %d attempts, want 8", n)
			}
			assertStates(t, store, sub.ID, webhook.Delivered, 8, 1)
		})
	}
}

// TestFinishNeedsTheClaim shows that the outcome of an attempt whose claim
// ran out, and was taken by another sender, does not overwrite that
// sender's outcome.
func TestFinishNeedsTheClaim(t *testing.T) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			now := t0.Add(time.Minute)
			store, sub, _ := senderFixture(t, e, "http://192.0.2.1/", 1, now)
			due, err := store.Due(ctx, now, 1)
			if err != nil || len(due) != 1 {
				t.Fatalf("Due = %v, %v", due, err)
			}
			first, second := now.Add(20*time.Second), now.Add(50*time.Second)
			if ok, err := store.Claim(ctx, due[0].Delivery, first); !ok || err != nil {
				t.Fatalf("first Claim = %v, %v", ok, err)
			}
			// The first claim ran out; another sender claims and delivers.
			lapsed := due[0].Delivery
			lapsed.NextAttempt = first
			if ok, err := store.Claim(ctx, lapsed, second); !ok || err != nil {
				t.Fatalf("second Claim = %v, %v", ok, err)
			}
			won := lapsed
			won.State, won.Attempts, won.LastStatus = webhook.Delivered, 1, 204
			if ok, err := store.Finish(ctx, won, second); !ok || err != nil {
				t.Fatalf("Finish by the holder = %v, %v; want stored", ok, err)
			}
			late := due[0].Delivery
			late.State, late.Attempts, late.LastStatus, late.LastError = webhook.Pending, 1, 500, "HTTP 500"
			if ok, err := store.Finish(ctx, late, first); ok || err != nil {
				t.Errorf("Finish after the claim ran out = %v, %v; want not stored", ok, err)
			}
			assertStates(t, store, sub.ID, webhook.Delivered, 1, 1)
		})
	}
}

// TestSenderStopIsNotAFailure shows that an attempt cut short by shutdown
// counts for nothing: the delivery keeps its attempts and no error, and is
// due again at once.
func TestSenderStopIsNotAFailure(t *testing.T) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			recv := newBlockingReceiver(t)
			now := t0.Add(time.Minute)
			store, sub, sender := senderFixture(t, e, recv.URL, 1, now)
			ctx, stop := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				sender.Step(ctx)
				close(done)
			}()
			<-recv.arrived
			stop()
			<-done
			ds, err := store.Deliveries(context.Background(), sub.ID, "", 0, 10)
			if err != nil || len(ds) != 1 {
				t.Fatalf("Deliveries = %v, %v", ds, err)
			}
			if d := ds[0]; d.State != webhook.Pending || d.Attempts != 0 || d.LastError != "" || d.NextAttempt.After(now) {
				t.Errorf("after a stop mid-attempt: %+v; want pending, no attempt counted, due now", d)
			}
		})
	}
}
