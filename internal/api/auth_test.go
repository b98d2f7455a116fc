package api_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"connectrpc.com/connect"
	atriumv1 "github.com/atriumid/atrium/gen/atrium/v1"
	"github.com/atriumid/atrium/gen/atrium/v1/atriumv1connect"
	"github.com/atriumid/atrium/internal/config"
	"github.com/atriumid/atrium/internal/credential/password"
	"github.com/atriumid/atrium/internal/testenv"
)

// cheapHashing makes servers hash passwords with the Cheap argon2id
// profile, so tests stay fast.
func cheapHashing(c *config.Config) {
	c.PasswordHashMemoryKiB, c.PasswordHashTime = password.Cheap.Memory, password.Cheap.Time
}

func forEachAuthServer(t *testing.T, fn func(t *testing.T, c client)) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, client{t: t, srv: testenv.StartServer(t, e.URL(t), cheapHashing)})
		})
	}
}

const (
	userEmail = "carol@example.com"
	userPw    = "a sufficiently long passphrase"
)

func login(email, pw string) map[string]any {
	return map[string]any{"identifier": map[string]any{"type": "email", "value": email}, "password": pw}
}

// session sends a request with a session token instead of the API key.
func (c client) session(token, method, path string, body any) response {
	c.t.Helper()
	return c.do(method, path, body, "Authorization", "Bearer "+token)
}

// anonymous sends a request without credentials.
func (c client) anonymous(method, path string, body any, headers ...string) response {
	c.t.Helper()
	return c.do(method, path, body, append([]string{"Authorization", ""}, headers...)...)
}

func (c client) register(t *testing.T) string {
	t.Helper()
	r := c.anonymous("POST", "/v1/auth/register", map[string]any{"kind": "user", "identifier": map[string]any{"type": "email", "value": userEmail}, "password": userPw})
	if flow, _ := r.body["flow"].(string); r.status != 202 || !strings.HasPrefix(flow, "atf_") || r.body["id"] != nil {
		t.Fatalf("register = %d %s, want 202 with a flow and no account", r.status, r.raw)
	}
	// the same answer when the identifier is taken.
	again := c.anonymous("POST", "/v1/auth/register", map[string]any{"kind": "user", "identifier": map[string]any{"type": "email", "value": userEmail}, "password": userPw + " again"})
	if again.status != 202 || len(again.body) != len(r.body) || len(again.body["flow"].(string)) != len(r.body["flow"].(string)) {
		t.Fatalf("register(taken) = %d %s, want the answer of a new registration", again.status, again.raw)
	}
	tok := c.loginToken(t)
	who := c.session(tok, "GET", "/v1/sessions/whoami", nil)
	sess, _ := who.body["session"].(map[string]any)
	id, _ := sess["accountId"].(string)
	if who.status != 200 || id == "" {
		t.Fatalf("whoami after register = %d %s", who.status, who.raw)
	}
	if r := c.session(tok, "DELETE", "/v1/sessions/"+sess["id"].(string), nil); r.status >= 300 {
		t.Fatalf("ending the session that found the ID = %d %s", r.status, r.raw)
	}
	return id
}

func (c client) loginToken(t *testing.T) string {
	t.Helper()
	r := c.anonymous("POST", "/v1/auth/login", login(userEmail, userPw))
	tok, _ := r.body["sessionToken"].(string)
	if r.status != 200 || !strings.HasPrefix(tok, "ats_") || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("login = %d %s, want a session token", r.status, r.raw)
	}
	return tok
}

