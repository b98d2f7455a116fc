// Package sqlstore implements the storage of every Atrium domain on SQL
// databases: embedded SQLite (modernc.org/sqlite, pure Go) and PostgreSQL
// (pgx). Both run the same SQL text: modernc's SQLite reads $N placeholders
// exactly as PostgreSQL does. Only the migrations differ, in column types.
//
// The SQL stays within what PostgreSQL-compatible distributed engines
// (CockroachDB, YugabyteDB) accept. The package holds no rules: domain
// services decide; this package stores, and classifies database errors
// into fault kinds (a unique violation is fault.AlreadyExists, an
// unreachable database fault.Unavailable).
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/atriumid/atrium/internal/fault"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver; kindwatch.go uses it too
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Engine names a database engine.
type Engine string

// The engines.
const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// DB is an open database. SQLite gets one writer connection (SQLite allows
// one writer at a time; queuing in Go is cheaper than retrying on
// SQLITE_BUSY) and a pool of readers that run in parallel under WAL.
// PostgreSQL gets one pool for both.
type DB struct {
	engine Engine
	w      *sql.DB // read-write transactions
	r      *sql.DB // read-only transactions; == w on PostgreSQL
	reads  tupleStatements
}

// Open opens the database named by rawURL: "sqlite://PATH" (relative, as in
// sqlite://./atrium.db, or absolute, as in sqlite:///var/lib/atrium.db) or
// "postgres://…"/"postgresql://…". The SQLite file is created when missing.
// Open does not migrate; call Migrate.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	const op = "sqlstore.Open"
	switch {
	case strings.HasPrefix(rawURL, "sqlite:"):
		return openSQLite(ctx, rawURL)
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		return openPostgres(ctx, rawURL)
	}
	return nil, fault.E(op, fault.Invalid, "database URL must start with sqlite:// or postgres://")
}

// OpenReadOnly opens the database named by rawURL for reading only, for
// commands that must not change it (such as `atrium audit verify`): a
// SQLite file is opened read-only and must exist, and every PostgreSQL
// transaction is read-only (default_transaction_read_only), so any write
// fails. Migrate and Setting's creation fail on it; nothing is created.
func OpenReadOnly(ctx context.Context, rawURL string) (*DB, error) {
	const op = "sqlstore.OpenReadOnly"
	switch {
	case strings.HasPrefix(rawURL, "sqlite:"):
		path, err := SQLitePath(rawURL)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(path); err != nil {
			return nil, fault.E(op, fault.NotFound, "no SQLite database at %s", path)
		}
		r, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro&_pragma=busy_timeout(10000)&_pragma=query_only(1)")
		if err != nil {
			return nil, fault.Wrap(op, fault.Unavailable, err)
		}
		r.SetMaxOpenConns(4)
		return pinged(ctx, &DB{engine: SQLite, w: r, r: r})
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		u, err := url.Parse(rawURL)
		if err != nil {
			return nil, fault.E(op, fault.Invalid, "malformed database URL")
		}
		q := u.Query()
		q.Set("default_transaction_read_only", "on")
		u.RawQuery = q.Encode()
		p, err := sql.Open("pgx", u.String())
		if err != nil {
			return nil, fault.Wrap(op, fault.Invalid, err)
		}
		p.SetMaxOpenConns(4)
		return pinged(ctx, &DB{engine: Postgres, w: p, r: p})
	}
	return nil, fault.E(op, fault.Invalid, "database URL must start with sqlite:// or postgres://")
}

// pinged returns db once it answers, or closes it.
func pinged(ctx context.Context, db *DB) (*DB, error) {
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// SQLitePath returns the file path named by a sqlite: URL.
func SQLitePath(rawURL string) (string, error) {
	rest, ok := strings.CutPrefix(rawURL, "sqlite://")
	if !ok {
		rest, ok = strings.CutPrefix(rawURL, "sqlite:")
	}
	if !ok || rest == "" {
		return "", fault.E("sqlstore.Open", fault.Invalid, "sqlite URL needs a path, as in sqlite://./atrium.db")
	}
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest = rest[:i]
	}
	return filepath.Clean(rest), nil
}

