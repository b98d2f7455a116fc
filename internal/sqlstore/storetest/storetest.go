// Package storetest is the conformance suite of the SQL store: every
// storage behaviour the domain relies on, run against every engine.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/audit"
	"github.com/atriumid/atrium/internal/credential"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/ids"
	"github.com/atriumid/atrium/internal/kind"
	"github.com/atriumid/atrium/internal/outbox"
	"github.com/atriumid/atrium/internal/sqlstore"
	"github.com/google/go-cmp/cmp"
)

// Run runs the suite. newDB returns a fresh, migrated database for each
// subtest.
func Run(t *testing.T, newDB func(t *testing.T) *sqlstore.DB) {
	tests := []struct {
		name string
		fn   func(t *testing.T, db *sqlstore.DB)
	}{
		{"AccountRoundTrip", testAccountRoundTrip},
		{"UpdateRollsBack", testUpdateRollsBack},
		{"IdentifierUnique", testIdentifierUnique},
		{"IdentifierUniqueConcurrent", testIdentifierUniqueConcurrent},
		{"FragmentCompareAndSwap", testFragmentCAS},
		{"TouchSerializesWriters", testTouchSerializes},
		{"ListOrderAndFilters", testList},
		{"Erase", testErase},
		{"MigrateTwice", testMigrateTwice},
		{"Settings", testSettings},
		{"KindsHistory", testKindsHistory},
		{"KindUsage", testKindUsage},
		{"KindsNotify", testKindsNotify},
		{"Idempotency", testIdempotency},
	}
	tests = append(tests, eventTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newDB(t))
		})
	}
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)

func newRecord(kindName, prefix string) account.Record {
	return account.Record{ID: ids.New(prefix), Kind: kindName, State: "active", Version: 1, CreateTime: t0, UpdateTime: t0}
}

func insert(t *testing.T, db *sqlstore.DB, r account.Record) {
	t.Helper()
	err := db.Accounts().Update(context.Background(), func(ctx context.Context, tx account.Tx) error {
		return tx.InsertAccount(ctx, r)
	})
	if err != nil {
		t.Fatalf("InsertAccount: %v", err)
	}
}

