package readcache_test

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
	"github.com/atriumid/atrium/internal/readcache"
	"github.com/atriumid/atrium/internal/testenv"
	"github.com/redis/go-redis/v9"
)

// clock is a settable clock for staleness tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newCache(t *testing.T, o readcache.Options) *readcache.Cache {
	t.Helper()
	if o.MaxBytes == 0 {
		o.MaxBytes = 1 << 20
	}
	if o.MaxStaleness == 0 {
		o.MaxStaleness = 2 * time.Second
	}
	c, err := readcache.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// source is a database stand-in: an account whose version the test moves,
// counting the loads.
type source struct {
	version atomic.Int64
	loads   atomic.Int64
	now     func() time.Time
}

// newSource returns a source whose account is at version 1.
func newSource() *source {
	s := &source{now: time.Now}
	s.version.Store(1)
	return s
}

func (s *source) load(id string) func(context.Context) (account.Snapshot, error) {
	return func(context.Context) (account.Snapshot, error) {
		s.loads.Add(1)
		return account.Snapshot{Account: account.Record{ID: id, Version: s.version.Load()}, AsOf: s.now()}, nil
	}
}

func TestEntryNeverServedPastStalenessBound(t *testing.T) {
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	c := newCache(t, readcache.Options{Now: clk.Now, MaxStaleness: 2 * time.Second})
	src := &source{now: clk.Now}
	src.version.Store(1)
	ctx := context.Background()
	get := func() int64 {
		snap, err := c.Account(ctx, "usr_1", src.load("usr_1"))
		if err != nil {
			t.Fatal(err)
		}
		return snap.Account.Version
	}
	get()
	src.version.Store(2) // a write whose invalidation is lost
	clk.Add(1999 * time.Millisecond)
	if v := get(); v != 1 || src.loads.Load() != 1 {
		t.Fatalf("within the bound: version %d after %d loads, want the cached 1 after 1", v, src.loads.Load())
	}
	clk.Add(time.Millisecond)
	if v := get(); v != 2 {
		t.Fatalf("at the bound: served version %d, want 2 from the source", v)
	}
}

func TestWrittenRefusesOlderEntriesEvenFromSlowLoads(t *testing.T) {
	c := newCache(t, readcache.Options{})
	ctx := context.Background()
	src := newSource()
	c.Account(ctx, "usr_1", src.load("usr_1"))
	c.Written(ctx, "usr_1", 2)
	// A load that read version 1 before the write committed returns after
	// the invalidation: it must not be served again.
	snap, _ := c.Account(ctx, "usr_1", src.load("usr_1"))
	if snap.Account.Version != 1 || src.loads.Load() != 2 {
		t.Fatalf("got version %d after %d loads", snap.Account.Version, src.loads.Load())
	}
	src.version.Store(2)
	snap, _ = c.Account(ctx, "usr_1", src.load("usr_1"))
	if snap.Account.Version != 2 || src.loads.Load() != 3 {
		t.Fatalf("the stale version-1 entry was kept: got version %d after %d loads", snap.Account.Version, src.loads.Load())
	}
	c.Account(ctx, "usr_1", src.load("usr_1"))
	if src.loads.Load() != 3 {
		t.Fatalf("version 2 was not cached: %d loads", src.loads.Load())
	}
}

func TestConcurrentMissesShareOneLoad(t *testing.T) {
	c := newCache(t, readcache.Options{})
	release := make(chan struct{})
	var loads atomic.Int64
	load := func(context.Context) (account.Snapshot, error) {
		loads.Add(1)
		<-release
		return account.Snapshot{Account: account.Record{ID: "usr_1", Version: 1}, AsOf: time.Now()}, nil
	}
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			if _, err := c.Account(context.Background(), "usr_1", load); err != nil {
				t.Error(err)
			}
		})
	}
	close(release)
	wg.Wait()
	if n := loads.Load(); n != 1 {
		t.Fatalf("64 readers of one cold key caused %d loads, want 1", n)
	}
}

func TestLoadErrorsAreNotCached(t *testing.T) {
	c := newCache(t, readcache.Options{})
	boom := errors.New("database down")
	var loads int
	load := func(context.Context) (account.Snapshot, error) { loads++; return account.Snapshot{}, boom }
	for range 2 {
		if _, err := c.Account(context.Background(), "usr_1", load); !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
	}
	if loads != 2 {
		t.Fatalf("%d loads, want 2", loads)
	}
}

func TestUnknownIdentifiersCachedUntilAdded(t *testing.T) {
	c := newCache(t, readcache.Options{})
	ctx := context.Background()
	var loads int
	holder := ""
	load := func(context.Context) (string, time.Time, error) { loads++; return holder, time.Now(), nil }
	for range 3 {
		if id, _ := c.Holder(ctx, "email", "a@example.com", load); id != "" {
			t.Fatalf("holder %q", id)
		}
	}
	if loads != 1 {
		t.Fatalf("an unknown identifier was loaded %d times, want 1 (negative caching)", loads)
	}
	holder = "usr_1"
	c.IdentifierAdded(ctx, "email", "a@example.com")
	if id, _ := c.Holder(ctx, "email", "a@example.com", load); id != "usr_1" {
		t.Fatalf("after IdentifierAdded: holder %q, want usr_1", id)
	}
	// Another replica's event names no value: every "none" goes, holders
	// stay.
	c.Holder(ctx, "email", "b@example.com", func(context.Context) (string, time.Time, error) { return "", time.Now(), nil })
	c.Forget("usr_1", 2, true)
	var reloaded []string
	c.Holder(ctx, "email", "a@example.com", func(context.Context) (string, time.Time, error) {
		reloaded = append(reloaded, "a")
		return "usr_1", time.Now(), nil
	})
	c.Holder(ctx, "email", "b@example.com", func(context.Context) (string, time.Time, error) {
		reloaded = append(reloaded, "b")
		return "usr_2", time.Now(), nil
	})
	if fmt.Sprint(reloaded) != "[b]" {
		t.Fatalf("after an identifier event, reloaded %v, want [b]", reloaded)
	}
}

