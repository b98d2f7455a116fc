package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/ids"
	"github.com/atriumid/atrium/internal/outbox"
	"github.com/atriumid/atrium/internal/sqlstore"
)

// eventTime is the time of the accounts and events these helpers write.
var eventTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Accounts inserts n user accounts straight into db and returns their IDs.
func Accounts(t testing.TB, db *sqlstore.DB, n int) []string {
	t.Helper()
	var out []string
	for range n {
		id := ids.New("usr")
		err := db.Accounts().Update(context.Background(), func(ctx context.Context, tx account.Tx) error {
			return tx.InsertAccount(ctx, account.Record{ID: id, Kind: "user", State: "active", Version: 1, CreateTime: eventTime, UpdateTime: eventTime})
		})
		if err != nil {
			t.Fatalf("insert account: %v", err)
		}
		out = append(out, id)
	}
	return out
}

// Touch bumps account id's version and appends an
// "atrium.account.touched" event that carries it, in one transaction, as
// a mutation does. Delivery tests check each account's order by it.
func Touch(ctx context.Context, db *sqlstore.DB, id string) error {
	return db.Accounts().Update(ctx, func(ctx context.Context, tx account.Tx) error {
		r, err := tx.TouchAccount(ctx, id, eventTime)
		if err != nil {
			return err
		}
		return tx.AppendEvent(ctx, outbox.New("atrium.account.touched", id, eventTime.Add(time.Second), map[string]any{"version": r.Version}))
	})
}
