package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/atriumid/atrium/internal/app"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/kind"
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

// kinds implements `atrium kinds validate FILE`.
func kinds(args []string, stdout, stderr io.Writer) error {
	if len(args) != 2 || args[0] != "validate" {
		fmt.Fprintln(stderr, "usage: atrium kinds validate FILE")
		return errUsage
	}
	src, err := os.ReadFile(args[1])
	if err != nil {
		return err
	}
	set, err := kind.Load(src, kind.CompileOptions{})
	if err != nil {
		msg, vs := fault.PublicOf(err)
		fmt.Fprintf(stderr, "%s: %s\n", args[1], msg)
		for _, v := range vs {
			fmt.Fprintf(stderr, "  %s: %s\n", v.Field, v.Reason)
		}
		return fmt.Errorf("%s is not a valid kinds document (%d problems)", args[1], max(len(vs), 1))
	}
	fmt.Fprintf(stdout, "%s: valid; kinds: %v\n", args[1], set.Names())
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
