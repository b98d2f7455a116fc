package sqlstore

import (
	"context"
	"database/sql"
	"strconv"

	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/kind"
)

const kindsColumns = `version, document, applied_by, apply_time, diff`

// LatestKinds implements kind.History.
func (db *DB) LatestKinds(ctx context.Context) (kind.Version, error) {
	return db.kindsVersion(ctx, `SELECT `+kindsColumns+` FROM kinds_documents ORDER BY version DESC LIMIT 1`)
}

// LatestKindsNumber implements kind.History.
func (db *DB) LatestKindsNumber(ctx context.Context) (int64, error) {
	var n sql.NullInt64
	err := db.r.QueryRowContext(ctx, `SELECT max(version) FROM kinds_documents`).Scan(&n)
	return n.Int64, classify("sqlstore.LatestKindsNumber", err)
}

// KindsVersion implements kind.History.
func (db *DB) KindsVersion(ctx context.Context, n int64) (kind.Version, error) {
	return db.kindsVersion(ctx, `SELECT `+kindsColumns+` FROM kinds_documents WHERE version = $1`, n)
}

func (db *DB) kindsVersion(ctx context.Context, query string, args ...any) (kind.Version, error) {
	var v kind.Version
	var doc string
	var at sql.NullInt64
	err := db.w.QueryRowContext(ctx, query, args...).Scan(&v.Number, &doc, &v.AppliedBy, &at, &v.Diff)
	if err == sql.ErrNoRows {
		return v, fault.E("sqlstore.KindsVersion", fault.NotFound, "no such kinds document version")
	}
	v.Source, v.ApplyTime = []byte(doc), fromMicros(at)
	return v, classify("sqlstore.KindsVersion", err)
}

// AppendKinds implements kind.History: the version, then its event and
// audit record when trail is not nil, in one transaction. On PostgreSQL
// it also notifies the replicas that listen (ListenKinds), in the same
// transaction, so the notification goes out exactly when the version is
// committed.
func (db *DB) AppendKinds(ctx context.Context, v kind.Version, trail *kind.Trail) error {
	const op = "sqlstore.AppendKinds"
	return db.update(ctx, func(q queryer) error {
		_, err := q.ExecContext(ctx, `INSERT INTO kinds_documents (`+kindsColumns+`) VALUES ($1, $2, $3, $4, $5)`,
			v.Number, string(v.Source), v.AppliedBy, v.ApplyTime.UnixMicro(), v.Diff)
		if err != nil {
			return classify(op, err)
		}
		if db.engine == Postgres {
			if _, err := q.ExecContext(ctx, `SELECT pg_notify($1, $2)`, kindsChannel, strconv.FormatInt(v.Number, 10)); err != nil {
				return classify(op, err)
			}
		}
		if trail == nil {
			return nil
		}
		if err := appendEvent(ctx, q, trail.Event); err != nil {
			return err
		}
		return appendAudit(ctx, q, trail.Audit)
	})
}
