package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/outbox"
)

// Event positions are handed out in commit order.
//
// A sequence or identity column is not enough: its numbers are assigned
// before commit, so a transaction that took 10 may commit after one that
// took 11, and a reader that saw 11 and moved its cursor past it would
// never see 10. Instead, appendEvent increments the "events" row of
// sequencers in the appending transaction. The row stays locked until the
// transaction ends, so the next position is taken only after the previous
// holder committed or rolled back (a rollback returns its number too): a
// snapshot that shows position N shows every position below it, and
// positions have no gaps.
//
// The price is that transactions that append events commit one at a time
// from their append on. Mutations append last, so the lock is held for the
// time of the commit alone; the audit chain needs the same total order
// anyway. SQLite has one writer, so there the lock costs nothing.
//
// Every writer of events must go through appendEvent: events.pos is NOT
// NULL, so an INSERT that bypasses it fails instead of hiding an event.
// Append after every other write of the transaction (and the audit record
// after the event): a transaction that holds the sequencer and then waits
// for another row lock can deadlock with one that holds that row and waits
// for the sequencer.
func appendEvent(ctx context.Context, q queryer, e outbox.Event) error {
	const op = "sqlstore.AppendEvent"
	var pos int64
	if err := q.QueryRowContext(ctx, `UPDATE sequencers SET value = value + 1 WHERE name = 'events' RETURNING value`).Scan(&pos); err != nil {
		return classify(op, err)
	}
	_, err := q.ExecContext(ctx, `INSERT INTO events (pos, id, type, subject, time, data) VALUES ($1, $2, $3, $4, $5, $6)`,
		pos, e.ID, e.Type, e.Subject, e.Time.UnixMicro(), string(e.Data))
	return classify(op, err)
}

// Events returns the outbox.
func (db *DB) Events() *EventLog { return &EventLog{db} }

// EventLog reads the outbox and keeps the cursors of its relays. It
// implements outbox.Log.
type EventLog struct{ db *DB }

