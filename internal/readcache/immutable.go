package readcache

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"
)

// ImmutableTTL is how long an immutable entry stays in memory and in
// Redis after it is stored. Its value never goes stale; the TTL only lets
// entries that nobody asks for any more leave.
const ImmutableTTL = 5 * time.Minute

// Immutable is one namespace of entries whose key names their value
// forever (a check result at a model version and a relationship
// revision, say), so that they need no invalidation. Entries live in the
// cache's memory, within a share of its budget, and in Redis when the
// cache has one, sealed and named by keyed hashes like the others. It is
// safe for concurrent use.
type Immutable struct {
	c  *Cache
	ns string

	hits, shared, misses atomic.Int64
}

// newImmutableMemory returns the memory level that every Immutable of a
// cache shares.
func newImmutableMemory(budget int64) *otter.Cache[string, []byte] {
	return otter.Must(&otter.Options[string, []byte]{
		MaximumWeight:    uint64(max(budget, 1)),
		Weigher:          func(k string, v []byte) uint32 { return uint32(min(len(k)+len(v)+64, 1<<31)) },
		ExpiryCalculator: otter.ExpiryWriting[string, []byte](ImmutableTTL),
	})
}

// Immutable returns namespace ns of immutable entries. Namespaces share
// the memory set aside for immutable entries.
func (c *Cache) Immutable(ns string) *Immutable { return &Immutable{c: c, ns: ns} }

// Stats returns the counts of the namespace's reads so far: a hit per key
// found in memory, a shared read per key found in Redis, a miss per key
// found in neither; RemoteErrors and Bytes are the cache's.
func (im *Immutable) Stats() Stats {
	s := im.c.Stats()
	return Stats{Hits: im.hits.Load(), Shared: im.shared.Load(), Misses: im.misses.Load(), RemoteErrors: s.RemoteErrors, Bytes: s.Bytes}
}

// Get returns the values of keys, nil for each it does not hold: from
// memory, else from Redis in one round trip, bounded so that a slow or
// failed Redis only makes misses. Values found in Redis are kept in
// memory.
func (im *Immutable) Get(ctx context.Context, keys []string) [][]byte {
	out := make([][]byte, len(keys))
	var missing []int
	for i, k := range keys {
		if v, ok := im.c.immutable.GetIfPresent(im.memKey(k)); ok {
			out[i] = v
			im.hits.Add(1)
		} else {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 && im.c.redis != nil {
		rks := make([]string, len(missing))
		for j, i := range missing {
			rks[j] = im.remoteKey(keys[i])
		}
		rctx, cancel := context.WithTimeout(ctx, remoteTimeout)
		defer cancel()
		vals, err := im.c.redis.MGet(rctx, rks...).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			im.c.remoteErrors.Add(1)
		}
		for j, v := range vals {
			if b, ok := im.open(rks[j], v); ok {
				out[missing[j]] = b
				im.c.immutable.Set(im.memKey(keys[missing[j]]), b)
				im.shared.Add(1)
			}
		}
	}
	for _, v := range out {
		if v == nil {
			im.misses.Add(1)
		}
	}
	return out
}

// open returns the value sealed in v, a reply of MGET for rk; nil (no
// such key) and values that do not open are misses, the latter counted
// as Redis errors.
func (im *Immutable) open(rk string, v any) ([]byte, bool) {
	s, ok := v.(string)
	if !ok {
		return nil, false
	}
	ns := im.c.aead.NonceSize()
	if len(s) < ns {
		im.c.remoteErrors.Add(1)
		return nil, false
	}
	b, err := im.c.aead.Open(nil, []byte(s[:ns]), []byte(s[ns:]), []byte(rk))
	if err != nil || b == nil {
		im.c.remoteErrors.Add(1)
		return nil, false
	}
	return b, true
}

// Put stores vals[i] under keys[i], in memory and, sealed, in Redis in one
// round trip. A value must not be nil, and a key must name it forever.
func (im *Immutable) Put(ctx context.Context, keys []string, vals [][]byte) {
	for i, k := range keys {
		im.c.immutable.Set(im.memKey(k), vals[i])
	}
	if im.c.redis == nil || len(keys) == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), remoteTimeout)
	defer cancel()
	_, err := im.c.redis.Pipelined(rctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			rk := im.remoteKey(k)
			nonce := make([]byte, im.c.aead.NonceSize())
			rand.Read(nonce)
			p.Set(rctx, rk, im.c.aead.Seal(nonce, nonce, vals[i], []byte(rk)), ImmutableTTL)
		}
		return nil
	})
	if err != nil {
		im.c.remoteErrors.Add(1)
	}
}

// memKey names key of the namespace in memory.
func (im *Immutable) memKey(key string) string { return im.ns + "\x00" + key }

// remoteKey names key of the namespace in Redis by a keyed hash, so that
// no key appears in Redis.
func (im *Immutable) remoteKey(key string) string {
	m := hmac.New(sha256.New, im.c.idKey)
	m.Write([]byte(im.ns))
	m.Write([]byte{0})
	m.Write([]byte(key))
	return im.c.opts.RedisPrefix + "f:" + im.ns + ":" + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}