func testAccountRoundTrip(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	r := newRecord("org", "org")
	r.DataKey = []byte{1, 2, 3}
	insert(t, db, r)
	err := db.Accounts().View(ctx, func(ctx context.Context, rd account.Reader) error {
		got, err := rd.Account(ctx, r.ID)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(r, got); diff != "" {
			t.Errorf("Account(%s) mismatch (-want +got):\n%s", r.ID, diff)
		}
		if _, err := rd.Account(ctx, ids.New("org")); !fault.Is(err, fault.NotFound) {
			t.Errorf("Account(unknown) = %v, want NotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testUpdateRollsBack(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	r := newRecord("org", "org")
	boom := errors.New("boom")
	err := db.Accounts().Update(ctx, func(ctx context.Context, tx account.Tx) error {
		if err := tx.InsertAccount(ctx, r); err != nil {
			return err
		}
		if err := tx.AppendEvent(ctx, outbox.New("atrium.test", r.ID, t0, nil)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	view(t, db, func(ctx context.Context, rd account.Reader) error {
		if _, err := rd.Account(ctx, r.ID); !fault.Is(err, fault.NotFound) {
			t.Errorf("after rollback Account = %v, want NotFound", err)
		}
		return nil
	})
}

func testIdentifierUnique(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	a, b := newRecord("user", "usr"), newRecord("user", "usr")
	insert(t, db, a)
	insert(t, db, b)
	add := func(id string) error {
		return db.Accounts().Update(ctx, func(ctx context.Context, tx account.Tx) error {
			return tx.InsertIdentifier(ctx, account.IdentifierRecord{AccountID: id, Type: "email", Value: "x@example.com", CreateTime: t0})
		})
	}
	if err := add(a.ID); err != nil {
		t.Fatalf("first InsertIdentifier: %v", err)
	}
	for _, id := range []string{a.ID, b.ID} {
		if err := add(id); !fault.Is(err, fault.AlreadyExists) {
			t.Errorf("second InsertIdentifier(%s) = %v, want AlreadyExists", id, err)
		}
	}
	view(t, db, func(ctx context.Context, rd account.Reader) error {
		got, err := rd.Resolve(ctx, "email", "x@example.com")
		if err != nil || got != a.ID {
			t.Errorf("Resolve = %q, %v; want %q", got, err, a.ID)
		}
		if _, err := rd.Resolve(ctx, "email", "y@example.com"); !fault.Is(err, fault.NotFound) {
			t.Errorf("Resolve(unknown) = %v, want NotFound", err)
		}
		return nil
	})
}

// testIdentifierUniqueConcurrent races N transactions that each create an
// account holding the same identifier: exactly one commits.
func testIdentifierUniqueConcurrent(t *testing.T, db *sqlstore.DB) {
	const n = 16
	for round := range 5 {
		value := fmt.Sprintf("race%d", round)
		var wins, taken atomic.Int32
		var start, done sync.WaitGroup
		start.Add(1)
		for range n {
			done.Add(1)
			go func() {
				defer done.Done()
				start.Wait()
				r := newRecord("org", "org")
				err := db.Accounts().Update(context.Background(), func(ctx context.Context, tx account.Tx) error {
					if err := tx.InsertAccount(ctx, r); err != nil {
						return err
					}
					return tx.InsertIdentifier(ctx, account.IdentifierRecord{AccountID: r.ID, Type: "username", Value: value, CreateTime: t0})
				})
				switch {
				case err == nil:
					wins.Add(1)
				case fault.Is(err, fault.AlreadyExists):
					taken.Add(1)
				default:
					t.Errorf("racing create: %v", err)
				}
			}()
		}
		start.Done()
		done.Wait()
		if wins.Load() != 1 || taken.Load() != n-1 {
			t.Fatalf("round %d: %d wins, %d AlreadyExists; want 1 and %d", round, wins.Load(), taken.Load(), n-1)
		}
	}
}

func testFragmentCAS(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	r := newRecord("org", "org")
	insert(t, db, r)
	put := func(version, current int64, data string) error {
		return db.Accounts().Update(ctx, func(ctx context.Context, tx account.Tx) error {
			return tx.PutFragment(ctx, account.FragmentRecord{AccountID: r.ID, Name: "profile", Version: version, Data: []byte(data), UpdateTime: t0}, current)
		})
	}
	if err := put(1, 0, `{"a":1}`); err != nil {
		t.Fatalf("create fragment: %v", err)
	}
	if err := put(1, 0, `{"a":2}`); !fault.Is(err, fault.Aborted) {
		t.Errorf("create existing fragment = %v, want Aborted", err)
	}
	if err := put(3, 2, `{"a":3}`); !fault.Is(err, fault.Aborted) {
		t.Errorf("update from stale version = %v, want Aborted", err)
	}
	if err := put(2, 1, `{"a":4}`); err != nil {
		t.Errorf("update from current version: %v", err)
	}
	view(t, db, func(ctx context.Context, rd account.Reader) error {
		frs, err := rd.Fragments(ctx, []string{r.ID}, nil)
		if err != nil || len(frs) != 1 || frs[0].Version != 2 || string(frs[0].Data) != `{"a":4}` {
			t.Errorf("Fragments = %+v, %v; want one at version 2 with a=4", frs, err)
		}
		return nil
	})
}

// testTouchSerializes has concurrent transactions read-modify-write a
// counter under TouchAccount: no increment may be lost.
func testTouchSerializes(t *testing.T, db *sqlstore.DB) {
	r := newRecord("org", "org")
	insert(t, db, r)
	const n = 20
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := db.Accounts().Update(context.Background(), func(ctx context.Context, tx account.Tx) error {
				if _, err := tx.TouchAccount(ctx, r.ID, t0); err != nil {
					return err
				}
				frs, err := tx.Fragments(ctx, []string{r.ID}, []string{"counter"})
				if err != nil {
					return err
				}
				var cur int64
				if len(frs) == 1 {
					cur = frs[0].Version
				}
				return tx.PutFragment(ctx, account.FragmentRecord{AccountID: r.ID, Name: "counter", Version: cur + 1, Data: []byte("{}"), UpdateTime: t0}, cur)
			})
			if err != nil {
				t.Errorf("increment: %v", err)
			}
		}()
	}
	wg.Wait()
	view(t, db, func(ctx context.Context, rd account.Reader) error {
		got, _ := rd.Account(ctx, r.ID)
		frs, _ := rd.Fragments(ctx, []string{r.ID}, nil)
		if got.Version != n+1 || len(frs) != 1 || frs[0].Version != n {
			t.Errorf("after %d touches: account version %d, fragment %+v; want %d and %d", n, got.Version, frs, n+1, n)
		}
		return nil
	})
	if _, err := touch(db, ids.New("org")); !fault.Is(err, fault.NotFound) {
		t.Errorf("TouchAccount(unknown) = %v, want NotFound", err)
	}
}

// view runs fn in a read transaction and fails t if the transaction
// fails, so that assertions inside fn cannot be skipped silently.
func view(t *testing.T, db *sqlstore.DB, fn func(ctx context.Context, rd account.Reader) error) {
	t.Helper()
	if err := db.Accounts().View(context.Background(), fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

func touch(db *sqlstore.DB, id string) (account.Record, error) {
	var r account.Record
	err := db.Accounts().Update(context.Background(), func(ctx context.Context, tx account.Tx) (err error) {
		r, err = tx.TouchAccount(ctx, id, t0)
		return err
	})
	return r, err
}

func testList(t *testing.T, db *sqlstore.DB) {
	var orgs []string
	for i := range 5 {
		r := newRecord("org", "org")
		if i%2 == 1 {
			r.State = "suspended"
		}
		insert(t, db, r)
		orgs = append(orgs, r.ID)
	}
	insert(t, db, newRecord("user", "usr"))
	list := func(q account.Query) []string {
		var out []string
		view(t, db, func(ctx context.Context, rd account.Reader) error {
			recs, err := rd.Accounts(ctx, q)
			if err != nil {
				t.Fatalf("Accounts(%+v): %v", q, err)
			}
			for _, r := range recs {
				out = append(out, r.ID)
			}
			return nil
		})
		return out
	}
	if diff := cmp.Diff(orgs, list(account.Query{Kind: "org", Limit: 10})); diff != "" {
		t.Errorf("all orgs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(orgs[2:4], list(account.Query{Kind: "org", After: orgs[1], Limit: 2})); diff != "" {
		t.Errorf("page after the second (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{orgs[1], orgs[3]}, list(account.Query{Kind: "org", State: "suspended", Limit: 10})); diff != "" {
		t.Errorf("suspended orgs (-want +got):\n%s", diff)
	}
}

func testErase(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	r := newRecord("user", "usr")
	r.DataKey = []byte("wrapped")
	insert(t, db, r)
	err := db.Accounts().Update(ctx, func(ctx context.Context, tx account.Tx) error {
		if err := tx.PutFragment(ctx, account.FragmentRecord{AccountID: r.ID, Name: "contact", Version: 1, Data: []byte("sealed"), Sealed: true, UpdateTime: t0}, 0); err != nil {
			return err
		}
		if err := tx.InsertIdentifier(ctx, account.IdentifierRecord{AccountID: r.ID, Type: "email", Value: "gone@example.com", CreateTime: t0}); err != nil {
			return err
		}
		if _, err := tx.TouchAccount(ctx, r.ID, t0); err != nil {
			return err
		}
		return tx.Erase(ctx, r.ID, t0.Add(time.Second))
	})
	if err != nil {
		t.Fatalf("erase: %v", err)
	}
	view(t, db, func(ctx context.Context, rd account.Reader) error {
		got, err := rd.Account(ctx, r.ID)
		if err != nil || got.State != account.Erased || got.DataKey != nil || !got.EraseTime.Equal(t0.Add(time.Second)) {
			t.Errorf("tombstone = %+v, %v", got, err)
		}
		frs, _ := rd.Fragments(ctx, []string{r.ID}, nil)
		ids, _ := rd.Identifiers(ctx, []string{r.ID})
		if len(frs) != 0 || len(ids) != 0 {
			t.Errorf("after erase: %d fragments, %d identifiers; want none", len(frs), len(ids))
		}
		return nil
	})
	// The identifier is released for reuse.
	other := newRecord("user", "usr")
	insert(t, db, other)
	err = db.Accounts().Update(ctx, func(ctx context.Context, tx account.Tx) error {
		return tx.InsertIdentifier(ctx, account.IdentifierRecord{AccountID: other.ID, Type: "email", Value: "gone@example.com", CreateTime: t0})
	})
	if err != nil {
		t.Errorf("reusing an erased account's identifier: %v", err)
	}
}

func testMigrateTwice(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := db.Migrate(ctx); err != nil {
				t.Errorf("Migrate again: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok, err := db.Migrated(ctx); !ok || err != nil {
		t.Errorf("Migrated = %v, %v; want true", ok, err)
	}
}

func testSettings(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	var wg sync.WaitGroup
	got := make([][]byte, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := db.Setting(ctx, "k", func() ([]byte, error) { return []byte{byte(i)}, nil })
			if err != nil {
				t.Errorf("Setting: %v", err)
			}
			got[i] = v
		}()
	}
	wg.Wait()
	for i := range got {
		if !bytes.Equal(got[i], got[0]) {
			t.Fatalf("replicas disagree on a setting: %v", got)
		}
	}
}

func testKindsHistory(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	if _, err := db.LatestKinds(ctx); !fault.Is(err, fault.NotFound) {
		t.Fatalf("LatestKinds on empty = %v, want NotFound", err)
	}
	v1 := kind.Version{Number: 1, Source: []byte("kinds: {}"), AppliedBy: "test", ApplyTime: t0}
	if err := db.AppendKinds(ctx, v1, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.AppendKinds(ctx, v1, nil); !fault.Is(err, fault.AlreadyExists) {
		t.Errorf("AppendKinds(same number) = %v, want AlreadyExists", err)
	}
	v2 := kind.Version{Number: 2, Source: []byte("kinds: {x: {}}"), AppliedBy: "test", ApplyTime: t0}
	if err := db.AppendKinds(ctx, v2, nil); err != nil {
		t.Fatal(err)
	}
	got, err := db.LatestKinds(ctx)
	if err != nil || !cmp.Equal(got, v2) {
		t.Errorf("LatestKinds = %+v, %v; want %+v", got, err, v2)
	}
	if got, err := db.KindsVersion(ctx, 1); err != nil || !cmp.Equal(got, v1) {
		t.Errorf("KindsVersion(1) = %+v, %v; want %+v", got, err, v1)
	}
	// A version with a trail commits its event and audit record with it;
	// one that loses the race for its number commits neither.
	trail := func() *kind.Trail {
		e := outbox.New("atrium.kinds.applied", kind.KindsSubject, t0, map[string]any{"version": 3})
		return &kind.Trail{Event: e, Audit: audit.Entry{ID: ids.New("aud"), Type: e.Type, Time: t0, Data: []byte(`{}`)}}
	}
	v3 := kind.Version{Number: 3, Source: []byte("kinds: {y: {}}"), AppliedBy: "test", ApplyTime: t0}
	if err := db.AppendKinds(ctx, v3, trail()); err != nil {
		t.Fatal(err)
	}
	if err := db.AppendKinds(ctx, v3, trail()); !fault.Is(err, fault.AlreadyExists) {
		t.Errorf("AppendKinds(same number, trail) = %v, want AlreadyExists", err)
	}
	evs, err := db.Events().After(ctx, 0, 10)
	if err != nil || len(evs) != 1 || evs[0].Type != "atrium.kinds.applied" {
		t.Errorf("events after AppendKinds = %v, %v; want one atrium.kinds.applied", evs, err)
	}
	if head, err := db.Audit().AuditHead(ctx); err != nil || head.Seq != 1 {
		t.Errorf("audit head after AppendKinds = %+v, %v; want one record", head, err)
	}
}

func testIdempotency(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := db.Idempotency()
	h1, h2 := []byte("h1"), []byte("h2")
	exp := t0.Add(time.Hour)
	if rec, err := s.Claim(ctx, "p", "k", h1, t0, exp, t0.Add(-time.Minute)); rec != nil || err != nil {
		t.Fatalf("first Claim = %+v, %v; want nil, nil", rec, err)
	}
	if rec, err := s.Claim(ctx, "p", "k", h1, t0, exp, t0.Add(-time.Minute)); err != nil || rec == nil || rec.Status != 0 {
		t.Errorf("Claim while pending = %+v, %v; want the pending record", rec, err)
	}
	if rec, err := s.Claim(ctx, "other", "k", h2, t0, exp, t0.Add(-time.Minute)); rec != nil || err != nil {
		t.Errorf("Claim by another principal = %+v, %v; want nil, nil", rec, err)
	}
	if err := s.Complete(ctx, "p", "k", t0, 201, []byte("resp")); err != nil {
		t.Fatal(err)
	}
	rec, err := s.Claim(ctx, "p", "k", h1, t0, exp, t0.Add(-time.Minute))
	if err != nil || rec == nil || rec.Status != 201 || string(rec.Response) != "resp" || !bytes.Equal(rec.Hash, h1) {
		t.Errorf("Claim after Complete = %+v, %v; want status 201", rec, err)
	}
	// A stale pending claim is taken over, and the first attempt can then
	// neither complete nor release it; an expired record is forgotten.
	s.Claim(ctx, "p", "stale", h1, t0, exp, t0.Add(-time.Minute))
	t2 := t0.Add(2 * time.Minute)
	if rec, err := s.Claim(ctx, "p", "stale", h1, t2, exp, t0.Add(time.Minute)); rec != nil || err != nil {
		t.Errorf("Claim over a stale claim = %+v, %v; want nil, nil", rec, err)
	}
	s.Complete(ctx, "p", "stale", t0, 200, []byte("late"))
	s.Release(ctx, "p", "stale", t0)
	if rec, err := s.Claim(ctx, "p", "stale", h1, t2, exp, t0); err != nil || rec == nil || rec.Status != 0 {
		t.Errorf("after the first attempt finished late: %+v, %v; want the second attempt's pending claim", rec, err)
	}
	if rec, err := s.Claim(ctx, "p", "k", h2, exp.Add(time.Second), exp.Add(time.Hour), exp); rec != nil || err != nil {
		t.Errorf("Claim after expiry = %+v, %v; want nil, nil", rec, err)
	}
	if err := s.Release(ctx, "p", "stale", t2); err != nil {
		t.Fatal(err)
	}
	if rec, err := s.Claim(ctx, "p", "stale", h2, t0, exp, t0.Add(-time.Minute)); rec != nil || err != nil {
		t.Errorf("Claim after Release = %+v, %v; want a fresh claim", rec, err)
	}
}

// testConcurrentFirstMigrate opens several handles on one empty database
// and migrates them at once, as replicas starting together do.
func testConcurrentFirstMigrate(t *testing.T, url string) {
	const n = 4
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := sqlstore.Open(context.Background(), url)
			if err != nil {
				t.Errorf("Open: %v", err)
				return
			}
			defer db.Close()
			if err := db.Migrate(context.Background()); err != nil {
				t.Errorf("concurrent first Migrate: %v", err)
			}
		}()
	}
	wg.Wait()
}

// RunFresh runs the checks that need an empty, unmigrated database; newURL
// returns the URL of a new one.
func RunFresh(t *testing.T, newURL func(t *testing.T) string) {
	t.Run("ConcurrentFirstMigrate", func(t *testing.T) {
		for range 5 {
			testConcurrentFirstMigrate(t, newURL(t))
		}
	})
}

// RunEraseCredentials checks that erasing an account deletes its password
// hash, a credential the account's data includes.
func RunEraseCredentials(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	r := newRecord("user", "usr")
	insert(t, db, r)
	if err := credTx(db, func(tx credential.Tx) error { return tx.PutPassword(ctx, r.ID, "$argon2id$stored", t0) }); err != nil {
		t.Fatal(err)
	}
	err := db.Accounts().Update(ctx, func(ctx context.Context, tx account.Tx) error {
		if _, err := tx.TouchAccount(ctx, r.ID, t0); err != nil {
			return err
		}
		return tx.Erase(ctx, r.ID, t0)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Credentials().PasswordHash(ctx, r.ID); !fault.Is(err, fault.NotFound) {
		t.Errorf("password hash after erasure: %v, want NotFound", err)
	}
}
