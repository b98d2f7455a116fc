package sqlstore

import (
	"context"
	"database/sql/driver"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
)

// kindsChannel is the PostgreSQL notification channel on which AppendKinds
// announces a new kinds document.
const kindsChannel = "atrium_kinds"

// ListenKinds calls wake whenever another replica may have applied a kinds
// document, until ctx ends. On PostgreSQL it listens for the notification
// that AppendKinds sends with each new version, on a connection of its
// own, reconnecting after a failure (and calling wake then, since a
// notification may have been missed). On SQLite, which has no
// notifications, it returns at once: replicas poll. Either way a caller
// keeps polling as well, so a lost notification only delays a replica.
func (db *DB) ListenKinds(ctx context.Context, wake func()) {
	if db.engine != Postgres {
		return
	}
	for ctx.Err() == nil {
		db.listenKindsOnce(ctx, wake)
		if ctx.Err() != nil {
			return
		}
		wake()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// listenKindsOnce listens on one connection until it fails or ctx ends.
// The connection is always discarded afterwards, never returned to the
// pool still listening or with a wait interrupted.
func (db *DB) listenKindsOnce(ctx context.Context, wake func()) {
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return
	}
	defer conn.Close()
	conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return driver.ErrBadConn
		}
		pc := sc.Conn()
		if _, err := pc.Exec(ctx, "LISTEN "+kindsChannel); err != nil {
			return driver.ErrBadConn
		}
		for {
			if _, err := pc.WaitForNotification(ctx); err != nil {
				return driver.ErrBadConn
			}
			wake()
		}
	})
}
