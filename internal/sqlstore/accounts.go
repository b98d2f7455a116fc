package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/audit"
	"github.com/atriumid/atrium/internal/authz"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/outbox"
	"github.com/atriumid/atrium/internal/relation"
)

// HasDataKeys reports whether any account holds a wrapped data key, that
// is, whether the database holds data sealed with the key-encryption keys.
func (db *DB) HasDataKeys(ctx context.Context) (bool, error) {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM accounts WHERE data_key IS NOT NULL LIMIT 1) AS sealed`).Scan(&n)
	return n > 0, classify("sqlstore.HasDataKeys", err)
}

// Accounts returns the account store over db.
func (db *DB) Accounts() account.Store { return accountStore{db} }

type accountStore struct{ db *DB }

func (s accountStore) Update(ctx context.Context, fn func(ctx context.Context, tx account.Tx) error) error {
	return s.db.update(ctx, func(q queryer) error { return fn(ctx, accountTx{q}) })
}

func (s accountStore) View(ctx context.Context, fn func(ctx context.Context, r account.Reader) error) error {
	return s.db.view(ctx, func(q queryer) error { return fn(ctx, accountTx{q}) })
}

// accountTx implements account.Tx (and so account.Reader) over one
// transaction.
type accountTx struct{ q queryer }

const accountColumns = `id, kind, state, version, data_key, create_time, update_time, erase_time`

func scanAccount(row interface{ Scan(...any) error }) (account.Record, error) {
	var r account.Record
	var created, updated, erased sql.NullInt64
	err := row.Scan(&r.ID, &r.Kind, &r.State, &r.Version, &r.DataKey, &created, &updated, &erased)
	r.CreateTime, r.UpdateTime, r.EraseTime = fromMicros(created), fromMicros(updated), fromMicros(erased)
	return r, err
}

func (t accountTx) Account(ctx context.Context, id string) (account.Record, error) {
	r, err := scanAccount(t.q.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, id))
	if err == sql.ErrNoRows {
		return r, fault.E("sqlstore.Account", fault.NotFound, "account not found")
	}
	return r, classify("sqlstore.Account", err)
}

func (t accountTx) Accounts(ctx context.Context, q account.Query) ([]account.Record, error) {
	const op = "sqlstore.Accounts"
	query := `SELECT ` + accountColumns + ` FROM accounts WHERE kind = $1 AND id > $2 ORDER BY id LIMIT $3`
	args := []any{q.Kind, q.After, q.Limit}
	if q.State != "" {
		query = `SELECT ` + accountColumns + ` FROM accounts WHERE kind = $1 AND id > $2 AND state = $4 ORDER BY id LIMIT $3`
		args = append(args, q.State)
	}
	rows, err := t.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, classify(op, err)
	}
	defer rows.Close()
	var out []account.Record
	for rows.Next() {
		r, err := scanAccount(rows)
		if err != nil {
			return nil, classify(op, err)
		}
		out = append(out, r)
	}
	return out, classify(op, rows.Err())
}

func (t accountTx) Fragments(ctx context.Context, accountIDs, names []string) ([]account.FragmentRecord, error) {
	const op = "sqlstore.Fragments"
	if len(accountIDs) == 0 {
		return nil, nil
	}
	query := `SELECT account_id, name, version, data, sealed, update_time FROM fragments WHERE account_id IN (` + placeholders(1, len(accountIDs)) + `)`
	args := make([]any, 0, len(accountIDs)+len(names))
	for _, id := range accountIDs {
		args = append(args, id)
	}
	if len(names) > 0 {
		query += ` AND name IN (` + placeholders(len(args)+1, len(names)) + `)`
		for _, n := range names {
			args = append(args, n)
		}
	}
	rows, err := t.q.QueryContext(ctx, query+` ORDER BY account_id, name`, args...)
	if err != nil {
		return nil, classify(op, err)
	}
	defer rows.Close()
	var out []account.FragmentRecord
	for rows.Next() {
		var f account.FragmentRecord
		var updated sql.NullInt64
		if err := rows.Scan(&f.AccountID, &f.Name, &f.Version, &f.Data, &f.Sealed, &updated); err != nil {
			return nil, classify(op, err)
		}
		f.UpdateTime = fromMicros(updated)
		out = append(out, f)
	}
	return out, classify(op, rows.Err())
}

func (t accountTx) Identifiers(ctx context.Context, accountIDs []string) ([]account.IdentifierRecord, error) {
	const op = "sqlstore.Identifiers"
	if len(accountIDs) == 0 {
		return nil, nil
	}
	args := make([]any, len(accountIDs))
	for i, id := range accountIDs {
		args[i] = id
	}
	rows, err := t.q.QueryContext(ctx, `SELECT account_id, type, value, verify_time, create_time FROM identifiers WHERE account_id IN (`+
		placeholders(1, len(args))+`) ORDER BY account_id, type, value`, args...)
	if err != nil {
		return nil, classify(op, err)
	}
	defer rows.Close()
	var out []account.IdentifierRecord
	for rows.Next() {
		var r account.IdentifierRecord
		var verified, created sql.NullInt64
		if err := rows.Scan(&r.AccountID, &r.Type, &r.Value, &verified, &created); err != nil {
			return nil, classify(op, err)
		}
		r.VerifyTime, r.CreateTime = fromMicros(verified), fromMicros(created)
		out = append(out, r)
	}
	return out, classify(op, rows.Err())
}

func (t accountTx) Resolve(ctx context.Context, typ, value string) (string, error) {
	var id string
	err := t.q.QueryRowContext(ctx, `SELECT account_id FROM identifiers WHERE type = $1 AND value = $2`, typ, value).Scan(&id)
	if err == sql.ErrNoRows {
		return "", fault.E("sqlstore.Resolve", fault.NotFound, "no account holds this identifier")
	}
	return id, classify("sqlstore.Resolve", err)
}

func (t accountTx) InsertAccount(ctx context.Context, r account.Record) error {
	_, err := t.q.ExecContext(ctx, `INSERT INTO accounts (`+accountColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		r.ID, r.Kind, r.State, r.Version, r.DataKey, micros(r.CreateTime), micros(r.UpdateTime), micros(r.EraseTime))
	return classify("sqlstore.InsertAccount", err)
}

func (t accountTx) TouchAccount(ctx context.Context, id string, now time.Time) (account.Record, error) {
	r, err := scanAccount(t.q.QueryRowContext(ctx, `UPDATE accounts SET version = version + 1, update_time = $2 WHERE id = $1 RETURNING `+accountColumns, id, now.UnixMicro()))
	if err == sql.ErrNoRows {
		return r, fault.E("sqlstore.TouchAccount", fault.NotFound, "account not found")
	}
	return r, classify("sqlstore.TouchAccount", err)
}

func (t accountTx) SetState(ctx context.Context, id, state string) error {
	_, err := t.q.ExecContext(ctx, `UPDATE accounts SET state = $2 WHERE id = $1`, id, state)
	return classify("sqlstore.SetState", err)
}

func (t accountTx) SetDataKey(ctx context.Context, id string, wrapped []byte) error {
	_, err := t.q.ExecContext(ctx, `UPDATE accounts SET data_key = $2 WHERE id = $1`, id, wrapped)
	return classify("sqlstore.SetDataKey", err)
}

func (t accountTx) Erase(ctx context.Context, id string, now time.Time) error {
	const op = "sqlstore.Erase"
	rec, err := t.Account(ctx, id)
	if err != nil {
		return err
	}
	if err := deleteTuplesOf(ctx, t.q, rec.Kind, id); err != nil {
		return err
	}
	// Credentials go too: a password hash, codes that may hold an e-mail
	// address, TOTP secrets, recovery codes and passkeys are the account's data.
	for _, q := range []string{
		`DELETE FROM fragments WHERE account_id = $1`,
		`DELETE FROM identifiers WHERE account_id = $1`,
		`DELETE FROM passwords WHERE account_id = $1`,
		`DELETE FROM totp_secrets WHERE account_id = $1`,
		`DELETE FROM recovery_codes WHERE account_id = $1`,
		`DELETE FROM mfa_challenges WHERE account_id = $1`,
		`DELETE FROM email_codes WHERE account_id = $1`,
		`DELETE FROM passkeys WHERE account_id = $1`,
		`DELETE FROM passkey_users WHERE account_id = $1`,
		`DELETE FROM passkey_ceremonies WHERE account_id = $1`,
	} {
		if _, err := t.q.ExecContext(ctx, q, id); err != nil {
			return classify(op, err)
		}
	}
	_, err = t.q.ExecContext(ctx, `UPDATE accounts SET state = $2, erase_time = $3, data_key = NULL WHERE id = $1`, id, account.Erased, now.UnixMicro())
	return classify(op, err)
}

func (t accountTx) PutFragment(ctx context.Context, f account.FragmentRecord, current int64) error {
	const op = "sqlstore.PutFragment"
	var res sql.Result
	var err error
	if current == 0 {
		res, err = t.q.ExecContext(ctx, `INSERT INTO fragments (account_id, name, version, data, sealed, update_time) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (account_id, name) DO NOTHING`, f.AccountID, f.Name, f.Version, f.Data, f.Sealed, f.UpdateTime.UnixMicro())
	} else {
		res, err = t.q.ExecContext(ctx, `UPDATE fragments SET version = $3, data = $4, sealed = $5, update_time = $6
			WHERE account_id = $1 AND name = $2 AND version = $7`, f.AccountID, f.Name, f.Version, f.Data, f.Sealed, f.UpdateTime.UnixMicro(), current)
	}
	if err != nil {
		return classify(op, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fault.E(op, fault.Aborted, "fragment %q changed concurrently", f.Name)
	}
	return nil
}

func (t accountTx) InsertIdentifier(ctx context.Context, r account.IdentifierRecord) error {
	_, err := t.q.ExecContext(ctx, `INSERT INTO identifiers (type, value, account_id, verify_time, create_time) VALUES ($1, $2, $3, $4, $5)`,
		r.Type, r.Value, r.AccountID, micros(r.VerifyTime), micros(r.CreateTime))
	return classify("sqlstore.InsertIdentifier", err)
}

func (t accountTx) WriteTuples(ctx context.Context, ts []relation.Tuple) (int64, error) {
	return writeTuples(ctx, t.q, authz.Write{Writes: ts})
}

func (t accountTx) AppendEvent(ctx context.Context, e outbox.Event) error {
	return appendEvent(ctx, t.q, e)
}

func (t accountTx) AppendAudit(ctx context.Context, e audit.Entry) error {
	return appendAudit(ctx, t.q, e)
}
