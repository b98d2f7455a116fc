package sqlstore

import (
	"context"

	"github.com/atriumid/atrium/internal/kind"
)

// The usage queries run on the read pool: on SQLite it sees every
// committed write without queuing behind the one writer connection; on
// PostgreSQL it is the same pool.

// CountAccounts implements kind.Usage.
func (db *DB) CountAccounts(ctx context.Context, kindName, state string) (int64, error) {
	q := `SELECT count(*) FROM accounts WHERE kind = $1 AND erase_time IS NULL`
	args := []any{kindName}
	if state != "" {
		q += ` AND state = $2`
		args = append(args, state)
	}
	return db.count(ctx, q, args...)
}

// CountIdentifierHolders implements kind.Usage.
func (db *DB) CountIdentifierHolders(ctx context.Context, kindName, typ string) (int64, error) {
	return db.count(ctx, `SELECT count(DISTINCT i.account_id) FROM identifiers i JOIN accounts a ON a.id = i.account_id
		WHERE a.kind = $1 AND i.type = $2 AND a.erase_time IS NULL`, kindName, typ)
}

// CountFragmentHolders implements kind.Usage.
func (db *DB) CountFragmentHolders(ctx context.Context, kindName, fragment string) (int64, error) {
	return db.count(ctx, `SELECT count(*) FROM fragments f JOIN accounts a ON a.id = f.account_id
		WHERE a.kind = $1 AND f.name = $2 AND a.erase_time IS NULL`, kindName, fragment)
}

func (db *DB) count(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := db.r.QueryRowContext(ctx, query, args...).Scan(&n)
	return n, classify("sqlstore.count", err)
}

// ScanFragments implements kind.Usage: one keyset page, so that a caller
// holds at most limit fragments at a time.
func (db *DB) ScanFragments(ctx context.Context, kindName, fragment, after string, limit int) ([]kind.StoredFragment, error) {
	const op = "sqlstore.ScanFragments"
	rows, err := db.r.QueryContext(ctx, `SELECT f.account_id, f.name, f.data, f.sealed, a.data_key FROM fragments f JOIN accounts a ON a.id = f.account_id
		WHERE a.kind = $1 AND f.name = $2 AND f.account_id > $3 AND a.erase_time IS NULL ORDER BY f.account_id LIMIT $4`,
		kindName, fragment, after, limit)
	if err != nil {
		return nil, classify(op, err)
	}
	defer rows.Close()
	var out []kind.StoredFragment
	for rows.Next() {
		var f kind.StoredFragment
		if err := rows.Scan(&f.AccountID, &f.Fragment, &f.Data, &f.Sealed, &f.DataKey); err != nil {
			return nil, classify(op, err)
		}
		out = append(out, f)
	}
	return out, classify(op, rows.Err())
}
