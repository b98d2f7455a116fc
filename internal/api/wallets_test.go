package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	atriumv1 "github.com/atriumid/atrium/gen/atrium/v1"
	"github.com/atriumid/atrium/gen/atrium/v1/atriumv1connect"
	"github.com/atriumid/atrium/internal/chain"
	"github.com/atriumid/atrium/internal/chain/ens/enstest"
	"github.com/atriumid/atrium/internal/config"
	"github.com/atriumid/atrium/internal/credential/siwe"
	"github.com/atriumid/atrium/internal/testenv"
)

// walletServer configures a server for the wallet tests: testOrigin as its
// public URL, chains 1 and 10, and the given JSON-RPC endpoint for chain 1.
func walletServer(rpc string) func(*config.Config) {
	return func(c *config.Config) {
		cheapHashing(c)
		c.PublicURL = testOrigin
		c.SIWEChains = []uint64{1, 10}
		if rpc != "" {
			c.EthRPC = []config.EthRPC{{ChainID: 1, URL: rpc}}
		}
	}
}

func forEachWalletServer(t *testing.T, rpc string, fn func(t *testing.T, c client)) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, client{t: t, srv: testenv.StartServer(t, e.URL(t), walletServer(rpc))})
		})
	}
}

func (c client) nonce(t *testing.T) string {
	t.Helper()
	r := c.anonymous("POST", "/v1/auth/siwe/nonce", map[string]any{})
	n, _ := r.body["nonce"].(string)
	if r.status != 200 || len(n) < 22 || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("siwe/nonce = %d %s, want a nonce of at least 128 bits", r.status, r.raw)
	}
	return n
}

func siweLogin(message, signature string) map[string]any {
	return map[string]any{"message": message, "signature": signature}
}

// walletLogin signs in with w and returns the response, which must be a
// session.
func (c client) walletLogin(t *testing.T, w devWallet) response {
	t.Helper()
	msg := w.message(c.nonce(t))
	r := c.anonymous("POST", "/v1/auth/siwe/login", siweLogin(msg, w.sign(msg)))
	if tok, _ := r.body["sessionToken"].(string); r.status != 200 || !strings.HasPrefix(tok, "ats_") {
		t.Fatalf("siwe/login = %d %s, want a session", r.status, r.raw)
	}
	return r
}

func accountID(r response) string {
	acc, _ := r.body["account"].(map[string]any)
	id, _ := acc["id"].(string)
	return id
}

// a first sign-in creates a user holding the wallet's
// chain-agnostic identity key, a second one finds the same account; the
// session is AAL1 with method swk and lists the wallet.
func TestWalletLogin(t *testing.T) {
	forEachWalletServer(t, "", func(t *testing.T, c client) {
		w := newDevWallet("atrium dev wallet")
		first := c.walletLogin(t, w)
		acc := first.body["account"].(map[string]any)
		idents, _ := acc["identifiers"].([]any)
		key := "eip155:0:" + w.addr.String()
		if acc["kind"] != "user" || len(idents) != 1 || idents[0].(map[string]any)["value"] != key || idents[0].(map[string]any)["verifyTime"] == nil {
			t.Fatalf("siwe/login account = %v, want a user with the verified identifier %s", acc, key)
		}
		sess := first.body["session"].(map[string]any)
		if sess["aal"] != "aal1" || len(sess["methods"].([]any)) != 1 || sess["methods"].([]any)[0] != "swk" {
			t.Errorf("siwe/login session = %v, want aal1 with method swk", sess)
		}
		// The same key on another allowed chain is the same wallet.
		msg := w.message(c.nonce(t), func(m *siwe.Message) { m.ChainID = 10 })
		again := c.anonymous("POST", "/v1/auth/siwe/login", siweLogin(msg, w.sign(msg)))
		if again.status != 200 || accountID(again) != accountID(first) {
			t.Fatalf("second siwe/login = %d %s, want account %s", again.status, again.raw, accountID(first))
		}
		tok := again.body["sessionToken"].(string)
		r := c.session(tok, "GET", "/v1/wallets", nil)
		ws, _ := r.body["wallets"].([]any)
		if r.status != 200 || len(ws) != 1 || ws[0].(map[string]any)["id"] != key || ws[0].(map[string]any)["address"] != w.addr.String() {
			t.Errorf("GET /v1/wallets = %d %s, want %s", r.status, r.raw, key)
		}
		if r := c.anonymous("GET", "/v1/wallets", nil); r.status != 401 {
			t.Errorf("GET /v1/wallets without a session = %d, want 401", r.status)
		}
	})
}

