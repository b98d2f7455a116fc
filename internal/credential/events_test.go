package credential_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/atriumid/atrium/internal/credential"
	"github.com/atriumid/atrium/internal/testenv"
)

// Every credential and session change and login outcome of an account is
// an event with its audit record, and no event carries a secret.
func TestCredentialEvents(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a := e.register(t)
		e.login(t, "not the password at all")
		_, conf := e.enrol(t)
		sess, _ := e.sessions.Authenticate(ctx, conf.Token)
		if _, err := e.svc.RegenerateRecoveryCodes(ctx, sess); err != nil {
			t.Fatal(err)
		}
		res, err := e.svc.ChangePassword(ctx, credential.ChangePasswordRequest{Session: sess, Current: pw, Password: "an entirely new passphrase", Client: ip})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.sessions.Revoke(ctx, a.ID, res.Session.ID, res.Session.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.sessions.RevokeAll(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		raw := testenv.RawDB(t, e.url)
		types := func(q string) []string {
			rows, err := raw.QueryContext(ctx, q, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var out []string
			for rows.Next() {
				var typ, data string
				rows.Scan(&typ, &data)
				if data == "" || slices.ContainsFunc(conf.RecoveryCodes, func(c string) bool { return strings.Contains(data, c) }) || strings.Contains(data, pw) || strings.Contains(data, email) {
					t.Errorf("%s data = %q", typ, data)
				}
				out = append(out, typ)
			}
			return out
		}
		events := types(`SELECT type, data FROM events WHERE subject = $1 ORDER BY pos`)
		audits := types(`SELECT type, data FROM audit_records WHERE account_id = $1 ORDER BY seq`)
		for _, want := range []string{"atrium.account.created", "atrium.credential.password_set", "atrium.auth.login_failed",
			"atrium.session.created", "atrium.credential.totp_enrolment_started", "atrium.credential.totp_confirmed",
			"atrium.credential.recovery_codes_regenerated", "atrium.credential.password_changed", "atrium.session.revoked",
			"atrium.session.logged_out"} {
			if !slices.Contains(events, want) {
				t.Errorf("events = %v, want %s", events, want)
			}
		}
		if !slices.Equal(events, audits) {
			t.Errorf("events %v and audit records %v differ", events, audits)
		}
	})
}
