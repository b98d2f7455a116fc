package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/atriumid/atrium/internal/credential"
	"github.com/atriumid/atrium/internal/fault"
)

// Credentials returns the credential store over db.
func (db *DB) Credentials() credential.Store { return credentialStore{db} }

type credentialStore struct{ db *DB }

// Update runs fn in one transaction. accountTx implements credential.Tx:
// a credential write, its event and its audit record commit together, and
// with the account's own writes when the account service's transaction
// runs them.
func (s credentialStore) Update(ctx context.Context, fn func(ctx context.Context, tx credential.Tx) error) error {
	return s.db.update(ctx, func(q queryer) error { return fn(ctx, accountTx{q}) })
}

func notFound(op, msg string, err error) error {
	if err == sql.ErrNoRows {
		return fault.E(op, fault.NotFound, "%s", msg)
	}
	return classify(op, err)
}

func (s credentialStore) AccountState(ctx context.Context, accountID string) (kind, state string, err error) {
	err = s.db.r.QueryRowContext(ctx, `SELECT kind, state FROM accounts WHERE id = $1`, accountID).Scan(&kind, &state)
	return kind, state, notFound("sqlstore.AccountState", "account not found", err)
}

func (s credentialStore) DataKey(ctx context.Context, accountID string) ([]byte, error) {
	var k []byte
	err := s.db.r.QueryRowContext(ctx, `SELECT data_key FROM accounts WHERE id = $1`, accountID).Scan(&k)
	return k, notFound("sqlstore.DataKey", "account not found", err)
}

func (s credentialStore) SetDataKeyIfMissing(ctx context.Context, accountID string, wrapped []byte) ([]byte, error) {
	const op = "sqlstore.SetDataKeyIfMissing"
	var k []byte
	err := s.db.update(ctx, func(q queryer) error {
		if _, err := q.ExecContext(ctx, `UPDATE accounts SET data_key = $2 WHERE id = $1 AND data_key IS NULL AND erase_time IS NULL`, accountID, wrapped); err != nil {
			return classify(op, err)
		}
		return notFound(op, "account not found", q.QueryRowContext(ctx, `SELECT data_key FROM accounts WHERE id = $1`, accountID).Scan(&k))
	})
	if err == nil && k == nil {
		return nil, fault.E(op, fault.FailedPrecondition, "account is erased")
	}
	return k, err
}

func (s credentialStore) PasswordHash(ctx context.Context, accountID string) (string, error) {
	var h string
	err := s.db.r.QueryRowContext(ctx, `SELECT hash FROM passwords WHERE account_id = $1`, accountID).Scan(&h)
	return h, notFound("sqlstore.PasswordHash", "no password", err)
}

func (t accountTx) PutPassword(ctx context.Context, accountID, hash string, now time.Time) error {
	_, err := t.q.ExecContext(ctx, `INSERT INTO passwords (account_id, hash, update_time) VALUES ($1, $2, $3)`, accountID, hash, now.UnixMicro())
	return classify("sqlstore.PutPassword", err)
}

func (t accountTx) SetPassword(ctx context.Context, accountID, hash string, now time.Time) error {
	_, err := t.q.ExecContext(ctx, `INSERT INTO passwords (account_id, hash, update_time) VALUES ($1, $2, $3)
		ON CONFLICT (account_id) DO UPDATE SET hash = $2, update_time = $3`, accountID, hash, now.UnixMicro())
	return classify("sqlstore.SetPassword", err)
}

func (t accountTx) ReplacePassword(ctx context.Context, accountID, old, hash string, now time.Time) error {
	return exactlyOne(ctx, t.q, "sqlstore.ReplacePassword", "password changed concurrently",
		`UPDATE passwords SET hash = $3, update_time = $4 WHERE account_id = $1 AND hash = $2`, accountID, old, hash, now.UnixMicro())
}

func (s credentialStore) TOTP(ctx context.Context, accountID string) (credential.TOTPRecord, error) {
	r := credential.TOTPRecord{AccountID: accountID}
	var created, confirmed sql.NullInt64
	err := s.db.r.QueryRowContext(ctx, `SELECT secret, last_step, create_time, confirm_time FROM totp_secrets WHERE account_id = $1`, accountID).
		Scan(&r.Sealed, &r.LastStep, &created, &confirmed)
	r.CreateTime, r.ConfirmTime = fromMicros(created), fromMicros(confirmed)
	return r, notFound("sqlstore.TOTP", "no TOTP secret", err)
}

