package account_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/envelope"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/freshness"
	"github.com/atriumid/atrium/internal/ids"
	"github.com/atriumid/atrium/internal/kind"
	"github.com/atriumid/atrium/internal/testenv"
	"github.com/google/go-cmp/cmp"
)

// env is one account service on a fresh database.
type env struct {
	svc   *account.Service
	store account.Store
	codec *freshness.Codec
	kinds *kind.Registry // the built-in kinds at version 1
	set   *kind.Set      // the built-in kinds
	url   string         // the database's URL
}

// forEachEngine runs fn against a fresh service on every database engine;
// configure, when given, changes the service's configuration first.
func forEachEngine(t *testing.T, fn func(t *testing.T, e env), configure ...func(*account.Config)) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			url := eng.URL(t)
			db := testenv.OpenDB(t, url)
			set, err := kind.Load(kind.Builtin(), kind.CompileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			k, _ := envelope.GenerateKey("test1")
			keys, _ := envelope.NewKeyring([]envelope.Key{k})
			codec, _ := freshness.NewCodec([]byte(strings.Repeat("s", 32)))
			e := env{store: db.Accounts(), codec: codec, kinds: kind.NewRegistry(set, 1), set: set, url: url}
			c := account.Config{Store: e.store, Kinds: e.kinds, Keys: keys, Freshness: codec}
			for _, f := range configure {
				f(&c)
			}
			e.svc = account.NewService(c)
			fn(t, e)
		})
	}
}

func mustCreate(t *testing.T, e env, req account.CreateRequest) *account.Account {
	t.Helper()
	a, err := e.svc.Create(context.Background(), req)
	if err != nil {
		t.Fatalf("Create(%+v): %v", req, err)
	}
	return a
}

func violations(err error) []string {
	_, vs := fault.PublicOf(err)
	var out []string
	for _, v := range vs {
		out = append(out, v.Field)
	}
	return out
}

func TestCreateAndGet(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e env) {
		ctx := context.Background()
		a := mustCreate(t, e, account.CreateRequest{
			Kind:        "org",
			Fragments:   map[string]map[string]any{"profile": {"name": "Acme"}, "tax_id": {"ein": "12-3456789"}},
			Identifiers: []account.IdentifierInput{{Type: "username", Value: "  Acme "}},
		})
		if !strings.HasPrefix(a.ID, "org_") || a.State != "active" || a.Version != 1 || a.Freshness == "" {
			t.Errorf("Create = %+v, want a new active org at version 1 with a freshness token", a)
		}
		tok, err := e.codec.Decode(a.Freshness)
		if err != nil || tok.Account != a.ID || tok.Version != 1 {
			t.Errorf("freshness token = %+v, %v; want account %s version 1", tok, err, a.ID)
		}
		got, err := e.svc.Get(ctx, a.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]map[string]any{"profile": {"name": "Acme"}, "tax_id": {"ein": "12-3456789"}}
		gotData := map[string]map[string]any{}
		for n, f := range got.Fragments {
			gotData[n] = f.Data
		}
		if diff := cmp.Diff(want, gotData); diff != "" {
			t.Errorf("Get fragments (-want +got):\n%s", diff)
		}
		if len(got.Identifiers) != 1 || got.Identifiers[0].Value != "acme" {
			t.Errorf("Get identifiers = %+v, want the normalized username acme", got.Identifiers)
		}
		sel, err := e.svc.Get(ctx, strings.ToLower(a.ID), []string{"profile"})
		if err != nil || len(sel.Fragments) != 1 || sel.Fragments["profile"].Version != 1 {
			t.Errorf("Get(profile only) = %+v, %v", sel, err)
		}
		if _, err := e.svc.Get(ctx, a.ID, []string{"nope"}); !fault.Is(err, fault.Invalid) {
			t.Errorf("Get(unknown fragment) = %v, want Invalid", err)
		}
		if _, err := e.svc.Get(ctx, "org_01M8CJK02VFVQA6QBW11CK4SQX", nil); !fault.Is(err, fault.NotFound) {
			t.Errorf("Get(unknown id) = %v, want NotFound", err)
		}
		if _, err := e.svc.Get(ctx, "not-an-id", nil); !fault.Is(err, fault.Invalid) {
			t.Errorf("Get(malformed id) = %v, want Invalid", err)
		}
		r, err := e.svc.Resolve(ctx, "username", "ACME")
		if err != nil || r.ID != a.ID {
			t.Errorf("Resolve(username, ACME) = %v, %v; want %s", r, err, a.ID)
		}
	})
}