// register, log in, whoami, list, revoke others,
// revoke one; each login gets a new token.
func TestSessionsREST(t *testing.T) {
	forEachAuthServer(t, func(t *testing.T, c client) {
		id := c.register(t)
		t1, t2 := c.loginToken(t), c.loginToken(t)
		if t1 == t2 {
			t.Fatalf("two logins returned the same token")
		}
		r := c.session(t1, "GET", "/v1/sessions/whoami", nil)
		sess, _ := r.body["session"].(map[string]any)
		if r.status != 200 || sess["accountId"] != id || sess["aal"] != "aal1" || r.body["account"].(map[string]any)["id"] != id {
			t.Fatalf("whoami = %d %s", r.status, r.raw)
		}
		if r := c.do("GET", "/v1/sessions/whoami", nil); r.status != 401 {
			t.Errorf("whoami with an API key = %d %s, want 401", r.status, r.raw)
		}
		if r := c.anonymous("GET", "/v1/sessions/whoami", nil); r.status != 401 {
			t.Errorf("whoami without credentials = %d, want 401", r.status)
		}
		if r := c.anonymous("GET", "/v1/accounts/"+id, nil, "Authorization", "Bearer "+t1); r.status != 401 {
			t.Errorf("admin route with a session token = %d, want 401", r.status)
		}
		r = c.session(t1, "GET", "/v1/sessions", nil)
		if list, _ := r.body["sessions"].([]any); r.status != 200 || len(list) != 2 {
			t.Fatalf("list = %d %s, want 2 sessions", r.status, r.raw)
		}
		if r := c.session(t1, "POST", "/v1/sessions:revoke-others", map[string]any{}); r.status != 200 || r.body["revoked"] != float64(1) {
			t.Errorf("revoke others = %d %s", r.status, r.raw)
		}
		if r := c.session(t2, "GET", "/v1/sessions/whoami", nil); r.status != 401 {
			t.Errorf("whoami with a revoked token = %d, want 401", r.status)
		}
		if r := c.session(t1, "DELETE", "/v1/sessions/"+sess["id"].(string), nil); r.status != 200 {
			t.Errorf("revoke own = %d %s", r.status, r.raw)
		}
		if r := c.session(t1, "GET", "/v1/sessions/whoami", nil); r.status != 401 {
			t.Errorf("whoami after logout = %d, want 401", r.status)
		}
	})
}

// R-12 (T-B9 a): an unknown identifier and a wrong password get the same
// status and body.
func TestLoginEnumerationREST(t *testing.T) {
	forEachAuthServer(t, func(t *testing.T, c client) {
		c.register(t)
		wrong := c.anonymous("POST", "/v1/auth/login", login(userEmail, "not the right passphrase"))
		unknown := c.anonymous("POST", "/v1/auth/login", login("nobody@example.com", userPw))
		if wrong.status != 401 || unknown.status != wrong.status || unknown.raw != wrong.raw {
			t.Errorf("wrong password = %d %s; unknown identifier = %d %s; want the same 401", wrong.status, wrong.raw, unknown.status, unknown.raw)
		}
	})
}

// repeated failures end in 429 with Retry-After, on the right
// password too.
func TestLoginThrottledREST(t *testing.T) {
	forEachAuthServer(t, func(t *testing.T, c client) {
		c.register(t)
		for range 6 {
			c.anonymous("POST", "/v1/auth/login", login(userEmail, "not the right passphrase"))
		}
		r := c.anonymous("POST", "/v1/auth/login", login(userEmail, userPw))
		if r.status != 429 || r.header.Get("Retry-After") == "" || r.body["code"] != "resource_exhausted" {
			t.Errorf("login after 6 failures = %d %s %v, want 429 with Retry-After", r.status, r.raw, r.header)
		}
	})
}

// an admin suspension ends sessions at once; an admin can end every
// session of an account.
func TestAdminEndsSessionsREST(t *testing.T) {
	forEachAuthServer(t, func(t *testing.T, c client) {
		id := c.register(t)
		tok := c.loginToken(t)
		if r := c.do("DELETE", "/v1/accounts/"+id+"/sessions", nil); r.status != 200 || r.body["revoked"] != float64(1) {
			t.Errorf("admin revoke = %d %s", r.status, r.raw)
		}
		if r := c.session(tok, "GET", "/v1/sessions/whoami", nil); r.status != 401 {
			t.Errorf("whoami after admin revoke = %d, want 401", r.status)
		}
		tok = c.loginToken(t)
		if r := c.do("POST", "/v1/accounts/"+id+":transition", map[string]any{"transition": "suspend"}); r.status != 200 {
			t.Fatalf("suspend = %d %s", r.status, r.raw)
		}
		if r := c.session(tok, "GET", "/v1/sessions/whoami", nil); r.status != 401 {
			t.Errorf("whoami after suspension = %d, want 401", r.status)
		}
		if r := c.session(tok, "DELETE", "/v1/accounts/"+id+"/sessions", nil); r.status != 401 {
			t.Errorf("admin revoke with a session token = %d, want 401", r.status)
		}
	})
}

