package credential_test

import (
	"bytes"
	"context"
	"encoding/base32"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/credential"
	"github.com/atriumid/atrium/internal/credential/totp"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/session"
	"github.com/atriumid/atrium/internal/testenv"
)

func errorsAs[T error](err error, target *T) bool { return errors.As(err, target) }

func decodeSecret(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil {
		t.Fatalf("secret %q: %v", s, err)
	}
	return b
}

// enrol logs in, enrols and confirms TOTP, and returns the secret, the
// recovery codes and the AAL2 token of the confirmation.
func (e *env) enrol(t *testing.T) ([]byte, *credential.Confirmation) {
	t.Helper()
	ctx := context.Background()
	res, err := e.login(t, pw)
	if err != nil {
		t.Fatal(err)
	}
	sess, _ := e.sessions.Authenticate(ctx, res.Token)
	enr, err := e.svc.EnrollTOTP(ctx, sess)
	if err != nil {
		t.Fatalf("EnrollTOTP: %v", err)
	}
	secret := decodeSecret(t, enr.Secret)
	conf, err := e.svc.ConfirmTOTP(ctx, sess, totp.Code(secret, totp.Step(e.clock.Now())), ip)
	if err != nil {
		t.Fatalf("ConfirmTOTP: %v", err)
	}
	// the step-up replaced the token.
	if _, err := e.sessions.Authenticate(ctx, res.Token); !fault.Is(err, fault.Unauthenticated) {
		t.Errorf("Authenticate(pre-step-up token) = %v, want Unauthenticated", err)
	}
	return secret, conf
}

// mfaLogin passes the password step and returns its challenge.
func (e *env) mfaLogin(t *testing.T) string {
	t.Helper()
	res, err := e.login(t, pw)
	if err != nil || !res.MFARequired || res.Challenge == "" || res.Token != "" {
		t.Fatalf("Login = %+v, %v, want an MFA challenge and no session", res, err)
	}
	return res.Challenge
}

// enrolment, the MFA step, replays and recovery
// codes.
func TestTOTPLogin(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a := e.register(t)
		secret, conf := e.enrol(t)
		up, err := e.sessions.Authenticate(ctx, conf.Token)
		if err != nil || up.AAL != session.AAL2 || !slices.Contains(up.Methods, "otp") {
			t.Errorf("session after confirmation = %+v, %v, want AAL2 with otp", up, err)
		}
		// the seed is sealed at rest.
		rec, _ := e.db.Credentials().TOTP(ctx, a.ID)
		if bytes.Contains(rec.Sealed, secret) || len(rec.Sealed) <= len(secret) {
			t.Errorf("stored TOTP secret is not sealed")
		}
		// the code that confirmed cannot log in.
		used := totp.Code(secret, totp.Step(e.clock.Now()))
		_, err = e.svc.LoginMFA(ctx, credential.MFARequest{Challenge: e.mfaLogin(t), Code: used, Client: ip})
		wantKind(t, "LoginMFA(code used for confirmation)", err, fault.Unauthenticated)

		e.clock.Advance(totp.Period)
		code := totp.Code(secret, totp.Step(e.clock.Now()))
		ch := e.mfaLogin(t)
		res, err := e.svc.LoginMFA(ctx, credential.MFARequest{Challenge: ch, Code: code, Client: ip})
		if err != nil {
			t.Fatalf("LoginMFA = %v", err)
		}
		s, _ := e.sessions.Authenticate(ctx, res.Token)
		if s.AAL != session.AAL2 || !slices.Equal(s.Methods, []string{"pwd", "otp"}) {
			t.Errorf("MFA session = %+v, want AAL2 pwd+otp", s)
		}
		// the same code again, and the same challenge again.
		_, err = e.svc.LoginMFA(ctx, credential.MFARequest{Challenge: e.mfaLogin(t), Code: code, Client: ip})
		wantKind(t, "LoginMFA(replayed code)", err, fault.Unauthenticated)
		e.clock.Advance(totp.Period)
		_, err = e.svc.LoginMFA(ctx, credential.MFARequest{Challenge: ch, Code: totp.Code(secret, totp.Step(e.clock.Now())), Client: ip})
		wantKind(t, "LoginMFA(used challenge)", err, fault.Unauthenticated)
		// two steps away is refused.
		_, err = e.svc.LoginMFA(ctx, credential.MFARequest{Challenge: e.mfaLogin(t), Code: totp.Code(secret, totp.Step(e.clock.Now())+2), Client: ip})
		wantKind(t, "LoginMFA(code two steps ahead)", err, fault.Unauthenticated)
		// A challenge expires.
		late := e.mfaLogin(t)
		e.clock.Advance(credential.ChallengeTTL + time.Second)
		_, err = e.svc.LoginMFA(ctx, credential.MFARequest{Challenge: late, Code: totp.Code(secret, totp.Step(e.clock.Now())), Client: ip})
		wantKind(t, "LoginMFA(expired challenge)", err, fault.Unauthenticated)

		// a recovery code logs in once, in any case and grouping.
		if len(conf.RecoveryCodes) != credential.RecoveryCodes {
			t.Fatalf("%d recovery codes, want %d", len(conf.RecoveryCodes), credential.RecoveryCodes)
		}
		rc := conf.RecoveryCodes[0]
		if _, err := e.svc.LoginMFA(ctx, credential.MFARequest{Challenge: e.mfaLogin(t), RecoveryCode: rc, Client: ip}); err != nil {
			t.Errorf("LoginMFA(recovery code) = %v", err)
		}
		_, err = e.svc.LoginMFA(ctx, credential.MFARequest{Challenge: e.mfaLogin(t), RecoveryCode: rc, Client: ip})
		wantKind(t, "LoginMFA(used recovery code)", err, fault.Unauthenticated)
		// Regenerating replaces every code; it needs a fresh AAL2 session.
		fresh, err := e.svc.LoginMFA(ctx, credential.MFARequest{Challenge: e.mfaLogin(t), RecoveryCode: conf.RecoveryCodes[1], Client: ip})
		if err != nil {
			t.Fatal(err)
		}
		fs, _ := e.sessions.Authenticate(ctx, fresh.Token)
		codes, err := e.svc.RegenerateRecoveryCodes(ctx, fs)
		if err != nil || len(codes) != credential.RecoveryCodes {
			t.Fatalf("RegenerateRecoveryCodes = %d codes, %v", len(codes), err)
		}
		_, err = e.svc.LoginMFA(ctx, credential.MFARequest{Challenge: e.mfaLogin(t), RecoveryCode: conf.RecoveryCodes[2], Client: ip})
		wantKind(t, "LoginMFA(replaced recovery code)", err, fault.Unauthenticated)
		// Enrolling again while confirmed is refused.
		_, err = e.svc.EnrollTOTP(ctx, fs)
		wantKind(t, "EnrollTOTP(already confirmed)", err, fault.AlreadyExists)
		// a stale session cannot change MFA data.
		e.clock.Advance(credential.FreshAuth + time.Minute)
		fs, _ = e.sessions.Authenticate(ctx, fresh.Token)
		_, err = e.svc.RegenerateRecoveryCodes(ctx, fs)
		wantKind(t, "RegenerateRecoveryCodes(stale session)", err, fault.PermissionDenied)
	})
}

