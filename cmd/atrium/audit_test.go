package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/app"
	"github.com/atriumid/atrium/internal/audit"
	"github.com/atriumid/atrium/internal/sqlstore"
	"github.com/atriumid/atrium/internal/testenv"
)

func TestAuditVerify(t *testing.T) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			srv := testenv.StartServer(t, e.URL(t))
			for _, name := range []string{"a", "b", "c"} {
				req, _ := http.NewRequest("POST", srv.URL+"/v1/accounts", strings.NewReader(`{"kind":"org","fragments":{"profile":{"name":"`+name+`"}}}`))
				req.Header.Set("Authorization", "Bearer "+srv.Key)
				res, err := http.DefaultClient.Do(req)
				if err != nil || res.StatusCode != 201 {
					t.Fatalf("create: %v %v", res, err)
				}
				res.Body.Close()
			}
			db := testenv.OpenDB(t, srv.Database)
			key, err := app.AuditKey(ctx, db, "")
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := audit.WriteCheckpoint(ctx, db.Audit(), key, time.Now()); !ok || err != nil {
				t.Fatalf("WriteCheckpoint = %v, %v", ok, err)
			}
			verify := func(args ...string) (string, error) {
				var stdout bytes.Buffer
				err := run(ctx, append([]string{"audit", "verify", "--database", srv.Database}, args...), func(string) string { return "" }, nil, &stdout, &bytes.Buffer{})
				return stdout.String(), err
			}
			if out, err := verify(); err != nil || !strings.Contains(out, "intact: 4 records, 1 signed checkpoints") {
				t.Errorf("audit verify = %q, %v", out, err)
			}
			pub := base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
			if out, err := verify("--public-key", pub); err != nil || !strings.Contains(out, "given by --public-key") {
				t.Errorf("audit verify --public-key = %q, %v", out, err)
			}
			other, _, _ := ed25519.GenerateKey(nil)
			if out, err := verify("--public-key", base64.StdEncoding.EncodeToString(other)); err == nil || !strings.Contains(out, "signature") {
				t.Errorf("audit verify with another key = %q, %v; want the checkpoint refused", out, err)
			}
			if _, err := verify("--public-key", "xyz"); err == nil {
				t.Error("audit verify with a malformed key succeeded")
			}
			if _, err := testenv.RawDB(t, srv.Database).Exec(`DELETE FROM audit_records WHERE seq = 3`); err != nil {
				t.Fatal(err)
			}
			if out, err := verify(); err == nil || !strings.Contains(out, "BROKEN at record 3") {
				t.Errorf("audit verify after a deletion = %q, %v; want record 3 named", out, err)
			}
		})
	}
}

// TestAuditVerifyWritesNothing shows that audit verify opens the database
// read-only: on an unmigrated database it fails clearly and creates no
// table, on a missing SQLite file it creates none, and on a migrated
// database that never signed a checkpoint it verifies without creating a
// signing key.
func TestAuditVerifyWritesNothing(t *testing.T) {
	verify := func(dbURL string) (string, error) {
		var stdout bytes.Buffer
		err := run(context.Background(), []string{"audit", "verify", "--database", dbURL}, func(string) string { return "" }, nil, &stdout, &bytes.Buffer{})
		return stdout.String(), err
	}
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			dbURL := e.URL(t)
			if e.Name == "sqlite" {
				path, _ := sqlstore.SQLitePath(dbURL)
				if _, err := verify(dbURL); err == nil || !strings.Contains(err.Error(), "no SQLite database") {
					t.Errorf("verify of a missing file = %v; want it named missing", err)
				}
				if _, err := os.Stat(path); !os.IsNotExist(err) {
					t.Fatalf("verify created %s", path)
				}
				if err := os.WriteFile(path, nil, 0o600); err != nil { // an empty SQLite database
					t.Fatal(err)
				}
			}
			if _, err := verify(dbURL); err == nil || !strings.Contains(err.Error(), "not migrated") {
				t.Errorf("verify of an unmigrated database = %v; want it named unmigrated", err)
			}
			var tables int
			testenv.RawDB(t, dbURL).QueryRow(tablesQuery[e.Name]).Scan(&tables)
			if tables != 0 {
				t.Fatalf("verify of an unmigrated database left %d tables", tables)
			}
			testenv.OpenDB(t, dbURL) // migrated, no server ever ran
			if out, err := verify(dbURL); err != nil || !strings.Contains(out, "intact: 0 records, no signed checkpoints") {
				t.Errorf("verify of a new database = %q, %v", out, err)
			}
			// The read-only connection refuses writes outright.
			ro, err := sqlstore.OpenReadOnly(context.Background(), dbURL)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ro.Setting(context.Background(), "probe", func() ([]byte, error) { return []byte("x"), nil })
			ro.Close()
			if err == nil {
				t.Error("a write through OpenReadOnly succeeded")
			}
			var keys int
			testenv.RawDB(t, dbURL).QueryRow(`SELECT count(*) FROM settings`).Scan(&keys)
			if keys != 0 {
				t.Errorf("verify stored %d settings; want none (no signing key made)", keys)
			}
		})
	}
}

// tablesQuery counts the tables of a test database, per engine.
var tablesQuery = map[string]string{
	"sqlite":   `SELECT count(*) FROM sqlite_master WHERE type = 'table'`,
	"postgres": `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()`,
}