// every message the relying party must refuse is a typed 4xx
// and yields no session. Each case signs with its own wallet so that the
// throttle of one does not answer for another.
func TestWalletLoginRefusals(t *testing.T) {
	forEachWalletServer(t, "", func(t *testing.T, c client) {
		signed := func(w devWallet, msg string) map[string]any { return siweLogin(msg, w.sign(msg)) }
		cases := []struct {
			name   string
			body   func(w devWallet, nonce string) any
			status int
			code   string
		}{
			{"foreign domain", func(w devWallet, n string) any {
				return signed(w, w.message(n, func(m *siwe.Message) { m.Domain = "evil.example"; m.URI = "https://evil.example/login" }))
			}, 401, "unauthenticated"},
			{"wrong URI", func(w devWallet, n string) any {
				return signed(w, w.message(n, func(m *siwe.Message) { m.URI = "https://evil.example/login" }))
			}, 401, "unauthenticated"},
			{"http scheme", func(w devWallet, n string) any {
				return signed(w, w.message(n, func(m *siwe.Message) { m.Scheme = "http" }))
			}, 401, "unauthenticated"},
			{"expired", func(w devWallet, n string) any {
				return signed(w, w.message(n, func(m *siwe.Message) {
					m.IssuedAt = siwe.NewTimestamp(time.Now().Add(-10 * time.Minute))
					m.ExpirationTime = siwe.NewTimestamp(time.Now().Add(-5 * time.Minute))
				}))
			}, 401, "unauthenticated"},
			{"issued too long ago", func(w devWallet, n string) any {
				return signed(w, w.message(n, func(m *siwe.Message) { m.IssuedAt = siwe.NewTimestamp(time.Now().Add(-20 * time.Minute)) }))
			}, 401, "unauthenticated"},
			{"wrong chain", func(w devWallet, n string) any {
				return signed(w, w.message(n, func(m *siwe.Message) { m.ChainID = 5 }))
			}, 401, "unauthenticated"},
			{"nonce not issued", func(w devWallet, _ string) any {
				return signed(w, w.message(siwe.NewNonce()))
			}, 401, "unauthenticated"},
			{"link statement", func(w devWallet, n string) any {
				return signed(w, w.message(n, func(m *siwe.Message) { m.Statement = "Link this wallet to my account." }))
			}, 401, "unauthenticated"},
			{"signed by another key", func(w devWallet, n string) any {
				msg := w.message(n)
				return siweLogin(msg, newDevWallet("someone else").sign(msg))
			}, 401, "unauthenticated"},
			{"signature of 63 bytes", func(w devWallet, n string) any {
				msg := w.message(n)
				return siweLogin(msg, w.sign(msg)[:2+126])
			}, 401, "unauthenticated"},
			{"signature of 65 zero bytes", func(w devWallet, n string) any {
				return siweLogin(w.message(n), "0x"+strings.Repeat("00", 65))
			}, 401, "unauthenticated"},
			{"signature of 66 bytes", func(w devWallet, n string) any {
				msg := w.message(n)
				return siweLogin(msg, w.sign(msg)+"00")
			}, 401, "unauthenticated"},
			{"empty signature", func(w devWallet, n string) any { return siweLogin(w.message(n), "0x") }, 401, "unauthenticated"},
			{"signature not hex", func(w devWallet, n string) any { return siweLogin(w.message(n), "0xzz") }, 400, "invalid_argument"},
			{"signature too long", func(w devWallet, n string) any {
				return siweLogin(w.message(n), "0x"+strings.Repeat("ab", chain.MaxWrappedSignatureLen+1))
			}, 400, "invalid_argument"},
			{"address not EIP-55", func(w devWallet, n string) any {
				msg := w.message(n)
				bad := strings.Replace(msg, w.addr.String(), flipCase(w.addr.String()), 1)
				return signed(w, bad)
			}, 400, "invalid_argument"},
			{"not a message", func(w devWallet, n string) any { return siweLogin("hello", "0x00") }, 400, "invalid_argument"},
			{"message too long", func(w devWallet, n string) any {
				return siweLogin(strings.Repeat("a", siwe.MaxMessageLen+1), "0x00")
			}, 400, "invalid_argument"},
			{"body not JSON", func(devWallet, string) any { return "{" }, 400, "invalid_argument"},
		}
		for _, tc := range cases {
			w := newDevWallet("refusal " + tc.name)
			r := c.anonymous("POST", "/v1/auth/siwe/login", tc.body(w, c.nonce(t)))
			if r.status != tc.status || r.body["code"] != tc.code || r.body["sessionToken"] != nil {
				t.Errorf("%s: siwe/login = %d %s, want %d %s", tc.name, r.status, r.raw, tc.status, tc.code)
			}
		}
	})
}

