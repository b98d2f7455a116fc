package main

import (
	"context"
	"fmt"
	"io"
	"net/url"

	"github.com/atriumid/atrium/internal/app"
	"github.com/atriumid/atrium/internal/sqlstore"
)

// openDB opens and migrates the database of cfg.
func openDB(ctx context.Context, args []string, name string, getenv func(string) string, stderr io.Writer) (*sqlstore.DB, []string, error) {
	cfg, rest, err := loadConfig(name, args, getenv, stderr, "database")
	if err != nil {
		return nil, nil, err
	}
	db, err := sqlstore.Open(ctx, cfg.Database)
	if err != nil {
		return nil, nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, rest, nil
}

// migrate implements `atrium migrate up`.
func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "up" {
		fmt.Fprintln(stderr, "usage: atrium migrate up [--database URL]")
		return errUsage
	}
	db, _, err := openDB(ctx, args[1:], "migrate up", getenv, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintln(stdout, "migrations applied")
	return nil
}

// adminKey implements `atrium admin-key create`: it prints a new admin API
// key on stdout, and only there.
func adminKey(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, "usage: atrium admin-key create [--database URL]")
		return errUsage
	}
	db, _, err := openDB(ctx, args[1:], "admin-key create", getenv, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	k, err := app.CreateAdminKey(ctx, db)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, k.Secret)
	return nil
}

// redactURL hides the secrets of a database URL for logs: the password,
// and the query, where a password may also be given.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable database URL)"
	}
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	return u.Redacted()
}
