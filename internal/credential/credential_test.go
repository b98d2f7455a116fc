package credential_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/credential"
	"github.com/atriumid/atrium/internal/credential/password"
	"github.com/atriumid/atrium/internal/credential/totp"
	"github.com/atriumid/atrium/internal/envelope"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/freshness"
	"github.com/atriumid/atrium/internal/kind"
	"github.com/atriumid/atrium/internal/mail"
	"github.com/atriumid/atrium/internal/session"
	"github.com/atriumid/atrium/internal/sqlstore"
	"github.com/atriumid/atrium/internal/testenv"
	"github.com/atriumid/atrium/internal/throttle"
	"golang.org/x/crypto/bcrypt"
)

// clock is a settable clock shared by every service of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is the credential flows over one fresh database. Passwords are
// hashed with the Cheap argon2id profile.
type env struct {
	url      string
	db       *sqlstore.DB
	clock    *clock
	accounts *account.Service
	sessions *session.Service
	svc      *credential.Service
	cfg      credential.Config
	smtp     *testenv.SMTPServer
}

// testPolicy throttles an account and client quickly so tests stay short:
// 2 free failures, then 1 s doubling to 8 s, locked for 8 s from the 6th.
// testAccountPolicy throttles the account from any client: 12 free, then
// 1 s doubling to 2 s.
var (
	testPolicy        = throttle.Policy{Free: 2, Base: time.Second, Max: 8 * time.Second, Limit: 6, Window: time.Hour}
	testAccountPolicy = throttle.Policy{Free: 12, Base: time.Second, Max: 2 * time.Second, Limit: 20, Window: time.Hour}
)

func newEnv(t *testing.T, dbURL string) *env {
	t.Helper()
	db := testenv.OpenDB(t, dbURL)
	set, err := kind.Load(kind.Builtin(), kind.CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kinds := kind.NewRegistry(set, 1)
	k, _ := envelope.GenerateKey("test1")
	keys, _ := envelope.NewKeyring([]envelope.Key{k})
	codec, _ := freshness.NewCodec([]byte(strings.Repeat("s", 32)))
	c := &clock{t: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
	e := &env{url: dbURL, db: db, clock: c, smtp: testenv.StartSMTP(t)}
	e.accounts = account.NewService(account.Config{Store: db.Accounts(), Kinds: kinds, Keys: keys, Freshness: codec, Sessions: db.SessionRevoker(), Now: c.Now})
	e.sessions = session.NewService(db.Sessions(), session.DefaultPolicy, c.Now)
	e.cfg = credential.Config{
		Accounts: e.accounts, Kinds: kinds, Store: db.Credentials(), Sessions: e.sessions,
		Limiter: throttle.New(db.Throttle(), throttle.Policies{Pair: testPolicy, Account: testAccountPolicy, Client: throttle.DefaultPolicies.Client}, c.Now), Keys: keys,
		Sends:   throttle.New(db.Throttle(), throttle.SendPolicies, c.Now),
		Hashing: password.Cheap, Policy: password.DefaultPolicy, Issuer: "Atrium", ContextWords: []string{"Acme Corporation"}, Now: c.Now,
		Mail: &mail.SMTP{Addr: e.smtp.Addr(), From: "atrium@id.example.org", Insecure: true}, PublicURL: "https://id.example.org",
	}
	e.svc, err = credential.NewService(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func forEachEngine(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, newEnv(t, eng.URL(t)))
		})
	}
}

const (
	email = "alice@example.com"
	pw    = "correct horse battery staple"
	ip    = "203.0.113.5"
)

func email1() account.IdentifierInput { return account.IdentifierInput{Type: "email", Value: email} }

