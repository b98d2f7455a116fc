package sqlstore

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"time"

	"github.com/atriumid/atrium/internal/idempotency"
)

// Idempotency returns the idempotency record store over db.
func (db *DB) Idempotency() idempotency.Store { return idemStore{db} }

type idemStore struct{ db *DB }

func (s idemStore) Claim(ctx context.Context, principal, key string, hash []byte, now, expire, staleBefore time.Time) (*idempotency.Record, error) {
	const op = "sqlstore.Claim"
	var out *idempotency.Record
	err := s.db.update(ctx, func(q queryer) error {
		// Expired records are gone for every purpose. Now and then a
		// claim also sweeps every expired record, so the table does not
		// grow without bound.
		sweep := `DELETE FROM idempotency WHERE principal = $1 AND key = $2 AND expire_time < $3`
		if rand.IntN(100) == 0 {
			sweep = `DELETE FROM idempotency WHERE expire_time < $3 OR (principal = $1 AND key = $2 AND expire_time < $3)`
		}
		if _, err := q.ExecContext(ctx, sweep, principal, key, now.UnixMicro()); err != nil {
			return classify(op, err)
		}
		res, err := q.ExecContext(ctx, `INSERT INTO idempotency (principal, key, request_hash, status, create_time, expire_time)
			VALUES ($1, $2, $3, 0, $4, $5) ON CONFLICT (principal, key) DO NOTHING`, principal, key, hash, now.UnixMicro(), expire.UnixMicro())
		if err != nil {
			return classify(op, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		// Take over a stale pending claim of the same request.
		res, err = q.ExecContext(ctx, `UPDATE idempotency SET create_time = $3 WHERE principal = $1 AND key = $2 AND status = 0 AND create_time < $4 AND request_hash = $5`,
			principal, key, now.UnixMicro(), staleBefore.UnixMicro(), hash)
		if err != nil {
			return classify(op, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		var rec idempotency.Record
		var created int64
		err = q.QueryRowContext(ctx, `SELECT request_hash, status, response, create_time FROM idempotency WHERE principal = $1 AND key = $2`, principal, key).
			Scan(&rec.Hash, &rec.Status, &rec.Response, &created)
		if err != nil {
			return classify(op, err)
		}
		rec.CreateTime = fromMicros(sql.NullInt64{Int64: created, Valid: true})
		out = &rec
		return nil
	})
	return out, err
}

func (s idemStore) Complete(ctx context.Context, principal, key string, claimed time.Time, status int, response []byte) error {
	_, err := s.db.w.ExecContext(ctx, `UPDATE idempotency SET status = $3, response = $4 WHERE principal = $1 AND key = $2 AND status = 0 AND create_time = $5`,
		principal, key, status, response, claimed.UnixMicro())
	return classify("sqlstore.Complete", err)
}

func (s idemStore) Release(ctx context.Context, principal, key string, claimed time.Time) error {
	_, err := s.db.w.ExecContext(ctx, `DELETE FROM idempotency WHERE principal = $1 AND key = $2 AND status = 0 AND create_time = $3`,
		principal, key, claimed.UnixMicro())
	return classify("sqlstore.Release", err)
}