// After returns up to limit events with positions above after, in
// position order.
func (l *EventLog) After(ctx context.Context, after int64, limit int) ([]outbox.Record, error) {
	const op = "sqlstore.EventsAfter"
	var out []outbox.Record
	err := l.db.view(ctx, func(q queryer) error {
		rows, err := q.QueryContext(ctx, `SELECT pos, id, type, subject, time, data FROM events WHERE pos > $1 ORDER BY pos LIMIT $2`, after, limit)
		if err != nil {
			return classify(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			var r outbox.Record
			var at int64
			var data string
			if err := rows.Scan(&r.Pos, &r.ID, &r.Type, &r.Subject, &at, &data); err != nil {
				return classify(op, err)
			}
			r.Time, r.Data = time.UnixMicro(at).UTC(), []byte(data)
			out = append(out, r)
		}
		return classify(op, rows.Err())
	})
	return out, err
}

// Bounds returns the first retained and the last position of the outbox:
// (0, 0) when no event was ever appended, (last+1, last) when every event
// was pruned, so a reader's cursor below last is known to have missed some.
func (l *EventLog) Bounds(ctx context.Context) (first, last int64, err error) {
	var lo sql.NullInt64
	err = l.db.view(ctx, func(q queryer) error {
		if err := q.QueryRowContext(ctx, `SELECT value FROM sequencers WHERE name = 'events'`).Scan(&last); err != nil {
			return err
		}
		return q.QueryRowContext(ctx, `SELECT min(pos) FROM events`).Scan(&lo)
	})
	if !lo.Valid && last > 0 {
		// Every event was pruned: the first one retained would be the next.
		lo.Int64 = last + 1
	}
	return lo.Int64, last, classify("sqlstore.EventBounds", err)
}

// Claim takes or renews the lease of the cursor name for holder until
// until, creating the cursor at position 0 when it is new. It returns the
// cursor's position, and false when another holder's lease is still
// running at now.
func (l *EventLog) Claim(ctx context.Context, name, holder string, now, until time.Time) (int64, bool, error) {
	const op = "sqlstore.ClaimCursor"
	var pos int64
	held := true
	err := l.db.update(ctx, func(q queryer) error {
		if _, err := q.ExecContext(ctx, `INSERT INTO relay_cursors (name, pos, holder, lease_until, update_time) VALUES ($1, 0, '', 0, $2)
			ON CONFLICT (name) DO NOTHING`, name, now.UnixMicro()); err != nil {
			return err
		}
		err := q.QueryRowContext(ctx, `UPDATE relay_cursors SET holder = $2, lease_until = $4, update_time = $3
			WHERE name = $1 AND (holder = $2 OR lease_until < $3) RETURNING pos`, name, holder, now.UnixMicro(), until.UnixMicro()).Scan(&pos)
		if err == sql.ErrNoRows {
			held = false
			return nil
		}
		return err
	})
	return pos, held, classify(op, err)
}

// Advance moves the cursor name to pos and renews its lease until until,
// if holder still holds it. It returns fault.Aborted when the lease has
// passed to another holder: that holder delivers from its own position.
func (l *EventLog) Advance(ctx context.Context, name, holder string, pos int64, now, until time.Time) error {
	const op = "sqlstore.AdvanceCursor"
	res, err := l.db.w.ExecContext(ctx, `UPDATE relay_cursors SET pos = $3, lease_until = $4, update_time = $5
		WHERE name = $1 AND holder = $2 AND pos <= $3`, name, holder, pos, until.UnixMicro(), now.UnixMicro())
	if err != nil {
		return classify(op, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fault.E(op, fault.Aborted, "the lease of relay cursor %q is held by another relay", name)
	}
	return nil
}

// Release gives up holder's lease of cursor name, so a standby relay takes
// over at once instead of when the lease runs out.
func (l *EventLog) Release(ctx context.Context, name, holder string) error {
	_, err := l.db.w.ExecContext(ctx, `UPDATE relay_cursors SET lease_until = 0 WHERE name = $1 AND holder = $2`, name, holder)
	return classify("sqlstore.ReleaseCursor", err)
}

// Cursors returns every relay cursor.
func (l *EventLog) Cursors(ctx context.Context) ([]outbox.Cursor, error) {
	const op = "sqlstore.Cursors"
	var out []outbox.Cursor
	err := l.db.view(ctx, func(q queryer) error {
		rows, err := q.QueryContext(ctx, `SELECT name, pos, holder, lease_until, update_time FROM relay_cursors ORDER BY name`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c outbox.Cursor
			var until, updated int64
			if err := rows.Scan(&c.Name, &c.Pos, &c.Holder, &until, &updated); err != nil {
				return err
			}
			c.LeaseUntil, c.UpdateTime = time.UnixMicro(until).UTC(), time.UnixMicro(updated).UTC()
			out = append(out, c)
		}
		return rows.Err()
	})
	return out, classify(op, err)
}

// Prune deletes up to limit events that are older than before and that
// every live relay cursor has passed, oldest first, and returns how many
// it deleted. Without any live cursor, age alone decides.
//
// A cursor is live when a relay has claimed, renewed or advanced it since
// before: a running relay does so every half lease, even when idle or
// when its broker is down, so its backlog is kept however long the broker
// stays away. A cursor untouched for the whole retention period is
// retired (such as that of a NATS relay no longer configured) and does
// not hold pruning back; a relay that returns after longer than that
// resumes at the first event retained.
func (l *EventLog) Prune(ctx context.Context, before time.Time, limit int) (int64, error) {
	res, err := l.db.w.ExecContext(ctx, `DELETE FROM events WHERE pos IN (
		SELECT pos FROM events WHERE time < $1
		AND pos <= coalesce((SELECT min(pos) FROM relay_cursors WHERE update_time >= $1), (SELECT max(pos) FROM events))
		ORDER BY pos LIMIT $2)`, before.UnixMicro(), limit)
	if err != nil {
		return 0, classify("sqlstore.PruneEvents", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
