package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/app"
	"github.com/atriumid/atrium/internal/config"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/kind"
	"github.com/atriumid/atrium/internal/sqlstore"
	"github.com/atriumid/atrium/internal/testenv"
)

func TestInstallKinds(t *testing.T) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			db := testenv.OpenDB(t, e.URL(t))
			reg, err := app.InstallKinds(ctx, db, "", "test", nil)
			if err != nil {
				t.Fatal(err)
			}
			if set, v := reg.Current(); v != 1 || string(set.Source()) != string(kind.Builtin()) {
				t.Fatalf("empty database: version %d; want the built-in document at version 1", v)
			}
			if v1, err := db.KindsVersion(ctx, 1); err != nil || v1.Diff != "+ kinds.org\n+ kinds.service\n+ kinds.user\n" || v1.AppliedBy != "test" {
				t.Errorf("version 1 = %+v, %v; want the three built-in kinds added by test", v1, err)
			}
			// Starting again changes nothing.
			if _, v := mustInstall(t, db, ""); v != 1 {
				t.Errorf("second start: version %d, want 1", v)
			}
			dir := t.TempDir()
			file := filepath.Join(dir, "kinds.yaml")
			doc := string(kind.Builtin()) + "\n  team:\n    id_prefix: team\n    lifecycle: {initial: active}\n"
			os.WriteFile(file, []byte(doc), 0o600)
			if set, v := mustInstall(t, db, file); v != 2 || !strings.Contains(strings.Join(set.Names(), ","), "team") {
				t.Errorf("--kinds with a new kind: version %d, kinds %v; want version 2 with team", v, set.Names())
			}
			if _, v := mustInstall(t, db, file); v != 2 {
				t.Errorf("--kinds with the same file: version %d, want 2", v)
			}
			os.WriteFile(file, []byte("kinds:\n  Bad:\n    id_prefix: x\n"), 0o600)
			_, err = app.InstallKinds(ctx, db, file, "test", nil)
			if _, vs := fault.PublicOf(err); !fault.Is(err, fault.Invalid) || len(vs) == 0 {
				t.Errorf("--kinds with an invalid file = %v, want Invalid with violations", err)
			}
			if got, _ := db.LatestKinds(ctx); got.Number != 2 {
				t.Errorf("an invalid file was stored as version %d", got.Number)
			}
			if _, err := app.InstallKinds(ctx, db, filepath.Join(dir, "missing.yaml"), "test", nil); !fault.Is(err, fault.Invalid) {
				t.Errorf("--kinds with a missing file = %v, want Invalid", err)
			}
		})
	}
}

func mustInstall(t *testing.T, h kind.Store, file string) (*kind.Set, int64) {
	t.Helper()
	reg, err := app.InstallKinds(context.Background(), h, file, "test", nil)
	if err != nil {
		t.Fatalf("InstallKinds(%q): %v", file, err)
	}
	return reg.Current()
}

func TestRecoverPanics(t *testing.T) {
	var logs strings.Builder
	h := app.RecoverPanics(slog.New(slog.NewTextHandler(&logs, nil)), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("secret value")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/x", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), `"internal"`) {
		t.Errorf("panicking handler answered %d %s; want a typed 500", rec.Code, rec.Body)
	}
	if strings.Contains(logs.String(), "secret value") || strings.Contains(logs.String(), "goroutine") || !strings.Contains(logs.String(), "handler panicked") {
		t.Errorf("log = %q; want the request line without the panic value or a stack", logs.String())
	}
}

// TestMissingKeyFile: a new key is never made for a database that already
// holds sealed data, whose old key would be lost.
func TestMissingKeyFile(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default()
	cfg.Database = testenv.SQLiteURL(t)
	a, err := app.Open(ctx, cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	path, _ := sqlstore.SQLitePath(cfg.Database)
	if _, err := os.Stat(path + ".key"); err != nil {
		t.Fatalf("first start made no key file: %v", err)
	}
	db := testenv.OpenDB(t, cfg.Database)
	err = db.Accounts().Update(ctx, func(ctx context.Context, tx account.Tx) error {
		return tx.InsertAccount(ctx, account.Record{ID: "usr_01M8CJK02VFVQA6QBW11CK4SQX", Kind: "user", State: "active", Version: 1, DataKey: []byte("wrapped"), CreateTime: time.Now(), UpdateTime: time.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(path + ".key")
	if _, err := app.Open(ctx, cfg, slog.New(slog.DiscardHandler), io.Discard); !fault.Is(err, fault.FailedPrecondition) {
		t.Errorf("start without the key file of sealed data = %v, want FailedPrecondition", err)
	}
}