// flipCase breaks the EIP-55 checksum of an address by swapping the case
// of its first letter.
func flipCase(addr string) string {
	b := []byte(addr)
	for i := 2; i < len(b); i++ {
		switch {
		case b[i] >= 'a' && b[i] <= 'f':
			b[i] -= 'a' - 'A'
			return string(b)
		case b[i] >= 'A' && b[i] <= 'F':
			b[i] += 'a' - 'A'
			return string(b)
		}
	}
	return addr
}

// a nonce signs in once, sequentially and under a 32-way race.
func TestWalletNonceReplay(t *testing.T) {
	forEachWalletServer(t, "", func(t *testing.T, c client) {
		w := newDevWallet("replay")
		msg := w.message(c.nonce(t))
		body := siweLogin(msg, w.sign(msg))
		if r := c.anonymous("POST", "/v1/auth/siwe/login", body); r.status != 200 {
			t.Fatalf("first siwe/login = %d %s", r.status, r.raw)
		}
		if r := c.anonymous("POST", "/v1/auth/siwe/login", body); r.status != 401 || r.body["sessionToken"] != nil {
			t.Errorf("replayed siwe/login = %d %s, want 401", r.status, r.raw)
		}

		racer := newDevWallet("racer")
		msg = racer.message(c.nonce(t))
		js, _ := json.Marshal(siweLogin(msg, racer.sign(msg)))
		var other atomic.Int32
		testenv.ExactlyOnce(t, 32, func() error {
			res, err := http.Post(c.srv.URL+"/v1/auth/siwe/login", "application/json", bytes.NewReader(js))
			if err != nil {
				return err
			}
			defer res.Body.Close()
			io.Copy(io.Discard, res.Body)
			switch res.StatusCode {
			case 200:
				return nil
			case 401, 429:
			default:
				other.Add(1)
			}
			return io.EOF
		})
		if n := other.Load(); n != 0 {
			t.Errorf("%d racing sign-ins got a status other than 200, 401 or 429", n)
		}
	})
}

// fakeRPC is a fake JSON-RPC endpoint of chain 1: every account has code
// and accepts every signature with the ERC-1271 magic value, unless down
// is set, when it answers 502.
type fakeRPC struct {
	down  atomic.Bool
	calls atomic.Int32
}

func (f *fakeRPC) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	if f.down.Load() {
		http.Error(w, "down", http.StatusBadGateway)
		return
	}
	var req struct {
		ID     uint64 `json:"id"`
		Method string `json:"method"`
	}
	json.NewDecoder(r.Body).Decode(&req)
	result := map[string]string{
		"eth_chainId": "0x1",
		"eth_getCode": "0x6001",
		"eth_call":    "0x1626ba7e" + strings.Repeat("0", 56),
	}[req.Method]
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"jsonrpc": "2.0", "id": req.ID, "result": result})
}