func (e *env) register(t *testing.T) *account.Account {
	t.Helper()
	reg, err := e.svc.Register(context.Background(), credential.RegisterRequest{Kind: "user", Identifier: email1(), Password: pw, Client: ip})
	if err != nil || reg.AccountID == "" {
		t.Fatalf("Register = %+v, %v", reg, err)
	}
	a, err := e.accounts.Get(context.Background(), reg.AccountID, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (e *env) login(t *testing.T, password string) (*credential.LoginResult, error) {
	t.Helper()
	return e.svc.Login(context.Background(), credential.LoginRequest{Identifier: email1(), Password: password, Client: ip})
}

func wantKind(t *testing.T, what string, err error, k fault.Kind) {
	t.Helper()
	if !fault.Is(err, k) {
		t.Errorf("%s = %v, want %v", what, err, k)
	}
}

func TestRegisterAndLogin(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a := e.register(t)
		res, err := e.login(t, pw)
		if err != nil || res.MFARequired || res.Token == "" {
			t.Fatalf("Login = %+v, %v, want a session", res, err)
		}
		sess, err := e.sessions.Authenticate(ctx, res.Token)
		if err != nil || sess.AccountID != a.ID || sess.AAL != session.AAL1 || strings.Join(sess.Methods, ",") != "pwd" {
			t.Errorf("Authenticate = %+v, %v, want an AAL1 pwd session of %s", sess, err, a.ID)
		}
		// Registration refuses what the policy refuses
		// and kinds that are not self-service.
		for _, tc := range []struct {
			name string
			req  credential.RegisterRequest
			want fault.Kind
		}{
			{"R-01 short", credential.RegisterRequest{Kind: "user", Identifier: account.IdentifierInput{Type: "email", Value: "b@example.com"}, Password: "fourteen chars"}, fault.Invalid},
			{"R-06 common", credential.RegisterRequest{Kind: "user", Identifier: account.IdentifierInput{Type: "email", Value: "b@example.com"}, Password: "1qaz2wsx3edc4rfv"}, fault.Invalid},
			{"R-07 identifier", credential.RegisterRequest{Kind: "user", Identifier: account.IdentifierInput{Type: "email", Value: "robert.tables@example.com"}, Password: "robert.tables@example.com!"}, fault.Invalid},
			{"R-07 organisation", credential.RegisterRequest{Kind: "user", Identifier: account.IdentifierInput{Type: "email", Value: "b@example.com"}, Password: "acme corporation 2026"}, fault.Invalid},
			{"not self-service", credential.RegisterRequest{Kind: "org", Identifier: account.IdentifierInput{Type: "username", Value: "acme"}, Password: pw}, fault.PermissionDenied},
		} {
			_, err := e.svc.Register(ctx, tc.req)
			wantKind(t, "Register "+tc.name, err, tc.want)
		}
	})
}

// registering a taken identifier answers as a new registration
// does, changes nothing, and e-mails the holder a notice instead of a
// code; the holder's password still works.
func TestRegisterNoEnumeration(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.register(t)
		code, _ := e.lastCode(t)
		fresh, err := e.svc.Register(ctx, credential.RegisterRequest{Kind: "user", Identifier: account.IdentifierInput{Type: "email", Value: "bob@example.com"}, Password: pw, Client: ip})
		if err != nil {
			t.Fatal(err)
		}
		taken, err := e.svc.Register(ctx, credential.RegisterRequest{Kind: "user", Identifier: account.IdentifierInput{Type: "email", Value: " Alice@Example.com"}, Password: "a different long passphrase", Client: ip})
		if err != nil || taken.AccountID != "" {
			t.Fatalf("Register(taken) = %+v, %v; want an answer without an account", taken, err)
		}
		if len(taken.Flow.Flow) != len(fresh.Flow.Flow) || taken.Flow.Flow[:4] != fresh.Flow.Flow[:4] || !taken.Flow.Expire.Equal(fresh.Flow.Expire) {
			t.Errorf("flows: taken %+v, fresh %+v; want the same form", taken.Flow, fresh.Flow)
		}
		msgs := e.smtp.Messages()
		notice := msgs[len(msgs)-1]
		if notice.To != email || !strings.Contains(notice.Data, "already has one") || codeRE.MatchString(notice.Data) || strings.Contains(notice.Data, code) {
			t.Errorf("message to the holder = %s: %q, want a notice without a code", notice.To, notice.Data)
		}
		if _, err := e.login(t, pw); err != nil {
			t.Errorf("holder's Login after the attempt = %v", err)
		}
		_, err = e.login(t, "a different long passphrase")
		wantKind(t, "Login with the attempt's password", err, fault.Unauthenticated)
	})
}

