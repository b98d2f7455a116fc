// Package readcache keeps what reads return between requests, in
// two levels: memory (otter, bounded by a byte budget) and, optionally, a
// Redis shared by every replica. It implements account.ReadCache.
//
// What is cached: per account, its stored record (state, versions, the
// data key as wrapped by the key-encryption keys), its fragments in stored
// form (sealed with the account's data key when pii or secret) and its
// identifiers; per identifier, the ID of its holder or the fact that none
// holds it; and, in namespaces of immutable entries (Immutable), values
// whose key names them forever, such as relationship check results.
// Nothing is decrypted on the way in: sealed fragments stay sealed in
// memory and in Redis, and are opened per read, as from the database. Redis is trusted with neither the data nor its integrity:
// every entry is sealed with AES-256-GCM under a key derived from the
// server secret, bound to its key name, and ignored if it does not open;
// identifiers are named by keyed hashes, never by their values.
//
// Staleness is bounded: every entry records an instant before which its
// source held every commit, and is never served once MaxStaleness has
// passed since then, whatever happened to the invalidations. Within the
// bound, a committed write drops the account's entries at once on the
// replica that made it (memory) and, through the event stream, on every
// other replica; an entry older than an invalidation seen is refused even
// when a slow load stores it afterwards. In Redis the write leaves a
// tombstone of its version instead of the entry, and entries are stored
// by a compare-and-set script that refuses to replace an entry as new or
// a tombstone newer: a load that read the account before the write cannot
// put its entry back after the tombstone, whichever replica made it, and
// a replica that starts afresh (no invalidations seen) reads the
// tombstone as a miss and raises its own floor to it. Concurrent misses
// of one key share one load (singleflight).
package readcache

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"sync/atomic"
	"time"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"
)

// Options configure a Cache.
type Options struct {
	// MaxBytes bounds the memory that entries take, approximately.
	MaxBytes int64
	// MaxStaleness is the longest an entry is served after the instant
	// its source was known current.
	MaxStaleness time.Duration
	// Redis is the shared level; nil keeps the cache in memory only.
	Redis *redis.Client
	// RedisPrefix starts every Redis key, so that deployments (and tests)
	// can share one Redis.
	RedisPrefix string
	// Secret keys the encryption of Redis entries and the hashes of
	// identifiers; every replica must have the same. Required with Redis.
	Secret []byte
	// Now defaults to time.Now.
	Now func() time.Time
}

// Stats counts reads since the cache was made.
type Stats struct {
	Hits         int64 // served from memory
	Shared       int64 // served from Redis
	Misses       int64 // loaded from the database
	RemoteErrors int64 // Redis calls that failed, and entries that did not open
	Tombstones   int64 // Redis reads that found a write's tombstone
	RefusedFills int64 // Redis writes refused for an entry or tombstone as new
	Bytes        int64 // memory the entries take now, approximately
}

// Cache is the two-level read cache. It is safe for concurrent use.
type Cache struct {
	opts  Options
	redis *redis.Client
	aead  cipher.AEAD // seals Redis entries
	idKey []byte      // keys the hashes that name identifiers

	accounts  *layer[account.Snapshot]
	holders   *layer[string]
	immutable *otter.Cache[string, []byte] // every Immutable namespace's memory

	hits, shared, misses, remoteErrors, tombstones, refusedFills atomic.Int64
}

var _ account.ReadCache = (*Cache)(nil)