// a contract wallet signs in through ERC-1271 on its chain, scoped to
// that chain; when the chain cannot be asked the answer is 503, and EOA
// sign-in goes on working.
func TestWalletLoginContract(t *testing.T) {
	rpc := &fakeRPC{}
	fake := httptest.NewServer(rpc)
	t.Cleanup(fake.Close)
	forEachWalletServer(t, fake.URL, func(t *testing.T, c client) {
		contract := newDevWallet("contract wallet")
		owner := newDevWallet("contract owner")
		msg := contract.message(c.nonce(t))
		r := c.anonymous("POST", "/v1/auth/siwe/login", siweLogin(msg, owner.sign(msg)))
		if r.status != 200 {
			t.Fatalf("contract siwe/login = %d %s, want 200", r.status, r.raw)
		}
		idents := r.body["account"].(map[string]any)["identifiers"].([]any)
		if want := "eip155:1:" + contract.addr.String(); idents[0].(map[string]any)["value"] != want {
			t.Errorf("contract wallet identifier = %v, want %s", idents[0], want)
		}
		// Chain 10 has no endpoint: the same signature is only an EOA
		// signature there, and a wrong one.
		msg = contract.message(c.nonce(t), func(m *siwe.Message) { m.ChainID = 10 })
		if r := c.anonymous("POST", "/v1/auth/siwe/login", siweLogin(msg, owner.sign(msg))); r.status != 401 {
			t.Errorf("contract siwe/login on a chain without endpoint = %d %s, want 401", r.status, r.raw)
		}
	})
	t.Run("endpoint down", func(t *testing.T) {
		down := &fakeRPC{}
		down.down.Store(true)
		srv := httptest.NewServer(down)
		t.Cleanup(srv.Close)
		c := client{t: t, srv: testenv.StartServer(t, testenv.SQLiteURL(t), walletServer(srv.URL))}
		contract, owner := newDevWallet("contract wallet"), newDevWallet("contract owner")
		msg := contract.message(c.nonce(t))
		if r := c.anonymous("POST", "/v1/auth/siwe/login", siweLogin(msg, owner.sign(msg))); r.status != 503 || r.body["code"] != "unavailable" {
			t.Errorf("contract siwe/login with the endpoint down = %d %s, want 503", r.status, r.raw)
		}
		calls := down.calls.Load()
		c.walletLogin(t, newDevWallet("eoa while down"))
		if got := down.calls.Load(); got != calls {
			t.Errorf("EOA sign-in called the endpoint %d times, want 0", got-calls)
		}
	})
}

// aal2Token registers a password user, enrols TOTP and returns the AAL2
// token the confirmation gives.
func (c client) aal2Token(t *testing.T) string {
	t.Helper()
	c.register(t)
	aal1 := c.loginToken(t)
	r := c.session(aal1, "POST", "/v1/auth/totp/enroll", map[string]any{})
	secret := decodeBase32(t, r.body["secret"].(string))
	r = c.session(aal1, "POST", "/v1/auth/totp/confirm", map[string]any{"code": currentCode(secret)})
	aal2, _ := r.body["sessionToken"].(string)
	if r.status != 200 || aal2 == "" {
		t.Fatalf("totp/confirm = %d %s", r.status, r.raw)
	}
	return aal2
}