// TOTP enrolment steps the session up with a new token; a
// later login needs the second factor; a recovery code completes it.
func TestTOTPREST(t *testing.T) {
	forEachAuthServer(t, func(t *testing.T, c client) {
		c.register(t)
		tok := c.loginToken(t)
		r := c.session(tok, "POST", "/v1/auth/totp/enroll", map[string]any{})
		if r.status != 200 || !strings.HasPrefix(r.body["uri"].(string), "otpauth://totp/Atrium:") {
			t.Fatalf("enroll = %d %s", r.status, r.raw)
		}
		if r := c.session(tok, "POST", "/v1/auth/totp/confirm", map[string]any{"code": "000000"}); r.status != 400 {
			t.Errorf("confirm with a wrong code = %d %s, want 400", r.status, r.raw)
		}
		secret := decodeBase32(t, r.body["secret"].(string))
		r = c.session(tok, "POST", "/v1/auth/totp/confirm", map[string]any{"code": currentCode(secret)})
		codes, _ := r.body["recoveryCodes"].([]any)
		if r.status != 200 || len(codes) != 10 || r.body["sessionToken"] == tok {
			t.Fatalf("confirm = %d %s", r.status, r.raw)
		}
		if r := c.session(tok, "GET", "/v1/sessions/whoami", nil); r.status != 401 {
			t.Errorf("whoami with the pre-step-up token = %d, want 401", r.status)
		}
		r = c.anonymous("POST", "/v1/auth/login", login(userEmail, userPw))
		if r.status != 200 || r.body["mfaRequired"] != true || r.body["sessionToken"] != nil {
			t.Fatalf("login with TOTP = %d %s, want mfaRequired", r.status, r.raw)
		}
		r = c.anonymous("POST", "/v1/auth/login/mfa", map[string]any{"challenge": r.body["challenge"], "recoveryCode": codes[0]})
		if r.status != 200 || r.body["session"].(map[string]any)["aal"] != "aal2" {
			t.Fatalf("login/mfa = %d %s", r.status, r.raw)
		}
	})
}

// Connect clients reach the same flows; the session token goes in the
// Authorization header.
func TestLoginConnect(t *testing.T) {
	srv := testenv.StartServer(t, testenv.SQLiteURL(t), cheapHashing)
	ctx := context.Background()
	auth := atriumv1connect.NewAuthServiceClient(http.DefaultClient, srv.URL)
	_, err := auth.Register(ctx, connect.NewRequest(&atriumv1.RegisterRequest{Kind: "user", Identifier: &atriumv1.IdentifierInput{Type: "email", Value: userEmail}, Password: userPw}))
	if err != nil {
		t.Fatal(err)
	}
	res, err := auth.Login(ctx, connect.NewRequest(&atriumv1.LoginRequest{Identifier: &atriumv1.IdentifierInput{Type: "email", Value: userEmail}, Password: userPw}))
	if err != nil {
		t.Fatal(err)
	}
	sessions := atriumv1connect.NewSessionServiceClient(http.DefaultClient, srv.URL)
	req := connect.NewRequest(&atriumv1.WhoAmIRequest{})
	req.Header().Set("Authorization", "Bearer "+res.Msg.SessionToken)
	who, err := sessions.WhoAmI(ctx, req)
	if err != nil || who.Msg.Session.Aal != "aal1" {
		t.Errorf("WhoAmI = %v, %v", who, err)
	}
	_, err = auth.Login(ctx, connect.NewRequest(&atriumv1.LoginRequest{Identifier: &atriumv1.IdentifierInput{Type: "email", Value: userEmail}, Password: "wrong wrong wrong wrong"}))
	if connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("Login(wrong) code = %v, want unauthenticated", connect.CodeOf(err))
	}
	// the same throttle answers over Connect, with Retry-After.
	for range 6 {
		_, err = auth.Login(ctx, connect.NewRequest(&atriumv1.LoginRequest{Identifier: &atriumv1.IdentifierInput{Type: "email", Value: userEmail}, Password: "wrong wrong wrong wrong"}))
	}
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeResourceExhausted || ce.Meta().Get("Retry-After") == "" {
		t.Errorf("Login after 6 failures = %v, want resource_exhausted with Retry-After", err)
	}
}