func TestCreateReportsEveryProblem(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e env) {
		ctx := context.Background()
		tests := []struct {
			name string
			req  account.CreateRequest
			want []string
		}{
			{"unknown kind", account.CreateRequest{Kind: "planet"}, []string{"kind"}},
			{"many problems", account.CreateRequest{
				Kind:        "org",
				Fragments:   map[string]map[string]any{"profile": {"name": 7}, "tax_id": {"ein": "x"}, "bogus": {}},
				Identifiers: []account.IdentifierInput{{Type: "email", Value: "a@example.com"}, {Type: "username", Value: "no spaces allowed"}},
			}, []string{"identifiers[0].type", "identifiers[1].value", "fragments.bogus", "fragments.profile.name", "fragments.tax_id.ein"}},
			{"missing required field", account.CreateRequest{Kind: "org", Fragments: map[string]map[string]any{"profile": {}}}, []string{"fragments.profile.name"}},
			{"duplicate identifier", account.CreateRequest{Kind: "org", Identifiers: []account.IdentifierInput{{Type: "username", Value: "dup"}, {Type: "username", Value: "DUP"}}}, []string{"identifiers[1]"}},
			{"unknown identifier type", account.CreateRequest{Kind: "user", Identifiers: []account.IdentifierInput{{Type: "fax", Value: "1"}}}, []string{"identifiers[0].type"}},
		}
		for _, tc := range tests {
			_, err := e.svc.Create(ctx, tc.req)
			if !fault.Is(err, fault.Invalid) {
				t.Errorf("%s: Create = %v, want Invalid", tc.name, err)
				continue
			}
			if diff := cmp.Diff(tc.want, violations(err)); diff != "" {
				t.Errorf("%s: violations (-want +got):\n%s", tc.name, diff)
			}
		}
		list, _, err := e.svc.List(ctx, account.ListRequest{Kind: "org"})
		if err != nil || len(list) != 0 {
			t.Errorf("after refused creates, List = %d accounts, %v; want none", len(list), err)
		}
	})
}

func TestSensitiveFragmentsAreSealed(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e env) {
		ctx := context.Background()
		a := mustCreate(t, e, account.CreateRequest{Kind: "user", Fragments: map[string]map[string]any{
			"contact": {"phone": "+14155550100"}, "profile": {"display_name": "Visible"},
		}})
		e.store.View(ctx, func(ctx context.Context, r account.Reader) error {
			frs, err := r.Fragments(ctx, []string{a.ID}, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range frs {
				switch {
				case f.Name == "contact" && (!f.Sealed || strings.Contains(string(f.Data), "4155550100")):
					t.Errorf("pii fragment stored in the clear: %q", f.Data)
				case f.Name == "profile" && f.Sealed:
					t.Errorf("internal fragment sealed")
				}
			}
			return nil
		})
		got, err := e.svc.GetFragment(ctx, a.ID, "contact")
		if err != nil || got.Data["phone"] != "+14155550100" || got.Sensitivity != kind.PII {
			t.Errorf("GetFragment(contact) = %+v, %v", got, err)
		}
	})
}