// Linking needs a recent AAL2 session and a message with the link
// statement; a wallet another account holds is a conflict; unlinking
// removes it.
func TestWalletLink(t *testing.T) {
	forEachWalletServer(t, "", func(t *testing.T, c client) {
		w := newDevWallet("linked wallet")
		link := func(tok string, w devWallet, statement string) response {
			msg := w.message(c.nonce(t), func(m *siwe.Message) { m.Statement = statement })
			return c.session(tok, "POST", "/v1/wallets:link", siweLogin(msg, w.sign(msg)))
		}
		const statement = "Link this wallet to my account."
		aal2 := c.aal2Token(t)
		aal1 := c.walletLogin(t, newDevWallet("aal1 session")).body["sessionToken"].(string)
		if r := link(aal1, w, statement); r.status != 403 || r.body["code"] != "permission_denied" {
			t.Errorf("link with an AAL1 session = %d %s, want 403", r.status, r.raw)
		}
		if r := link(aal2, w, "Sign in to Atrium."); r.status != 400 {
			t.Errorf("link without the link statement = %d %s, want 400", r.status, r.raw)
		}
		key := "eip155:0:" + w.addr.String()
		if r := link(aal2, w, statement); r.status != 201 || r.body["id"] != key {
			t.Fatalf("link = %d %s, want 201 %s", r.status, r.raw, key)
		}
		if r := link(aal2, w, statement); r.status != 409 {
			t.Errorf("link again = %d %s, want 409", r.status, r.raw)
		}
		taken := newDevWallet("taken wallet")
		c.walletLogin(t, taken)
		if r := link(aal2, taken, statement); r.status != 409 || r.body["code"] != "already_exists" {
			t.Errorf("link of another account's wallet = %d %s, want 409", r.status, r.raw)
		}
		// The wallet now signs in to the password account, which has a
		// second factor: the answer is a challenge.
		msg := w.message(c.nonce(t))
		if r := c.anonymous("POST", "/v1/auth/siwe/login", siweLogin(msg, w.sign(msg))); r.status != 200 || r.body["mfaRequired"] != true {
			t.Errorf("siwe/login of a wallet linked to an account with TOTP = %d %s, want a challenge", r.status, r.raw)
		}
		if r := c.session(aal1, "DELETE", "/v1/wallets/"+key, nil); r.status != 403 {
			t.Errorf("unlink with an AAL1 session = %d %s, want 403", r.status, r.raw)
		}
		if r := c.session(aal2, "DELETE", "/v1/wallets/"+key, nil); r.status != 200 {
			t.Errorf("unlink = %d %s, want 200", r.status, r.raw)
		}
		if r := c.session(aal2, "DELETE", "/v1/wallets/"+key, nil); r.status != 404 {
			t.Errorf("unlink again = %d %s, want 404", r.status, r.raw)
		}
		if r := c.session(aal2, "DELETE", "/v1/wallets/nonsense", nil); r.status != 400 {
			t.Errorf("unlink of a malformed id = %d %s, want 400", r.status, r.raw)
		}
		if r := c.session(aal2, "GET", "/v1/wallets", nil); r.status != 200 || r.body["wallets"] != nil {
			t.Errorf("GET /v1/wallets after unlink = %d %s, want none", r.status, r.raw)
		}
	})
}

// The nonce route is rate-limited per client address.
func TestWalletNonceLimit(t *testing.T) {
	c := client{t: t, srv: testenv.StartServer(t, testenv.SQLiteURL(t), walletServer(""))}
	for i := range 40 {
		r := c.anonymous("POST", "/v1/auth/siwe/nonce", map[string]any{})
		if r.status == 429 {
			if i < 30 || r.header.Get("Retry-After") == "" {
				t.Errorf("nonce %d = 429 (Retry-After %q), want 30 free and a Retry-After", i, r.header.Get("Retry-After"))
			}
			return
		}
	}
	t.Errorf("40 nonces from one address were all issued, want 429 after 30")
}

// WalletService answers over Connect without an API key, as over REST.
func TestWalletConnect(t *testing.T) {
	srv := testenv.StartServer(t, testenv.SQLiteURL(t), walletServer(""))
	wc := atriumv1connect.NewWalletServiceClient(http.DefaultClient, srv.URL)
	ctx := context.Background()
	n, err := wc.CreateSiweNonce(ctx, connect.NewRequest(&atriumv1.CreateSiweNonceRequest{}))
	if err != nil {
		t.Fatalf("CreateSiweNonce: %v", err)
	}
	w := newDevWallet("connect wallet")
	msg := w.message(n.Msg.Nonce)
	res, err := wc.SiweLogin(ctx, connect.NewRequest(&atriumv1.SiweLoginRequest{Message: msg, Signature: w.sign(msg)}))
	if err != nil {
		t.Fatalf("SiweLogin: %v", err)
	}
	if _, err := wc.SiweLogin(ctx, connect.NewRequest(&atriumv1.SiweLoginRequest{Message: msg, Signature: w.sign(msg)})); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("replayed SiweLogin = %v, want Unauthenticated", err)
	}
	req := connect.NewRequest(&atriumv1.ListWalletsRequest{})
	req.Header().Set("Authorization", "Bearer "+res.Msg.SessionToken)
	list, err := wc.ListWallets(ctx, req)
	if err != nil || len(list.Msg.Wallets) != 1 || list.Msg.Wallets[0].Address != w.addr.String() || list.Msg.Wallets[0].ChainId != 0 {
		t.Errorf("ListWallets = %v, %v, want the wallet on every chain", list, err)
	}
}

