package credential_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/credential"
	"github.com/atriumid/atrium/internal/credential/totp"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/kind"
	"github.com/atriumid/atrium/internal/session"
)

// mfaService returns a service under which the built-in user kind
// requires a second factor.
func (e *env) mfaService(t *testing.T) *credential.Service {
	t.Helper()
	doc := bytes.Replace(kind.Builtin(), []byte("    self_service: true\n"), []byte("    self_service: true\n    mfa_required: true\n"), 1)
	set, err := kind.Load(doc, kind.CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := set.Kind("user"); !k.MFARequired() {
		t.Fatal("the test document does not require MFA of users")
	}
	cfg := e.cfg
	cfg.Kinds = kind.NewRegistry(set, 1)
	svc, err := credential.NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// where a kind enforces MFA, 8 code points suffice; a login
// without a second factor yields an AAL0 session that can enrol one and
// do nothing else, and enrolling steps it up to AAL2.
func TestMFAEnforcedKind(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		svc := e.mfaService(t)
		const short = "tr0ub4dor&3" // 11 code points
		_, err := e.svc.Register(ctx, credential.RegisterRequest{Kind: "user", Identifier: account.IdentifierInput{Type: "email", Value: "b@example.com"}, Password: short, Client: ip})
		wantKind(t, "Register(11 code points) without MFA enforced", err, fault.Invalid)
		if _, err := svc.Register(ctx, credential.RegisterRequest{Kind: "user", Identifier: email1(), Password: short, Client: ip}); err != nil {
			t.Fatalf("Register(11 code points) with MFA enforced = %v", err)
		}
		_, err = svc.Register(ctx, credential.RegisterRequest{Kind: "user", Identifier: account.IdentifierInput{Type: "email", Value: "c@example.com"}, Password: "seven77", Client: ip})
		wantKind(t, "Register(7 code points) with MFA enforced", err, fault.Invalid)
		res, err := svc.Login(ctx, credential.LoginRequest{Identifier: email1(), Password: short, Client: ip})
		if err != nil || res.Session.AAL != session.AAL0 {
			t.Fatalf("Login = %+v, %v; want an AAL0 session", res, err)
		}
		sess, err := e.sessions.Authenticate(ctx, res.Token)
		if err != nil {
			t.Fatal(err)
		}
		if life := sess.ExpireTime.Sub(sess.AuthTime); life > time.Hour {
			t.Errorf("an AAL0 session lasts %v, want an hour at most", life)
		}
		_, err = svc.ChangePassword(ctx, credential.ChangePasswordRequest{Session: sess, Current: short, Password: "another fine passphrase", Client: ip})
		wantKind(t, "ChangePassword with an AAL0 session", err, fault.PermissionDenied)
		_, err = svc.StartEmailVerification(ctx, sess, ip)
		wantKind(t, "StartEmailVerification with an AAL0 session", err, fault.PermissionDenied)
		enr, err := svc.EnrollTOTP(ctx, sess)
		if err != nil {
			t.Fatalf("EnrollTOTP with an AAL0 session = %v", err)
		}
		conf, err := svc.ConfirmTOTP(ctx, sess, totp.Code(decodeSecret(t, enr.Secret), totp.Step(e.clock.Now())), ip)
		if err != nil || conf.Session.AAL != session.AAL2 {
			t.Fatalf("ConfirmTOTP = %+v, %v; want an AAL2 session", conf, err)
		}
	})
}

