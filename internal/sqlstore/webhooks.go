package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/atriumid/atrium/internal/audit"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/webhook"
)

// Webhooks returns the webhook store. It implements webhook.Store.
func (db *DB) Webhooks() *WebhookStore { return &WebhookStore{db} }

// WebhookStore keeps webhook subscriptions and their deliveries.
type WebhookStore struct{ db *DB }

// CreateWebhook stores a new subscription and the audit record of its
// creation, in one transaction.
func (s *WebhookStore) CreateWebhook(ctx context.Context, w webhook.Subscription, e audit.Entry) error {
	return s.db.update(ctx, func(q queryer) error {
		if _, err := q.ExecContext(ctx, `INSERT INTO webhooks (id, url, types, secret, create_time) VALUES ($1, $2, $3, $4, $5)`,
			w.ID, w.URL, strings.Join(w.Types, " "), w.Secret, w.CreateTime.UnixMicro()); err != nil {
			return classify("sqlstore.CreateWebhook", err)
		}
		return appendAudit(ctx, q, e)
	})
}

// DeleteWebhook ends a subscription, with the audit record of its end, in
// one transaction; its pending deliveries stop. It returns fault.NotFound
// for an unknown or deleted one.
func (s *WebhookStore) DeleteWebhook(ctx context.Context, id string, now time.Time, e audit.Entry) error {
	return s.db.update(ctx, func(q queryer) error {
		return s.changeOne(ctx, q, "sqlstore.DeleteWebhook", "webhook not found", e,
			`UPDATE webhooks SET delete_time = $2 WHERE id = $1 AND delete_time IS NULL`, id, now.UnixMicro())
	})
}

// changeOne runs an UPDATE that must change exactly one row, then appends
// e; fault.NotFound (with msg) when it changes none.
func (s *WebhookStore) changeOne(ctx context.Context, q queryer, op, msg string, e audit.Entry, query string, args ...any) error {
	res, err := q.ExecContext(ctx, query, args...)
	if err != nil {
		return classify(op, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fault.E(op, fault.NotFound, "%s", msg)
	}
	return appendAudit(ctx, q, e)
}

const webhookColumns = `id, url, types, secret, create_time`

func scanWebhook(row interface{ Scan(...any) error }) (webhook.Subscription, error) {
	var w webhook.Subscription
	var types string
	var created int64
	err := row.Scan(&w.ID, &w.URL, &types, &w.Secret, &created)
	w.Types, w.CreateTime = strings.Fields(types), time.UnixMicro(created).UTC()
	return w, err
}

// Webhooks returns the live subscriptions in ID order.
func (s *WebhookStore) Webhooks(ctx context.Context) ([]webhook.Subscription, error) {
	var out []webhook.Subscription
	err := s.db.view(ctx, func(q queryer) error {
		rows, err := q.QueryContext(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE delete_time IS NULL ORDER BY id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			w, err := scanWebhook(rows)
			if err != nil {
				return err
			}
			out = append(out, w)
		}
		return rows.Err()
	})
	return out, classify("sqlstore.Webhooks", err)
}

// Webhook returns a live subscription, or fault.NotFound.
func (s *WebhookStore) Webhook(ctx context.Context, id string) (webhook.Subscription, error) {
	w, err := scanWebhook(s.db.r.QueryRowContext(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE id = $1 AND delete_time IS NULL`, id))
	if err == sql.ErrNoRows {
		return w, fault.E("sqlstore.Webhook", fault.NotFound, "webhook not found")
	}
	return w, classify("sqlstore.Webhook", err)
}

// Enqueue stores new deliveries, leaving existing ones as they are.
func (s *WebhookStore) Enqueue(ctx context.Context, ds []webhook.Delivery) error {
	return s.db.update(ctx, func(q queryer) error {
		for _, d := range ds {
			if _, err := q.ExecContext(ctx, `INSERT INTO webhook_deliveries (webhook_id, event_pos, event_id, event_type, payload, state, attempts,
				next_attempt, last_status, last_error, update_time) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, 0, '', $8)
				ON CONFLICT (webhook_id, event_pos) DO NOTHING`,
				d.WebhookID, d.EventPos, d.EventID, d.EventType, string(d.Payload), d.State, d.NextAttempt.UnixMicro(), d.UpdateTime.UnixMicro()); err != nil {
				return classify("sqlstore.Enqueue", err)
			}
		}
		return nil
	})
}

const deliveryColumns = `d.webhook_id, d.event_pos, d.event_id, d.event_type, d.payload, d.state, d.attempts, d.next_attempt, d.last_status, d.last_error, d.update_time`

func scanDelivery(dst []any, d *webhook.Delivery) []any {
	return append(dst, &d.WebhookID, &d.EventPos, &d.EventID, &d.EventType, (*bytesText)(&d.Payload), &d.State, &d.Attempts,
		(*microTime)(&d.NextAttempt), &d.LastStatus, &d.LastError, (*microTime)(&d.UpdateTime))
}

// Due returns up to limit pending deliveries of live subscriptions whose
// next attempt is due at now, oldest first.
func (s *WebhookStore) Due(ctx context.Context, now time.Time, limit int) ([]webhook.Job, error) {
	var out []webhook.Job
	err := s.db.view(ctx, func(q queryer) error {
		rows, err := q.QueryContext(ctx, `SELECT `+deliveryColumns+`, w.`+strings.ReplaceAll(webhookColumns, ", ", ", w.")+`
			FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
			WHERE d.state = 'pending' AND d.next_attempt <= $1 AND w.delete_time IS NULL
			ORDER BY d.next_attempt, d.event_pos LIMIT $2`, now.UnixMicro(), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var j webhook.Job
			var types string
			var created int64
			dst := append(scanDelivery(nil, &j.Delivery), &j.Sub.ID, &j.Sub.URL, &types, &j.Sub.Secret, &created)
			if err := rows.Scan(dst...); err != nil {
				return err
			}
			j.Sub.Types, j.Sub.CreateTime = strings.Fields(types), time.UnixMicro(created).UTC()
			out = append(out, j)
		}
		return rows.Err()
	})
	return out, classify("sqlstore.DueDeliveries", err)
}

// Claim moves d's next attempt to until unless someone else has.
func (s *WebhookStore) Claim(ctx context.Context, d webhook.Delivery, until time.Time) (bool, error) {
	res, err := s.db.w.ExecContext(ctx, `UPDATE webhook_deliveries SET next_attempt = $4
		WHERE webhook_id = $1 AND event_pos = $2 AND state = 'pending' AND next_attempt = $3`,
		d.WebhookID, d.EventPos, d.NextAttempt.UnixMicro(), until.UnixMicro())
	if err != nil {
		return false, classify("sqlstore.ClaimDelivery", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// Finish stores the outcome of an attempt if the claim ending at claimed
// still holds, and reports whether it did.
func (s *WebhookStore) Finish(ctx context.Context, d webhook.Delivery, claimed time.Time) (bool, error) {
	res, err := s.db.w.ExecContext(ctx, `UPDATE webhook_deliveries SET state = $3, attempts = $4, next_attempt = $5, last_status = $6,
		last_error = $7, update_time = $8 WHERE webhook_id = $1 AND event_pos = $2 AND state = 'pending' AND next_attempt = $9`,
		d.WebhookID, d.EventPos, d.State, d.Attempts, d.NextAttempt.UnixMicro(), d.LastStatus, d.LastError, d.UpdateTime.UnixMicro(), claimed.UnixMicro())
	if err != nil {
		return false, classify("sqlstore.FinishDelivery", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// Deliveries returns up to limit deliveries of webhook id after event
// position after, in position order, only those in state when it is not
// empty.
func (s *WebhookStore) Deliveries(ctx context.Context, id, state string, after int64, limit int) ([]webhook.Delivery, error) {
	var out []webhook.Delivery
	err := s.db.view(ctx, func(q queryer) error {
		rows, err := q.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries d
			WHERE d.webhook_id = $1 AND d.event_pos > $2 AND ($3 = '' OR d.state = $3) ORDER BY d.event_pos LIMIT $4`, id, after, state, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d webhook.Delivery
			if err := rows.Scan(scanDelivery(nil, &d)...); err != nil {
				return err
			}
			out = append(out, d)
		}
		return rows.Err()
	})
	return out, classify("sqlstore.Deliveries", err)
}

