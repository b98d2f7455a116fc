package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"io"

	"github.com/atriumid/atrium/internal/app"
	"github.com/atriumid/atrium/internal/audit"
	"github.com/atriumid/atrium/internal/config"
	"github.com/atriumid/atrium/internal/sqlstore"
)

const auditUsage = "usage: atrium audit verify [--database URL] [--public-key BASE64 | --audit-key SEED]"

// auditCmd implements `atrium audit verify`: it reads the chain straight
// from the database, checks every link and every signed checkpoint, and
// names the first bad record. It fails when the chain does not verify.
//
// It opens the database read-only and changes nothing: it does not
// migrate (an unmigrated database is an error) and never creates a
// signing key; it needs only the public key of the checkpoints.
func auditCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(stderr, auditUsage)
		return errUsage
	}
	cfg := config.Default()
	cfg.FromEnv(getenv)
	fs := cfg.FlagSet("audit verify", stderr, "database", "audit-key")
	pubFlag := fs.String("public-key", "", "base64 Ed25519 public key that signed the checkpoints; default the key of --audit-key or the one kept in the database")
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	db, err := sqlstore.OpenReadOnly(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer db.Close()
	if ok, err := db.Migrated(ctx); err != nil || !ok {
		return fmt.Errorf("the database is not migrated (run atrium migrate first); audit verify does not change it")
	}
	pub, from, err := checkpointKey(ctx, db, *pubFlag, cfg.AuditSigningKey)
	if err != nil {
		return err
	}
	rep, err := audit.Verify(ctx, db.Audit(), pub)
	if err != nil {
		return err
	}
	if pub == nil && rep.Problem == nil {
		if cps, err := db.Audit().AuditCheckpoints(ctx); err != nil || len(cps) > 0 {
			return fmt.Errorf("the database holds signed checkpoints but no key to check them: pass --public-key or --audit-key")
		}
	}
	if p := rep.Problem; p != nil {
		fmt.Fprintf(stdout, "audit chain BROKEN at record %d: %s\n(%d records verified before it)\n", p.Seq, p.Reason, rep.Records)
		return fmt.Errorf("the audit chain does not verify")
	}
	if pub == nil {
		fmt.Fprintf(stdout, "audit chain intact: %d records, no signed checkpoints (%s)\n", rep.Records, from)
		return nil
	}
	fmt.Fprintf(stdout, "audit chain intact: %d records, %d signed checkpoints (key %s, %s)\n", rep.Records, rep.Checkpoints, audit.KeyID(pub), from)
	return nil
}

// checkpointKey returns the public key to check checkpoints with, and
// where it came from.
func checkpointKey(ctx context.Context, db *sqlstore.DB, pub, seed string) (ed25519.PublicKey, string, error) {
	if pub != "" {
		b, err := base64.StdEncoding.DecodeString(pub)
		if err != nil || len(b) != ed25519.PublicKeySize {
			return nil, "", fmt.Errorf("--public-key must be a base64 Ed25519 public key of %d bytes", ed25519.PublicKeySize)
		}
		return ed25519.PublicKey(b), "given by --public-key", nil
	}
	key, err := app.AuditPublicKey(ctx, db, seed)
	switch {
	case err != nil:
		return nil, "", err
	case seed != "":
		return key, "from --audit-key", nil
	case key == nil:
		return nil, "no signing key kept in the database", nil
	}
	return key, "kept in the database: pass --public-key to check against a key held elsewhere", nil
}
