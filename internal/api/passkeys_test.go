package api_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"

	atriumv1 "github.com/atriumid/atrium/gen/atrium/v1"
	"github.com/atriumid/atrium/gen/atrium/v1/atriumv1connect"
	"github.com/atriumid/atrium/internal/config"
	"github.com/atriumid/atrium/internal/testenv"
)

// The relying party of the passkey tests. The software authenticator puts
// these in its answers; the server is told them by configuration, since
// its own address is an IP, on which WebAuthn has no relying party.
const (
	passkeyRPID   = "id.atrium.test"
	passkeyOrigin = "https://id.atrium.test"
)

func passkeyConfig(c *config.Config) {
	cheapHashing(c)
	c.WebAuthnRPID, c.WebAuthnOrigins = passkeyRPID, []string{passkeyOrigin}
}

// forEachPasskeyServer runs fn against a server with passkeys on each
// engine.
func forEachPasskeyServer(t *testing.T, fn func(t *testing.T, c client)) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, client{t: t, srv: testenv.StartServer(t, e.URL(t), passkeyConfig)})
		})
	}
}

// registerPasskey adds a passkey made by a to the account of token and
// returns its ID. A nil id makes a random credential ID.
func (c client) registerPasskey(t *testing.T, a *softwareAuthenticator, token string, id []byte) string {
	t.Helper()
	r := c.session(token, "POST", "/v1/auth/webauthn/register/begin", map[string]any{})
	if r.status != 200 || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("register begin = %d %s", r.status, r.raw)
	}
	r = c.session(token, "POST", "/v1/auth/webauthn/register/finish", map[string]any{"credential": a.create(r.body, id), "name": "laptop"})
	if r.status != 201 || r.body["name"] != "laptop" {
		t.Fatalf("register finish = %d %s, want 201", r.status, r.raw)
	}
	return r.body["id"].(string)
}

// userWithPasskey registers the test user, logs in and adds a passkey of
// a new software authenticator; it returns the account ID and the
// authenticator.
func (c client) userWithPasskey(t *testing.T) (string, *softwareAuthenticator) {
	t.Helper()
	id := c.register(t)
	a := newSoftwareAuthenticator(t)
	c.registerPasskey(t, a, c.loginToken(t), nil)
	return id, a
}

// beginLogin begins a passkey login: discoverable without challenge, the
// second step of a password login with one.
func (c client) beginLogin(t *testing.T, challenge string) map[string]any {
	t.Helper()
	body := map[string]any{}
	if challenge != "" {
		body["challenge"] = challenge
	}
	r := c.anonymous("POST", "/v1/auth/webauthn/login/begin", body)
	if r.status != 200 {
		t.Fatalf("login begin = %d %s", r.status, r.raw)
	}
	return r.body
}

func (c client) finishLogin(credential map[string]any) response {
	c.t.Helper()
	return c.anonymous("POST", "/v1/auth/webauthn/login/finish", map[string]any{"credential": credential})
}

// auditTypes returns the types of the audit records about an account.
func (c client) auditTypes(t *testing.T, accountID string) []string {
	t.Helper()
	r := c.do("GET", "/v1/audit?account="+accountID, nil)
	if r.status != 200 {
		t.Fatalf("audit = %d %s", r.status, r.raw)
	}
	var types []string
	for _, rec := range r.body["records"].([]any) {
		types = append(types, rec.(map[string]any)["type"].(string))
	}
	return types
}

