package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/atriumid/atrium/internal/throttle"
)

// Throttle returns the throttle counter store over db.
func (db *DB) Throttle() throttle.Store { return throttleStore{db} }

type throttleStore struct{ db *DB }

func (s throttleStore) ThrottleStates(ctx context.Context, keys []string) ([]throttle.State, error) {
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
	rows, err := s.db.r.QueryContext(ctx, `SELECT key, failures, blocked_until FROM throttle WHERE key IN (`+placeholders(1, len(keys))+`)`, args...)
	if err != nil {
		return nil, classify(op, err)
	}
	defer rows.Close()
	var out []throttle.State
	for rows.Next() {
		var st throttle.State
		var until sql.NullInt64
		if err := rows.Scan(&st.Key, &st.Failures, &until); err != nil {
			return nil, classify(op, err)
		}
		if until.Int64 > 0 {
			st.BlockedUntil = fromMicros(until)
		}
		out = append(out, st)
	}
	return out, classify(op, rows.Err())
}

func (s throttleStore) RecordFailure(ctx context.Context, key string, now, forgetBefore time.Time, delay func(int64) time.Duration) (throttle.State, error) {
	const op = "sqlstore.RecordFailure"
	st := throttle.State{Key: key}
	err := s.db.update(ctx, func(q queryer) error {
		// One atomic statement counts the failure, whatever runs
		// concurrently: the upsert takes the row lock.
		err := q.QueryRowContext(ctx, `INSERT INTO throttle (key, failures, blocked_until, update_time) VALUES ($1, 1, 0, $2)
			ON CONFLICT (key) DO UPDATE SET failures = CASE WHEN throttle.update_time < $3 THEN 1 ELSE throttle.failures + 1 END, update_time = $2
			RETURNING failures`, key, now.UnixMicro(), forgetBefore.UnixMicro()).Scan(&st.Failures)
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

func (s throttleStore) ResetThrottle(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	_, err := s.db.w.ExecContext(ctx, `DELETE FROM throttle WHERE key IN (`+placeholders(1, len(keys))+`)`, args...)
	return classify("sqlstore.ResetThrottle", err)
}
