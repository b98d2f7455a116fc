// Package testenv gives tests real components to run against: a fresh
// SQLite database in a temporary folder, a fresh PostgreSQL schema when
// ATRIUM_TEST_POSTGRES_URL is set, and a whole Atrium server on a loopback
// port. It is imported only by tests.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/atriumid/atrium/internal/sqlstore"
)

// PostgresEnv names the environment variable holding the URL of a
// PostgreSQL database that tests may create schemas in.
const PostgresEnv = "ATRIUM_TEST_POSTGRES_URL"

// Engine is one database engine tests run against.
type Engine struct {
	Name string
	// URL returns the URL of a new, empty database (SQLite) or schema
	// (PostgreSQL), removed when t ends.
	URL func(t testing.TB) string
}

// Engines returns SQLite, and PostgreSQL when PostgresEnv is set (always
// under CI, where a missing PostgreSQL fails the tests instead of skipping
// them). Tests loop over it so every behaviour is checked on both.
func Engines() []Engine {
	es := []Engine{{Name: "sqlite", URL: SQLiteURL}}
	if os.Getenv(PostgresEnv) != "" || os.Getenv("CI") == "true" {
		es = append(es, Engine{Name: "postgres", URL: PostgresURL})
	}
	return es
}

// SQLiteURL returns the URL of a new SQLite database file in t's
// temporary folder.
func SQLiteURL(t testing.TB) string {
	return "sqlite://" + filepath.Join(t.TempDir(), "atrium.db")
}

// PostgresURL returns the URL of a new, empty schema in the database named
// by PostgresEnv, dropped when t ends. Each test gets its own schema, so
// tests run in parallel without seeing each other's rows. It skips t when
// PostgresEnv is not set.
func PostgresURL(t testing.TB) string {
	base := required(t, PostgresEnv)
	b := make([]byte, 8)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open %s: %v", PostgresEnv, err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer admin.Close()
		admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// OpenDB opens and migrates the database at rawURL, closed when t ends.
func OpenDB(t testing.TB, rawURL string) *sqlstore.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, rawURL)
	if err != nil {
		t.Fatalf("sqlstore.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
}
