package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/credential"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/outbox"
	"github.com/atriumid/atrium/internal/session"
)

// Sessions returns the session store over db.
func (db *DB) Sessions() session.Store { return sessionStore{db} }

type sessionStore struct{ db *DB }

// exactlyOne runs a conditional statement and returns fault.Aborted unless
// it changed exactly one row: the affected-row check that makes a
// compare-and-set or a one-time use atomic under any concurrency.
func exactlyOne(ctx context.Context, q queryer, op, msg, query string, args ...any) error {
	res, err := q.ExecContext(ctx, query, args...)
	if err != nil {
		return classify(op, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fault.E(op, fault.Aborted, "%s", msg)
	}
	return nil
}

func (s sessionStore) InsertSession(ctx context.Context, r session.Record, replaces string, now time.Time, e outbox.Event) error {
	const op = "sqlstore.InsertSession"
	return s.db.update(ctx, func(q queryer) error {
		if replaces != "" {
			if err := exactlyOne(ctx, q, op, "session already replaced or revoked",
				`UPDATE sessions SET revoke_time = $3 WHERE id = $1 AND account_id = $2 AND revoke_time IS NULL`, replaces, r.AccountID, now.UnixMicro()); err != nil {
				return err
			}
		}
		_, err := q.ExecContext(ctx, `INSERT INTO sessions (id, token_hash, account_id, account_state, aal, methods, auth_time, last_seen, expire_time)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, r.ID, r.TokenHash, r.AccountID, r.AccountState, int(r.AAL),
			strings.Join(r.Methods, " "), r.AuthTime.UnixMicro(), r.LastSeen.UnixMicro(), r.ExpireTime.UnixMicro())
		if err != nil {
			return classify(op, err)
		}
		return credential.Record(ctx, accountTx{q}, e)
	})
}

const sessionColumns = `s.id, s.account_id, s.account_state, s.aal, s.methods, s.auth_time, s.last_seen, s.expire_time, s.revoke_time`

func scanSession(row interface{ Scan(...any) error }, extra ...any) (session.Session, error) {
	var x session.Session
	var aal int
	var methods string
	var auth, seen, expire, revoke sql.NullInt64
	err := row.Scan(append([]any{&x.ID, &x.AccountID, &x.AccountState, &aal, &methods, &auth, &seen, &expire, &revoke}, extra...)...)
	x.AAL, x.Methods = session.AAL(aal), strings.Fields(methods)
	x.AuthTime, x.LastSeen, x.ExpireTime, x.RevokeTime = fromMicros(auth), fromMicros(seen), fromMicros(expire), fromMicros(revoke)
	return x, err
}

func (s sessionStore) SessionByToken(ctx context.Context, hash []byte) (session.Record, string, error) {
	const op = "sqlstore.SessionByToken"
	var state string
	// A revocation must be seen by the very next request: the readers
	// read the primary (SQLite: the same file under WAL), which has every
	// committed one.
	x, err := scanSession(s.db.r.QueryRowContext(ctx, `SELECT `+sessionColumns+`, a.state FROM sessions s JOIN accounts a ON a.id = s.account_id
		WHERE s.token_hash = $1`, hash), &state)
	if err == sql.ErrNoRows {
		return session.Record{}, "", fault.E(op, fault.NotFound, "no such session")
	}
	return session.Record{Session: x, TokenHash: hash}, state, classify(op, err)
}

func (s sessionStore) TouchSession(ctx context.Context, id string, now time.Time) error {
	_, err := s.db.w.ExecContext(ctx, `UPDATE sessions SET last_seen = $2 WHERE id = $1 AND revoke_time IS NULL AND last_seen < $2`, id, now.UnixMicro())
	return classify("sqlstore.TouchSession", err)
}

func (s sessionStore) Sessions(ctx context.Context, accountID string, now time.Time) ([]session.Session, error) {
	const op = "sqlstore.Sessions"
	rows, err := s.db.r.QueryContext(ctx, `SELECT `+sessionColumns+` FROM sessions s
		WHERE s.account_id = $1 AND s.revoke_time IS NULL AND s.expire_time > $2 ORDER BY s.id DESC LIMIT 1000`, accountID, now.UnixMicro())
	if err != nil {
		return nil, classify(op, err)
	}
	defer rows.Close()
	var out []session.Session
	for rows.Next() {
		x, err := scanSession(rows)
		if err != nil {
			return nil, classify(op, err)
		}
		out = append(out, x)
	}
	return out, classify(op, rows.Err())
}

func (s sessionStore) RevokeSession(ctx context.Context, accountID, id string, now time.Time, e outbox.Event) error {
	const op = "sqlstore.RevokeSession"
	return s.db.update(ctx, func(q queryer) error {
		res, err := q.ExecContext(ctx, `UPDATE sessions SET revoke_time = $3 WHERE id = $1 AND account_id = $2 AND revoke_time IS NULL`, id, accountID, now.UnixMicro())
		if err != nil {
			return classify(op, err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fault.E(op, fault.NotFound, "no such live session")
		}
		return credential.Record(ctx, accountTx{q}, e)
	})
}

func (s sessionStore) RevokeSessions(ctx context.Context, accountID, keep string, now time.Time, e outbox.Event) (int, error) {
	var n int64
	err := s.db.update(ctx, func(q queryer) error {
		var err error
		if n, err = revokeSessions(ctx, q, accountID, keep, now); err != nil {
			return err
		}
		return credential.Record(ctx, accountTx{q}, e)
	})
	return int(n), err
}

func revokeSessions(ctx context.Context, q queryer, accountID, keep string, now time.Time) (int64, error) {
	res, err := q.ExecContext(ctx, `UPDATE sessions SET revoke_time = $3 WHERE account_id = $1 AND id <> $2 AND revoke_time IS NULL`, accountID, keep, now.UnixMicro())
	if err != nil {
		return 0, classify("sqlstore.RevokeSessions", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// SessionRevoker returns the hook through which the account service ends
// an account's sessions inside its own transaction.
func (db *DB) SessionRevoker() account.SessionRevoker { return sessionRevoker{} }

type sessionRevoker struct{}

func (sessionRevoker) RevokeSessions(ctx context.Context, tx account.Tx, accountID string, now time.Time) error {
	at, ok := tx.(accountTx)
	if !ok {
		return fault.E("sqlstore.RevokeSessions", fault.Internal, "transaction of another store")
	}
	_, err := revokeSessions(ctx, at.q, accountID, "", now)
	return err
}
