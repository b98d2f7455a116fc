package api_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/atriumid/atrium/internal/config"
	"github.com/atriumid/atrium/internal/testenv"
)

// The journey of the README's "Sign-up, login and sessions": register,
// verify the address with the code read from a real SMTP listener, enrol
// TOTP and a passkey, log in at AAL2 with a password and a passkey and with
// a passkey alone, list the sessions and end one.
func TestSignUpJourney(t *testing.T) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			smtp := testenv.StartSMTP(t)
			c := client{t: t, srv: testenv.StartServer(t, e.URL(t), passkeyConfig, func(c *config.Config) {
				c.SMTPAddr, c.SMTPFrom, c.SMTPInsecure, c.PublicURL = smtp.Addr(), "atrium@id.atrium.test", true, passkeyOrigin
			})}
			r := c.anonymous("POST", "/v1/auth/register", map[string]any{"kind": "user", "identifier": map[string]any{"type": "email", "value": userEmail}, "password": userPw})
			flow, _ := r.body["flow"].(string)
			if r.status != 202 || flow == "" {
				t.Fatalf("register = %d %s", r.status, r.raw)
			}
			msgs := smtp.Messages()
			if len(msgs) != 1 || msgs[0].To != userEmail || !strings.Contains(msgs[0].Data, " code is ") {
				t.Fatalf("mail after registering = %+v, want one code", msgs)
			}
			code := strings.SplitN(strings.SplitN(msgs[0].Data, " code is ", 2)[1], ".", 2)[0]
			aal1 := c.loginToken(t)
			if r := c.session(aal1, "POST", "/v1/auth/email/confirm", map[string]any{"flow": flow, "code": code}); r.status != 200 {
				t.Fatalf("email/confirm = %d %s", r.status, r.raw)
			}

			r = c.session(aal1, "POST", "/v1/auth/totp/enroll", map[string]any{})
			if r.status != 200 {
				t.Fatalf("totp/enroll = %d %s", r.status, r.raw)
			}
			r = c.session(aal1, "POST", "/v1/auth/totp/confirm", map[string]any{"code": currentCode(decodeBase32(t, r.body["secret"].(string)))})
			aal2, _ := r.body["sessionToken"].(string)
			if r.status != 200 || aal2 == "" {
				t.Fatalf("totp/confirm = %d %s", r.status, r.raw)
			}
			a := newSoftwareAuthenticator(t)
			c.registerPasskey(t, a, aal2, nil)

			r = c.anonymous("POST", "/v1/auth/login", login(userEmail, userPw))
			if r.status != 200 || r.body["mfaRequired"] != true {
				t.Fatalf("login = %d %s, want mfaRequired", r.status, r.raw)
			}
			r = c.finishLogin(a.get(c.beginLogin(t, r.body["challenge"].(string)), nil))
			sess, _ := r.body["session"].(map[string]any)
			if r.status != 200 || sess["aal"] != "aal2" || !slices.Equal(anyStrings(sess["methods"]), []string{"pwd", "hwk"}) {
				t.Fatalf("password and passkey = %d %s, want AAL2", r.status, r.raw)
			}
			second := r.body["sessionToken"].(string)
			// sessions are bearer tokens, never cookies, so no route is
			// authenticated by a cookie that a cross-site request would carry.
			if r.header.Get("Set-Cookie") != "" || r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("a login answer sets a cookie or may be cached: %v", r.header)
			}
			r = c.finishLogin(a.get(c.beginLogin(t, ""), nil))
			if r.status != 200 || r.body["session"].(map[string]any)["aal"] != "aal2" {
				t.Fatalf("passkey alone = %d %s, want AAL2", r.status, r.raw)
			}
			third := r.body["sessionToken"].(string)

			r = c.session(third, "GET", "/v1/sessions", nil)
			list, _ := r.body["sessions"].([]any)
			if r.status != 200 || len(list) != 3 {
				t.Fatalf("sessions = %d %s, want the three live ones", r.status, r.raw)
			}
			r = c.session(second, "GET", "/v1/sessions/whoami", nil)
			id := r.body["session"].(map[string]any)["id"].(string)
			if r := c.session(third, "DELETE", "/v1/sessions/"+id, nil); r.status != 200 {
				t.Fatalf("revoke = %d %s", r.status, r.raw)
			}
			if r := c.session(second, "GET", "/v1/sessions/whoami", nil); r.status != 401 {
				t.Errorf("whoami with a revoked session = %d, want 401", r.status)
			}
		})
	}
}

// recovery never bypasses a second factor; when the only one is a
// passkey, which recovery cannot check, it is refused with a reason and
// the passkey signs in instead.
func TestRecoveryWithPasskeyOnly(t *testing.T) {
	smtp := testenv.StartSMTP(t)
	c := client{t: t, srv: testenv.StartServer(t, testenv.SQLiteURL(t), passkeyConfig, func(c *config.Config) {
		c.SMTPAddr, c.SMTPFrom, c.SMTPInsecure, c.PublicURL = smtp.Addr(), "atrium@id.atrium.test", true, passkeyOrigin
	})}
	r := c.anonymous("POST", "/v1/auth/register", map[string]any{"kind": "user", "identifier": map[string]any{"type": "email", "value": userEmail}, "password": userPw})
	code := strings.SplitN(strings.SplitN(smtp.Messages()[0].Data, " code is ", 2)[1], ".", 2)[0]
	tok := c.loginToken(t)
	if r := c.session(tok, "POST", "/v1/auth/email/confirm", map[string]any{"flow": r.body["flow"], "code": code}); r.status != 200 {
		t.Fatalf("email/confirm = %d %s", r.status, r.raw)
	}
	c.registerPasskey(t, newSoftwareAuthenticator(t), tok, nil)
	before := len(smtp.Messages())
	r = c.anonymous("POST", "/v1/auth/recovery/start", map[string]any{"identifier": map[string]any{"type": "email", "value": userEmail}})
	msgs := smtp.Await(t, before+1)
	code = strings.SplitN(strings.SplitN(msgs[len(msgs)-1].Data, " code is ", 2)[1], ".", 2)[0]
	done := c.anonymous("POST", "/v1/auth/recovery/complete", map[string]any{"flow": r.body["flow"], "code": code, "password": "a recovered long passphrase"})
	if done.status != 400 || done.body["code"] != "failed_precondition" {
		t.Errorf("recovery of a passkey-only account = %d %s, want 400 failed_precondition", done.status, done.raw)
	}
	if r := c.anonymous("POST", "/v1/auth/login", login(userEmail, "a recovered long passphrase")); r.status != 401 {
		t.Errorf("login with the refused new password = %d, want 401", r.status)
	}
}
