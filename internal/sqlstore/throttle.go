package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"github.com/atriumid/atrium/internal/throttle"
)

// Throttle returns the throttle counter store over db.
func (db *DB) Throttle() throttle.Store { return throttleStore{db} }

type throttleStore struct{ db *DB }

func (s throttleStore) ThrottleStates(ctx context.Context, keys []string) ([]throttle.State, error) {
	return throttleStates(ctx, s.db.r, keys)
}

func throttleStates(ctx context.Context, q queryer, keys []string) ([]throttle.State, error) {
	const op = "sqlstore.ThrottleStates"
	if len(keys) == 0 {
		return nil, nil
	}
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	// The primary, so that a block recorded by any replica is seen at
	// once.
	rows, err := q.QueryContext(ctx, `SELECT key, failures, blocked_until, pending, lease_until FROM throttle WHERE key IN (`+placeholders(1, len(keys))+`)`, args...)
	if err != nil {
		return nil, classify(op, err)
	}
	defer rows.Close()
	var out []throttle.State
	for rows.Next() {
		var st throttle.State
		var until, lease sql.NullInt64
		if err := rows.Scan(&st.Key, &st.Failures, &until, &st.Pending, &lease); err != nil {
			return nil, classify(op, err)
		}
		if until.Int64 > 0 {
			st.BlockedUntil = fromMicros(until)
		}
		if lease.Int64 > 0 {
			st.LeaseUntil = fromMicros(lease)
		}
		out = append(out, st)
	}
	return out, classify(op, rows.Err())
}

// errRefused rolls back a reservation that one key refused.
var errRefused = errors.New("reservation refused")

func (s throttleStore) Reserve(ctx context.Context, rules []throttle.Rule, now, leaseUntil time.Time) (bool, []throttle.State, error) {
	const op = "sqlstore.Reserve"
	err := s.db.update(ctx, func(q queryer) error {
		for _, r := range rules {
			// One conditional upsert per key: it takes the row lock,
			// and its WHERE sees the latest committed row, so the
			// admission and the count are one step under any
			// concurrency.
			var f int64
			err := q.QueryRowContext(ctx, `INSERT INTO throttle (key, failures, blocked_until, update_time, pending, lease_until) VALUES ($1, 0, 0, $2, 1, $3)
				ON CONFLICT (key) DO UPDATE SET
					failures = CASE WHEN throttle.update_time < $4 THEN 0 ELSE throttle.failures END,
					pending = CASE WHEN throttle.lease_until <= $2 THEN 1 ELSE throttle.pending + 1 END,
					lease_until = $3
				WHERE throttle.blocked_until <= $2 AND (throttle.pending = 0 OR throttle.lease_until <= $2
					OR (CASE WHEN throttle.update_time < $4 THEN 0 ELSE throttle.failures END) + throttle.pending <= $5)
				RETURNING failures`, r.Key, now.UnixMicro(), leaseUntil.UnixMicro(), r.ForgetBefore.UnixMicro(), r.Free).Scan(&f)
			if errors.Is(err, sql.ErrNoRows) {
				return errRefused
			}
			if err != nil {
				return classify(op, err)
			}
		}
		return nil
	})
	if !errors.Is(err, errRefused) {
		return err == nil, nil, err
	}
	keys := make([]string, len(rules))
	for i, r := range rules {
		keys[i] = r.Key
	}
	states, err := throttleStates(ctx, s.db.r, keys)
	return false, states, err
}

func (s throttleStore) RecordFailure(ctx context.Context, key string, now, forgetBefore time.Time, delay func(int64) time.Duration, reserved bool) (throttle.State, error) {
	const op = "sqlstore.RecordFailure"
	st := throttle.State{Key: key}
	release := 0
	if reserved {
		release = 1
	}
	err := s.db.update(ctx, func(q queryer) error {
		// One atomic statement counts the failure, whatever runs
		// concurrently: the upsert takes the row lock.
		err := q.QueryRowContext(ctx, `INSERT INTO throttle (key, failures, blocked_until, update_time) VALUES ($1, 1, 0, $2)
			ON CONFLICT (key) DO UPDATE SET failures = CASE WHEN throttle.update_time < $3 THEN 1 ELSE throttle.failures + 1 END, update_time = $2,
				pending = CASE WHEN throttle.pending > $4 THEN throttle.pending - $4 ELSE 0 END
			RETURNING failures`, key, now.UnixMicro(), forgetBefore.UnixMicro(), release).Scan(&st.Failures)
		if err != nil {
			return classify(op, err)
		}
		d := delay(st.Failures)
		if d <= 0 {
			return nil
		}
		until := now.Add(d)
		_, err = q.ExecContext(ctx, `UPDATE throttle SET blocked_until = CASE WHEN blocked_until > $2 THEN blocked_until ELSE $2 END WHERE key = $1`, key, until.UnixMicro())
		st.BlockedUntil = until
		return classify(op, err)
	})
	return st, err
}

func (s throttleStore) Settle(ctx context.Context, release, reset []string) error {
	const op = "sqlstore.Settle"
	keys := slices.Concat(release, reset)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	return s.db.update(ctx, func(q queryer) error {
		// Key by key in sorted order, the lock order of Reserve.
		for _, k := range keys {
			rel, res := 0, 0
			if slices.Contains(release, k) {
				rel = 1
			}
			if slices.Contains(reset, k) {
				res = 1
			}
			if _, err := q.ExecContext(ctx, `UPDATE throttle SET
					pending = CASE WHEN pending > $2 THEN pending - $2 ELSE 0 END,
					failures = CASE WHEN $3 = 1 THEN 0 ELSE failures END,
					blocked_until = CASE WHEN $3 = 1 THEN 0 ELSE blocked_until END
				WHERE key = $1`, k, rel, res); err != nil {
				return classify(op, err)
			}
			if _, err := q.ExecContext(ctx, `DELETE FROM throttle WHERE key = $1 AND pending = 0 AND failures = 0`, k); err != nil {
				return classify(op, err)
			}
		}
		return nil
	})
}

func (s throttleStore) PruneThrottle(ctx context.Context, forgetBefore, now time.Time) error {
	_, err := s.db.w.ExecContext(ctx, `DELETE FROM throttle WHERE update_time < $1 AND blocked_until < $2 AND (pending = 0 OR lease_until < $2)`,
		forgetBefore.UnixMicro(), now.UnixMicro())
	return classify("sqlstore.PruneThrottle", err)
}
