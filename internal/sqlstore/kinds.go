package sqlstore

import (
	"context"
	"database/sql"

	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/kind"
)

// LatestKinds implements kind.History.
func (db *DB) LatestKinds(ctx context.Context) (kind.Version, error) {
	return db.kindsVersion(ctx, `SELECT version, document, applied_by, apply_time FROM kinds_documents ORDER BY version DESC LIMIT 1`)
}

// KindsVersion implements kind.History.
func (db *DB) KindsVersion(ctx context.Context, n int64) (kind.Version, error) {
	return db.kindsVersion(ctx, `SELECT version, document, applied_by, apply_time FROM kinds_documents WHERE version = $1`, n)
}

func (db *DB) kindsVersion(ctx context.Context, query string, args ...any) (kind.Version, error) {
	var v kind.Version
	var doc string
	var at sql.NullInt64
	err := db.w.QueryRowContext(ctx, query, args...).Scan(&v.Number, &doc, &v.AppliedBy, &at)
	if err == sql.ErrNoRows {
		return v, fault.E("sqlstore.KindsVersion", fault.NotFound, "no such kinds document version")
	}
	v.Source, v.ApplyTime = []byte(doc), fromMicros(at)
	return v, classify("sqlstore.KindsVersion", err)
}

// AppendKinds implements kind.History.
func (db *DB) AppendKinds(ctx context.Context, v kind.Version) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO kinds_documents (version, document, applied_by, apply_time) VALUES ($1, $2, $3, $4)`,
		v.Number, string(v.Source), v.AppliedBy, v.ApplyTime.UnixMicro())
	return classify("sqlstore.AppendKinds", err)
}
