package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/audit"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/ids"
	"github.com/atriumid/atrium/internal/outbox"
	"github.com/atriumid/atrium/internal/sqlstore"
)

// eventTests cover the outbox, the relay cursors and the audit chain.
var eventTests = []struct {
	name string
	fn   func(t *testing.T, db *sqlstore.DB)
}{
	{"EventsNoSkipUnderConcurrentCommits", testEventsNoSkip},
	{"AuditChainConcurrent", testAuditChainConcurrent},
	{"AuditRollsBackWithTheChange", testAuditRollsBack},
	{"AuditForget", testAuditForget},
	{"AuditQuery", testAuditQuery},
	{"RelayCursorLease", testRelayCursorLease},
	{"PruneEvents", testPruneEvents},
	{"LatestCheckpoint", testLatestCheckpoint},
}

// change appends an event and an audit record about account id, as every
// mutation does, holding the transaction open for hold between the two.
func change(ctx context.Context, db *sqlstore.DB, id string, hold time.Duration, fail bool) (string, error) {
	e := outbox.New("atrium.test.changed", id, t0, map[string]any{"n": 1})
	err := db.Accounts().Update(ctx, func(ctx context.Context, tx account.Tx) error {
		if _, err := tx.TouchAccount(ctx, id, t0); err != nil {
			return err
		}
		if err := tx.AppendEvent(ctx, e); err != nil {
			return err
		}
		time.Sleep(hold)
		if err := tx.AppendAudit(ctx, audit.Entry{ID: ids.New("aud"), Type: e.Type, Account: id, Time: t0, Data: []byte(`{}`),
			Actor: audit.Actor{Principal: "key:test", IP: "192.0.2.1", UserAgent: "storetest"}}); err != nil {
			return err
		}
		if fail {
			return errRollback
		}
		return nil
	})
	return e.ID, err
}

var errRollback = errors.New("rolled back on purpose")

// testEventsNoSkip is the proof that a reader of positions above its
// cursor never skips an event that commits late: writers hold their
// transactions open for random times after taking a position, some roll
// back, and a reader that moves its cursor past everything it sees must
// still see every committed event, once, with no gap in positions.
func testEventsNoSkip(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	const writers, perWriter = 6, 20
	accounts := make([]string, writers)
	for i := range accounts {
		r := newRecord("user", "usr")
		insert(t, db, r)
		accounts[i] = r.ID
	}
	var committed sync.Map
	var done atomic.Bool
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for range perWriter {
				fail := rand.IntN(5) == 0
				id, err := change(ctx, db, accounts[w], time.Duration(rand.IntN(2000))*time.Microsecond, fail)
				switch {
				case fail && errors.Is(err, errRollback):
				case err != nil:
					t.Errorf("change: %v", err)
					return
				default:
					committed.Store(id, true)
				}
			}
		})
	}
	seen := map[string]bool{}
	var cursor int64
	read := func() error {
		recs, err := db.Events().After(ctx, cursor, 7)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			time.Sleep(200 * time.Microsecond)
		}
		for _, r := range recs {
			if r.Pos != cursor+1 {
				return fmt.Errorf("After returned position %d after %d: a gap", r.Pos, cursor)
			}
			if seen[r.ID] {
				return fmt.Errorf("event %s read twice", r.ID)
			}
			seen[r.ID], cursor = true, r.Pos
		}
		return nil
	}
	go func() { wg.Wait(); done.Store(true) }()
	var readErr error
	for !done.Load() && readErr == nil {
		readErr = read()
	}
	wg.Wait()
	for range writers * perWriter {
		if readErr == nil {
			readErr = read()
		}
	}
	if readErr != nil {
		t.Fatal(readErr)
	}
	n := 0
	committed.Range(func(k, _ any) bool {
		n++
		if !seen[k.(string)] {
			t.Errorf("committed event %s was skipped", k)
		}
		return true
	})
	if len(seen) != n {
		t.Errorf("read %d events, %d committed: a rolled-back event was read", len(seen), n)
	}
	rep, err := audit.Verify(ctx, db.Audit(), nil)
	if err != nil || rep.Problem != nil || rep.Records != int64(n) {
		t.Errorf("audit.Verify = %+v, %v; want %d records and no problem", rep, err, n)
	}
}

func testAuditChainConcurrent(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	var wg sync.WaitGroup
	const writers, perWriter = 8, 10
	for range writers {
		r := newRecord("org", "org")
		insert(t, db, r)
		wg.Go(func() {
			for range perWriter {
				if _, err := change(ctx, db, r.ID, 0, false); err != nil {
					t.Errorf("change: %v", err)
				}
			}
		})
	}
	wg.Wait()
	rep, err := audit.Verify(ctx, db.Audit(), nil)
	if err != nil || rep.Problem != nil || rep.Records != writers*perWriter {
		t.Fatalf("audit.Verify = %+v, %v; want %d records and no problem", rep, err, writers*perWriter)
	}
}