// Registrations count against their client; e-mails against the account
// and the client, so nobody floods a mailbox.
func TestRegisterAndSendLimits(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		var err error
		for i := 0; err == nil && i <= throttle.SendPolicies.Client.Free+1; i++ {
			_, err = e.svc.Register(ctx, credential.RegisterRequest{Kind: "user", Password: pw, Client: "198.51.100.9",
				Identifier: account.IdentifierInput{Type: "email", Value: fmt.Sprintf("u%d@example.com", i)}})
		}
		wantKind(t, "Register past the client's free registrations", err, fault.ResourceExhausted)
		e.register(t)
		sess := e.aal1(t)
		for range throttle.SendPolicies.Pair.Free + 1 {
			_, err = e.svc.StartEmailVerification(ctx, sess, ip)
		}
		wantKind(t, "StartEmailVerification past the free sends", err, fault.ResourceExhausted)
	})
}

// an unknown identifier and a wrong password give the same error,
// and both are throttled alike.
func TestLoginNoEnumeration(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.register(t)
		_, wrong := e.login(t, "not the password at all")
		_, unknown := e.svc.Login(ctx, credential.LoginRequest{Identifier: account.IdentifierInput{Type: "email", Value: "nobody@example.com"}, Password: pw, Client: "198.51.100.1"})
		wm, _ := fault.PublicOf(wrong)
		um, _ := fault.PublicOf(unknown)
		if fault.KindOf(wrong) != fault.Unauthenticated || fault.KindOf(unknown) != fault.KindOf(wrong) || wm != um {
			t.Errorf("wrong password = %v; unknown identifier = %v; want the same Unauthenticated error", wrong, unknown)
		}
		for range testPolicy.Free + 2 {
			_, unknown = e.svc.Login(ctx, credential.LoginRequest{Identifier: account.IdentifierInput{Type: "email", Value: "nobody@example.com"}, Password: pw})
		}
		wantKind(t, "Login(unknown identifier, after the free failures)", unknown, fault.ResourceExhausted)
	})
}

// R-10, R-11 (T-L2 a, c): the free failures pass; each further failure
// blocks the account for a delay that doubles up to Max and stays there
// from Limit on; a correct password is refused while blocked; attempts
// while blocked are not counted and do not extend the block; after the
// capped delay the victim logs in, which resets the counter.
func TestThrottleProgressiveAndCapped(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		e.register(t)
		for range testPolicy.Free {
			_, err := e.login(t, "not the password at all")
			wantKind(t, "Login(wrong) within the free failures", err, fault.Unauthenticated)
		}
		var waits []time.Duration
		for range testPolicy.Limit {
			_, err := e.login(t, "not the password at all")
			wantKind(t, "Login(wrong)", err, fault.Unauthenticated)
			_, err = e.login(t, pw)
			wantKind(t, "Login(right) while blocked", err, fault.ResourceExhausted)
			var re *throttle.RetryError
			if !errorsAs(err, &re) {
				t.Fatalf("Login while blocked = %v, want a RetryError", err)
			}
			waits = append(waits, re.After)
			for range 5 {
				_, err := e.login(t, "not the password at all")
				wantKind(t, "Login(wrong) while blocked", err, fault.ResourceExhausted)
			}
			e.clock.Advance(re.After)
		}
		want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second}
		if !slices.Equal(waits, want) {
			t.Errorf("delays = %v, want %v", waits, want)
		}
		if _, err := e.login(t, pw); err != nil {
			t.Errorf("Login(right) after the capped delay = %v, want success", err)
		}
		_, err := e.login(t, "not the password at all")
		wantKind(t, "Login(wrong) after a success", err, fault.Unauthenticated)
		if _, err := e.login(t, pw); err != nil {
			t.Errorf("Login(right) after one new failure = %v, want success (counter reset)", err)
		}
	})
}

// R-11 (T-L2 c): an attacker hammering from one address is held back by
// the pair's delays and never blocks the holder, who logs in from another
// address throughout; attackers spread over many addresses block the
// account for at most the account-wide cap.
func TestThrottleNoVictimLockout(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.register(t)
		victim := func() error {
			_, err := e.svc.Login(ctx, credential.LoginRequest{Identifier: email1(), Password: pw, Client: "192.0.2.77"})
			return err
		}
		// One attacker at 1 request per second for 10 minutes.
		for i := range 600 {
			e.svc.Login(ctx, credential.LoginRequest{Identifier: email1(), Password: "guess guess guess guess", Client: ip})
			if i%60 == 0 {
				if err := victim(); err != nil {
					t.Fatalf("victim's login after %d s of attack = %v, want success", i, err)
				}
			}
			e.clock.Advance(time.Second)
		}
		// Many attackers, one guess each: the account-wide delay applies
		// to everyone, but never for longer than its cap.
		for i := range testAccountPolicy.Limit + 5 {
			e.svc.Login(ctx, credential.LoginRequest{Identifier: email1(), Password: "guess guess guess guess", Client: fmt.Sprintf("198.51.100.%d", i)})
		}
		err := victim()
		var re *throttle.RetryError
		if !errorsAs(err, &re) || re.After > testAccountPolicy.Max {
			t.Fatalf("victim's login during a distributed attack = %v, want a wait ≤ %v", err, testAccountPolicy.Max)
		}
		e.clock.Advance(re.After)
		if err := victim(); err != nil {
			t.Errorf("victim's login after the account-wide cap = %v, want success", err)
		}
	})
}