func TestMemoryStaysWithinBudget(t *testing.T) {
	c := newCache(t, readcache.Options{MaxBytes: 1 << 20})
	ctx := context.Background()
	frag := make([]byte, 4096)
	for i := range 2000 { // about 8 MiB offered to a 1 MiB budget
		id := fmt.Sprintf("usr_%d", i)
		c.Account(ctx, id, func(context.Context) (account.Snapshot, error) {
			return account.Snapshot{Account: account.Record{ID: id, Version: 1}, AsOf: time.Now(),
				Fragments: []account.FragmentRecord{{AccountID: id, Name: "profile", Version: 1, Data: frag}}}, nil
		})
	}
	if got, budget := c.Stats().Bytes, int64(1<<20); got > budget {
		t.Fatalf("accounts hold %d bytes, over their budget of %d", got, budget)
	}
}

func sharedPair(t *testing.T) (*readcache.Cache, *readcache.Cache, *redis.Client, string) {
	url, prefix := testenv.RedisURL(t)
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
		rdb.Close()
	})
	secret := []byte("0123456789abcdef0123456789abcdef")
	a := newCache(t, readcache.Options{Redis: rdb, RedisPrefix: prefix, Secret: secret})
	b := newCache(t, readcache.Options{Redis: rdb, RedisPrefix: prefix, Secret: secret})
	return a, b, rdb, prefix
}

func TestSharedLevelServesOtherReplicas(t *testing.T) {
	a, b, rdb, prefix := sharedPair(t)
	ctx := context.Background()
	src := newSource()
	a.Account(ctx, "usr_1", src.load("usr_1"))
	snap, err := b.Account(ctx, "usr_1", src.load("usr_1"))
	if err != nil || snap.Account.Version != 1 || src.loads.Load() != 1 || b.Stats().Shared != 1 {
		t.Fatalf("b: %v %v, %d loads, stats %+v; want version 1 from Redis", snap.Account, err, src.loads.Load(), b.Stats())
	}
	// A write on a drops the shared entry: b, missing in memory after its
	// event, loads from the source.
	src.version.Store(2)
	a.Written(ctx, "usr_1", 2)
	if n, err := rdb.Exists(ctx, prefix+"a:usr_1").Result(); n != 0 || err != nil {
		t.Errorf("the shared entry after a write on a: %d keys, %v; want it deleted", n, err)
	}
	b.Forget("usr_1", 2, false)
	snap, _ = b.Account(ctx, "usr_1", src.load("usr_1"))
	if snap.Account.Version != 2 {
		t.Fatalf("b after the write: version %d, want 2", snap.Account.Version)
	}
}

// An unknown identifier is remembered in memory only: another replica
// cannot tell a shared "none" from one made before the identifier was
// added.
func TestAbsenceIsNotShared(t *testing.T) {
	a, b, _, _ := sharedPair(t)
	ctx := context.Background()
	none := func(context.Context) (string, time.Time, error) { return "", time.Now(), nil }
	a.Holder(ctx, "email", "a@example.com", none)
	loaded := false
	id, err := b.Holder(ctx, "email", "a@example.com", func(context.Context) (string, time.Time, error) {
		loaded = true
		return "usr_1", time.Now(), nil
	})
	if err != nil || id != "usr_1" || !loaded {
		t.Fatalf("b's lookup after a's miss = %q, %v, loaded %v; want usr_1 from its own load", id, err, loaded)
	}
}

func TestSharedEntriesAreSealed(t *testing.T) {
	a, b, rdb, prefix := sharedPair(t)
	ctx := context.Background()
	src := newSource()
	a.Account(ctx, "usr_1", src.load("usr_1"))
	key := prefix + "a:usr_1"
	raw, err := rdb.Get(ctx, key).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(`"usr_1"`)) {
		t.Fatalf("the shared entry holds the snapshot in the clear: %q", raw)
	}
	raw[len(raw)-40] ^= 1 // a forged byte of the payload
	rdb.Set(ctx, key, raw, time.Minute)
	if _, err := b.Account(ctx, "usr_1", src.load("usr_1")); err != nil {
		t.Fatal(err)
	}
	if src.loads.Load() != 2 || b.Stats().RemoteErrors != 1 {
		t.Fatalf("a tampered shared entry was served: %d loads, stats %+v", src.loads.Load(), b.Stats())
	}
	// An entry copied under another key fails too.
	good, _ := rdb.Get(ctx, key).Bytes()
	rdb.Set(ctx, prefix+"a:usr_2", good, time.Minute)
	snap, _ := b.Account(ctx, "usr_2", src.load("usr_2"))
	if snap.Account.ID != "usr_2" {
		t.Fatalf("an entry replayed under another key was served: %+v", snap.Account)
	}
}