// Login responses hold secrets: an Idempotency-Key does not make the
// server store or replay them.
func TestLoginIgnoresIdempotencyKey(t *testing.T) {
	c := client{t: t, srv: testenv.StartServer(t, testenv.SQLiteURL(t), cheapHashing)}
	c.register(t)
	a := c.anonymous("POST", "/v1/auth/login", login(userEmail, userPw), "Idempotency-Key", "k1")
	b := c.anonymous("POST", "/v1/auth/login", login(userEmail, userPw), "Idempotency-Key", "k1")
	if a.status != 200 || b.status != 200 || a.body["sessionToken"] == b.body["sessionToken"] {
		t.Errorf("logins with one Idempotency-Key = %s, %s; want two sessions", a.raw, b.raw)
	}
}

// FuzzAuthRequests sends arbitrary bodies to the login, registration and
// recovery routes: the answer is never a server error, and errors are
// typed.
func FuzzAuthRequests(f *testing.F) {
	for _, s := range []string{
		`{"kind":"user","identifier":{"type":"email","value":"a@example.com"},"password":"a sufficiently long passphrase"}`,
		`{"identifier":{"type":"email","value":"a@example.com"},"password":"a sufficiently long passphrase"}`,
		`{"identifier":{"type":"wallet","value":"eip155:1:0x0"},"password":""}`,
		`{"challenge":"atc_x","code":"123456"}`, `{"challenge":"","recoveryCode":"abcd-efgh"}`,
		`{"password":"` + strings.Repeat("é", 2000) + `"}`, `{"identifier":null}`, `[]`, `null`, "\xff", `{"kind":7}`,
		`{"flow":"atf_x","code":"12345678","password":"a sufficiently long passphrase","totpCode":"123456"}`,
		`{"flow":"` + strings.Repeat("a", 5000) + `","code":"1","password":"x","recoveryCode":"abcd"}`,
	} {
		f.Add(s, uint8(0))
	}
	srv := testenv.StartServer(f, testenv.SQLiteURL(f), cheapHashing)
	targets := []string{"/v1/auth/register", "/v1/auth/login", "/v1/auth/login/mfa", "/atrium.v1.AuthService/Login", "/atrium.v1.AuthService/Register",
		"/v1/auth/recovery/start", "/v1/auth/recovery/complete"}
	f.Fuzz(func(t *testing.T, body string, target uint8) {
		path := targets[int(target)%len(targets)]
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		srv.Handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("POST %s with %q = %d %s", path, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 && !strings.Contains(rec.Body.String(), `"code"`) {
			t.Fatalf("POST %s: untyped error %d %s", path, rec.Code, rec.Body)
		}
	})
}

// e-mail verification over REST; the link in the message comes
// from the configured public URL even when the request names another
// host.
func TestEmailVerificationREST(t *testing.T) {
	smtp := testenv.StartSMTP(t)
	srv := testenv.StartServer(t, testenv.SQLiteURL(t), cheapHashing, func(c *config.Config) {
		c.SMTPAddr, c.SMTPFrom, c.SMTPInsecure, c.PublicURL = smtp.Addr(), "atrium@id.example.org", true, "https://id.example.org"
	})
	c := client{t: t, srv: srv}
	id := c.register(t)
	tok := c.loginToken(t)
	r := c.do("POST", "/v1/auth/email/verify", map[string]any{}, "Authorization", "Bearer "+tok, "X-Forwarded-Host", "evil.example")
	if r.status != 200 || !strings.HasPrefix(r.body["flow"].(string), "atf_") {
		t.Fatalf("verify = %d %s", r.status, r.raw)
	}
	msgs := smtp.Messages()
	msgs = msgs[len(msgs)-1:] // the registration's code and the holder's notice came before
	if len(msgs) != 1 || msgs[0].To != userEmail || strings.Contains(msgs[0].Data, "evil") || !strings.Contains(msgs[0].Data, "https://id.example.org/verify-email#code=") {
		t.Fatalf("e-mail = %+v", msgs)
	}
	code := strings.SplitN(strings.SplitN(msgs[0].Data, "code is ", 2)[1], ".", 2)[0]
	if r := c.session(tok, "POST", "/v1/auth/email/confirm", map[string]any{"flow": r.body["flow"], "code": code}); r.status != 200 {
		t.Fatalf("confirm = %d %s", r.status, r.raw)
	}
	r = c.do("GET", "/v1/accounts/"+id, nil)
	if idents := r.body["identifiers"].([]any); idents[0].(map[string]any)["verifyTime"] == nil {
		t.Errorf("identifier after confirmation = %v, want verified", idents[0])
	}
	// R-17 (T-B6): a recovery asked with a forged host is e-mailed a link
	// under the configured public URL; the code then sets a new password.
	before := len(smtp.Messages())
	r = c.anonymous("POST", "/v1/auth/recovery/start", map[string]any{"identifier": map[string]any{"type": "email", "value": userEmail}}, "X-Forwarded-Host", "evil.example", "Host", "evil.example")
	if r.status != 202 {
		t.Fatalf("recovery start = %d %s", r.status, r.raw)
	}
	msgs = smtp.Await(t, before+1)
	last := msgs[len(msgs)-1].Data
	if strings.Contains(last, "evil") || !strings.Contains(last, "https://id.example.org/recover#code=") {
		t.Fatalf("recovery e-mail = %q", last)
	}
	code = strings.SplitN(strings.SplitN(last, "code is ", 2)[1], ".", 2)[0]
	done := c.anonymous("POST", "/v1/auth/recovery/complete", map[string]any{"flow": r.body["flow"], "code": code, "password": "a recovered long passphrase"})
	if done.status != 200 {
		t.Fatalf("recovery complete = %d %s", done.status, done.raw)
	}
	if r := c.anonymous("POST", "/v1/auth/login", login(userEmail, "a recovered long passphrase")); r.status != 200 {
		t.Errorf("login with the recovered password = %d %s", r.status, r.raw)
	}
}

// an administrator imports a legacy bcrypt hash; the account logs
// in with its old password. Sessions cannot import.
func TestImportPasswordHashREST(t *testing.T) {
	forEachAuthServer(t, func(t *testing.T, c client) {
		r := c.do("POST", "/v1/accounts", map[string]any{"kind": "user", "identifiers": []any{map[string]any{"type": "email", "value": userEmail}}})
		if r.status != 201 {
			t.Fatalf("create = %d %s", r.status, r.raw)
		}
		path := "/v1/accounts/" + r.body["id"].(string) + "/password-hash"
		legacy, _ := bcrypt.GenerateFromPassword([]byte(userPw), bcrypt.MinCost)
		if r := c.do("PUT", path, map[string]any{"passwordHash": "$md5$x$y"}); r.status != 400 {
			t.Errorf("import(unsupported) = %d %s, want 400", r.status, r.raw)
		}
		if r := c.do("PUT", path, map[string]any{"passwordHash": string(legacy)}); r.status != 200 {
			t.Fatalf("import = %d %s", r.status, r.raw)
		}
		tok := c.loginToken(t)
		if r := c.session(tok, "PUT", path, map[string]any{"passwordHash": string(legacy)}); r.status != 401 && r.status != 403 {
			t.Errorf("import with a session token = %d %s, want 401 or 403", r.status, r.raw)
		}
	})
}
