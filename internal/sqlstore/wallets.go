package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/atriumid/atrium/internal/credential"
	"github.com/atriumid/atrium/internal/fault"
)

// Wallets returns the store of sign-in nonces and wallet identifiers over
// db.
func (db *DB) Wallets() credential.WalletStore { return walletStore{db} }

type walletStore struct{ db *DB }

// noncePrune is how long expired nonces are kept before an insert removes
// them; only their hashes are stored, so keeping them a while costs little.
const noncePrune = time.Hour

func (s walletStore) InsertNonce(ctx context.Context, hash []byte, expire time.Time) error {
	const op = "sqlstore.InsertNonce"
	return s.db.update(ctx, func(q queryer) error {
		if _, err := q.ExecContext(ctx, `DELETE FROM siwe_nonces WHERE expire_time < $1`, expire.Add(-noncePrune).UnixMicro()); err != nil {
			return classify(op, err)
		}
		_, err := q.ExecContext(ctx, `INSERT INTO siwe_nonces (hash, expire_time) VALUES ($1, $2)`, hash, expire.UnixMicro())
		return classify(op, err)
	})
}

func (s walletStore) ConsumeNonce(ctx context.Context, hash []byte, now time.Time) error {
	return exactlyOne(ctx, s.db.w, "sqlstore.ConsumeNonce", "nonce unknown, used or expired",
		`UPDATE siwe_nonces SET use_time = $2 WHERE hash = $1 AND use_time IS NULL AND expire_time > $2`, hash, now.UnixMicro())
}

func (s walletStore) DeleteWallet(ctx context.Context, accountID, value string) error {
	const op = "sqlstore.DeleteWallet"
	res, err := s.db.w.ExecContext(ctx, `DELETE FROM identifiers WHERE type = 'wallet' AND value = $2 AND account_id = $1
		AND account_id IN (SELECT id FROM accounts WHERE id = $1 AND erase_time IS NULL)`, accountID, value)
	if err != nil {
		return classify(op, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fault.E(op, fault.NotFound, "the account does not hold this wallet")
	}
	return nil
}

func (s walletStore) Wallets(ctx context.Context, accountID string) ([]credential.WalletRecord, error) {
	const op = "sqlstore.Wallets"
	rows, err := s.db.r.QueryContext(ctx, `SELECT value, create_time, verify_time FROM identifiers WHERE type = 'wallet' AND account_id = $1 ORDER BY value`, accountID)
	if err != nil {
		return nil, classify(op, err)
	}
	defer rows.Close()
	var out []credential.WalletRecord
	for rows.Next() {
		var r credential.WalletRecord
		var created, verified sql.NullInt64
		if err := rows.Scan(&r.Value, &created, &verified); err != nil {
			return nil, classify(op, err)
		}
		r.CreateTime, r.VerifyTime = fromMicros(created), fromMicros(verified)
		out = append(out, r)
	}
	return out, classify(op, rows.Err())
}
