package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"

	"github.com/atriumid/atrium/internal/audit"
)

// appendAudit links e to the end of the audit chain.
//
// The chain's order must be its commit order, or a record would point at a
// previous hash that a concurrent transaction has not committed yet (and
// may roll back). The head row gives that order: incrementing it takes its
// row lock until the transaction ends, so appends are serialized from the
// increment to the commit. That is acceptable because callers append last
// (after the events sequencer, which serializes the same transactions in
// the same order, so the two locks never deadlock) and hold the lock only
// for their commit.
func appendAudit(ctx context.Context, q queryer, e audit.Entry) error {
	const op = "sqlstore.AppendAudit"
	var seq int64
	var prev []byte
	if err := q.QueryRowContext(ctx, `UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash`).Scan(&seq, &prev); err != nil {
		return classify(op, err)
	}
	r, err := audit.Seal(e, seq, prev)
	if err != nil {
		return classify(op, err)
	}
	if _, err := q.ExecContext(ctx, `INSERT INTO audit_records (seq, id, time, type, account_id, actor, request_id, data,
		client_digest, ip, user_agent, client_salt, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		r.Seq, r.ID, r.Time.UnixMicro(), r.Type, r.Account, r.Actor, r.RequestID, string(r.Data),
		r.ClientDigest, r.IP, r.UserAgent, r.ClientSalt, r.PrevHash, r.Hash); err != nil {
		return classify(op, err)
	}
	if _, err := q.ExecContext(ctx, `UPDATE audit_head SET hash = $1 WHERE id = 1`, r.Hash); err != nil {
		return classify(op, err)
	}
	if e.Forget != "" {
		// The chain covers only the digest of what is forgotten here.
		if _, err := q.ExecContext(ctx, `UPDATE audit_records SET ip = NULL, user_agent = NULL, client_salt = NULL
			WHERE account_id = $1 OR actor = $2`, e.Forget, "account:"+e.Forget); err != nil {
			return classify(op, err)
		}
	}
	return nil
}

// Audit returns the audit log store.
func (db *DB) Audit() *AuditLog { return &AuditLog{db} }

// AuditLog reads the audit chain and keeps its checkpoints. It implements
// audit.Reader.
type AuditLog struct{ db *DB }

// Append appends a record in a transaction of its own, for security events
// that change nothing else (such as a refused credential).
func (l *AuditLog) Append(ctx context.Context, e audit.Entry) error {
	return l.db.update(ctx, func(q queryer) error { return appendAudit(ctx, q, e) })
}

const auditColumns = `seq, id, time, type, account_id, actor, request_id, data, client_digest, ip, user_agent, client_salt, prev_hash, hash`

// AuditChain returns up to limit records with Seq > after, in Seq order.
func (l *AuditLog) AuditChain(ctx context.Context, after int64, limit int) ([]audit.Record, error) {
	return l.query(ctx, `SELECT `+auditColumns+` FROM audit_records WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit)
}

// Records returns up to q.Limit records matching q, in Seq order.
func (l *AuditLog) Records(ctx context.Context, q audit.Query) ([]audit.Record, error) {
	where := []string{"seq > $1"}
	args := []any{q.After}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if q.Account != "" {
		add("account_id = ?", q.Account)
	}
	if q.Actor != "" {
		add("actor = ?", q.Actor)
	}
	if q.Type != "" {
		add("type = ?", q.Type)
	}
	if !q.Since.IsZero() {
		add("time >= ?", q.Since.UnixMicro())
	}
	if !q.Until.IsZero() {
		add("time < ?", q.Until.UnixMicro())
	}
	args = append(args, q.Limit)
	return l.query(ctx, `SELECT `+auditColumns+` FROM audit_records WHERE `+strings.Join(where, " AND ")+` ORDER BY seq LIMIT $`+strconv.Itoa(len(args)), args...)
}

