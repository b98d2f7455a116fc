package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/atriumid/atrium/internal/credential"
	"github.com/atriumid/atrium/internal/fault"
)

// Wallets returns the store of sign-in nonces, wallet identifiers and ENS
// identifiers over db.
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

func (s walletStore) DeleteWallet(ctx context.Context, c credential.IdentifierChange) error {
	const op = "sqlstore.DeleteWallet"
	return s.db.update(ctx, func(q queryer) error {
		kind, version, err := bumpAccount(ctx, q, op, c.AccountID, c.Time)
		if err != nil {
			return err
		}
		var wallets, others int
		if err := q.QueryRowContext(ctx, `SELECT
			(SELECT COUNT(*) FROM identifiers WHERE account_id = $1 AND type = 'wallet' AND value <> $2),
			(SELECT COUNT(*) FROM passwords WHERE account_id = $1) + (SELECT COUNT(*) FROM passkeys WHERE account_id = $1 AND flag_time IS NULL)`,
			c.AccountID, c.Value).Scan(&wallets, &others); err != nil {
			return classify(op, err)
		}
		err = exactlyOne(ctx, q, op, "", `DELETE FROM identifiers WHERE type = 'wallet' AND value = $2 AND account_id = $1`, c.AccountID, c.Value)
		if fault.Is(err, fault.Aborted) {
			return fault.E(op, fault.NotFound, "the account does not hold this wallet")
		}
		if err != nil {
			return err
		}
		if wallets == 0 && others == 0 {
			return &fault.Error{Op: op, Kind: fault.FailedPrecondition, Msg: "the account's only wallet cannot be removed while it has no password or passkey", Err: credential.ErrLastSignIn}
		}
		return record(ctx, q, c, kind, version)
	})
}

// bumpAccount gives a live account a new version and returns its kind and
// that version. The row lock it takes on PostgreSQL orders concurrent
// identifier changes of one account. It returns fault.NotFound for no live
// account.
func bumpAccount(ctx context.Context, q queryer, op, accountID string, now time.Time) (string, int64, error) {
	var kind string
	var version int64
	err := q.QueryRowContext(ctx, `UPDATE accounts SET version = version + 1, update_time = $2 WHERE id = $1 AND erase_time IS NULL
		RETURNING kind, version`, accountID, now.UnixMicro()).Scan(&kind, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, fault.E(op, fault.NotFound, "account not found")
	}
	return kind, version, classify(op, err)
}

// record appends the event and audit record of c.
func record(ctx context.Context, q queryer, c credential.IdentifierChange, kind string, version int64) error {
	e, a, err := c.Record(kind, version)
	if err != nil {
		return err
	}
	if err := appendEvent(ctx, q, e); err != nil {
		return err
	}
	return appendAudit(ctx, q, a)
}

func (s walletStore) InsertENS(ctx context.Context, c credential.IdentifierChange, wallets []string) error {
	const op = "sqlstore.InsertENS"
	return s.db.update(ctx, func(q queryer) error {
		var held int
		if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM identifiers WHERE account_id = $1 AND type = 'wallet' AND value IN ($2, $3)
			AND account_id IN (SELECT id FROM accounts WHERE id = $1 AND erase_time IS NULL)`, c.AccountID, wallets[0], wallets[1]).Scan(&held); err != nil {
			return classify(op, err)
		}
		if held == 0 {
			return &fault.Error{Op: op, Kind: fault.FailedPrecondition, Msg: "the ENS name does not resolve to a wallet of this account", Err: credential.ErrENSDisagrees}
		}
		var owner string
		err := q.QueryRowContext(ctx, `SELECT account_id FROM identifiers WHERE type = 'ens' AND value = $1`, c.Value).Scan(&owner)
		switch {
		case err == nil && owner == c.AccountID:
			_, err := q.ExecContext(ctx, `UPDATE identifiers SET verify_time = $3 WHERE type = 'ens' AND value = $2 AND account_id = $1`, c.AccountID, c.Value, c.Time.UnixMicro())
			return classify(op, err)
		case err == nil:
			return fault.E(op, fault.AlreadyExists, "another account holds this ENS name")
		case !errors.Is(err, sql.ErrNoRows):
			return classify(op, err)
		}
		kind, version, err := bumpAccount(ctx, q, op, c.AccountID, c.Time)
		if err != nil {
			return err
		}
		if _, err := q.ExecContext(ctx, `INSERT INTO identifiers (type, value, account_id, verify_time, create_time) VALUES ('ens', $1, $2, $3, $3)`,
			c.Value, c.AccountID, c.Time.UnixMicro()); err != nil {
			return classify(op, err)
		}
		return record(ctx, q, c, kind, version)
	})
}

func (s walletStore) DueENS(ctx context.Context, before time.Time, limit int) ([]credential.ENSRecord, error) {
	const op = "sqlstore.DueENS"
	rows, err := s.db.r.QueryContext(ctx, `SELECT i.account_id, i.value, i.verify_time FROM identifiers i JOIN accounts a ON a.id = i.account_id
		WHERE i.type = 'ens' AND a.erase_time IS NULL AND COALESCE(i.verify_time, 0) < $1 ORDER BY i.verify_time, i.value LIMIT $2`, before.UnixMicro(), limit)
	if err != nil {
		return nil, classify(op, err)
	}
	defer rows.Close()
	var out []credential.ENSRecord
	for rows.Next() {
		var r credential.ENSRecord
		var verified sql.NullInt64
		if err := rows.Scan(&r.AccountID, &r.Name, &verified); err != nil {
			return nil, classify(op, err)
		}
		r.VerifyTime = fromMicros(verified)
		out = append(out, r)
	}
	return out, classify(op, rows.Err())
}

func (s walletStore) TouchENS(ctx context.Context, r credential.ENSRecord, now time.Time) error {
	return exactlyOne(ctx, s.db.w, "sqlstore.TouchENS", "ENS name verified or removed meanwhile",
		`UPDATE identifiers SET verify_time = $4 WHERE type = 'ens' AND value = $2 AND account_id = $1 AND verify_time = $3`,
		r.AccountID, r.Name, r.VerifyTime.UnixMicro(), now.UnixMicro())
}

func (s walletStore) DeleteENS(ctx context.Context, r credential.ENSRecord, c credential.IdentifierChange) error {
	const op = "sqlstore.DeleteENS"
	return s.db.update(ctx, func(q queryer) error {
		if err := exactlyOne(ctx, q, op, "ENS name verified or removed meanwhile",
			`DELETE FROM identifiers WHERE type = 'ens' AND value = $2 AND account_id = $1 AND verify_time = $3`,
			r.AccountID, r.Name, r.VerifyTime.UnixMicro()); err != nil {
			return err
		}
		kind, version, err := bumpAccount(ctx, q, op, c.AccountID, c.Time)
		if err != nil {
			return err
		}
		return record(ctx, q, c, kind, version)
	})
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