func (t accountTx) PutPendingTOTP(ctx context.Context, r credential.TOTPRecord) error {
	const op = "sqlstore.PutPendingTOTP"
	res, err := t.q.ExecContext(ctx, `INSERT INTO totp_secrets (account_id, secret, last_step, create_time) VALUES ($1, $2, 0, $3)
		ON CONFLICT (account_id) DO UPDATE SET secret = $2, last_step = 0, create_time = $3 WHERE totp_secrets.confirm_time IS NULL`,
		r.AccountID, r.Sealed, r.CreateTime.UnixMicro())
	if err != nil {
		return classify(op, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fault.E(op, fault.AlreadyExists, "TOTP is already enrolled")
	}
	return nil
}

func (t accountTx) ConfirmTOTP(ctx context.Context, accountID string, sealed []byte, step int64, now time.Time) error {
	return exactlyOne(ctx, t.q, "sqlstore.ConfirmTOTP", "TOTP enrolment changed concurrently",
		`UPDATE totp_secrets SET confirm_time = $4, last_step = $3 WHERE account_id = $1 AND secret = $2 AND confirm_time IS NULL AND last_step < $3`,
		accountID, sealed, step, now.UnixMicro())
}

func (s credentialStore) AdvanceTOTP(ctx context.Context, accountID string, step int64) error {
	return exactlyOne(ctx, s.db.w, "sqlstore.AdvanceTOTP", "TOTP code already used",
		`UPDATE totp_secrets SET last_step = $2 WHERE account_id = $1 AND confirm_time IS NOT NULL AND last_step < $2`, accountID, step)
}

func (t accountTx) DeleteTOTP(ctx context.Context, accountID string) error {
	const op = "sqlstore.DeleteTOTP"
	res, err := t.q.ExecContext(ctx, `DELETE FROM totp_secrets WHERE account_id = $1`, accountID)
	if err != nil {
		return classify(op, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fault.E(op, fault.NotFound, "no TOTP secret")
	}
	_, err = t.q.ExecContext(ctx, `DELETE FROM recovery_codes WHERE account_id = $1`, accountID)
	return classify(op, err)
}

func (t accountTx) ReplaceRecoveryCodes(ctx context.Context, accountID string, hashes [][]byte, now time.Time) error {
	const op = "sqlstore.ReplaceRecoveryCodes"
	if _, err := t.q.ExecContext(ctx, `DELETE FROM recovery_codes WHERE account_id = $1`, accountID); err != nil {
		return classify(op, err)
	}
	for _, h := range hashes {
		if _, err := t.q.ExecContext(ctx, `INSERT INTO recovery_codes (account_id, hash, create_time) VALUES ($1, $2, $3)`, accountID, h, now.UnixMicro()); err != nil {
			return classify(op, err)
		}
	}
	return nil
}

func (t accountTx) UseRecoveryCode(ctx context.Context, accountID string, hash []byte, now time.Time) error {
	return exactlyOne(ctx, t.q, "sqlstore.UseRecoveryCode", "no such unused recovery code",
		`UPDATE recovery_codes SET use_time = $3 WHERE account_id = $1 AND hash = $2 AND use_time IS NULL`, accountID, hash, now.UnixMicro())
}

func (s credentialStore) RecoveryCodesLeft(ctx context.Context, accountID string) (int, error) {
	var n int
	err := s.db.r.QueryRowContext(ctx, `SELECT count(*) FROM recovery_codes WHERE account_id = $1 AND use_time IS NULL`, accountID).Scan(&n)
	return n, classify("sqlstore.RecoveryCodesLeft", err)
}

func (s credentialStore) InsertChallenge(ctx context.Context, hash []byte, accountID string, expire time.Time) error {
	const op = "sqlstore.InsertChallenge"
	return s.db.update(ctx, func(q queryer) error {
		// Expired challenges go as new ones come, so the table stays small.
		if _, err := q.ExecContext(ctx, `DELETE FROM mfa_challenges WHERE expire_time < $1`, expire.Add(-24*time.Hour).UnixMicro()); err != nil {
			return classify(op, err)
		}
		_, err := q.ExecContext(ctx, `INSERT INTO mfa_challenges (hash, account_id, expire_time) VALUES ($1, $2, $3)`, hash, accountID, expire.UnixMicro())
		return classify(op, err)
	})
}

func (s credentialStore) ChallengeAccount(ctx context.Context, hash []byte, now time.Time) (string, error) {
	var id string
	err := s.db.r.QueryRowContext(ctx, `SELECT account_id FROM mfa_challenges WHERE hash = $1 AND expire_time > $2`, hash, now.UnixMicro()).Scan(&id)
	return id, notFound("sqlstore.ChallengeAccount", "no such challenge", err)
}

func (s credentialStore) ConsumeChallenge(ctx context.Context, hash []byte, now time.Time) error {
	return exactlyOne(ctx, s.db.w, "sqlstore.ConsumeChallenge", "challenge already used or expired",
		`DELETE FROM mfa_challenges WHERE hash = $1 AND expire_time > $2`, hash, now.UnixMicro())
}

func (s credentialStore) PutEmailCode(ctx context.Context, c credential.EmailCode) error {
	const op = "sqlstore.PutEmailCode"
	return s.db.update(ctx, func(q queryer) error {
		if _, err := q.ExecContext(ctx, `DELETE FROM email_codes WHERE account_id = $1`, c.AccountID); err != nil {
			return classify(op, err)
		}
		_, err := q.ExecContext(ctx, `INSERT INTO email_codes (flow_hash, account_id, address, code_hash, expire_time, type) VALUES ($1, $2, $3, $4, $5, $6)`,
			c.FlowHash, c.AccountID, c.Address, c.CodeHash, c.Expire.UnixMicro(), c.Type)
		return classify(op, err)
	})
}

func (s credentialStore) EmailCode(ctx context.Context, flowHash []byte, accountID string, now time.Time) (credential.EmailCode, error) {
	c := credential.EmailCode{FlowHash: flowHash, AccountID: accountID}
	var expire sql.NullInt64
	err := s.db.r.QueryRowContext(ctx, `SELECT address, code_hash, expire_time, type FROM email_codes WHERE flow_hash = $1 AND account_id = $2 AND expire_time > $3`,
		flowHash, accountID, now.UnixMicro()).Scan(&c.Address, &c.CodeHash, &expire, &c.Type)
	c.Expire = fromMicros(expire)
	return c, notFound("sqlstore.EmailCode", "no such code", err)
}

func (s credentialStore) CodeByFlow(ctx context.Context, flowHash []byte, now time.Time) (credential.EmailCode, error) {
	c := credential.EmailCode{FlowHash: flowHash}
	var expire sql.NullInt64
	err := s.db.r.QueryRowContext(ctx, `SELECT account_id, address, code_hash, expire_time, type FROM email_codes WHERE flow_hash = $1 AND expire_time > $2`,
		flowHash, now.UnixMicro()).Scan(&c.AccountID, &c.Address, &c.CodeHash, &expire, &c.Type)
	c.Expire = fromMicros(expire)
	return c, notFound("sqlstore.CodeByFlow", "no such code", err)
}

func (s credentialStore) ConsumeEmailCode(ctx context.Context, flowHash []byte, now time.Time) error {
	return exactlyOne(ctx, s.db.w, "sqlstore.ConsumeEmailCode", "code already used or expired",
		`DELETE FROM email_codes WHERE flow_hash = $1 AND expire_time > $2`, flowHash, now.UnixMicro())
}

func (s credentialStore) MarkIdentifierVerified(ctx context.Context, accountID, typ, value string, now time.Time) error {
	return accountTx{s.db.w}.MarkIdentifierVerified(ctx, accountID, typ, value, now)
}

func (t accountTx) MarkIdentifierVerified(ctx context.Context, accountID, typ, value string, now time.Time) error {
	res, err := t.q.ExecContext(ctx, `UPDATE identifiers SET verify_time = $4 WHERE account_id = $1 AND type = $2 AND value = $3`, accountID, typ, value, now.UnixMicro())
	if err != nil {
		return classify("sqlstore.MarkIdentifierVerified", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fault.E("sqlstore.MarkIdentifierVerified", fault.NotFound, "the account no longer holds this identifier")
	}
	return nil
}
