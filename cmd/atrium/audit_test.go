package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/app"
	"github.com/atriumid/atrium/internal/audit"
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