// a passkey registered with a fresh session logs in without an
// identifier (discoverable credential, user handle → account) at AAL2; it
// is listed, and its addition and logins are in the audit log.
func TestPasskeyRegisterAndDiscoverableLoginR18(t *testing.T) {
	forEachPasskeyServer(t, func(t *testing.T, c client) {
		id := c.register(t)
		a := newSoftwareAuthenticator(t)
		pid := c.registerPasskey(t, a, c.loginToken(t), nil)
		r := c.finishLogin(a.get(c.beginLogin(t, ""), nil))
		sess, _ := r.body["session"].(map[string]any)
		if r.status != 200 || sess["accountId"] != id || sess["aal"] != "aal2" || !slices.Equal(anyStrings(sess["methods"]), []string{"hwk", "mfa"}) {
			t.Fatalf("passkey login = %d %s, want an AAL2 session of %s", r.status, r.raw, id)
		}
		tok := r.body["sessionToken"].(string)
		if w := c.session(tok, "GET", "/v1/sessions/whoami", nil); w.status != 200 {
			t.Errorf("whoami with the passkey session = %d %s", w.status, w.raw)
		}
		r = c.session(tok, "GET", "/v1/auth/passkeys", nil)
		list, _ := r.body["passkeys"].([]any)
		if r.status != 200 || len(list) != 1 || list[0].(map[string]any)["id"] != pid || list[0].(map[string]any)["lastUseTime"] == nil {
			t.Fatalf("list = %d %s, want %s, used", r.status, r.raw, pid)
		}
		for typ, actor := range map[string]string{"atrium.credential.passkey_added": "account:" + id, "atrium.credential.passkey_login_succeeded": "anonymous"} {
			r := c.do("GET", "/v1/audit?account="+id+"&type="+typ, nil)
			recs, _ := r.body["records"].([]any)
			if len(recs) != 1 || recs[0].(map[string]any)["actor"] != actor || recs[0].(map[string]any)["data"].(map[string]any)["passkey"] != pid {
				t.Errorf("audit records of %s = %s, want one by %s naming %s", typ, r.raw, actor, pid)
			}
		}
		ev := c.do("GET", "/v1/events", nil)
		if !strings.Contains(ev.raw, `"atrium.credential.passkey_added"`) || !strings.Contains(ev.raw, `"atrium.credential.passkey_login_succeeded"`) {
			t.Errorf("events lack the passkey events: %.500s", ev.raw)
		}
	})
}

func anyStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// once an account has a passkey, a password login asks for a
// second factor, which the passkey gives (AAL2, methods pwd and hwk); the
// password login's challenge is then used up. Adding another credential
// now needs AAL2, so the AAL1 session of before is refused.
func TestPasskeyAsSecondFactorR18(t *testing.T) {
	forEachPasskeyServer(t, func(t *testing.T, c client) {
		id := c.register(t)
		a := newSoftwareAuthenticator(t)
		aal1 := c.loginToken(t)
		c.registerPasskey(t, a, aal1, nil)
		r := c.anonymous("POST", "/v1/auth/login", login(userEmail, userPw))
		if r.status != 200 || r.body["mfaRequired"] != true {
			t.Fatalf("password login with a passkey = %d %s, want mfaRequired", r.status, r.raw)
		}
		challenge := r.body["challenge"].(string)
		opts := c.beginLogin(t, challenge)
		if allow, _ := publicKeyOptions(t, opts)["allowCredentials"].([]any); len(allow) != 1 {
			t.Errorf("second-step options allow %v, want the account's one passkey", allow)
		}
		r = c.finishLogin(a.get(opts, nil))
		sess, _ := r.body["session"].(map[string]any)
		if r.status != 200 || sess["accountId"] != id || sess["aal"] != "aal2" || !slices.Equal(anyStrings(sess["methods"]), []string{"pwd", "hwk"}) {
			t.Fatalf("second step = %d %s, want AAL2 with pwd and hwk", r.status, r.raw)
		}
		if r := c.anonymous("POST", "/v1/auth/webauthn/login/begin", map[string]any{"challenge": challenge}); r.status != 401 {
			t.Errorf("begin with a used password challenge = %d %s, want 401", r.status, r.raw)
		}
		if r := c.session(aal1, "POST", "/v1/auth/webauthn/register/begin", map[string]any{}); r.status != 403 {
			t.Errorf("register begin with an AAL1 session when a second factor exists = %d %s, want 403", r.status, r.raw)
		}
		if r := c.session(sess["id"].(string), "POST", "/v1/auth/webauthn/register/begin", map[string]any{}); r.status != 401 {
			t.Errorf("register begin with a session ID for a token = %d, want 401", r.status)
		}
		aal2 := r.body["sessionToken"].(string)
		c.registerPasskey(t, newSoftwareAuthenticator(t), aal2, nil)
	})
}

