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

var sharedSecret = []byte("0123456789abcdef0123456789abcdef")

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
	a := newCache(t, readcache.Options{Redis: rdb, RedisPrefix: prefix, Secret: sharedSecret})
	b := newCache(t, readcache.Options{Redis: rdb, RedisPrefix: prefix, Secret: sharedSecret})
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
	// A write on a replaces the shared entry with its tombstone: b,
	// missing in memory after its event, loads from the source.
	src.version.Store(2)
	a.Written(ctx, "usr_1", 2)
	if raw, err := rdb.Get(ctx, prefix+"a:usr_1").Result(); raw != "0000000000000000002d" || err != nil {
		t.Errorf("the shared value after a write on a = %q, %v; want the tombstone of version 2", raw, err)
	}
	b.Forget("usr_1", 2, false)
	snap, _ = b.Account(ctx, "usr_1", src.load("usr_1"))
	if snap.Account.Version != 2 || b.Stats().Tombstones != 1 {
		t.Fatalf("b after the write: version %d, stats %+v; want 2 loaded past the tombstone", snap.Account.Version, b.Stats())
	}
	// The load of version 2 replaced the tombstone: a third replica reads
	// it from Redis.
	c := newCache(t, readcache.Options{Redis: rdb, RedisPrefix: prefix, Secret: sharedSecret})
	snap, _ = c.Account(ctx, "usr_1", src.load("usr_1"))
	if snap.Account.Version != 2 || c.Stats().Shared != 1 {
		t.Fatalf("a third replica: version %d, stats %+v; want 2 from Redis", snap.Account.Version, c.Stats())
	}
}

// blockingLoad returns a load that reads the source's version at once,
// then reports it on read and returns it only when release is closed: a
// load that read the database before a write and stores its entry after.
func blockingLoad(src *source, id string, read chan<- int64, release <-chan struct{}) func(context.Context) (account.Snapshot, error) {
	return func(ctx context.Context) (account.Snapshot, error) {
		snap, err := src.load(id)(ctx)
		read <- snap.Account.Version
		<-release
		return snap, err
	}
}

// A load that read version 1 before a write cannot store its entry in
// Redis after the write's invalidation, so that a replica that knows of no
// invalidation (one that restarted) never reads it there.
func TestSlowLoadCannotRefillSharedEntryAfterWrite(t *testing.T) {
	for _, tc := range []struct {
		writer  string
		refused int64 // fills the script refused: none when the loader's floor stops it first
	}{{"the loading replica", 0}, {"another replica", 1}} {
		t.Run(tc.writer, func(t *testing.T) {
			a, b, rdb, prefix := sharedPair(t)
			ctx := context.Background()
			src := newSource()
			read, release := make(chan int64), make(chan struct{})
			done := make(chan account.Snapshot)
			go func() {
				snap, err := a.Account(ctx, "usr_1", blockingLoad(src, "usr_1", read, release))
				if err != nil {
					t.Error(err)
				}
				done <- snap
			}()
			if v := <-read; v != 1 {
				t.Fatalf("the slow load read version %d, want 1", v)
			}
			src.version.Store(2) // the write commits while the load is in flight
			w := a
			if tc.refused > 0 {
				w = b
			}
			w.Written(ctx, "usr_1", 2)
			close(release)
			<-done
			if got := a.Stats().RefusedFills; got != tc.refused {
				t.Fatalf("refused fills on the loading replica = %d, want %d", got, tc.refused)
			}
			raw, err := rdb.Get(ctx, prefix+"a:usr_1").Result()
			if raw != "0000000000000000002d" || err != nil {
				t.Fatalf("Redis after the slow load = %q, %v; want the write's tombstone", raw, err)
			}
			fresh := newCache(t, readcache.Options{Redis: rdb, RedisPrefix: prefix, Secret: sharedSecret})
			snap, err := fresh.Account(ctx, "usr_1", src.load("usr_1"))
			if err != nil || snap.Account.Version != 2 {
				t.Fatalf("a restarted replica read version %d, %v; want 2", snap.Account.Version, err)
			}
			if s := fresh.Stats(); s.Shared != 0 || s.Misses != 1 || s.Tombstones != 1 {
				t.Fatalf("a restarted replica's stats %+v; want one miss past a tombstone", s)
			}
		})
	}
}