// Redeliver makes a delivery pending again, due at now, with its attempts
// counted from zero, and appends the audit record e, in one transaction.
// It returns fault.NotFound when there is no such delivery.
func (s *WebhookStore) Redeliver(ctx context.Context, id string, pos int64, now time.Time, e audit.Entry) error {
	return s.db.update(ctx, func(q queryer) error {
		return s.changeOne(ctx, q, "sqlstore.Redeliver", "delivery not found", e,
			`UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt = $3, update_time = $3
			WHERE webhook_id = $1 AND event_pos = $2`, id, pos, now.UnixMicro())
	})
}

// DeliveryCounts returns how many deliveries are in each state.
func (s *WebhookStore) DeliveryCounts(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	err := s.db.view(ctx, func(q queryer) error {
		rows, err := q.QueryContext(ctx, `SELECT state, count(*) FROM webhook_deliveries GROUP BY state`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var st string
			var n int64
			if err := rows.Scan(&st, &n); err != nil {
				return err
			}
			out[st] = n
		}
		return rows.Err()
	})
	return out, classify("sqlstore.DeliveryCounts", err)
}

// PruneDeliveries deletes up to limit deliveries that are finished
// (delivered or dead) and were last updated before before, or that belong
// to a deleted webhook, and returns how many.
func (s *WebhookStore) PruneDeliveries(ctx context.Context, before time.Time, limit int) (int64, error) {
	res, err := s.db.w.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE (webhook_id, event_pos) IN (
		SELECT d.webhook_id, d.event_pos FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
		WHERE (d.state <> 'pending' AND d.update_time < $1) OR w.delete_time IS NOT NULL LIMIT $2)`, before.UnixMicro(), limit)
	if err != nil {
		return 0, classify("sqlstore.PruneDeliveries", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// microTime scans a microsecond column into a time.Time.
type microTime time.Time

// Scan implements sql.Scanner.
func (t *microTime) Scan(v any) error {
	n, ok := v.(int64)
	if !ok {
		return fault.E("sqlstore.scan", fault.Internal, "time column holds %T", v)
	}
	*t = microTime(time.UnixMicro(n).UTC())
	return nil
}

// bytesText scans a TEXT column into a byte slice.
type bytesText []byte

// Scan implements sql.Scanner.
func (b *bytesText) Scan(v any) error {
	switch v := v.(type) {
	case string:
		*b = []byte(v)
	case []byte:
		*b = append([]byte(nil), v...)
	default:
		return fault.E("sqlstore.scan", fault.Internal, "text column holds %T", v)
	}
	return nil
}
