package account_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/readcache"
	"github.com/atriumid/atrium/internal/testenv"
)

// countingEncoding encodes accounts as JSON and counts how often it runs.
type countingEncoding struct{ calls atomic.Int64 }

func (c *countingEncoding) encoding() account.Encoding {
	return account.Encoding{Name: "test-json", Encode: func(a *account.Account) ([]byte, error) {
		c.calls.Add(1)
		return json.Marshal(a)
	}}
}

// TestEncodedReads checks the cache of encoded reads: a version encoded
// once is served again without encoding, while a write, another view of
// the fragments or a new kinds document each get an encoding of their
// own, and accounts whose fragments are sealed at rest are never kept.
func TestEncodedReads(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e env) {
		ctx := context.Background()
		svc, kinds, set := e.svc, e.kinds, e.set
		var enc countingEncoding
		get := func(id string, fragments ...string) account.Encoded {
			t.Helper()
			got, err := svc.GetEncoded(ctx, id, fragments, "", enc.encoding())
			if err != nil {
				t.Fatalf("GetEncoded(%s, %v): %v", id, fragments, err)
			}
			return got
		}
		expectCalls := func(want int64) {
			t.Helper()
			if got := enc.calls.Swap(0); got != want {
				t.Errorf("encoded %d times, want %d", got, want)
			}
		}

		plain, err := svc.Create(ctx, account.CreateRequest{Kind: "user", Fragments: map[string]map[string]any{"profile": {"display_name": "Ada"}},
			Identifiers: []account.IdentifierInput{{Type: "username", Value: "ada"}}})
		if err != nil {
			t.Fatal(err)
		}
		first := get(plain.ID)
		if again := get(plain.ID); string(again.Body) != string(first.Body) || again.Version != plain.Version {
			t.Errorf("second read = %s at %d, want %s at %d", again.Body, again.Version, first.Body, plain.Version)
		}
		expectCalls(1)
		if !strings.Contains(string(first.Body), "Ada") {
			t.Errorf("encoding %s lacks the profile", first.Body)
		}

		// Another view of the fragments is encoded apart.
		get(plain.ID, "profile")
		get(plain.ID, "profile")
		expectCalls(1)

		// ResolveEncoded shares the entries of the same version.
		byName, err := svc.ResolveEncoded(ctx, "username", "ADA", "", enc.encoding())
		if err != nil || string(byName.Body) != string(first.Body) {
			t.Errorf("ResolveEncoded = %s, %v; want %s", byName.Body, err, first.Body)
		}
		expectCalls(0)
		if _, err := svc.ResolveEncoded(ctx, "username", "nobody", "", enc.encoding()); !fault.Is(err, fault.NotFound) {
			t.Errorf("ResolveEncoded(unknown) = %v, want NotFound", err)
		}

		// A write moves the version: the next read is encoded anew.
		f, err := svc.PutFragment(ctx, account.FragmentWrite{AccountID: plain.ID, Name: "profile"}, map[string]any{"display_name": "Grace"})
		if err != nil {
			t.Fatal(err)
		}
		after := get(plain.ID)
		if !strings.Contains(string(after.Body), "Grace") || after.Version <= first.Version {
			t.Errorf("read after a write = %s at %d (write token %q)", after.Body, after.Version, f.Freshness)
		}
		expectCalls(1)

		// A new kinds document may change what an encoding holds.
		kinds.Swap(set, 2)
		get(plain.ID)
		get(plain.ID)
		expectCalls(1)

		// What is sealed at rest is never kept in the clear.
		sealed, err := svc.Create(ctx, account.CreateRequest{Kind: "user", Fragments: map[string]map[string]any{
			"profile": {"display_name": "Lin"}, "contact": {"phone": "+14155550100"}}})
		if err != nil {
			t.Fatal(err)
		}
		if body := get(sealed.ID).Body; !strings.Contains(string(body), "4155550100") {
			t.Errorf("encoding %s lacks the contact fragment", body)
		}
		get(sealed.ID)
		expectCalls(2)
		get(sealed.ID, "profile")
		get(sealed.ID, "profile")
		expectCalls(1)

		if _, err := svc.GetEncoded(ctx, "user_nope", nil, "", enc.encoding()); err == nil {
			t.Error("GetEncoded of a malformed ID succeeded")
		}
		if _, err := svc.GetEncoded(ctx, plain.ID, nil, "forged", enc.encoding()); !fault.Is(err, fault.Invalid) {
			t.Errorf("GetEncoded with a forged token = %v, want Invalid", err)
		}
		expectCalls(0)
	}, withReadCache(time.Minute))
}

// withReadCache gives a service a read cache, in memory, whose entries
// are served for at most staleness, and a cache of encoded reads.
func withReadCache(staleness time.Duration) func(*account.Config) {
	return func(c *account.Config) {
		cache, err := readcache.New(readcache.Options{MaxBytes: 1 << 20, MaxStaleness: staleness})
		if err != nil {
			panic(err)
		}
		c.Cache, c.EncodedBytes = cache, 1<<20
	}
}

// TestEncodedReadsFollowUncountedWrites changes an identifier's
// verification time, a write that does not move the account's version:
// the encoded answer catches up within the read cache's staleness bound,
// when the snapshot is read again, as the account itself does.
func TestEncodedReadsFollowUncountedWrites(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e env) {
		ctx := context.Background()
		var enc countingEncoding
		a, err := e.svc.Create(ctx, account.CreateRequest{Kind: "user", Fragments: map[string]map[string]any{"profile": {"display_name": "Ada"}},
			Identifiers: []account.IdentifierInput{{Type: "username", Value: "ada"}}})
		if err != nil {
			t.Fatal(err)
		}
		before, err := e.svc.GetEncoded(ctx, a.ID, nil, "", enc.encoding())
		if err != nil {
			t.Fatal(err)
		}
		verified := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		if _, err := testenv.RawDB(t, e.url).Exec(`UPDATE identifiers SET verify_time = $1 WHERE account_id = $2`, verified.UnixMicro(), a.ID); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			got, err := e.svc.GetEncoded(ctx, a.ID, nil, "", enc.encoding())
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(got.Body), "2030-01-02T03:04:05Z") {
				if got.Version != before.Version {
					t.Errorf("version moved from %d to %d; the write was to stay uncounted", before.Version, got.Version)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("after 10 s the encoded answer still holds the old verification time: %s", got.Body)
			}
		}
	}, withReadCache(100*time.Millisecond))
}