// R-14, R-48 (T-L3): 32 concurrent MFA logins with the same valid code,
// each with its own challenge: exactly one gets a session, every round.
func TestTOTPCodeExactlyOnce(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.register(t)
		secret, _ := e.enrol(t)
		for range 3 {
			e.clock.Advance(totp.Period)
			code := totp.Code(secret, totp.Step(e.clock.Now()))
			challenges := make(chan string, 32)
			for range 32 {
				challenges <- e.mfaLogin(t)
			}
			testenv.ExactlyOnce(t, 32, func() error {
				_, err := e.svc.LoginMFA(ctx, credential.MFARequest{Challenge: <-challenges, Code: code})
				return err
			})
		}
	})
}

// idle and absolute timeouts per AAL; use does not extend a session
// past its absolute limit.
func TestSessionTimeouts(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.register(t)
		res, _ := e.login(t, pw)
		// AAL1: idle 24 h. Used every 23 h, it lives until 30 days.
		for e.clock.Advance(23 * time.Hour); ; e.clock.Advance(23 * time.Hour) {
			_, err := e.sessions.Authenticate(ctx, res.Token)
			if err != nil {
				break
			}
		}
		s, _, _ := e.db.Sessions().SessionByToken(ctx, session.Hash(res.Token))
		if e.clock.Now().Before(s.ExpireTime) {
			t.Errorf("AAL1 session ended at %v, before its absolute limit %v", e.clock.Now(), s.ExpireTime)
		}
		if got := s.ExpireTime.Sub(s.AuthTime); got != session.DefaultPolicy.AAL1.Absolute {
			t.Errorf("AAL1 absolute = %v, want %v", got, session.DefaultPolicy.AAL1.Absolute)
		}
		// AAL2: 30 min idle.
		_, conf := e.enrol(t)
		e.clock.Advance(29 * time.Minute)
		if _, err := e.sessions.Authenticate(ctx, conf.Token); err != nil {
			t.Errorf("AAL2 after 29 min = %v, want live", err)
		}
		e.clock.Advance(31 * time.Minute)
		_, err := e.sessions.Authenticate(ctx, conf.Token)
		wantKind(t, "AAL2 after 31 idle minutes", err, fault.Unauthenticated)
	})
}

// a correct password does not reset the count of guessed
// codes, so logging in again between guesses does not buy more guesses.
func TestPasswordDoesNotResetCodeGuesses(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.register(t)
		e.enrol(t)
		blocked := false
		for round := range 5 {
			ch := e.mfaLogin(t) // a correct password each round
			for range 2 {
				_, err := e.svc.LoginMFA(ctx, credential.MFARequest{Challenge: ch, Code: "000000", Client: ip})
				if fault.Is(err, fault.ResourceExhausted) {
					blocked = true
				}
			}
			if blocked {
				t.Logf("guessing blocked in round %d", round)
				break
			}
		}
		if !blocked {
			t.Errorf("10 wrong codes, with a correct password before every 2, were never throttled")
		}
	})
}