func (l *AuditLog) query(ctx context.Context, query string, args ...any) ([]audit.Record, error) {
	const op = "sqlstore.AuditRecords"
	var out []audit.Record
	err := l.db.view(ctx, func(q queryer) error {
		rows, err := q.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r audit.Record
			var at int64
			var data string
			var ip, ua sql.NullString
			if err := rows.Scan(&r.Seq, &r.ID, &at, &r.Type, &r.Account, &r.Actor, &r.RequestID, &data,
				&r.ClientDigest, &ip, &ua, &r.ClientSalt, &r.PrevHash, &r.Hash); err != nil {
				return err
			}
			r.Time, r.Data, r.IP, r.UserAgent = time.UnixMicro(at).UTC(), []byte(data), ip.String, ua.String
			out = append(out, r)
		}
		return rows.Err()
	})
	return out, classify(op, err)
}

// AuditHead returns the chain's head.
func (l *AuditLog) AuditHead(ctx context.Context) (audit.Head, error) {
	var h audit.Head
	err := l.db.r.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&h.Seq, &h.Hash)
	return h, classify("sqlstore.AuditHead", err)
}

// AuditCheckpoints returns every checkpoint in Seq order.
func (l *AuditLog) AuditCheckpoints(ctx context.Context) ([]audit.Checkpoint, error) {
	return l.checkpoints(ctx, `SELECT `+checkpointColumns+` FROM audit_checkpoints ORDER BY seq`)
}

// LatestCheckpoint returns the checkpoint of the highest Seq, and false
// when there is none, reading one row by the primary key.
func (l *AuditLog) LatestCheckpoint(ctx context.Context) (audit.Checkpoint, bool, error) {
	cps, err := l.checkpoints(ctx, `SELECT `+checkpointColumns+` FROM audit_checkpoints ORDER BY seq DESC LIMIT 1`)
	if err != nil || len(cps) == 0 {
		return audit.Checkpoint{}, false, err
	}
	return cps[0], true, nil
}

const checkpointColumns = `seq, hash, time, key_id, signature`

func (l *AuditLog) checkpoints(ctx context.Context, query string) ([]audit.Checkpoint, error) {
	var out []audit.Checkpoint
	err := l.db.view(ctx, func(q queryer) error {
		rows, err := q.QueryContext(ctx, query)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c audit.Checkpoint
			var at int64
			if err := rows.Scan(&c.Seq, &c.Hash, &at, &c.KeyID, &c.Signature); err != nil {
				return err
			}
			c.Time = time.UnixMicro(at).UTC()
			out = append(out, c)
		}
		return rows.Err()
	})
	return out, classify("sqlstore.AuditCheckpoints", err)
}

// AppendCheckpoint stores a checkpoint. A checkpoint at a position that
// already has one is fault.AlreadyExists.
func (l *AuditLog) AppendCheckpoint(ctx context.Context, c audit.Checkpoint) error {
	_, err := l.db.w.ExecContext(ctx, `INSERT INTO audit_checkpoints (seq, hash, time, key_id, signature) VALUES ($1, $2, $3, $4, $5)`,
		c.Seq, c.Hash, c.Time.UnixMicro(), c.KeyID, c.Signature)
	return classify("sqlstore.AppendCheckpoint", err)
}

// InsertAPIKey stores the hash of a new API key with its role, and the
// audit record of its creation, in one transaction.
func (l *AuditLog) InsertAPIKey(ctx context.Context, id string, hash []byte, role string, now time.Time, e audit.Entry) error {
	return l.db.update(ctx, func(q queryer) error {
		if _, err := q.ExecContext(ctx, `INSERT INTO api_keys (id, hash, role, create_time) VALUES ($1, $2, $3, $4)`, id, hash, role, now.UnixMicro()); err != nil {
			return classify("sqlstore.InsertAPIKey", err)
		}
		return appendAudit(ctx, q, e)
	})
}