// failed wallet sign-ins count against the throttle of the other
// credential paths, keyed by the address and the client; once blocked,
// even a right signature gets 429.
func TestWalletLoginThrottled(t *testing.T) {
	c := client{t: t, srv: testenv.StartServer(t, testenv.SQLiteURL(t), walletServer(""))}
	w, thief := newDevWallet("throttled"), newDevWallet("thief")
	for i := range 10 {
		msg := w.message(c.nonce(t))
		r := c.anonymous("POST", "/v1/auth/siwe/login", siweLogin(msg, thief.sign(msg)))
		if r.status == 429 {
			if i < 5 || r.header.Get("Retry-After") == "" {
				t.Fatalf("attempt %d = 429 (Retry-After %q), want 5 free failures and a Retry-After", i, r.header.Get("Retry-After"))
			}
			msg := w.message(c.nonce(t))
			if r := c.anonymous("POST", "/v1/auth/siwe/login", siweLogin(msg, w.sign(msg))); r.status != 429 {
				t.Errorf("right signature while blocked = %d %s, want 429", r.status, r.raw)
			}
			return
		}
		if r.status != 401 {
			t.Fatalf("attempt %d = %d %s, want 401", i, r.status, r.raw)
		}
	}
	t.Errorf("10 failed wallet sign-ins were never throttled")
}

// a wallet sign-in to an account with TOTP returns a challenge
// and no session, like a password login; LoginMfa completes it at AAL2
// with the wallet and the second factor as methods. The AAL2 session links
// and unlinks wallets, each with its event and audit record, but never the
// only one of an account without a password.
func TestWalletMFA(t *testing.T) {
	forEachWalletServer(t, "", func(t *testing.T, c client) {
		w, spare := newDevWallet("mfa wallet"), newDevWallet("mfa spare wallet")
		aal1 := c.walletLogin(t, w).body["sessionToken"].(string)
		r := c.session(aal1, "POST", "/v1/auth/totp/enroll", map[string]any{})
		if r.status != 200 {
			t.Fatalf("totp/enroll with a wallet session = %d %s", r.status, r.raw)
		}
		secret := decodeBase32(t, r.body["secret"].(string))
		r = c.session(aal1, "POST", "/v1/auth/totp/confirm", map[string]any{"code": currentCode(secret)})
		codes, _ := r.body["recoveryCodes"].([]any)
		if r.status != 200 || len(codes) == 0 {
			t.Fatalf("totp/confirm = %d %s", r.status, r.raw)
		}

		msg := w.message(c.nonce(t))
		r = c.anonymous("POST", "/v1/auth/siwe/login", siweLogin(msg, w.sign(msg)))
		challenge, _ := r.body["challenge"].(string)
		if r.status != 200 || r.body["mfaRequired"] != true || !strings.HasPrefix(challenge, "atw_") || r.body["sessionToken"] != nil || r.body["account"] != nil {
			t.Fatalf("siwe/login with TOTP enrolled = %d %s, want a challenge and no session", r.status, r.raw)
		}
		r = c.anonymous("POST", "/v1/auth/login/mfa", map[string]any{"challenge": challenge, "recoveryCode": codes[0]})
		sess, _ := r.body["session"].(map[string]any)
		methods, _ := sess["methods"].([]any)
		aal2, _ := r.body["sessionToken"].(string)
		if r.status != 200 || sess["aal"] != "aal2" || len(methods) != 2 || methods[0] != "swk" || methods[1] != "kba" {
			t.Fatalf("login/mfa after a wallet = %d %s, want aal2 with methods swk, kba", r.status, r.raw)
		}

		key := "eip155:0:" + w.addr.String()
		if r := c.session(aal2, "DELETE", "/v1/wallets/"+key, nil); r.status != 400 || r.body["code"] != "failed_precondition" {
			t.Errorf("unlink of the only wallet = %d %s, want 400 failed_precondition", r.status, r.raw)
		}
		msg = spare.message(c.nonce(t), func(m *siwe.Message) { m.Statement = "Link this wallet to my account." })
		if r := c.session(aal2, "POST", "/v1/wallets:link", siweLogin(msg, spare.sign(msg))); r.status != 201 {
			t.Fatalf("link = %d %s", r.status, r.raw)
		}
		if r := c.session(aal2, "DELETE", "/v1/wallets/"+key, nil); r.status != 200 {
			t.Errorf("unlink with another wallet left = %d %s, want 200", r.status, r.raw)
		}
		id := accountID(c.session(aal2, "GET", "/v1/sessions/whoami", nil))
		for _, path := range []string{"/v1/events?page_size=100", "/v1/audit?account=" + id} {
			r := c.do("GET", path, nil)
			for _, typ := range []string{"atrium.account.identifier_added", "atrium.account.identifier_removed"} {
				if r.status != 200 || !strings.Contains(r.raw, typ) {
					t.Errorf("GET %s = %d, want a record of type %s", path, r.status, typ)
				}
			}
		}
	})
}

