package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/atriumid/atrium/internal/credential"
	"github.com/atriumid/atrium/internal/fault"
)

// Passkeys returns the store of passkeys, user handles and WebAuthn
// ceremonies over db.
func (db *DB) Passkeys() credential.PasskeyStore { return passkeyStore{db} }

type passkeyStore struct{ db *DB }

// ceremonyPrune is how long expired ceremonies are kept before an insert
// removes them.
const ceremonyPrune = time.Hour

func (s passkeyStore) UserHandle(ctx context.Context, accountID string, fresh []byte) ([]byte, error) {
	const op = "sqlstore.UserHandle"
	var h []byte
	err := s.db.update(ctx, func(q queryer) error {
		if fresh != nil {
			if _, err := q.ExecContext(ctx, `INSERT INTO passkey_users (account_id, user_handle)
				SELECT id, $2 FROM accounts WHERE id = $1 AND erase_time IS NULL
				ON CONFLICT (account_id) DO NOTHING`, accountID, fresh); err != nil {
				return classify(op, err)
			}
		}
		return notFound(op, "account has no passkeys", q.QueryRowContext(ctx,
			`SELECT u.user_handle FROM passkey_users u JOIN accounts a ON a.id = u.account_id WHERE u.account_id = $1 AND a.erase_time IS NULL`, accountID).Scan(&h))
	})
	return h, err
}

func (s passkeyStore) HandleAccount(ctx context.Context, handle []byte) (string, error) {
	var id string
	err := s.db.r.QueryRowContext(ctx, `SELECT account_id FROM passkey_users WHERE user_handle = $1`, handle).Scan(&id)
	return id, notFound("sqlstore.HandleAccount", "unknown user handle", err)
}

func (s passkeyStore) Passkeys(ctx context.Context, accountID string) ([]credential.PasskeyRecord, error) {
	const op = "sqlstore.Passkeys"
	rows, err := s.db.r.QueryContext(ctx, `SELECT id, name, credential, sign_count, create_time, last_use_time, flag_time
		FROM passkeys WHERE account_id = $1 ORDER BY create_time, id`, accountID)
	if err != nil {
		return nil, classify(op, err)
	}
	defer rows.Close()
	var out []credential.PasskeyRecord
	for rows.Next() {
		r := credential.PasskeyRecord{AccountID: accountID}
		var cred string
		var count int64
		var created, used, flagged sql.NullInt64
		if err := rows.Scan(&r.ID, &r.Name, &cred, &count, &created, &used, &flagged); err != nil {
			return nil, classify(op, err)
		}
		r.Credential, r.SignCount = []byte(cred), uint32(count)
		r.CreateTime, r.LastUseTime, r.FlagTime = fromMicros(created), fromMicros(used), fromMicros(flagged)
		out = append(out, r)
	}
	return out, classify(op, rows.Err())
}

func (s passkeyStore) InsertCeremony(ctx context.Context, c credential.PasskeyCeremony) error {
	const op = "sqlstore.InsertCeremony"
	var account any
	if c.AccountID != "" {
		account = c.AccountID
	}
	return s.db.update(ctx, func(q queryer) error {
		if _, err := q.ExecContext(ctx, `DELETE FROM passkey_ceremonies WHERE expire_time < $1`, c.Expire.Add(-ceremonyPrune).UnixMicro()); err != nil {
			return classify(op, err)
		}
		_, err := q.ExecContext(ctx, `INSERT INTO passkey_ceremonies (hash, purpose, account_id, mfa_hash, state, expire_time) VALUES ($1, $2, $3, $4, $5, $6)`,
			c.Hash, c.Purpose, account, c.MFAHash, string(c.State), c.Expire.UnixMicro())
		return classify(op, err)
	})
}

func (s passkeyStore) ConsumeCeremony(ctx context.Context, hash []byte, now time.Time) (credential.PasskeyCeremony, error) {
	const op = "sqlstore.ConsumeCeremony"
	c := credential.PasskeyCeremony{Hash: hash}
	var account sql.NullString
	var state string
	var expire int64
	err := s.db.w.QueryRowContext(ctx, `DELETE FROM passkey_ceremonies WHERE hash = $1 AND expire_time > $2
		RETURNING purpose, account_id, mfa_hash, state, expire_time`, hash, now.UnixMicro()).Scan(&c.Purpose, &account, &c.MFAHash, &state, &expire)
	if err == sql.ErrNoRows {
		return c, fault.E(op, fault.Aborted, "ceremony unknown, used or expired")
	}
	c.AccountID, c.State, c.Expire = account.String, []byte(state), time.UnixMicro(expire).UTC()
	return c, classify(op, err)
}

// commitChange appends c's event and audit record, last in a transaction.
func commitChange(ctx context.Context, q queryer, c credential.Change) error {
	if c.Event != nil {
		if err := appendEvent(ctx, q, *c.Event); err != nil {
			return err
		}
	}
	return appendAudit(ctx, q, c.Audit)
}

func (s passkeyStore) AddPasskey(ctx context.Context, r credential.PasskeyRecord, c credential.Change) error {
	const op = "sqlstore.AddPasskey"
	return s.db.update(ctx, func(q queryer) error {
		res, err := q.ExecContext(ctx, `INSERT INTO passkeys (id, account_id, name, credential, sign_count, create_time)
			SELECT $1, id, $3, $4, $5, $6 FROM accounts WHERE id = $2 AND erase_time IS NULL`,
			r.ID, r.AccountID, r.Name, string(r.Credential), int64(r.SignCount), r.CreateTime.UnixMicro())
		if err != nil {
			return classify(op, err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fault.E(op, fault.NotFound, "account not found")
		}
		return commitChange(ctx, q, c)
	})
}

func (s passkeyStore) DeletePasskey(ctx context.Context, accountID string, id []byte, c credential.Change) error {
	const op = "sqlstore.DeletePasskey"
	return s.db.update(ctx, func(q queryer) error {
		res, err := q.ExecContext(ctx, `DELETE FROM passkeys WHERE id = $1 AND account_id = $2`, id, accountID)
		if err != nil {
			return classify(op, err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fault.E(op, fault.NotFound, "no such passkey")
		}
		return commitChange(ctx, q, c)
	})
}

func (s passkeyStore) UsePasskey(ctx context.Context, id []byte, old, count uint32, now time.Time, c credential.Change) error {
	const op = "sqlstore.UsePasskey"
	return s.db.update(ctx, func(q queryer) error {
		if err := exactlyOne(ctx, q, op, "passkey used concurrently or flagged",
			`UPDATE passkeys SET sign_count = $3, last_use_time = $4 WHERE id = $1 AND sign_count = $2 AND flag_time IS NULL`,
			id, int64(old), int64(count), now.UnixMicro()); err != nil {
			return err
		}
		return commitChange(ctx, q, c)
	})
}

func (s passkeyStore) FlagPasskey(ctx context.Context, id []byte, now time.Time, c credential.Change) error {
	const op = "sqlstore.FlagPasskey"
	return s.db.update(ctx, func(q queryer) error {
		if _, err := q.ExecContext(ctx, `UPDATE passkeys SET flag_time = $2 WHERE id = $1 AND flag_time IS NULL`, id, now.UnixMicro()); err != nil {
			return classify(op, err)
		}
		return commitChange(ctx, q, c)
	})
}

func (s passkeyStore) RecordPasskeyChange(ctx context.Context, c credential.Change) error {
	return s.db.update(ctx, func(q queryer) error { return commitChange(ctx, q, c) })
}