func TestFragmentCompareAndSwap(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e env) {
		ctx := context.Background()
		a := mustCreate(t, e, account.CreateRequest{Kind: "org", Fragments: map[string]map[string]any{"profile": {"name": "Acme"}}})
		v1 := int64(1)
		f, err := e.svc.PatchFragment(ctx, account.FragmentWrite{AccountID: a.ID, Name: "profile", Expected: &v1}, map[string]any{"name": "Acme Corp", "motto": "go"})
		if err != nil || f.Version != 2 || f.Data["name"] != "Acme Corp" || f.Data["motto"] != "go" {
			t.Fatalf("PatchFragment(If-Match 1) = %+v, %v", f, err)
		}
		_, err = e.svc.PatchFragment(ctx, account.FragmentWrite{AccountID: a.ID, Name: "profile", Expected: &v1}, map[string]any{"name": "Stale"})
		if !fault.Is(err, fault.Aborted) || !strings.Contains(err.Error(), "version 2") {
			t.Errorf("PatchFragment(stale If-Match) = %v, want Aborted naming version 2", err)
		}
		f, err = e.svc.PatchFragment(ctx, account.FragmentWrite{AccountID: a.ID, Name: "profile"}, map[string]any{"motto": nil})
		if err != nil || f.Version != 3 || f.Data["motto"] != nil {
			t.Errorf("PatchFragment(remove motto) = %+v, %v", f, err)
		}
		_, err = e.svc.PutFragment(ctx, account.FragmentWrite{AccountID: a.ID, Name: "profile"}, map[string]any{"name": 12})
		if !fault.Is(err, fault.Invalid) {
			t.Errorf("PutFragment(bad data) = %v, want Invalid", err)
		}
		zero := int64(0)
		if _, err := e.svc.PutFragment(ctx, account.FragmentWrite{AccountID: a.ID, Name: "tax_id", Expected: &zero}, map[string]any{"ein": "12-3456789"}); err != nil {
			t.Errorf("PutFragment(new fragment, If-Match 0): %v", err)
		}
		got, _ := e.svc.Get(ctx, a.ID, nil)
		if got.Version != 4 {
			t.Errorf("account version after 3 fragment writes = %d, want 4", got.Version)
		}
	})
}

// TestConcurrentFragmentWriters: writers of different fragments never
// conflict, and writers of one fragment never lose an update.
func TestConcurrentFragmentWriters(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e env) {
		ctx := context.Background()
		a := mustCreate(t, e, account.CreateRequest{Kind: "user"})
		const n = 12
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(2)
			go func() { // each adds its own key to one fragment
				defer wg.Done()
				_, err := e.svc.PatchFragment(ctx, account.FragmentWrite{AccountID: a.ID, Name: "agreements"},
					map[string]any{"accepted": []any{map[string]any{"document": fmt.Sprint("doc", i), "version": "1", "accepted_at": "2026-01-01T00:00:00Z"}}})
				if err != nil {
					t.Errorf("patch agreements: %v", err)
				}
			}()
			go func() { // and another fragment is written concurrently
				defer wg.Done()
				if _, err := e.svc.PatchFragment(ctx, account.FragmentWrite{AccountID: a.ID, Name: "profile"}, map[string]any{"display_name": fmt.Sprint("n", i)}); err != nil {
					t.Errorf("patch profile: %v", err)
				}
			}()
		}
		wg.Wait()
		got, err := e.svc.Get(ctx, a.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got.Fragments["agreements"].Version != n || got.Fragments["profile"].Version != n || got.Version != 2*n+1 {
			t.Errorf("versions after %d writes each: agreements %d, profile %d, account %d", n,
				got.Fragments["agreements"].Version, got.Fragments["profile"].Version, got.Version)
		}
		// Racing compare-and-swaps on one version: exactly one wins.
		var wins atomic.Int32
		cur := int64(n)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.svc.PatchFragment(ctx, account.FragmentWrite{AccountID: a.ID, Name: "profile", Expected: &cur}, map[string]any{"display_name": "x"})
				if err == nil {
					wins.Add(1)
				} else if !fault.Is(err, fault.Aborted) {
					t.Errorf("racing CAS: %v", err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Errorf("racing If-Match writers: %d won, want 1", wins.Load())
		}
	})
}

