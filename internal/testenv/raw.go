package testenv

import (
	"database/sql"
	"strings"
	"testing"
)

// RawDB opens the database at rawURL (see Engine.URL) with database/sql
// alone, closed when t ends: what tests use to change rows behind Atrium's
// back, as someone with database access would.
func RawDB(t testing.TB, rawURL string) *sql.DB {
	t.Helper()
	driver, dsn := "pgx", rawURL
	if p, ok := strings.CutPrefix(rawURL, "sqlite://"); ok {
		driver, dsn = "sqlite", "file:"+p
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("open %s: %v", rawURL, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