// An ENS name whose address is the session's wallet and whose primary name
// it is becomes an identifier of the account; one that does not agree, or
// that another account's wallet holds, is a typed 4xx; without an endpoint
// on the ENS chain, ENS names are off.
func TestVerifyEnsName(t *testing.T) {
	w, other := newDevWallet("ens wallet"), newDevWallet("ens other wallet")
	fake := &enstest.FakeChain{
		Forward: map[string]chain.Address{"wallet.eth": w.addr, "other.eth": other.addr, "liar.eth": w.addr},
		Reverse: map[chain.Address]string{w.addr: "wallet.eth", other.addr: "other.eth"},
	}
	rpc := httptest.NewServer(fake)
	t.Cleanup(rpc.Close)
	forEachWalletServer(t, rpc.URL, func(t *testing.T, c client) {
		tok := c.walletLogin(t, w).body["sessionToken"].(string)
		cases := []struct {
			name   string
			status int
			code   string
		}{
			{"other.eth", 400, "failed_precondition"}, // another wallet's name
			{"liar.eth", 400, "failed_precondition"},  // resolves here, but the primary name is wallet.eth
			{"nobody.eth", 404, "not_found"},
			{"te--st.eth", 400, "invalid_argument"},
		}
		for _, tc := range cases {
			if r := c.session(tok, "POST", "/v1/wallets:verifyEns", map[string]any{"name": tc.name}); r.status != tc.status || r.body["code"] != tc.code {
				t.Errorf("verifyEns %s = %d %s, want %d %s", tc.name, r.status, r.raw, tc.status, tc.code)
			}
		}
		if r := c.anonymous("POST", "/v1/wallets:verifyEns", map[string]any{"name": "wallet.eth"}); r.status != 401 {
			t.Errorf("verifyEns without a session = %d, want 401", r.status)
		}
		r := c.session(tok, "POST", "/v1/wallets:verifyEns", map[string]any{"name": "Wallet.eth"})
		if r.status != 200 || r.body["name"] != "wallet.eth" || r.body["address"] != w.addr.String() || r.body["verifyTime"] == nil {
			t.Fatalf("verifyEns = %d %s, want wallet.eth", r.status, r.raw)
		}
		who := c.session(tok, "GET", "/v1/sessions/whoami", nil)
		if !strings.Contains(who.raw, `"type":"ens","value":"wallet.eth"`) {
			t.Errorf("whoami = %s, want the ens identifier wallet.eth", who.raw)
		}
	})
	t.Run("off", func(t *testing.T) {
		c := client{t: t, srv: testenv.StartServer(t, testenv.SQLiteURL(t), walletServer(""))}
		tok := c.walletLogin(t, w).body["sessionToken"].(string)
		if r := c.session(tok, "POST", "/v1/wallets:verifyEns", map[string]any{"name": "wallet.eth"}); r.status != 400 || r.body["code"] != "failed_precondition" {
			t.Errorf("verifyEns with ENS off = %d %s, want 400 failed_precondition", r.status, r.raw)
		}
	})
}