// every check of an assertion refuses: wrong origin, wrong RP ID
// hash, no user verification, a replayed or expired challenge, a sign
// count that goes back (the passkey is flagged and refused from then on),
// and a credential ID that another account holds.
func TestPasskeyRefusalsR18(t *testing.T) {
	forEachPasskeyServer(t, func(t *testing.T, c client) {
		id := c.register(t)
		a := newSoftwareAuthenticator(t)
		credID := []byte("one credential id")
		pid := c.registerPasskey(t, a, c.loginToken(t), credID)

		refused := func(name string, r response) {
			t.Helper()
			if r.status != 401 || r.body["sessionToken"] != nil {
				t.Errorf("%s = %d %s, want 401", name, r.status, r.raw)
			}
		}
		a.origin = "https://evil.example"
		refused("wrong origin", c.finishLogin(a.get(c.beginLogin(t, ""), nil)))
		a.origin = passkeyOrigin
		a.rpID = "atrium.test"
		refused("wrong RP ID hash", c.finishLogin(a.get(c.beginLogin(t, ""), nil)))
		a.rpID = passkeyRPID
		a.flags = flagUP
		refused("UV missing", c.finishLogin(a.get(c.beginLogin(t, ""), nil)))
		a.flags = flagUP | flagUV

		answer := a.get(c.beginLogin(t, ""), nil)
		if r := c.finishLogin(answer); r.status != 200 {
			t.Fatalf("valid login = %d %s", r.status, r.raw)
		}
		refused("replayed challenge", c.finishLogin(answer))

		opts := c.beginLogin(t, "")
		db := testenv.RawDB(t, c.srv.Database)
		if _, err := db.Exec(`UPDATE passkey_ceremonies SET expire_time = 0`); err != nil {
			t.Fatal(err)
		}
		refused("expired challenge", c.finishLogin(a.get(opts, nil)))

		cred := a.creds[0]
		cred.count += 10
		if r := c.finishLogin(a.get(c.beginLogin(t, ""), nil)); r.status != 200 {
			t.Fatalf("login with a sign count ahead = %d %s", r.status, r.raw)
		}
		cred.count -= 5
		refused("sign-count regression", c.finishLogin(a.get(c.beginLogin(t, ""), nil)))
		cred.count += 100
		refused("flagged passkey", c.finishLogin(a.get(c.beginLogin(t, ""), nil)))
		types := c.auditTypes(t, id)
		if n := countOf(types, "atrium.credential.passkey_login_failed"); n < 5 {
			t.Errorf("audit types %v: %d failed passkey logins recorded, want at least 5", types, n)
		}
		r := c.anonymous("POST", "/v1/auth/login", login(userEmail, userPw))
		r = c.finishLogin(a.get(c.beginLogin(t, r.body["challenge"].(string)), nil))
		refused("flagged passkey as a second factor", r)

		// Another account registers an authenticator answering with the
		// same credential ID.
		other := client{t: t, srv: c.srv}
		rr := other.anonymous("POST", "/v1/auth/register", map[string]any{"kind": "user", "identifier": map[string]any{"type": "email", "value": "dave@example.com"}, "password": userPw})
		if rr.status != 202 {
			t.Fatalf("register dave = %d %s", rr.status, rr.raw)
		}
		lr := other.anonymous("POST", "/v1/auth/login", login("dave@example.com", userPw))
		tok := lr.body["sessionToken"].(string)
		begin := other.session(tok, "POST", "/v1/auth/webauthn/register/begin", map[string]any{})
		dup := other.session(tok, "POST", "/v1/auth/webauthn/register/finish", map[string]any{"credential": newSoftwareAuthenticator(t).create(begin.body, credID)})
		if dup.status != 409 {
			t.Errorf("registering a credential ID another account holds = %d %s, want 409", dup.status, dup.raw)
		}

		list := c.do("GET", "/v1/audit?account="+id+"&type=atrium.credential.passkey_login_failed", nil)
		reasons := map[string]bool{}
		for _, rec := range list.body["records"].([]any) {
			data := rec.(map[string]any)["data"].(map[string]any)
			if data["passkey"] != pid {
				t.Errorf("failed login record names passkey %v, want %s", data["passkey"], pid)
			}
			reasons[data["reason"].(string)] = true
		}
		for _, want := range []string{"verification_failed", "sign_count_regression", "flagged"} {
			if !reasons[want] {
				t.Errorf("failed login reasons %v lack %s", reasons, want)
			}
		}
		var flagged int
		if err := db.QueryRow(`SELECT count(*) FROM passkeys WHERE flag_time IS NOT NULL`).Scan(&flagged); err != nil || flagged != 1 {
			t.Errorf("flagged passkeys = %d, %v; want 1", flagged, err)
		}
	})
}

func countOf(xs []string, x string) int {
	n := 0
	for _, y := range xs {
		if y == x {
			n++
		}
	}
	return n
}

