package readcache

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"
)

const (
	// loadTimeout bounds one coalesced load: it runs for every caller
	// waiting on it, so no single caller's cancellation may end it.
	loadTimeout = 10 * time.Second
	// remoteTimeout bounds one call to the shared layer; a slow or failed
	// call is a miss, never an error of the read.
	remoteTimeout = 100 * time.Millisecond
	maxFloors     = 1 << 16
)

// A Redis value starts with a clear prefix that the fill script compares:
// the source's version in versionDigits decimal digits, then a kind byte.
// An entry's prefix is followed by a nonce and, sealed with the prefix as
// additional data, its as-of time and encoded value; a tombstone is the
// prefix alone. Since markTombstone < markEntry, prefixes order by
// version, then a tombstone before the entry of its own version.
const (
	versionDigits = 19 // every non-negative int64
	prefixLen     = versionDigits + 1
	markTombstone = 'd'
	markEntry     = 'e'
)

// fill stores ARGV[1] under KEYS[1] for ARGV[2] milliseconds unless the
// value there has a greater or equal prefix: an entry is never replaced
// by an older one nor by a tombstone of its own version, and a tombstone
// of version v refuses every entry older than v. The version is compared
// in two parts, each exact as a Lua number, and never as a string, whose
// order follows the server's locale.
var fill = redis.NewScript(`
local function rank(s)
  return tonumber(string.sub(s, 1, 10)), tonumber(string.sub(s, 11, 19)), string.byte(s, 20)
end
local cur = redis.call('GET', KEYS[1])
if cur then
  local a1, a2, a3 = rank(cur)
  local b1, b2, b3 = rank(ARGV[1])
  if a1 and a2 and a3 and (a1 > b1 or a1 == b1 and (a2 > b2 or a2 == b2 and a3 >= b3)) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)

// remotePrefix returns the clear prefix of a Redis value of version.
func remotePrefix(version int64, mark byte) []byte {
	return fmt.Appendf(nil, "%0*d%c", versionDigits, max(version, 0), mark)
}

// entry is one cached value with what decides whether it may still be
// served.
type entry[V any] struct {
	val     V
	version int64     // the source's version; invalidations name one
	asOf    time.Time // the source held every commit before this instant
	gen     uint64    // the layer's generation when the load began; matters for version 0 only
}

// layer is one namespace of the cache: values of one type, in memory and
// optionally in Redis.
type layer[V any] struct {
	name   string
	c      *Cache
	mem    *otter.Cache[string, entry[V]]
	floors *otter.Cache[string, int64] // key → lowest version servable, for MaxStaleness after an invalidation
	gen    atomic.Uint64               // bumped by forgetAbsent
	group  singleflight.Group
	enc    func(V) []byte
	dec    func([]byte) (V, error)
}

func newLayer[V any](c *Cache, name string, budget int64, weigh func(V) int, enc func(V) []byte, dec func([]byte) (V, error)) *layer[V] {
	stale := c.opts.MaxStaleness
	l := &layer[V]{name: name, c: c, enc: enc, dec: dec}
	l.mem = otter.Must(&otter.Options[string, entry[V]]{
		MaximumWeight: uint64(max(budget, 1)),
		Weigher: func(k string, e entry[V]) uint32 {
			return uint32(min(len(k)+weigh(e.val)+64, 1<<31))
		},
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, entry[V]]) time.Duration {
			return max(e.Value.asOf.Add(stale).Sub(c.now()), time.Millisecond)
		}),
	})
	l.floors = otter.Must(&otter.Options[string, int64]{
		MaximumSize:      maxFloors,
		ExpiryCalculator: otter.ExpiryWriting[string, int64](stale),
	})
	return l
}

// usable reports whether e may be served for key now: young enough, not
// older than the last invalidation of key, and, for a version-0 entry (a
// cached absence), not from before a forgetAbsent.
func (l *layer[V]) usable(key string, e entry[V], now time.Time) bool {
	if now.Sub(e.asOf) >= l.c.opts.MaxStaleness || e.version == 0 && e.gen != l.gen.Load() {
		return false
	}
	floor, ok := l.floors.GetIfPresent(key)
	return !ok || e.version >= floor
}

// get returns the value of key from memory, else from Redis, else from
// load; concurrent misses of one key share one load.
func (l *layer[V]) get(ctx context.Context, key string, load func(context.Context) (entry[V], error)) (entry[V], error) {
	if e, ok := l.mem.GetIfPresent(key); ok && l.usable(key, e, l.c.now()) {
		l.c.hits.Add(1)
		return e, nil
	}
	ch := l.group.DoChan(key, func() (any, error) {
		gen := l.gen.Load()
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
		defer cancel()
		if e, ok := l.remoteGet(lctx, key); ok {
			if e.gen = gen; l.usable(key, e, l.c.now()) {
				l.keep(key, e)
				l.c.shared.Add(1)
				return e, nil
			}
		}
		l.c.misses.Add(1)
		e, err := load(lctx)
		if err != nil {
			return e, err
		}
		e.gen = gen
		if l.keep(key, e) {
			l.remoteSet(lctx, key, e)
		}
		return e, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return entry[V]{}, r.Err
		}
		return r.Val.(entry[V]), nil
	case <-ctx.Done():
		return entry[V]{}, ctx.Err()
	}
}

// keep stores e in memory unless an invalidation or a forgetAbsent since its
// load makes it stale already, and reports whether it did.
func (l *layer[V]) keep(key string, e entry[V]) bool {
	if !l.usable(key, e, l.c.now()) {
		return false
	}
	if cur, ok := l.mem.GetIfPresent(key); ok && cur.version > e.version && l.usable(key, cur, l.c.now()) {
		return false // never replace a newer entry with an older one
	}
	l.mem.Set(key, e)
	return true
}

// put stores a value read from the primary, in memory and in Redis.
func (l *layer[V]) put(ctx context.Context, key string, e entry[V]) {
	e.gen = l.gen.Load()
	if l.keep(key, e) {
		l.remoteSet(ctx, key, e)
	}
}

// forget drops the entries of key below version from memory and refuses
// them for MaxStaleness; with remote set it also leaves in Redis a
// tombstone of version, which refuses older entries there for as long,
// whichever replica (or a load begun before the write) tries to store
// them.
func (l *layer[V]) forget(ctx context.Context, key string, version int64, remote bool) {
	l.raiseFloor(key, version)
	if e, ok := l.mem.GetIfPresent(key); ok && e.version < version {
		l.mem.Invalidate(key)
	}
	if remote {
		l.remoteFill(ctx, key, remotePrefix(version, markTombstone), l.tombstoneTTL())
	}
}

// raiseFloor refuses entries of key below version for MaxStaleness.
func (l *layer[V]) raiseFloor(key string, version int64) {
	l.floors.Compute(key, func(old int64, found bool) (int64, otter.ComputeOp) {
		if found && old >= version {
			return old, otter.CancelOp
		}
		return version, otter.WriteOp
	})
}

// tombstoneTTL is how long a tombstone stays in Redis: twice the
// staleness bound. Any entry it must refuse was loaded before the write
// committed, so expires within the bound of the write anyway; the margin
// absorbs the skew between the replicas' clocks, which set entries' TTLs.
func (l *layer[V]) tombstoneTTL() time.Duration { return 2 * l.c.opts.MaxStaleness }

// forgetAbsent makes every version-0 entry in memory unservable; they
// leave as they expire or are evicted.
func (l *layer[V]) forgetAbsent() {
	l.gen.Add(1)
}

func (l *layer[V]) remoteKey(key string) string { return l.c.opts.RedisPrefix + l.name + ":" + key }

// remoteGet reads key from Redis. A tombstone is a miss that raises the
// key's floor to its version, so that nothing older is kept or served
// here. An entry that does not open is ignored: Redis is shared
// infrastructure, trusted neither with the data (entries are encrypted)
// nor with its integrity (and authenticated, bound to their key and
// version).
func (l *layer[V]) remoteGet(ctx context.Context, key string) (entry[V], bool) {
	if l.c.redis == nil {
		return entry[V]{}, false
	}
	rctx, cancel := context.WithTimeout(ctx, remoteTimeout)
	defer cancel()
	rk := l.remoteKey(key)
	b, err := l.c.redis.Get(rctx, rk).Bytes()
	if err != nil {
		if !errors.Is(err, redis.Nil) {
			l.c.remoteErrors.Add(1)
		}
		return entry[V]{}, false
	}
	version, mark, ok := parsePrefix(b)
	if ok && mark == markTombstone && len(b) == prefixLen {
		l.c.tombstones.Add(1)
		l.raiseFloor(key, version)
		return entry[V]{}, false
	}
	ns := l.c.aead.NonceSize()
	if !ok || mark != markEntry || len(b) < prefixLen+ns {
		l.c.remoteErrors.Add(1)
		return entry[V]{}, false
	}
	body, err := l.c.aead.Open(nil, b[prefixLen:prefixLen+ns], b[prefixLen+ns:], append([]byte(rk), b[:prefixLen]...))
	if err != nil || len(body) < 8 {
		l.c.remoteErrors.Add(1)
		return entry[V]{}, false
	}
	v, err := l.dec(body[8:])
	if err != nil {
		l.c.remoteErrors.Add(1)
		return entry[V]{}, false
	}
	return entry[V]{val: v, version: version, asOf: time.UnixMicro(int64(binary.BigEndian.Uint64(body))).UTC()}, true
}

// parsePrefix returns the version and kind byte of a Redis value.
func parsePrefix(b []byte) (int64, byte, bool) {
	if len(b) < prefixLen {
		return 0, 0, false
	}
	v, err := strconv.ParseInt(string(b[:versionDigits]), 10, 64)
	return v, b[versionDigits], err == nil && v >= 0
}

// remoteSet writes e to Redis, encrypted, for what is left of its
// staleness bound, unless Redis holds an entry as new or a tombstone
// newer. A cached absence (version 0) stays in memory: other replicas
// could not tell it from one made before the identifier was added, which
// only this replica's forgetAbsent generation records.
func (l *layer[V]) remoteSet(ctx context.Context, key string, e entry[V]) {
	if l.c.redis == nil || e.version == 0 {
		return
	}
	ttl := e.asOf.Add(l.c.opts.MaxStaleness).Sub(l.c.now())
	if ttl < time.Millisecond {
		return
	}
	body := binary.BigEndian.AppendUint64(nil, uint64(e.asOf.UnixMicro()))
	body = append(body, l.enc(e.val)...)
	prefix := remotePrefix(e.version, markEntry)
	nonce := make([]byte, l.c.aead.NonceSize())
	rand.Read(nonce)
	sealed := l.c.aead.Seal(append(prefix, nonce...), nonce, body, append([]byte(l.remoteKey(key)), prefix...))
	l.remoteFill(ctx, key, sealed, ttl)
}

// remoteFill runs the fill script: it stores value under key for ttl
// unless Redis holds a value that the fill may not replace.
func (l *layer[V]) remoteFill(ctx context.Context, key string, value []byte, ttl time.Duration) {
	if l.c.redis == nil {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), remoteTimeout)
	defer cancel()
	stored, err := fill.Run(rctx, l.c.redis, []string{l.remoteKey(key)}, value, ttl.Milliseconds()).Int()
	switch {
	case err != nil:
		l.c.remoteErrors.Add(1)
	case stored == 0:
		l.c.refusedFills.Add(1)
	}
}
