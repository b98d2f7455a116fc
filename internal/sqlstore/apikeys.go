package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/atriumid/atrium/internal/fault"
)

// InsertAPIKey stores the hash of a new API key with its role.
func (db *DB) InsertAPIKey(ctx context.Context, id string, hash []byte, role string, now time.Time) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO api_keys (id, hash, role, create_time) VALUES ($1, $2, $3, $4)`, id, hash, role, now.UnixMicro())
	return classify("sqlstore.InsertAPIKey", err)
}

// APIKey returns the hash and role of a live (not revoked) API key, or
// fault.NotFound.
func (db *DB) APIKey(ctx context.Context, id string) (hash []byte, role string, err error) {
	err = db.r.QueryRowContext(ctx, `SELECT hash, role FROM api_keys WHERE id = $1 AND revoke_time IS NULL`, id).Scan(&hash, &role)
	if err == sql.ErrNoRows {
		return nil, "", fault.E("sqlstore.APIKey", fault.NotFound, "no such API key")
	}
	return hash, role, classify("sqlstore.APIKey", err)
}
