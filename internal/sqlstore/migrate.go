package sqlstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/atriumid/atrium/internal/fault"
)

//go:embed migrations
var migrations embed.FS

// migration is one versioned SQL file.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations returns the migrations of engine e in version order.
func loadMigrations(e Engine) ([]migration, error) {
	dir := path.Join("migrations", string(e))
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, ent := range entries {
		name := ent.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("migration %s: name must be NNNN_what.sql", name)
		}
		b, err := migrations.ReadFile(path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// Migrate applies every migration not yet applied, each in its own
// transaction together with its row in schema_migrations, so a migration
// and its record commit atomically. Replicas that start at once are safe:
// the record's primary key lets one win, and the others see it applied.
func (db *DB) Migrate(ctx context.Context) error {
	const op = "sqlstore.Migrate"
	ms, err := loadMigrations(db.engine)
	if err != nil {
		return fault.Wrap(op, fault.Internal, err)
	}
	// Concurrent CREATE TABLE IF NOT EXISTS can still collide in
	// PostgreSQL's catalog; the loser's retry then finds the table.
	for range 3 {
		if _, err = db.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, apply_time BIGINT NOT NULL)`); err == nil {
			break
		}
	}
	if err != nil {
		return classify(op, err)
	}
	for _, m := range ms {
		err := db.update(ctx, func(q queryer) error {
			var n int
			if err := q.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n); err != nil {
				return classify(op, err)
			}
			if n > 0 {
				return nil
			}
			if _, err := q.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, apply_time) VALUES ($1, $2, $3)`, m.version, m.name, time.Now().UnixMicro()); err != nil {
				return classify(op, err)
			}
			if _, err := q.ExecContext(ctx, m.sql); err != nil {
				return fault.Wrap(op, fault.Internal, fmt.Errorf("%s: %w", m.name, err))
			}
			return nil
		})
		if fault.Is(err, fault.AlreadyExists) {
			continue // another replica applied it first
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Migrated reports whether every migration has been applied; /readyz
// uses it.
func (db *DB) Migrated(ctx context.Context) (bool, error) {
	ms, err := loadMigrations(db.engine)
	if err != nil {
		return false, fault.Wrap("sqlstore.Migrated", fault.Internal, err)
	}
	var n int
	err = db.r.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n)
	if err != nil {
		return false, classify("sqlstore.Migrated", err)
	}
	return n >= len(ms), nil
}