// A replica that reads a tombstone keeps nothing older than its version,
// even from a load that returns an older version (a lagging database
// replica): the next read loads again.
func TestTombstoneRaisesTheFloorOfAFreshReplica(t *testing.T) {
	a, b, _, _ := sharedPair(t)
	ctx := context.Background()
	a.Written(ctx, "usr_1", 3)
	src := newSource() // version 1: older than the tombstone
	for range 2 {
		if snap, _ := b.Account(ctx, "usr_1", src.load("usr_1")); snap.Account.Version != 1 {
			t.Fatalf("version %d, want what the database answered (1)", snap.Account.Version)
		}
	}
	if n := src.loads.Load(); n != 2 {
		t.Fatalf("%d loads, want 2: an entry older than the tombstone was kept", n)
	}
	if s := b.Stats(); s.Hits != 0 || s.RefusedFills != 0 {
		t.Fatalf("stats %+v: an entry older than the tombstone was served or offered to Redis", s)
	}
}

// The fill script orders Redis values by version, then a tombstone before
// the entry of its own version.
func TestSharedFillOrder(t *testing.T) {
	a, b, rdb, prefix := sharedPair(t)
	ctx := context.Background()
	put := func(c *readcache.Cache, v int64) {
		c.PutAccount(ctx, account.Snapshot{Account: account.Record{ID: "usr_1", Version: v}, AsOf: time.Now()})
	}
	version := func() string {
		raw, err := rdb.Get(ctx, prefix+"a:usr_1").Bytes()
		if err != nil || len(raw) < 20 {
			t.Fatalf("Redis value %q, %v", raw, err)
		}
		return string(raw[:20])
	}
	steps := []struct {
		do   func()
		want string
	}{
		{func() { put(a, 5) }, "0000000000000000005e"},
		{func() { put(b, 4) }, "0000000000000000005e"},                  // older entry refused
		{func() { b.Written(ctx, "usr_1", 5) }, "0000000000000000005e"}, // a tombstone of its own version refused
		{func() { b.Written(ctx, "usr_1", 6) }, "0000000000000000006d"},
		{func() { b.Written(ctx, "usr_1", 6) }, "0000000000000000006d"},
		{func() { put(a, 5) }, "0000000000000000006d"}, // older than the tombstone
		{func() { put(a, 6) }, "0000000000000000006e"}, // the write's own version
		{func() { put(b, 10_000_000_001) }, "0000000010000000001e"},
		{func() { put(a, 9_999_999_999) }, "0000000010000000001e"},
	}
	for i, s := range steps {
		s.do()
		if got := version(); got != s.want {
			t.Fatalf("step %d: Redis prefix %q, want %q", i, got, s.want)
		}
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

// Immutable entries are shared through Redis, sealed and named by keyed
// hashes, and one that does not open is a miss.
func TestImmutableEntriesShared(t *testing.T) {
	a, b, rdb, prefix := sharedPair(t)
	ctx := context.Background()
	a.Immutable("checks").Put(ctx, []string{"user:ada member org:acme"}, [][]byte{[]byte("1")})
	onB := b.Immutable("checks")
	keys := []string{"user:ada member org:acme", "user:bob member org:acme"}
	got := onB.Get(ctx, keys)
	if string(got[0]) != "1" || got[1] != nil {
		t.Fatalf("Get on b = %q, want [1 nil]", got)
	}
	if s := onB.Stats(); s.Shared != 1 || s.Misses != 1 || s.Hits != 0 {
		t.Fatalf("stats on b %+v, want one read from Redis and one miss", s)
	}
	if onB.Get(ctx, keys[:1]); onB.Stats().Hits != 1 {
		t.Fatalf("the entry read from Redis was not kept in memory: %+v", onB.Stats())
	}
	if got := b.Immutable("other").Get(ctx, keys[:1]); got[0] != nil {
		t.Fatalf("another namespace read %q", got[0])
	}
	rks, err := rdb.Keys(ctx, prefix+"f:*").Result()
	if err != nil || len(rks) != 1 {
		t.Fatalf("Redis keys %v, %v; want one", rks, err)
	}
	raw, _ := rdb.Get(ctx, rks[0]).Bytes()
	if bytes.Contains([]byte(rks[0]), []byte("ada")) || string(raw) == "1" {
		t.Fatalf("the key or value is in the clear: %q = %q", rks[0], raw)
	}
	raw[len(raw)-1] ^= 1
	rdb.Set(ctx, rks[0], raw, time.Minute)
	c := newCache(t, readcache.Options{Redis: rdb, RedisPrefix: prefix, Secret: sharedSecret})
	if got := c.Immutable("checks").Get(ctx, keys[:1]); got[0] != nil || c.Stats().RemoteErrors != 1 {
		t.Fatalf("a tampered entry read as %q, stats %+v", got[0], c.Stats())
	}
}
