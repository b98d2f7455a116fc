package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/outbox"
	"github.com/atriumid/atrium/internal/sqlstore"
	"github.com/atriumid/atrium/internal/testenv"
)

// sink is a Publisher that records every delivery in one total order.
type sink struct {
	mu   sync.Mutex
	got  []outbox.Record // guarded by mu
	fail atomic.Int64    // fail this many more publishes
}

func (s *sink) Publish(ctx context.Context, e outbox.Record) error {
	if s.fail.Add(-1) >= 0 {
		return errors.New("broker down")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	s.got = append(s.got, e)
	s.mu.Unlock()
	return nil
}

func (s *sink) deliveries() []outbox.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]outbox.Record(nil), s.got...)
}

// crashLog is the outbox as a relay that crashes sees it: once crashed,
// it never advances its cursor nor releases its lease, as a killed process
// would not.
type crashLog struct {
	outbox.Log
	crashed atomic.Bool
}

func (l *crashLog) Advance(ctx context.Context, name, holder string, pos int64, now, until time.Time) error {
	if l.crashed.Load() {
		return errors.New("crashed")
	}
	return l.Log.Advance(ctx, name, holder, pos, now, until)
}

func (l *crashLog) Release(ctx context.Context, name, holder string) error {
	if l.crashed.Load() {
		return nil
	}
	return l.Log.Release(ctx, name, holder)
}

// TestRelaySurvivesKills kills relays at random points while writers keep
// writing, with two relays often running at once, and shows that no event
// is lost, that every event is first delivered in outbox order (so each
// account's order holds), and that the only duplicates are redeliveries.
func TestRelaySurvivesKills(t *testing.T) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			db := testenv.OpenDB(t, e.URL(t))
			ctx := context.Background()
			accts := testenv.Accounts(t, db, 6)
			written, stopWriters := startWriters(t, db, accts)
			out := &sink{}
			var relays sync.WaitGroup
			start := func(i int) (kill func(crash bool)) {
				rctx, cancel := context.WithCancel(ctx)
				log := &crashLog{Log: db.Events()}
				r := &outbox.Relay{Name: "test", Holder: fmt.Sprintf("relay-%d", i), Log: log, Publisher: out,
					Lease: 40 * time.Millisecond, Poll: 2 * time.Millisecond, Batch: 1 + rand.IntN(8)}
				relays.Go(func() { r.Run(rctx) })
				return func(crash bool) {
					log.crashed.Store(crash)
					cancel()
				}
			}
			// At least 50 kills, and enough events to cross many batches.
			const minKills, minEvents = 50, 150
			prev := start(0)
			kills, deadline := 0, time.Now().Add(15*time.Second)
			for i := 1; (i <= minKills || written.Load() < minEvents) && time.Now().Before(deadline); i++ {
				kills = i
				time.Sleep(time.Duration(rand.IntN(15)) * time.Millisecond)
				if rand.IntN(4) == 0 {
					out.fail.Store(int64(rand.IntN(3))) // the broker refuses a few
				}
				next := start(i) // a standby, racing the holder for the lease
				prev(rand.IntN(2) == 0)
				prev = next
			}
			stopWriters()
			// The last relay drains the backlog.
			deadline = time.Now().Add(20 * time.Second)
			for int64(len(firstDeliveries(out.deliveries()))) < written.Load() && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			prev(false)
			relays.Wait()

			all := out.deliveries()
			first := checkDeliveries(t, all, written.Load())
			t.Logf("%d kills: %d events, %d deliveries (%d redelivered)", kills, len(first), len(all), len(all)-len(first))
		})
	}
}

// startWriters writes events about accts from three goroutines until the
// returned stop is called (stop waits for them).
func startWriters(t *testing.T, db *sqlstore.DB, accts []string) (*atomic.Int64, func()) {
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var written atomic.Int64
	for w := range 3 {
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := testenv.Touch(context.Background(), db, accts[(w*2+rand.IntN(2))%len(accts)]); err != nil {
					t.Errorf("write: %v", err)
					return
				}
				written.Add(1)
				time.Sleep(time.Duration(rand.IntN(500)) * time.Microsecond)
			}
		})
	}
	return &written, func() { stop(); wg.Wait() }
}

// checkDeliveries checks that all, the deliveries in the order the broker
// got them, hold every one of the written events, that their first
// deliveries come in outbox order with each account's versions rising,
// and returns those first deliveries.
func checkDeliveries(t *testing.T, all []outbox.Record, written int64) []outbox.Record {
	t.Helper()
	first := firstDeliveries(all)
	if int64(len(first)) != written {
		t.Fatalf("delivered %d distinct events, %d were written: events lost", len(first), written)
	}
	for i, r := range first {
		if r.Pos != int64(i+1) {
			t.Fatalf("delivery %d was first delivered at position %d, want %d: order broken", i, r.Pos, i+1)
		}
	}
	lastVersion := map[string]float64{}
	for _, r := range first {
		v := versionOf(t, r)
		if v <= lastVersion[r.Subject] {
			t.Fatalf("account %s: version %v delivered after %v", r.Subject, v, lastVersion[r.Subject])
		}
		lastVersion[r.Subject] = v
	}
	return first
}

// firstDeliveries keeps the first delivery of each event, in delivery
// order: what a consumer that dedupes by event ID sees.
func firstDeliveries(all []outbox.Record) []outbox.Record {
	seen := map[string]bool{}
	var out []outbox.Record
	for _, r := range all {
		if !seen[r.ID] {
			seen[r.ID] = true
			out = append(out, r)
		}
	}
	return out
}

func versionOf(t *testing.T, r outbox.Record) float64 {
	var d struct{ Version float64 }
	if err := jsonUnmarshal(r.Data, &d); err != nil {
		t.Fatalf("event data %s: %v", r.Data, err)
	}
	return d.Version
}

// TestRetiredCursorDoesNotBlockPruning shows that a relay cursor nobody
// touched for the retention period holds no events back from pruning, and
// that a relay resuming on it delivers what is left and reports, as an
// error, the events pruned before it delivered them.
func TestRetiredCursorDoesNotBlockPruning(t *testing.T) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := testenv.OpenDB(t, e.URL(t))
			log := db.Events()
			long := time.Now().Add(-30 * 24 * time.Hour)
			if _, held, err := log.Claim(ctx, "retired", "gone", long, long.Add(time.Second)); !held || err != nil {
				t.Fatalf("Claim = %v, %v", held, err)
			}
			acct := testenv.Accounts(t, db, 1)[0]
			for range 3 {
				if err := testenv.Touch(ctx, db, acct); err != nil {
					t.Fatal(err)
				}
			}
			_, before, _ := log.Bounds(ctx)
			if n, err := log.Prune(ctx, time.Now().Add(time.Hour), 100); err != nil || n != before {
				t.Fatalf("Prune past a retired cursor = %d, %v; want all %d events", n, err, before)
			}
			for range 2 {
				if err := testenv.Touch(ctx, db, acct); err != nil {
					t.Fatal(err)
				}
			}
			var logged strings.Builder
			out := &sink{}
			r := &outbox.Relay{Name: "retired", Holder: "back", Log: log, Publisher: out,
				Logger: slog.New(slog.NewTextHandler(&logged, nil))}
			if n, err := r.Step(ctx); n != 2 || err != nil {
				t.Fatalf("Step = %d, %v; want the 2 events left", n, err)
			}
			if want := fmt.Sprintf("missed=%d", before); !strings.Contains(logged.String(), "level=ERROR") || !strings.Contains(logged.String(), want) {
				t.Errorf("relay logged %q; want an error with %s", logged.String(), want)
			}
		})
	}
}