func TestIdentifierUniqueUnderConcurrency(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e env) {
		const n = 16
		var wins, taken atomic.Int32
		var start, done sync.WaitGroup
		start.Add(1)
		for i := range n {
			done.Add(1)
			go func() {
				defer done.Done()
				start.Wait()
				// Every variant normalizes to the same e-mail address.
				v := []string{"Race@Example.com", "race@EXAMPLE.com", " race@example.com", "RACE@example.COM"}[i%4]
				_, err := e.svc.Create(context.Background(), account.CreateRequest{Kind: "user", Identifiers: []account.IdentifierInput{{Type: "email", Value: v}}})
				switch {
				case err == nil:
					wins.Add(1)
				case fault.Is(err, fault.AlreadyExists):
					taken.Add(1)
				default:
					t.Errorf("Create: %v", err)
				}
			}()
		}
		start.Done()
		done.Wait()
		if wins.Load() != 1 || taken.Load() != n-1 {
			t.Errorf("%d wins and %d AlreadyExists, want 1 and %d", wins.Load(), taken.Load(), n-1)
		}
		a := mustCreate(t, e, account.CreateRequest{Kind: "user"})
		if _, err := e.svc.AddIdentifier(context.Background(), a.ID, account.IdentifierInput{Type: "email", Value: "RACE@example.com"}); !fault.Is(err, fault.AlreadyExists) {
			t.Errorf("AddIdentifier(taken) = %v, want AlreadyExists", err)
		}
		id, err := e.svc.AddIdentifier(context.Background(), a.ID, account.IdentifierInput{Type: "phone", Value: "+1 415 555 0100"})
		if err != nil || id.Value != "+14155550100" {
			t.Errorf("AddIdentifier(phone) = %+v, %v", id, err)
		}
	})
}

func TestTransitions(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e env) {
		ctx := context.Background()
		a := mustCreate(t, e, account.CreateRequest{Kind: "org"})
		got, err := e.svc.Transition(ctx, a.ID, "suspend", "fraud review")
		if err != nil || got.State != "suspended" || got.Version != 2 {
			t.Fatalf("Transition(suspend) = %+v, %v", got, err)
		}
		_, err = e.svc.Transition(ctx, a.ID, "suspend", "")
		if !fault.Is(err, fault.FailedPrecondition) || !strings.Contains(err.Error(), "reinstate") {
			t.Errorf("Transition(suspend) from suspended = %v, want FailedPrecondition listing reinstate", err)
		}
		if _, err := e.svc.Transition(ctx, a.ID, "explode", ""); !fault.Is(err, fault.Invalid) {
			t.Errorf("Transition(unknown) = %v, want Invalid", err)
		}
		if _, err := e.svc.Transition(ctx, a.ID, "reinstate", strings.Repeat("x", account.MaxReason+1)); !fault.Is(err, fault.Invalid) {
			t.Errorf("Transition(huge reason) = %v, want Invalid", err)
		}
		list, _, _ := e.svc.List(ctx, account.ListRequest{Kind: "org", State: "suspended"})
		if len(list) != 1 || list[0].ID != a.ID {
			t.Errorf("List(suspended) = %d accounts, want the one suspended", len(list))
		}
	})
}

func TestErase(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e env) {
		ctx := context.Background()
		a := mustCreate(t, e, account.CreateRequest{Kind: "user",
			Fragments:   map[string]map[string]any{"contact": {"phone": "+14155550100"}},
			Identifiers: []account.IdentifierInput{{Type: "email", Value: "erased@example.com"}}})
		got, err := e.svc.Erase(ctx, a.ID)
		if err != nil || got.State != account.Erased || got.EraseTime.IsZero() {
			t.Fatalf("Erase = %+v, %v", got, err)
		}
		tomb, err := e.svc.Get(ctx, a.ID, nil)
		if err != nil || tomb.State != account.Erased || len(tomb.Fragments) != 0 || len(tomb.Identifiers) != 0 {
			t.Errorf("Get(erased) = %+v, %v; want an empty tombstone", tomb, err)
		}
		e.store.View(ctx, func(ctx context.Context, r account.Reader) error {
			rec, _ := r.Account(ctx, a.ID)
			if rec.DataKey != nil {
				t.Errorf("data key survives erasure")
			}
			return nil
		})
		if again, err := e.svc.Erase(ctx, a.ID); err != nil || again.Version != got.Version {
			t.Errorf("Erase(tombstone) = %+v, %v; want it unchanged", again, err)
		}
		if _, err := e.svc.PatchFragment(ctx, account.FragmentWrite{AccountID: a.ID, Name: "profile"}, map[string]any{}); !fault.Is(err, fault.FailedPrecondition) {
			t.Errorf("PatchFragment(erased) = %v, want FailedPrecondition", err)
		}
		if _, err := e.svc.Transition(ctx, a.ID, "suspend", ""); !fault.Is(err, fault.FailedPrecondition) {
			t.Errorf("Transition(erased) = %v, want FailedPrecondition", err)
		}
		// The identifier is released.
		mustCreate(t, e, account.CreateRequest{Kind: "user", Identifiers: []account.IdentifierInput{{Type: "email", Value: "erased@example.com"}}})
	})
}

