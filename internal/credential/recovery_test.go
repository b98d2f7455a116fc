package credential_test

import (
	"context"
	"strings"
	"testing"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/credential"
	"github.com/atriumid/atrium/internal/fault"
)

const newPw = "a brand new recovered passphrase"

// verifiedUser registers the test user with a verified e-mail address.
func (e *env) verifiedUser(t *testing.T) *account.Account {
	t.Helper()
	a := e.register(t)
	if err := e.db.Credentials().MarkIdentifierVerified(context.Background(), a.ID, "email", email, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	return a
}

// recovery sends a single-use code to the verified address,
// with a link under the configured public URL; it sets a new password and
// ends every session. An unknown identifier gets a flow of the same form
// and no message.
func TestRecoveryByEmail(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.verifiedUser(t)
		old, _ := e.login(t, pw)
		before := len(e.smtp.Messages())
		unknown, err := e.svc.StartRecovery(ctx, account.IdentifierInput{Type: "email", Value: "nobody@example.com"}, ip)
		if err != nil || len(e.smtp.Messages()) != before {
			t.Fatalf("StartRecovery(unknown) = %+v, %v; %d messages, want none", unknown, err, len(e.smtp.Messages())-before)
		}
		flow, err := e.svc.StartRecovery(ctx, account.IdentifierInput{Type: "email", Value: " Alice@Example.com"}, ip)
		if err != nil {
			t.Fatal(err)
		}
		if len(unknown.Flow) != len(flow.Flow) || unknown.Flow[:4] != flow.Flow[:4] {
			t.Errorf("flows %q and %q differ in form", unknown.Flow, flow.Flow)
		}
		e.smtp.Await(t, before+1)
		code, data := e.lastCode(t)
		if !strings.Contains(data, "https://id.example.org/recover#code="+code) {
			t.Errorf("recovery e-mail = %q, want a link under the public URL", data)
		}
		err = e.svc.CompleteRecovery(ctx, credential.RecoverRequest{Flow: unknown.Flow, Code: code, Password: newPw, Client: ip})
		wantKind(t, "CompleteRecovery(decoy flow)", err, fault.Unauthenticated)
		err = e.svc.CompleteRecovery(ctx, credential.RecoverRequest{Flow: flow.Flow, Code: "00000000", Password: newPw, Client: ip})
		wantKind(t, "CompleteRecovery(wrong code)", err, fault.Unauthenticated)
		if err := e.svc.CompleteRecovery(ctx, credential.RecoverRequest{Flow: flow.Flow, Code: code, Password: newPw, Client: ip}); err != nil {
			t.Fatalf("CompleteRecovery = %v", err)
		}
		err = e.svc.CompleteRecovery(ctx, credential.RecoverRequest{Flow: flow.Flow, Code: code, Password: newPw + " again", Client: ip})
		wantKind(t, "CompleteRecovery(used code)", err, fault.Unauthenticated)
		if _, err := e.sessions.Authenticate(ctx, old.Token); !fault.Is(err, fault.Unauthenticated) {
			t.Errorf("old session after recovery = %v, want ended", err)
		}
		if _, err := e.login(t, newPw); err != nil {
			t.Errorf("Login(new password) = %v", err)
		}
		_, err = e.login(t, pw)
		wantKind(t, "Login(old password)", err, fault.Unauthenticated)
	})
}

// with TOTP enrolled, the recovery code alone changes nothing; a
// TOTP code or a recovery code is needed as well.
func TestRecoveryKeepsSecondFactor(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.verifiedUser(t)
		_, conf := e.enrol(t)
		before := len(e.smtp.Messages())
		flow, err := e.svc.StartRecovery(ctx, email1(), ip)
		if err != nil {
			t.Fatal(err)
		}
		e.smtp.Await(t, before+1)
		code, _ := e.lastCode(t)
		err = e.svc.CompleteRecovery(ctx, credential.RecoverRequest{Flow: flow.Flow, Code: code, Password: newPw, Client: ip})
		wantKind(t, "CompleteRecovery without the second factor", err, fault.Unauthenticated)
		err = e.svc.CompleteRecovery(ctx, credential.RecoverRequest{Flow: flow.Flow, Code: code, Password: newPw, TOTPCode: "000000", Client: ip})
		wantKind(t, "CompleteRecovery with a wrong TOTP code", err, fault.Unauthenticated)
		if _, err := e.login(t, pw); err != nil {
			t.Fatalf("Login(old password) after refused recoveries = %v, want unchanged", err)
		}
		if err := e.svc.CompleteRecovery(ctx, credential.RecoverRequest{Flow: flow.Flow, Code: code, Password: newPw, RecoveryCode: conf.RecoveryCodes[0], Client: ip}); err != nil {
			t.Fatalf("CompleteRecovery with a recovery code = %v", err)
		}
		res, err := e.login(t, newPw)
		if err != nil || !res.MFARequired {
			t.Errorf("Login(new password) = %+v, %v; want the second factor still asked", res, err)
		}
	})
}
