package sqlstore

import (
	"context"
	"database/sql"

	"github.com/atriumid/atrium/internal/fault"
)

// Setting returns the value of the named setting, storing make()'s result
// first when the setting is missing. Every replica gets the same value: the
// first to store wins and the others read it. Settings hold server secrets
// (such as the freshness-token key) that all replicas must share.
func (db *DB) Setting(ctx context.Context, name string, make func() ([]byte, error)) ([]byte, error) {
	const op = "sqlstore.Setting"
	var v []byte
	err := db.w.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v)
	if err == nil {
		return v, nil
	}
	nv, err := make()
	if err != nil {
		return nil, err
	}
	if _, err := db.w.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, nv); err != nil {
		return nil, classify(op, err)
	}
	if err := db.w.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v); err != nil {
		return nil, classify(op, err)
	}
	return v, nil
}

// StoredSetting returns the value of the named setting, or fault.NotFound
// when none was ever stored. Unlike Setting it never writes, so it works
// on a database opened with OpenReadOnly.
func (db *DB) StoredSetting(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := db.r.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v)
	if err == sql.ErrNoRows {
		return nil, fault.E("sqlstore.StoredSetting", fault.NotFound, "setting %s is not stored", name)
	}
	return v, classify("sqlstore.StoredSetting", err)
}
