package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/fault"
)

// Replica is a PostgreSQL streaming replica of a primary DB, for reads that
// accept data somewhat behind the primary.
//
// How far behind it is comes from comparing positions, not clocks of
// commit: Track samples the primary's WAL position (pg_current_wal_lsn)
// with the instant just before, and the replica's replay position
// (pg_last_wal_replay_lsn); once the replica has replayed past a sample,
// every commit before that sample's instant is visible on it. That
// instant is the replica's as-of time. While it is more than maxLag ago
// (the replica is slow, stopped, or unreachable), reads through the
// replica go to the primary instead.
type Replica struct {
	primary *DB
	pool    *sql.DB
	maxLag  time.Duration
	now     func() time.Time

	mu      sync.Mutex
	pending []walSample // primary positions not yet replayed, oldest first
	asOf    time.Time
}

// walSample is the primary's WAL position read just after instant at.
type walSample struct {
	at  time.Time
	lsn uint64
}

// maxPending bounds the samples kept while a replica is behind.
const maxPending = 4096

// OpenReplica opens the replica at rawURL, a postgres:// URL of a server in
// recovery that streams from db. It returns fault.Invalid when db is not
// PostgreSQL or the server is not a replica, fault.Unavailable when it
// cannot be reached. Until Track has run, reads go to the primary.
func (db *DB) OpenReplica(ctx context.Context, rawURL string, maxLag time.Duration) (*Replica, error) {
	const op = "sqlstore.OpenReplica"
	if db.engine != Postgres || !(strings.HasPrefix(rawURL, "postgres://") || strings.HasPrefix(rawURL, "postgresql://")) {
		return nil, fault.E(op, fault.Invalid, "a database replica needs PostgreSQL for both the primary and the replica")
	}
	p, err := sql.Open("pgx", rawURL)
	if err != nil {
		return nil, fault.Wrap(op, fault.Invalid, err)
	}
	p.SetMaxOpenConns(32)
	p.SetMaxIdleConns(32)
	p.SetConnMaxIdleTime(5 * time.Minute)
	var standby bool
	if err := p.QueryRowContext(ctx, `SELECT pg_is_in_recovery()`).Scan(&standby); err != nil {
		p.Close()
		return nil, classify(op, err)
	}
	if !standby {
		p.Close()
		return nil, fault.E(op, fault.Invalid, "--database-replica names a server that is not a replica (not in recovery)")
	}
	return &Replica{primary: db, pool: p, maxLag: maxLag, now: time.Now}, nil
}

// Close closes the replica's connections.
func (r *Replica) Close() error { return r.pool.Close() }

// Track samples the positions every interval until ctx ends.
func (r *Replica) Track(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		r.sample(ctx) // a failed sample only lets the as-of time age
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sample reads both positions once and moves the as-of time.
func (r *Replica) sample(ctx context.Context) error {
	at := r.now()
	var primary string
	if err := r.primary.w.QueryRowContext(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&primary); err != nil {
		return classify("sqlstore.Replica", err)
	}
	p, err := parseLSN(primary)
	if err != nil {
		return err
	}
	r.mu.Lock()
	if len(r.pending) < maxPending {
		r.pending = append(r.pending, walSample{at: at, lsn: p})
	}
	r.mu.Unlock()
	var rep sql.NullString
	if err := r.pool.QueryRowContext(ctx, `SELECT pg_last_wal_replay_lsn()::text`).Scan(&rep); err != nil || !rep.Valid {
		return fault.E("sqlstore.Replica", fault.Unavailable, "replica position unknown")
	}
	lsn, err := parseLSN(rep.String)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for n < len(r.pending) && r.pending[n].lsn <= lsn {
		r.asOf = r.pending[n].at
		n++
	}
	r.pending = r.pending[n:]
	return nil
}

// AsOf returns the instant before which every commit of the primary is
// visible on the replica, as last sampled.
func (r *Replica) AsOf() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.asOf
}

// parseLSN reads PostgreSQL's "X/Y" text form of a WAL position.
func parseLSN(s string) (uint64, error) {
	hi, lo, ok := strings.Cut(s, "/")
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if !ok || err1 != nil || err2 != nil {
		return 0, fault.E("sqlstore.parseLSN", fault.Internal, "unexpected WAL position %q", s)
	}
	return h<<32 | l, nil
}

// Accounts returns the account reads of the replica.
func (r *Replica) Accounts() account.Replica { return replicaAccounts{r} }

type replicaAccounts struct{ r *Replica }

// View implements account.Replica: on the replica when it is within
// maxLag, else on the primary.
func (ra replicaAccounts) View(ctx context.Context, fn func(ctx context.Context, r account.Reader) error) (time.Time, error) {
	r := ra.r
	start := r.now()
	asOf := r.AsOf()
	if start.Sub(asOf) > r.maxLag {
		return start, accountStore{r.primary}.View(ctx, fn)
	}
	opts := &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}
	err := r.primary.inTx(ctx, r.pool, opts, func(q queryer) error { return fn(ctx, accountTx{q}) })
	return asOf, err
}
