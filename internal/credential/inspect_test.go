package credential_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/credential"
	"github.com/atriumid/atrium/internal/sqlstore"
	"github.com/atriumid/atrium/internal/testenv"
)

// R-09 (database inspection): after logins, a TOTP
// enrolment, an MFA challenge and an e-mail code, no table holds a session
// token, challenge, recovery code, TOTP secret, e-mail code, flow secret or
// password in the clear; nor does the throttle table keep an identifier
// that no account holds.
func TestNoSecretAtRest(t *testing.T) {
	url := testenv.SQLiteURL(t)
	e := newEnv(t, url)
	ctx := context.Background()
	e.register(t)
	secrets := []string{pw}
	secretRaw, conf := e.enrol(t)
	secrets = append(secrets, conf.Token, string(secretRaw))
	secrets = append(secrets, conf.RecoveryCodes...)
	secrets = append(secrets, strings.ReplaceAll(conf.RecoveryCodes[0], "-", ""))
	secrets = append(secrets, e.mfaLogin(t))
	sess, _ := e.sessions.Authenticate(ctx, conf.Token)
	flow, err := e.svc.StartEmailVerification(ctx, sess, ip)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := e.lastCode(t)
	secrets = append(secrets, flow.Flow, code)
	// An identifier nobody holds is throttled under a hash.
	e.svc.Login(ctx, credential.LoginRequest{Identifier: account.IdentifierInput{Type: "email", Value: "typed-by-someone@example.com"}, Password: pw, Client: ip})
	secrets = append(secrets, "typed-by-someone")

	path, _ := sqlstore.SQLitePath(url)
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, table := range []string{"passwords", "totp_secrets", "recovery_codes", "mfa_challenges", "sessions", "email_codes", "throttle", "events"} {
		rows, err := raw.Query(`SELECT * FROM ` + table)
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		cols, _ := rows.Columns()
		n := 0
		for rows.Next() {
			n++
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				var s string
				switch v := v.(type) {
				case string:
					s = v
				case []byte:
					s = string(v)
				}
				for _, secret := range secrets {
					if secret != "" && strings.Contains(s, secret) {
						t.Errorf("%s.%s holds a secret in the clear", table, cols[i])
					}
				}
			}
		}
		rows.Close()
		if n == 0 && table != "throttle" && table != "events" {
			t.Errorf("table %s is empty; the test inspects nothing", table)
		}
	}
}
