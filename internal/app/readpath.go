package app

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/config"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/outbox"
	"github.com/atriumid/atrium/internal/readcache"
	"github.com/redis/go-redis/v9"
)

// Intervals of the read path's background work.
const (
	// InvalidationPollInterval is how often a replica reads the outbox
	// for writes made elsewhere, to drop what they made stale.
	InvalidationPollInterval = 50 * time.Millisecond
	// replicaSampleInterval is how often the replica's position is read.
	replicaSampleInterval = 50 * time.Millisecond
)

// encodedBudget is the part of the read cache's memory budget that keeps
// encoded answers of account reads (a quarter); the rest keeps snapshots.
func encodedBudget(cfg config.Config) int64 { return cfg.CacheBytes / 4 }

// readPath builds the read cache and the database replica that cfg asks
// for (nil for each it does not), and starts their background work: the
// replica's position tracking, and the invalidation follower that drops
// cached entries that writes on other replicas made stale.
func (a *App) readPath(ctx context.Context, cfg config.Config, secret []byte) (*readcache.Cache, account.Replica, error) {
	var replica account.Replica
	if cfg.DatabaseReplica != "" {
		r, err := a.db.OpenReplica(ctx, cfg.DatabaseReplica, cfg.CacheMaxStaleness/2)
		if err != nil {
			return nil, nil, err
		}
		a.background(func(ctx context.Context) {
			defer r.Close()
			r.Track(ctx, replicaSampleInterval)
		})
		replica = r.Accounts()
	}
	if cfg.CacheBytes == 0 {
		return nil, replica, nil
	}
	o := readcache.Options{MaxBytes: cfg.CacheBytes - encodedBudget(cfg), MaxStaleness: cfg.CacheMaxStaleness, RedisPrefix: cfg.RedisPrefix, Secret: secret}
	if cfg.RedisURL != "" {
		opt, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, nil, fault.E("app.readPath", fault.Invalid, "--redis-url is not a Redis URL")
		}
		o.Redis = redis.NewClient(opt)
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := o.Redis.Ping(pctx).Err(); err != nil {
			o.Redis.Close()
			return nil, nil, fault.Wrap("app.readPath", fault.Unavailable, err)
		}
		a.background(func(ctx context.Context) {
			<-ctx.Done()
			o.Redis.Close()
		})
	}
	cache, err := readcache.New(o)
	if err != nil {
		return nil, nil, err
	}
	_, last, err := a.db.Events().Bounds(ctx)
	if err != nil {
		return nil, nil, err
	}
	a.background(func(ctx context.Context) { followWrites(ctx, a.db.Events(), last, cache, InvalidationPollInterval) })
	return cache, replica, nil
}

// eventReader reads the outbox in position order.
type eventReader interface {
	After(ctx context.Context, after int64, limit int) ([]outbox.Record, error)
}

// followWrites reads the outbox after position from, every interval until
// ctx ends, and drops from the cache's memory what each account event
// makes stale. Failures only delay it: entries expire within the
// staleness bound anyway.
func followWrites(ctx context.Context, events eventReader, from int64, cache *readcache.Cache, interval time.Duration) {
	every(ctx, interval, func(ctx context.Context) {
		for {
			recs, err := events.After(ctx, from, 500)
			if err != nil || len(recs) == 0 {
				return
			}
			for _, r := range recs {
				forgetWrite(cache, r.Event)
				from = r.Pos
			}
		}
	})
}

// forgetWrite drops what one event's write made stale.
func forgetWrite(cache *readcache.Cache, e outbox.Event) {
	typ, ok := strings.CutPrefix(e.Type, "atrium.account.")
	if !ok {
		return
	}
	var data struct {
		Version int64 `json:"version"`
	}
	json.Unmarshal(e.Data, &data) // a missing version drops whatever is cached
	if data.Version == 0 {
		data.Version = 1 << 62
	}
	cache.Forget(e.Subject, data.Version, typ == "created" || typ == "identifier_added")
}