// R-10 (T-L2 b): once throttled through the password, every other
// pathway of the account refuses even correct credentials.
func TestThrottleEveryPathway(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.register(t)
		res, _ := e.login(t, pw)
		sess, _ := e.sessions.Authenticate(ctx, res.Token)
		enr, err := e.svc.EnrollTOTP(ctx, sess)
		if err != nil {
			t.Fatal(err)
		}
		secret := decodeSecret(t, enr.Secret)
		for range testPolicy.Free + 1 {
			e.login(t, "not the password at all")
		}
		_, err = e.svc.ConfirmTOTP(ctx, sess, totp.Code(secret, totp.Step(e.clock.Now())), ip)
		wantKind(t, "ConfirmTOTP while blocked", err, fault.ResourceExhausted)
		_, err = e.svc.ChangePassword(ctx, credential.ChangePasswordRequest{Session: sess, Current: pw, Password: "another long passphrase here", Client: ip})
		wantKind(t, "ChangePassword while blocked", err, fault.ResourceExhausted)
		_, err = e.login(t, pw)
		wantKind(t, "Login while blocked", err, fault.ResourceExhausted)
	})
}

// T-L2 d: parallel correct logins of one account are all accepted.
func TestParallelCorrectLogins(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		e.register(t)
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := e.login(t, pw); err != nil {
					t.Errorf("parallel Login = %v", err)
				}
			}()
		}
		wg.Wait()
	})
}

// the check and the count are one step. Parallel wrong
// guesses against an account right at its free failures, or as its block
// ends, are verified at most once; the rest are refused unverified.
func TestParallelGuessesAtLimit(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		e.register(t)
		race := func() (verified int) {
			var (
				wg sync.WaitGroup
				mu sync.Mutex
			)
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := e.login(t, "not the password at all")
					switch {
					case fault.Is(err, fault.Unauthenticated):
						mu.Lock()
						verified++
						mu.Unlock()
					case !fault.Is(err, fault.ResourceExhausted):
						t.Errorf("parallel Login(wrong) = %v", err)
					}
				}()
			}
			wg.Wait()
			return verified
		}
		// Fresh: the free failures and the one that starts the delays.
		if got := race(); got != testPolicy.Free+1 {
			t.Errorf("verified guesses on a fresh account = %d, want %d", got, testPolicy.Free+1)
		}
		for range 3 {
			e.clock.Advance(testPolicy.Max)
			if got := race(); got != 1 {
				t.Errorf("verified guesses as a block ends = %d, want 1", got)
			}
		}
		e.clock.Advance(testPolicy.Max)
		if _, err := e.login(t, pw); err != nil {
			t.Errorf("Login(right) after the block = %v", err)
		}
	})
}

// a hash made with old parameters is replaced at the next login.
func TestRehashOnLogin(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a := e.register(t)
		cfg := e.cfg
		cfg.Hashing = password.Params{Memory: 128, Time: 1, Threads: 1}
		svc, err := credential.NewService(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Login(ctx, credential.LoginRequest{Identifier: email1(), Password: pw}); err != nil {
			t.Fatal(err)
		}
		h, _ := e.db.Credentials().PasswordHash(ctx, a.ID)
		if !strings.HasPrefix(h, "$argon2id$v=19$m=128,t=1,p=1$") {
			t.Errorf("stored hash after login = %q, want m=128", h)
		}
		if _, err := svc.Login(ctx, credential.LoginRequest{Identifier: email1(), Password: pw}); err != nil {
			t.Errorf("Login after rehash = %v", err)
		}
	})
}