// TestListUnderConcurrentInserts pages through accounts while others are
// committed, including accounts whose IDs sort among those already paged
// (as when a create that began earlier commits late): every account that
// existed when paging began is seen exactly once, in order.
func TestListUnderConcurrentInserts(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e env) {
		ctx := context.Background()
		var before, late []string
		for range 25 {
			before = append(before, mustCreate(t, e, account.CreateRequest{Kind: "service", Fragments: map[string]map[string]any{"profile": {"name": "s"}}}).ID)
			late = append(late, ids.New("svc")) // an ID taken now, committed later
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, id := range late {
				select {
				case <-stop:
					return
				default:
				}
				err := e.store.Update(ctx, func(ctx context.Context, tx account.Tx) error {
					now := time.Now()
					return tx.InsertAccount(ctx, account.Record{ID: id, Kind: "service", State: "active", Version: 1, CreateTime: now, UpdateTime: now})
				})
				if err != nil {
					t.Errorf("late insert: %v", err)
					return
				}
			}
		}()
		seen := map[string]int{}
		var order []string
		token := ""
		for {
			page, next, err := e.svc.List(ctx, account.ListRequest{Kind: "service", PageSize: 7, PageToken: token})
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range page {
				seen[a.ID]++
				order = append(order, a.ID)
			}
			if next == "" || len(order) > 200 {
				break
			}
			token = next
			time.Sleep(time.Millisecond) // let the late inserts interleave with the pages
		}
		close(stop)
		wg.Wait()
		for _, id := range before {
			if seen[id] != 1 {
				t.Errorf("account %s seen %d times, want once", id, seen[id])
			}
		}
		for id, n := range seen {
			if n > 1 {
				t.Errorf("account %s seen %d times", id, n)
			}
		}
		for i := 1; i < len(order); i++ {
			if order[i] <= order[i-1] {
				t.Fatalf("page order broken at %d: %s after %s", i, order[i], order[i-1])
			}
		}
		for _, bad := range []account.ListRequest{
			{Kind: "service", PageToken: "garbage"},
			{Kind: "org", PageToken: token},
			{Kind: "service", PageSize: account.MaxPageSize + 1},
			{Kind: "service", State: "nope"},
			{},
		} {
			if _, _, err := e.svc.List(ctx, bad); !fault.Is(err, fault.Invalid) {
				t.Errorf("List(%+v) = %v, want Invalid", bad, err)
			}
		}
	})
}

func TestCheckFreshness(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e env) {
		a := mustCreate(t, e, account.CreateRequest{Kind: "org"})
		if err := e.svc.CheckFreshness(a.Freshness); err != nil {
			t.Errorf("CheckFreshness(own token) = %v", err)
		}
		if err := e.svc.CheckFreshness(""); err != nil {
			t.Errorf("CheckFreshness(none) = %v", err)
		}
		last := "A"
		if strings.HasSuffix(a.Freshness, "A") {
			last = "B"
		}
		forged := a.Freshness[:len(a.Freshness)-1] + last
		for _, tok := range []string{"x", forged, strings.Repeat("A", 600)} {
			if err := e.svc.CheckFreshness(tok); !fault.Is(err, fault.Invalid) {
				t.Errorf("CheckFreshness(%.20q) = %v, want Invalid", tok, err)
			}
		}
	})
}