// R-19 (AAL matrix): each sensitive operation against each kind of
// session: allowed, or refused until the caller steps up.
func TestAALMatrix(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a := e.register(t)
		current := pw
		type cell struct {
			aal   session.AAL
			stale bool
		}
		cells := []cell{{session.AAL0, false}, {session.AAL1, false}, {session.AAL1, true}, {session.AAL2, false}, {session.AAL2, true}}
		n := 0
		ops := []struct {
			name string
			run  func(s session.Session) error
			want []bool // per cell: allowed
		}{
			{"enrol TOTP", func(s session.Session) error { _, err := e.svc.EnrollTOTP(ctx, s); return err },
				[]bool{true, true, false, true, false}},
			{"regenerate recovery codes", func(s session.Session) error { _, err := e.svc.RegenerateRecoveryCodes(ctx, s); return err },
				[]bool{false, false, false, true, false}},
			{"change password (no second factor)", func(s session.Session) error {
				n++
				next := fmt.Sprintf("the next long passphrase %d", n)
				_, err := e.svc.ChangePassword(ctx, credential.ChangePasswordRequest{Session: s, Current: current, Password: next, Client: ip})
				if err == nil {
					current = next
				}
				return err
			}, []bool{false, true, true, true, true}},
			{"start e-mail verification", func(s session.Session) error {
				n++
				_, err := e.svc.StartEmailVerification(ctx, s, fmt.Sprintf("198.51.100.%d", n))
				return err
			}, []bool{false, true, true, true, true}},
		}
		for _, op := range ops {
			for i, c := range cells {
				_, s, err := e.sessions.Issue(ctx, session.Grant{AccountID: a.ID, AccountState: a.State, AAL: c.aal, Methods: []string{"pwd"}})
				if err != nil {
					t.Fatal(err)
				}
				if c.stale {
					s.AuthTime = s.AuthTime.Add(-credential.FreshAuth - time.Minute)
				}
				err = op.run(s)
				if got := err == nil; got != op.want[i] {
					t.Errorf("%s with %v (stale %v) = %v, want allowed %v", op.name, c.aal, c.stale, err, op.want[i])
				}
				if err != nil && !fault.Is(err, fault.PermissionDenied) {
					t.Errorf("%s with %v (stale %v) = %v, want PermissionDenied when refused", op.name, c.aal, c.stale, err)
				}
			}
		}
		// With a second factor enrolled, a password change needs a recent
		// AAL2 session.
		_, s0, _ := e.sessions.Issue(ctx, session.Grant{AccountID: a.ID, AccountState: a.State, AAL: session.AAL1, Methods: []string{"pwd"}})
		if _, err := e.svc.ChangePassword(ctx, credential.ChangePasswordRequest{Session: s0, Current: current, Password: pw, Client: ip}); err != nil {
			t.Fatal(err)
		}
		current = pw
		_, conf := e.enrol(t)
		aal2, _ := e.sessions.Authenticate(ctx, conf.Token)
		_, s1, _ := e.sessions.Issue(ctx, session.Grant{AccountID: a.ID, AccountState: a.State, AAL: session.AAL1, Methods: []string{"pwd"}})
		_, err := e.svc.ChangePassword(ctx, credential.ChangePasswordRequest{Session: s1, Current: current, Password: "yet another long passphrase", Client: ip})
		wantKind(t, "ChangePassword with AAL1 and a second factor", err, fault.PermissionDenied)
		if _, err := e.svc.ChangePassword(ctx, credential.ChangePasswordRequest{Session: aal2, Current: current, Password: "yet another long passphrase", Client: ip}); err != nil {
			t.Errorf("ChangePassword with a recent AAL2 session = %v", err)
		}
	})
}

// removing the second factor needs a recent AAL2 session; after it,
// a login asks for no second factor and the recovery codes are gone.
func TestRemoveTOTP(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a := e.register(t)
		_, conf := e.enrol(t)
		_, s1, _ := e.sessions.Issue(ctx, session.Grant{AccountID: a.ID, AccountState: a.State, AAL: session.AAL1, Methods: []string{"pwd"}})
		wantKind(t, "RemoveTOTP with AAL1", e.svc.RemoveTOTP(ctx, s1), fault.PermissionDenied)
		aal2, _ := e.sessions.Authenticate(ctx, conf.Token)
		if err := e.svc.RemoveTOTP(ctx, aal2); err != nil {
			t.Fatalf("RemoveTOTP = %v", err)
		}
		wantKind(t, "RemoveTOTP again", e.svc.RemoveTOTP(ctx, aal2), fault.NotFound)
		if res, err := e.login(t, pw); err != nil || res.MFARequired {
			t.Errorf("Login after removal = %+v, %v; want a session without MFA", res, err)
		}
		if n, _ := e.db.Credentials().RecoveryCodesLeft(ctx, a.ID); n != 0 {
			t.Errorf("recovery codes left = %d, want 0", n)
		}
	})
}