func openSQLite(ctx context.Context, rawURL string) (*DB, error) {
	path, err := SQLitePath(rawURL)
	if err != nil {
		return nil, err
	}
	base := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	w, err := sql.Open("sqlite", base+"&_txlock=immediate")
	if err != nil {
		return nil, fault.Wrap("sqlstore.Open", fault.Unavailable, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxLifetime(0)
	r, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fault.Wrap("sqlstore.Open", fault.Unavailable, err)
	}
	r.SetMaxOpenConns(8)
	db := &DB{engine: SQLite, w: w, r: r}
	// Switching a new file to WAL needs it to itself for a moment: a
	// process opening the same new file at that moment waits and retries.

	for range 50 {
		if err = db.Ping(ctx); err == nil || !isBusy(err) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// isBusy reports whether err is SQLite's "database is locked".
func isBusy(err error) bool {
	se, ok := errors.AsType[*sqlite.Error](err)
	return ok && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

func openPostgres(ctx context.Context, rawURL string) (*DB, error) {
	p, err := sql.Open("pgx", rawURL)
	if err != nil {
		return nil, fault.Wrap("sqlstore.Open", fault.Invalid, err)
	}
	p.SetMaxOpenConns(32)
	p.SetMaxIdleConns(32)
	p.SetConnMaxIdleTime(5 * time.Minute)
	db := &DB{engine: Postgres, w: p, r: p}
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Engine returns the database engine.
func (db *DB) Engine() Engine { return db.engine }

// Ping checks that the database answers. It returns fault.Unavailable when
// it does not.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.w.PingContext(ctx); err != nil {
		return fault.Wrap("sqlstore.Ping", fault.Unavailable, err)
	}
	return nil
}

// Close closes the database, waiting for running queries.
func (db *DB) Close() error {
	err := db.w.Close()
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	return err
}

// queryer is what both *sql.DB and *sql.Tx offer.
type queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// update runs fn in a read-write transaction and commits when fn returns
// nil.
func (db *DB) update(ctx context.Context, fn func(q queryer) error) error {
	return db.inTx(ctx, db.w, nil, fn)
}

// view runs fn in a read-only transaction over one snapshot.
func (db *DB) view(ctx context.Context, fn func(q queryer) error) error {
	opts := &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}
	if db.engine == SQLite {
		opts = nil // a deferred transaction on the query-only pool reads one WAL snapshot
	}
	return db.inTx(ctx, db.r, opts, fn)
}

func (db *DB) inTx(ctx context.Context, pool *sql.DB, opts *sql.TxOptions, fn func(q queryer) error) (err error) {
	tx, err := pool.BeginTx(ctx, opts)
	if err != nil {
		return classify("sqlstore.begin", err)
	}
	defer func() {
		if p := recover(); p != nil {
			tx.Rollback()
			panic(p)
		}
		if err != nil {
			tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			// database/sql rolls the transaction back when ctx ends, and
			// the statements after that fail as closed: the request's
			// deadline or cancellation, not the database, is the cause.
			return classify("sqlstore.tx", cerr)
		}
		return err
	}
	if err = tx.Commit(); err != nil {
		return classify("sqlstore.commit", err)
	}
	return nil
}

// classify turns a database error into a fault: unique violations into
// AlreadyExists, context ends into Canceled or DeadlineExceeded, everything
// else into Unavailable (the database, not the request, is at fault). The
// driver's text stays in the hidden cause.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*fault.Error](err); ok {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return fault.Wrap(op, fault.Canceled, err)
	case errors.Is(err, context.DeadlineExceeded):
		return fault.Wrap(op, fault.DeadlineExceeded, err)
	case errors.Is(err, sql.ErrNoRows):
		return fault.Wrap(op, fault.NotFound, err)
	case isUnique(err):
		return fault.Wrap(op, fault.AlreadyExists, err)
	case isDataException(err):
		// A value the database cannot hold (a NUL byte, invalid UTF-8):
		// the request's fault. Validation should have caught it first.
		return &fault.Error{Op: op, Kind: fault.Invalid, Msg: "a value in the request cannot be stored", Err: err}
	}
	return fault.Wrap(op, fault.Unavailable, err)
}

// isDataException reports whether err is a PostgreSQL data exception
// (SQLSTATE class 22), such as invalid UTF-8 or a NUL byte in text.
func isDataException(err error) bool {
	pe, ok := errors.AsType[*pgconn.PgError](err)
	return ok && strings.HasPrefix(pe.Code, "22")
}

// isUnique reports whether err is a unique or primary-key violation.
func isUnique(err error) bool {
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		return pe.Code == "23505"
	}
	if se, ok := errors.AsType[*sqlite.Error](err); ok {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// micros stores a time as microseconds since the epoch; the zero time is
// NULL.
func micros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// fromMicros is the inverse of micros.
func fromMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMicro(v.Int64).UTC()
}

// placeholders returns "$from, $from+1, …" for n values.
func placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", from+i)
	}
	return b.String()
}
