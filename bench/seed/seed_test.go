package seed

import (
	"fmt"
	"testing"

	"github.com/atriumid/atrium/internal/envelope"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/sqlstore"
	"github.com/atriumid/atrium/internal/testenv"
	"github.com/google/go-cmp/cmp"
)

func TestOrgJSON(t *testing.T) {
	got := string(NewOrg("pool", 42).JSON())
	want := `{"kind":"org","fragments":{"profile":{"name":"Acme 42"}},"identifiers":[{"type":"username","value":"pool42"}]}`
	if got != want {
		t.Errorf("NewOrg(pool, 42).JSON() = %s, want %s", got, want)
	}
}

// stored is what a seeded account holds, without what the write path
// assigns per run (its ID and times).
type stored struct {
	Kind, State string
	Version     int64
	Profile     map[string]any
	Identifiers []string
}

// readPool reads the pool back through a service on the real store,
// checking that each username resolves to its ID, and counts the outbox
// events and the audit records.
func readPool(t *testing.T, url string, keys *envelope.Keyring, ids []string) ([]stored, int64, int64) {
	t.Helper()
	ctx := t.Context()
	db, err := sqlstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc, err := service(ctx, db, db.Accounts(), keys)
	if err != nil {
		t.Fatal(err)
	}
	var out []stored
	for i, id := range ids {
		a, err := svc.Get(ctx, id, nil)
		if err != nil {
			t.Fatalf("Get(ids[%d]) = %v", i, err)
		}
		r, err := svc.Resolve(ctx, "username", fmt.Sprint("pool", i))
		if err != nil || r.ID != id {
			t.Fatalf("Resolve(username, pool%d) = %v, %v; want ids[%d] = %s", i, r, err, i, id)
		}
		s := stored{Kind: a.Kind, State: a.State, Version: a.Version, Profile: a.Fragments["profile"].Data}
		for _, idf := range a.Identifiers {
			s.Identifiers = append(s.Identifiers, idf.Type+":"+idf.Value)
		}
		out = append(out, s)
	}
	first, last, err := db.Events().Bounds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	head, err := db.Audit().AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return out, last - first + 1, head.Seq
}

func TestPool(t *testing.T) {
	const n = 23
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			key, err := envelope.GenerateKey("bench1")
			if err != nil {
				t.Fatal(err)
			}
			keys, err := envelope.NewKeyring([]envelope.Key{key})
			if err != nil {
				t.Fatal(err)
			}
			var runs [][]stored
			for range 2 {
				url := e.URL(t)
				// A batch of 5 over 23 accounts ends on a partial one.
				ids, err := Pool(t.Context(), Options{Database: url, Keys: keys, Accounts: n, Prefix: "pool", Batch: 5, Workers: 3})
				if err != nil {
					t.Fatalf("Pool = %v", err)
				}
				pool, events, audits := readPool(t, url, keys, ids)
				if events != n || audits != n {
					t.Errorf("the outbox holds %d events and the audit chain %d records, want %d of each", events, audits, n)
				}
				runs = append(runs, pool)
			}
			for i, s := range runs[0] {
				want := stored{Kind: "org", State: "active", Version: 1, Profile: map[string]any{"name": fmt.Sprint("Acme ", i)},
					Identifiers: []string{fmt.Sprint("username:pool", i)}}
				if diff := cmp.Diff(want, s); diff != "" {
					t.Errorf("account %d (-want +got):\n%s", i, diff)
				}
			}
			if diff := cmp.Diff(runs[0], runs[1]); diff != "" {
				t.Errorf("two seeds of the same pool differ (-first +second):\n%s", diff)
			}
		})
	}
}

func TestPoolFailsWhole(t *testing.T) {
	key, _ := envelope.GenerateKey("bench1")
	keys, _ := envelope.NewKeyring([]envelope.Key{key})
	url := testenv.SQLiteURL(t)
	if _, err := Pool(t.Context(), Options{Database: url, Keys: keys, Accounts: 3, Prefix: "pool"}); err != nil {
		t.Fatal(err)
	}
	// The same usernames again: the first create that reaches the writer
	// fails, and so does the pool, without hanging the other workers.
	_, err := Pool(t.Context(), Options{Database: url, Keys: keys, Accounts: 10, Prefix: "pool", Batch: 4})
	if !fault.Is(err, fault.AlreadyExists) {
		t.Errorf("Pool over taken usernames = %v, want AlreadyExists", err)
	}
}

func TestPoolOptions(t *testing.T) {
	key, _ := envelope.GenerateKey("bench1")
	keys, _ := envelope.NewKeyring([]envelope.Key{key})
	for _, o := range []Options{
		{Keys: keys, Accounts: 0},
		{Keys: keys, Accounts: MaxAccounts + 1},
		{Keys: keys, Accounts: 1, Batch: -1},
		{Keys: keys, Accounts: 1, Batch: MaxBatch + 1},
		{Keys: keys, Accounts: 1, Workers: -1},
		{Accounts: 1},
	} {
		if _, err := Pool(t.Context(), o); !fault.Is(err, fault.Invalid) {
			t.Errorf("Pool(%+v) = %v, want Invalid", o, err)
		}
	}
}