// an imported bcrypt hash verifies the password as bcrypt
// did, refuses one that differs only after byte 72, and is replaced by an
// argon2id hash at the first login.
func TestImportedHashRehashed(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a, err := e.accounts.Create(ctx, account.CreateRequest{Kind: "user", Identifiers: []account.IdentifierInput{email1()}})
		if err != nil {
			t.Fatal(err)
		}
		long := strings.Repeat("legacy-", 11) // 77 bytes
		legacy, _ := bcrypt.GenerateFromPassword([]byte(long[:72]), bcrypt.MinCost)
		err = e.svc.ImportPasswordHash(ctx, a.ID, "$md5$not$supported")
		wantKind(t, "ImportPasswordHash(unsupported)", err, fault.Invalid)
		if err := e.svc.ImportPasswordHash(ctx, a.ID, string(legacy)); err != nil {
			t.Fatal(err)
		}
		err = e.svc.ImportPasswordHash(ctx, a.ID, string(legacy))
		wantKind(t, "ImportPasswordHash(again)", err, fault.AlreadyExists)
		_, err = e.login(t, long)
		wantKind(t, "Login(differs after byte 72)", err, fault.Unauthenticated)
		if _, err := e.login(t, long[:72]); err != nil {
			t.Fatalf("Login(imported password) = %v", err)
		}
		h, _ := e.db.Credentials().PasswordHash(ctx, a.ID)
		if !strings.HasPrefix(h, "$argon2id$") {
			t.Errorf("stored hash after login = %q, want argon2id", h)
		}
		if _, err := e.login(t, long[:72]); err != nil {
			t.Errorf("Login after the rehash = %v", err)
		}
	})
}

// a change needs the current password, rotates the caller's
// session and ends every other one.
func TestChangePassword(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.register(t)
		r1, _ := e.login(t, pw)
		r2, _ := e.login(t, pw)
		s1, _ := e.sessions.Authenticate(ctx, r1.Token)
		const next = "an entirely new passphrase"
		_, err := e.svc.ChangePassword(ctx, credential.ChangePasswordRequest{Session: s1, Current: "wrong current password", Password: next, Client: ip})
		wantKind(t, "ChangePassword(wrong current)", err, fault.Invalid)
		_, err = e.svc.ChangePassword(ctx, credential.ChangePasswordRequest{Session: s1, Current: pw, Password: "alice@example.com!", Client: ip})
		wantKind(t, "ChangePassword(R-07 identifier)", err, fault.Invalid)
		res, err := e.svc.ChangePassword(ctx, credential.ChangePasswordRequest{Session: s1, Current: pw, Password: next, Client: ip})
		if err != nil {
			t.Fatal(err)
		}
		for name, tok := range map[string]string{"caller's old token": r1.Token, "other session": r2.Token} {
			if _, err := e.sessions.Authenticate(ctx, tok); !fault.Is(err, fault.Unauthenticated) {
				t.Errorf("Authenticate(%s) after change = %v, want Unauthenticated", name, err)
			}
		}
		if _, err := e.sessions.Authenticate(ctx, res.Token); err != nil {
			t.Errorf("Authenticate(new token) = %v", err)
		}
		if _, err := e.login(t, next); err != nil {
			t.Errorf("Login(new password) = %v", err)
		}
		_, err = e.login(t, pw)
		wantKind(t, "Login(old password)", err, fault.Unauthenticated)
	})
}

// suspending the account ends its sessions at once, and a
// suspended account cannot log in; reinstating does not revive sessions.
func TestSuspensionEndsSessions(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a := e.register(t)
		res, _ := e.login(t, pw)
		if _, err := e.accounts.Transition(ctx, a.ID, "suspend", ""); err != nil {
			t.Fatal(err)
		}
		_, err := e.sessions.Authenticate(ctx, res.Token)
		wantKind(t, "Authenticate after suspension", err, fault.Unauthenticated)
		_, err = e.login(t, pw)
		wantKind(t, "Login while suspended", err, fault.PermissionDenied)
		if _, err := e.accounts.Transition(ctx, a.ID, "reinstate", ""); err != nil {
			t.Fatal(err)
		}
		_, err = e.sessions.Authenticate(ctx, res.Token)
		wantKind(t, "Authenticate after reinstatement", err, fault.Unauthenticated)
		if _, err := e.login(t, pw); err != nil {
			t.Errorf("Login after reinstatement = %v", err)
		}
	})
}
