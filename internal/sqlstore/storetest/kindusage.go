package storetest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/kind"
	"github.com/atriumid/atrium/internal/sqlstore"
	"github.com/google/go-cmp/cmp"
)

// testKindUsage checks the counts and the fragment scan that the kinds
// compatibility check reads: erased accounts never count.
func testKindUsage(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	recs := []account.Record{newRecord("org", "org"), newRecord("org", "org"), newRecord("org", "org"), newRecord("user", "usr")}
	recs[1].State = "suspended"
	slices.SortFunc(recs[:3], func(a, b account.Record) int { return strings.Compare(a.ID, b.ID) })
	err := db.Accounts().Update(ctx, func(ctx context.Context, tx account.Tx) error {
		for i, r := range recs {
			if err := tx.InsertAccount(ctx, r); err != nil {
				return err
			}
			if err := tx.PutFragment(ctx, account.FragmentRecord{AccountID: r.ID, Name: "profile", Version: 1, Data: []byte(`{"n":1}`), UpdateTime: t0}, 0); err != nil {
				return err
			}
			if i != 1 {
				if err := tx.InsertIdentifier(ctx, account.IdentifierRecord{AccountID: r.ID, Type: "username", Value: r.ID, CreateTime: t0}); err != nil {
					return err
				}
			}
		}
		if _, err := tx.TouchAccount(ctx, recs[2].ID, t0); err != nil {
			return err
		}
		return tx.Erase(ctx, recs[2].ID, t0)
	})
	if err != nil {
		t.Fatal(err)
	}
	counts := []struct {
		name string
		fn   func() (int64, error)
		want int64
	}{
		{"CountAccounts(org)", func() (int64, error) { return db.CountAccounts(ctx, "org", "") }, 2},
		{"CountAccounts(org, suspended)", func() (int64, error) { return db.CountAccounts(ctx, "org", "suspended") }, 1},
		{"CountAccounts(team)", func() (int64, error) { return db.CountAccounts(ctx, "team", "") }, 0},
		{"CountIdentifierHolders(org, username)", func() (int64, error) { return db.CountIdentifierHolders(ctx, "org", "username") }, 1},
		{"CountIdentifierHolders(org, email)", func() (int64, error) { return db.CountIdentifierHolders(ctx, "org", "email") }, 0},
		{"CountFragmentHolders(org, profile)", func() (int64, error) { return db.CountFragmentHolders(ctx, "org", "profile") }, 2},
		{"CountFragmentHolders(user, profile)", func() (int64, error) { return db.CountFragmentHolders(ctx, "user", "profile") }, 1},
	}
	for _, c := range counts {
		if got, err := c.fn(); got != c.want || err != nil {
			t.Errorf("%s = %d, %v; want %d", c.name, got, err, c.want)
		}
	}
	var seen []string
	for after := ""; ; {
		page, err := db.ScanFragments(ctx, "org", "profile", after, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		if string(page[0].Data) != `{"n":1}` || page[0].Fragment != "profile" || page[0].Sealed {
			t.Errorf("ScanFragments returned %+v", page[0])
		}
		seen = append(seen, page[0].AccountID)
		after = page[0].AccountID
	}
	if diff := cmp.Diff([]string{recs[0].ID, recs[1].ID}, seen); diff != "" {
		t.Errorf("ScanFragments pages (-want +got):\n%s", diff)
	}
	if n, err := db.LatestKindsNumber(ctx); n != 0 || err != nil {
		t.Errorf("LatestKindsNumber on empty = %d, %v; want 0", n, err)
	}
	db.AppendKinds(ctx, kind.Version{Number: 1, Source: []byte("x"), AppliedBy: "test", ApplyTime: t0, Diff: "+ kinds.x\n"}, nil)
	if n, err := db.LatestKindsNumber(ctx); n != 1 || err != nil {
		t.Errorf("LatestKindsNumber = %d, %v; want 1", n, err)
	}
	if v, err := db.KindsVersion(ctx, 1); v.Diff != "+ kinds.x\n" || err != nil {
		t.Errorf("KindsVersion(1).Diff = %q, %v", v.Diff, err)
	}
}

// testKindsNotify checks that on PostgreSQL a listener is woken by
// AppendKinds, and that on SQLite ListenKinds returns at once.
func testKindsNotify(t *testing.T, db *sqlstore.DB) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wake := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		db.ListenKinds(ctx, func() {
			select {
			case wake <- struct{}{}:
			default:
			}
		})
	}()
	if db.Engine() != sqlstore.Postgres {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("ListenKinds on SQLite did not return")
		}
		return
	}
	// The listener may not be listening yet: append until it is woken.
	deadline := time.After(10 * time.Second)
	for n := int64(1); ; n++ {
		if err := db.AppendKinds(ctx, kind.Version{Number: n, Source: []byte("x"), AppliedBy: "test", ApplyTime: t0}, nil); err != nil {
			t.Fatal(err)
		}
		select {
		case <-wake:
			cancel()
			<-done
			return
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatal("no notification after AppendKinds")
		}
	}
}