// failed passkey logins count in the limiter every credential
// path shares: after the free failures, the account is throttled (429)
// even for a correct assertion.
func TestPasskeyLoginThrottledR10(t *testing.T) {
	forEachPasskeyServer(t, func(t *testing.T, c client) {
		_, a := c.userWithPasskey(t)
		a.origin = "https://evil.example"
		var last response
		for range 8 {
			last = c.finishLogin(a.get(c.beginLogin(t, ""), nil))
			if last.status == 429 {
				break
			}
		}
		a.origin = passkeyOrigin
		r := c.finishLogin(a.get(c.beginLogin(t, ""), nil))
		if last.status != 429 || r.status != 429 {
			t.Errorf("after failed passkey logins: last failure %d, good assertion %d %s; want 429 both", last.status, r.status, r.raw)
		}
	})
}

// a passkey is removed by its account only, with an AAL2 session;
// removing it records its event.
func TestPasskeyDeleteR18(t *testing.T) {
	forEachPasskeyServer(t, func(t *testing.T, c client) {
		id := c.register(t)
		a := newSoftwareAuthenticator(t)
		aal1 := c.loginToken(t)
		pid := c.registerPasskey(t, a, aal1, nil)
		if r := c.session(aal1, "DELETE", "/v1/auth/passkeys/"+pid, nil); r.status != 403 {
			t.Errorf("delete with an AAL1 session = %d %s, want 403", r.status, r.raw)
		}
		tok := c.finishLogin(a.get(c.beginLogin(t, ""), nil)).body["sessionToken"].(string)
		if r := c.session(tok, "DELETE", "/v1/auth/passkeys/bm90LWEta2V5", nil); r.status != 404 {
			t.Errorf("delete unknown = %d %s, want 404", r.status, r.raw)
		}
		if r := c.session(tok, "DELETE", "/v1/auth/passkeys/"+pid, nil); r.status != 200 {
			t.Fatalf("delete = %d %s", r.status, r.raw)
		}
		if r := c.session(tok, "GET", "/v1/auth/passkeys", nil); r.status != 200 || r.body["passkeys"] != nil {
			t.Errorf("list after delete = %d %s, want none", r.status, r.raw)
		}
		if r := c.finishLogin(a.get(c.beginLogin(t, ""), nil)); r.status != 401 {
			t.Errorf("login with a removed passkey = %d %s, want 401", r.status, r.raw)
		}
		if types := c.auditTypes(t, id); !slices.Contains(types, "atrium.credential.passkey_removed") {
			t.Errorf("audit types %v lack passkey_removed", types)
		}
	})
}

// the same passkey login over Connect; a refused answer is
// CodeUnauthenticated, a malformed one CodeInvalidArgument.
func TestPasskeyLoginConnectR18(t *testing.T) {
	forEachPasskeyServer(t, func(t *testing.T, c client) {
		ctx := context.Background()
		id, a := c.userWithPasskey(t)
		pk := atriumv1connect.NewPasskeyServiceClient(http.DefaultClient, c.srv.URL)
		answer := func() *structpb.Struct {
			t.Helper()
			begin, err := pk.BeginPasskeyLogin(ctx, connect.NewRequest(&atriumv1.BeginPasskeyLoginRequest{}))
			if err != nil {
				t.Fatalf("BeginPasskeyLogin = %v", err)
			}
			cred, err := structpb.NewStruct(a.get(map[string]any{"options": begin.Msg.Options.AsMap()}, nil))
			if err != nil {
				t.Fatal(err)
			}
			return cred
		}
		res, err := pk.FinishPasskeyLogin(ctx, connect.NewRequest(&atriumv1.FinishPasskeyLoginRequest{Credential: answer()}))
		if err != nil || res.Msg.Session.GetAccountId() != id || res.Msg.Session.GetAal() != "aal2" {
			t.Fatalf("FinishPasskeyLogin = %v, %v; want an AAL2 session of %s", res, err, id)
		}
		a.flags = flagUP
		if _, err := pk.FinishPasskeyLogin(ctx, connect.NewRequest(&atriumv1.FinishPasskeyLoginRequest{Credential: answer()})); connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Errorf("FinishPasskeyLogin without UV = %v, want unauthenticated", err)
		}
		if _, err := pk.FinishPasskeyLogin(ctx, connect.NewRequest(&atriumv1.FinishPasskeyLoginRequest{})); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("FinishPasskeyLogin without a credential = %v, want invalid_argument", err)
		}
	})
}

// one answer to a login ceremony, sent 32 times at once, logs
// in exactly once. (One round: the 31 refused replays count against the
// client address, whose 50 free failures a second round would use up; the
// store's conformance suite races 200 rounds.)
func TestPasskeyAssertionExactlyOnceR48(t *testing.T) {
	forEachPasskeyServer(t, func(t *testing.T, c client) {
		_, a := c.userWithPasskey(t)
		answer := a.get(c.beginLogin(t, ""), nil)
		testenv.ExactlyOnce(t, 32, func() error {
			if r := c.finishLogin(answer); r.status != 200 {
				return errors.New(r.raw)
			}
			return nil
		})
	})
}