// New returns a cache. It returns fault.Invalid for a non-positive size or
// staleness bound, or Redis without a secret.
func New(o Options) (*Cache, error) {
	const op = "readcache.New"
	if o.MaxBytes <= 0 || o.MaxStaleness <= 0 {
		return nil, fault.E(op, fault.Invalid, "cache size and staleness bound must be positive")
	}
	if o.Redis != nil && len(o.Secret) < 32 {
		return nil, fault.E(op, fault.Invalid, "a shared cache needs a secret of at least 32 bytes")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &Cache{opts: o, redis: o.Redis, idKey: derive(o.Secret, "atrium read cache identifiers")}
	block, err := aes.NewCipher(derive(o.Secret, "atrium read cache entries"))
	if err != nil {
		return nil, fault.Wrap(op, fault.Internal, err)
	}
	if c.aead, err = cipher.NewGCM(block); err != nil {
		return nil, fault.Wrap(op, fault.Internal, err)
	}
	// Identifiers get a fifth of the budget: enough to absorb a burst of
	// lookups of names nobody holds, never enough to push accounts out.
	// Immutable entries (check results) get another fifth.
	c.accounts = newLayer(c, "a", o.MaxBytes*6/10, snapshotWeight, encodeSnapshot, decodeSnapshot)
	c.immutable = newImmutableMemory(o.MaxBytes * 2 / 10)
	c.holders = newLayer(c, "i", o.MaxBytes*2/10, func(v string) int { return len(v) }, func(v string) []byte { return []byte(v) },
		func(b []byte) (string, error) { return string(b), nil })
	return c, nil
}

func (c *Cache) now() time.Time { return c.opts.Now() }

// Stats returns the counts so far.
func (c *Cache) Stats() Stats {
	return Stats{Hits: c.hits.Load(), Shared: c.shared.Load(), Misses: c.misses.Load(), RemoteErrors: c.remoteErrors.Load(),
		Tombstones: c.tombstones.Load(), RefusedFills: c.refusedFills.Load(),
		Bytes: int64(c.accounts.mem.WeightedSize() + c.holders.mem.WeightedSize() + c.immutable.WeightedSize())}
}

// Account implements account.ReadCache.
func (c *Cache) Account(ctx context.Context, id string, load func(context.Context) (account.Snapshot, error)) (account.Snapshot, error) {
	e, err := c.accounts.get(ctx, id, func(ctx context.Context) (entry[account.Snapshot], error) {
		snap, err := load(ctx)
		return entry[account.Snapshot]{val: snap, version: snap.Account.Version, asOf: snap.AsOf}, err
	})
	if err != nil {
		return account.Snapshot{}, err
	}
	snap := e.val
	snap.AsOf = e.asOf
	return snap, nil
}

// PutAccount implements account.ReadCache.
func (c *Cache) PutAccount(ctx context.Context, snap account.Snapshot) {
	c.accounts.put(ctx, snap.Account.ID, entry[account.Snapshot]{val: snap, version: snap.Account.Version, asOf: snap.AsOf})
}

// Written implements account.ReadCache.
func (c *Cache) Written(ctx context.Context, id string, version int64) {
	c.accounts.forget(ctx, id, version, true)
}

// Holder implements account.ReadCache. A holder's entry has version 1 and
// a "none" entry version 0, so that IdentifierAdded refuses only the
// latter.
func (c *Cache) Holder(ctx context.Context, typ, value string, load func(context.Context) (string, time.Time, error)) (string, error) {
	e, err := c.holders.get(ctx, c.holderKey(typ, value), func(ctx context.Context) (entry[string], error) {
		id, asOf, err := load(ctx)
		e := entry[string]{val: id, asOf: asOf}
		if id != "" {
			e.version = 1
		}
		return e, err
	})
	return e.val, err
}

// IdentifierAdded implements account.ReadCache.
func (c *Cache) IdentifierAdded(ctx context.Context, typ, value string) {
	c.holders.forget(ctx, c.holderKey(typ, value), 1, true)
}

// Forget drops from memory what the event of a write on another replica
// makes stale: entries of account id older than version and, when
// identifiers is true (the write may have added an identifier, whose
// value events do not carry), every cached "none" answer; cached holders
// stay, since an identifier never moves to another account while its
// holder lives, and reads check the holder's snapshot. The replica
// that wrote has already dropped the shared entries.
func (c *Cache) Forget(id string, version int64, identifiers bool) {
	c.accounts.forget(context.Background(), id, version, false)
	if identifiers {
		c.holders.forgetAbsent()
	}
}

// holderKey names identifier (typ, value) by a keyed hash, so that no
// identifier value appears in a key, in memory or in Redis.
func (c *Cache) holderKey(typ, value string) string {
	m := hmac.New(sha256.New, c.idKey)
	m.Write([]byte(typ))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// derive returns a 256-bit key for purpose from secret.
func derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

func snapshotWeight(s account.Snapshot) int {
	n := 200 + len(s.Account.DataKey)
	for _, f := range s.Fragments {
		n += 64 + len(f.Name) + len(f.Data)
	}
	for _, id := range s.Identifiers {
		n += 64 + len(id.Type) + len(id.Value)
	}
	return n
}

func encodeSnapshot(s account.Snapshot) []byte {
	b, _ := json.Marshal(s) // strings, bytes, numbers and times only: cannot fail
	return b
}

func decodeSnapshot(b []byte) (account.Snapshot, error) {
	var s account.Snapshot
	err := json.Unmarshal(b, &s)
	return s, err
}