func testAuditRollsBack(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	r := newRecord("org", "org")
	insert(t, db, r)
	if _, err := change(ctx, db, r.ID, 0, false); err != nil {
		t.Fatal(err)
	}
	if _, err := change(ctx, db, r.ID, 0, true); !errors.Is(err, errRollback) {
		t.Fatalf("change = %v, want the rollback", err)
	}
	// An audit record that cannot be written rolls the change back: a
	// duplicate record ID fails the insert.
	dup := ids.New("aud")
	err := db.Accounts().Update(ctx, func(ctx context.Context, tx account.Tx) error {
		if _, err := tx.TouchAccount(ctx, r.ID, t0); err != nil {
			return err
		}
		for range 2 {
			if err := tx.AppendAudit(ctx, audit.Entry{ID: dup, Type: "t", Account: r.ID, Time: t0, Data: []byte(`{}`)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		t.Fatal("Update with a failing audit append = nil, want an error")
	}
	if got, _ := touch(db, r.ID); got.Version != 3 {
		t.Errorf("version after two committed changes and two failed ones = %d, want 3 (2, then this touch)", got.Version)
	}
	head, _ := db.Audit().AuditHead(ctx)
	if head.Seq != 1 {
		t.Errorf("audit head after one committed change = %d, want 1", head.Seq)
	}
	if rep, err := audit.Verify(ctx, db.Audit(), nil); err != nil || rep.Problem != nil || rep.Records != 1 {
		t.Errorf("audit.Verify = %+v, %v; want 1 record", rep, err)
	}
}

func testAuditForget(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	a, b := newRecord("user", "usr"), newRecord("user", "usr")
	insert(t, db, a)
	insert(t, db, b)
	appendAs := func(actor, about, forget string) {
		t.Helper()
		err := db.Audit().Append(ctx, audit.Entry{ID: ids.New("aud"), Type: "t", Account: about, Time: t0, Data: []byte(`{}`), Forget: forget,
			Actor: audit.Actor{Principal: actor, IP: "203.0.113.5", UserAgent: "phone"}})
		if err != nil {
			t.Fatal(err)
		}
	}
	appendAs("account:"+a.ID, a.ID, "")
	appendAs("account:"+a.ID, b.ID, "") // a acting on b
	appendAs("account:"+b.ID, b.ID, "")
	appendAs("key:admin", a.ID, a.ID) // a is erased
	recs, err := db.Audit().AuditChain(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		wantKept := r.Actor == "account:"+b.ID
		if kept := r.IP != "" && r.UserAgent != "" && !r.Forgotten(); kept != wantKept {
			t.Errorf("record %d (actor %s, account %s): client data kept = %v, want %v", r.Seq, r.Actor, r.Account, kept, wantKept)
		}
	}
	if rep, err := audit.Verify(ctx, db.Audit(), nil); err != nil || rep.Problem != nil || rep.Records != 4 {
		t.Errorf("audit.Verify after forgetting = %+v, %v; want 4 records, no problem", rep, err)
	}
}

func testAuditQuery(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	for i := range 6 {
		err := db.Audit().Append(ctx, audit.Entry{ID: ids.New("aud"), Type: fmt.Sprintf("type%d", i%2), Account: fmt.Sprintf("acct%d", i%3),
			Time: t0.Add(time.Duration(i) * time.Minute), Data: []byte(`{}`), Actor: audit.Actor{Principal: fmt.Sprintf("key:%d", i%2)}})
		if err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		q    audit.Query
		want []int64
	}{
		{audit.Query{Limit: 10}, []int64{1, 2, 3, 4, 5, 6}},
		{audit.Query{Limit: 2, After: 2}, []int64{3, 4}},
		{audit.Query{Account: "acct1", Limit: 10}, []int64{2, 5}},
		{audit.Query{Actor: "key:0", Limit: 10}, []int64{1, 3, 5}},
		{audit.Query{Type: "type1", Actor: "key:1", Limit: 10}, []int64{2, 4, 6}},
		{audit.Query{Since: t0.Add(2 * time.Minute), Until: t0.Add(4 * time.Minute), Limit: 10}, []int64{3, 4}},
	}
	for _, tc := range tests {
		recs, err := db.Audit().Records(ctx, tc.q)
		if err != nil {
			t.Fatalf("Records(%+v): %v", tc.q, err)
		}
		var got []int64
		for _, r := range recs {
			got = append(got, r.Seq)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("Records(%+v) = %v, want %v", tc.q, got, tc.want)
		}
	}
}

func testRelayCursorLease(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	l := db.Events()
	now := t0
	pos, ok, err := l.Claim(ctx, "nats", "a", now, now.Add(time.Second))
	if err != nil || !ok || pos != 0 {
		t.Fatalf("first Claim = %d, %v, %v; want 0, true", pos, ok, err)
	}
	if _, ok, _ := l.Claim(ctx, "nats", "b", now, now.Add(time.Second)); ok {
		t.Error("Claim by b while a holds the lease = true")
	}
	if err := l.Advance(ctx, "nats", "a", 5, now, now.Add(time.Second)); err != nil {
		t.Fatalf("Advance by the holder: %v", err)
	}
	if err := l.Advance(ctx, "nats", "b", 9, now, now.Add(time.Second)); !fault.Is(err, fault.Aborted) {
		t.Errorf("Advance by another = %v, want Aborted", err)
	}
	later := now.Add(2 * time.Second)
	if pos, ok, _ := l.Claim(ctx, "nats", "b", later, later.Add(time.Second)); !ok || pos != 5 {
		t.Errorf("Claim by b after the lease ran out = %d, %v; want 5, true", pos, ok)
	}
	if err := l.Advance(ctx, "nats", "a", 6, later, later.Add(time.Second)); !fault.Is(err, fault.Aborted) {
		t.Errorf("Advance by the former holder = %v, want Aborted", err)
	}
	if err := l.Release(ctx, "nats", "b"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := l.Claim(ctx, "nats", "a", later, later.Add(time.Second)); !ok {
		t.Error("Claim after Release = false, want true")
	}
	cs, err := l.Cursors(ctx)
	if err != nil || len(cs) != 1 || cs[0].Pos != 5 || cs[0].Holder != "a" {
		t.Errorf("Cursors = %+v, %v; want nats at 5 held by a", cs, err)
	}
}

func testPruneEvents(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	r := newRecord("user", "usr")
	insert(t, db, r)
	for range 5 {
		if _, err := change(ctx, db, r.ID, 0, false); err != nil {
			t.Fatal(err)
		}
	}
	l := db.Events()
	if n, err := l.Prune(ctx, t0, 100); err != nil || n != 0 {
		t.Errorf("Prune of events not older than the cut = %d, %v; want 0", n, err)
	}
	cut := t0.Add(time.Hour) // events are older; the cursors below are touched after it, so live
	l.Claim(ctx, "nats", "a", cut, cut.Add(time.Second))
	l.Advance(ctx, "nats", "a", 3, cut, cut.Add(time.Second))
	// A retired cursor, untouched since before the cut, holds nothing back.
	l.Claim(ctx, "retired", "b", t0, t0.Add(time.Second))
	if n, err := l.Prune(ctx, cut, 2); err != nil || n != 2 {
		t.Errorf("Prune(limit 2) = %d, %v; want 2", n, err)
	}
	if n, _ := l.Prune(ctx, cut, 100); n != 1 {
		t.Errorf("Prune beyond the live relay cursor deleted %d, want 1 (up to position 3)", n)
	}
	first, last, err := l.Bounds(ctx)
	if err != nil || first != 4 || last != 5 {
		t.Errorf("Bounds = %d, %d, %v; want 4, 5", first, last, err)
	}
	// Once every event is pruned, the bounds still show that cursors below
	// the last position have missed events.
	l.Advance(ctx, "nats", "a", 5, cut, cut.Add(time.Second))
	if n, _ := l.Prune(ctx, cut, 100); n != 2 {
		t.Errorf("Prune of the rest deleted %d, want 2", n)
	}
	if first, last, err := l.Bounds(ctx); err != nil || first != 6 || last != 5 {
		t.Errorf("Bounds after pruning everything = %d, %d, %v; want 6, 5", first, last, err)
	}
}

// testLatestCheckpoint checks that the latest checkpoint is the one of the
// highest position, read alone.
func testLatestCheckpoint(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	l := db.Audit()
	if _, ok, err := l.LatestCheckpoint(ctx); ok || err != nil {
		t.Errorf("LatestCheckpoint with none = %v, %v; want false", ok, err)
	}
	for _, seq := range []int64{3, 9, 5} {
		if err := l.AppendCheckpoint(ctx, audit.Checkpoint{Seq: seq, Hash: []byte{byte(seq)}, Time: t0, KeyID: "k", Signature: []byte("s")}); err != nil {
			t.Fatal(err)
		}
	}
	if c, ok, err := l.LatestCheckpoint(ctx); !ok || err != nil || c.Seq != 9 || c.Hash[0] != 9 || !c.Time.Equal(t0) {
		t.Errorf("LatestCheckpoint = %+v, %v, %v; want the one at 9", c, ok, err)
	}
}