// an authenticator that keeps no sign count sends 0 every time; that
// is not a regression.
func TestPasskeyWithoutSignCountR18(t *testing.T) {
	forEachPasskeyServer(t, func(t *testing.T, c client) {
		_, a := c.userWithPasskey(t)
		a.creds[0].noCounter = true
		for i := range 3 {
			if r := c.finishLogin(a.get(c.beginLogin(t, ""), nil)); r.status != 200 {
				t.Fatalf("login %d with sign count 0 = %d %s, want 200", i, r.status, r.raw)
			}
		}
	})
}

// A suspended account's passkey verifies but does not log in (403), and
// no successful login is recorded.
func TestPasskeySuspendedAccount(t *testing.T) {
	forEachPasskeyServer(t, func(t *testing.T, c client) {
		id, a := c.userWithPasskey(t)
		if r := c.do("POST", "/v1/accounts/"+id+":transition", map[string]any{"transition": "suspend", "reason": "review"}); r.status != 200 {
			t.Fatalf("suspend = %d %s", r.status, r.raw)
		}
		if r := c.finishLogin(a.get(c.beginLogin(t, ""), nil)); r.status != 403 {
			t.Errorf("passkey login of a suspended account = %d %s, want 403", r.status, r.raw)
		}
		if types := c.auditTypes(t, id); slices.Contains(types, "atrium.credential.passkey_login_succeeded") {
			t.Errorf("audit types %v record a login of a suspended account", types)
		}
	})
}

// a passkey is the second factor of a wallet sign-in as it is of a
// password login, and it is a way left to sign in once the account's only
// wallet is unlinked.
func TestPasskeyAfterWalletR19(t *testing.T) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			c := client{t: t, srv: testenv.StartServer(t, e.URL(t), walletServer(""), passkeyConfig)}
			w := newDevWallet("passkey wallet")
			aal1 := c.walletLogin(t, w).body["sessionToken"].(string)
			a := newSoftwareAuthenticator(t)
			c.registerPasskey(t, a, aal1, nil)

			msg := w.message(c.nonce(t))
			r := c.anonymous("POST", "/v1/auth/siwe/login", siweLogin(msg, w.sign(msg)))
			challenge, _ := r.body["challenge"].(string)
			if r.status != 200 || r.body["mfaRequired"] != true || r.body["sessionToken"] != nil {
				t.Fatalf("siwe/login with a passkey = %d %s, want a challenge and no session", r.status, r.raw)
			}
			r = c.finishLogin(a.get(c.beginLogin(t, challenge), nil))
			sess, _ := r.body["session"].(map[string]any)
			if r.status != 200 || sess["aal"] != "aal2" || !slices.Equal(anyStrings(sess["methods"]), []string{"swk", "hwk"}) {
				t.Fatalf("passkey after a wallet = %d %s, want AAL2 with swk and hwk", r.status, r.raw)
			}
			aal2 := r.body["sessionToken"].(string)
			if r := c.session(aal2, "DELETE", "/v1/wallets/eip155:0:"+w.addr.String(), nil); r.status != 200 {
				t.Errorf("unlink of the only wallet of an account with a passkey = %d %s, want 200", r.status, r.raw)
			}
		})
	}
}

// once an account has a passkey, a session of one factor
// (here one from before the passkey) cannot add a TOTP secret, which
// would give it AAL2 and the power to remove the passkey.
func TestOneFactorCannotAddAnother(t *testing.T) {
	forEachPasskeyServer(t, func(t *testing.T, c client) {
		c.register(t)
		first, older := c.loginToken(t), c.loginToken(t)
		c.registerPasskey(t, newSoftwareAuthenticator(t), first, nil)
		if r := c.session(older, "POST", "/v1/auth/totp/enroll", map[string]any{}); r.status != 403 {
			t.Errorf("totp/enroll with an AAL1 session once a passkey exists = %d %s, want 403", r.status, r.raw)
		}
		if r := c.session(older, "POST", "/v1/auth/totp/confirm", map[string]any{"code": "123456"}); r.status != 403 {
			t.Errorf("totp/confirm with an AAL1 session once a passkey exists = %d %s, want 403", r.status, r.raw)
		}
	})
}
