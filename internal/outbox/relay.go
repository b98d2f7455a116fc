package outbox

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/atriumid/atrium/internal/fault"
)

// Publisher delivers events to a broker.
type Publisher interface {
	// Publish delivers e and returns once the broker has acknowledged it.
	// The broker may see e more than once; it dedupes by e.ID. Any error
	// means e may or may not have been delivered.
	Publish(ctx context.Context, e Record) error
}

// Log is the outbox as a relay reads it, with the relay cursors.
type Log interface {
	// After returns up to limit events with positions above after, in
	// position order.
	After(ctx context.Context, after int64, limit int) ([]Record, error)
	// Claim takes or renews the lease of cursor name for holder until
	// until. It returns the cursor's position, and false when another
	// holder's lease still runs at now.
	Claim(ctx context.Context, name, holder string, now, until time.Time) (int64, bool, error)
	// Advance stores the cursor's new position if holder still holds its
	// lease, and renews the lease; fault.Aborted when it does not.
	Advance(ctx context.Context, name, holder string, pos int64, now, until time.Time) error
	// Release ends holder's lease of cursor name.
	Release(ctx context.Context, name, holder string) error
}

// Cursor is a relay's stored position in the outbox and its lease.
type Cursor struct {
	Name       string
	Pos        int64 // every event up to Pos was delivered
	Holder     string
	LeaseUntil time.Time
	UpdateTime time.Time
}

// Relay delivers the outbox to a Publisher, at least once and in position
// order, which keeps the order of each account's events.
//
// Its position is a cursor row advanced after the broker acknowledged each
// batch: a relay that dies between the two delivers the batch again, and
// the broker drops the repeats by event ID. Any number of relays may run
// with the same cursor name, one per replica: a lease makes one of them the
// deliverer, and a standby takes over when the lease runs out (or at once
// when the holder stops cleanly). A holder that lost its lease finds out
// when it advances, and stops. A Relay is not safe for concurrent use:
// run one goroutine per Relay.
type Relay struct {
	Name      string // the cursor's name, such as "nats"
	Holder    string // this relay's name, unique among the relays of Name
	Log       Log
	Publisher Publisher
	Lease     time.Duration    // how long a claim holds; default 10 s
	Poll      time.Duration    // pause when there is nothing to deliver; default 200 ms
	Batch     int              // events per read; default 100
	Now       func() time.Time // default time.Now
	Logger    *slog.Logger     // default slog.Default()

	// The lease as this relay last stored it; Step renews it only when it
	// nears its end, so an idle holder writes nothing.
	held       bool
	pos        int64
	leaseUntil time.Time
}

func (r *Relay) defaults() {
	if r.Lease <= 0 {
		r.Lease = 10 * time.Second
	}
	if r.Poll <= 0 {
		r.Poll = 200 * time.Millisecond
	}
	if r.Batch <= 0 {
		r.Batch = 100
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
}

// Run delivers until ctx ends, then releases the lease. Failures of the
// broker or the database are logged and retried with backoff; Run returns
// only ctx's error.
func (r *Relay) Run(ctx context.Context) error {
	r.defaults()
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		r.Log.Release(ctx, r.Name, r.Holder)
	}()
	backoff := time.Duration(0)
	for {
		n, err := r.Step(ctx)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil && !fault.Is(err, fault.Aborted):
			backoff = min(max(2*backoff, r.Poll), 30*time.Second)
			r.Logger.Warn("event relay failed; retrying", "relay", r.Name, "err", err, "retry_in", backoff.String())
		default:
			backoff = 0
		}
		wait := backoff
		switch {
		case wait == 0 && n == 0 && !r.held:
			wait = max(r.Poll, r.Lease/4) // a standby
		case wait == 0 && n == 0:
			wait = r.Poll
		}
		if wait > 0 {
			// Jitter keeps standbys from claiming in lockstep.
			wait += time.Duration(rand.Int64N(int64(wait)/4 + 1))
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
	}
}

// Step delivers one batch, claiming or renewing the lease first when it
// needs to. It returns how many events it delivered; 0 with a nil error
// when there is nothing to deliver or another relay holds the lease, and
// fault.Aborted when the lease was lost during the batch.
func (r *Relay) Step(ctx context.Context) (int, error) {
	r.defaults()
	now := r.Now()
	if !r.held || now.After(r.leaseUntil.Add(-r.Lease/2)) {
		pos, held, err := r.Log.Claim(ctx, r.Name, r.Holder, now, now.Add(r.Lease))
		if err != nil || !held {
			r.held = false
			return 0, err
		}
		r.held, r.pos, r.leaseUntil = true, pos, now.Add(r.Lease)
	}
	batch, err := r.Log.After(ctx, r.pos, r.Batch)
	if err != nil || len(batch) == 0 {
		return 0, err
	}
	if gap := batch[0].Pos - r.pos - 1; gap > 0 {
		// Positions have no gaps, so these were pruned before this cursor
		// delivered them: it was retired for longer than the retention.
		r.Logger.Error("event relay resumed after pruned events; they are not delivered", "relay", r.Name,
			"from", r.pos+1, "to", batch[0].Pos-1, "missed", gap)
	}
	delivered := 0
	for _, e := range batch {
		if err := r.Publisher.Publish(ctx, e); err != nil {
			// Keep what was acknowledged, so a broken broker does not make
			// the next attempt repeat the whole batch.
			if delivered > 0 {
				err = errors.Join(err, r.advance(ctx, batch[delivered-1].Pos))
			}
			return delivered, err
		}
		delivered++
	}
	return delivered, r.advance(ctx, batch[len(batch)-1].Pos)
}

// advance stores pos as the cursor. Any failure forgets the lease, so the
// next step reads the stored position again.
func (r *Relay) advance(ctx context.Context, pos int64) error {
	now := r.Now()
	if err := r.Log.Advance(ctx, r.Name, r.Holder, pos, now, now.Add(r.Lease)); err != nil {
		r.held = false
		return err
	}
	r.pos, r.leaseUntil = pos, now.Add(r.Lease)
	return nil
}
