package credential_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/credential"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/session"
	"github.com/atriumid/atrium/internal/testenv"
)

var codeRE = regexp.MustCompile(`code is ([0-9]+)\.`)

// lastCode returns the code of the last e-mail the SMTP server received,
// failing unless it went to email.
func (e *env) lastCode(t *testing.T) (string, string) {
	t.Helper()
	msgs := e.smtp.Messages()
	if len(msgs) == 0 {
		t.Fatal("no e-mail sent")
	}
	m := msgs[len(msgs)-1]
	c := codeRE.FindStringSubmatch(m.Data)
	if m.To != email || c == nil {
		t.Fatalf("e-mail to %s: %q", m.To, m.Data)
	}
	return c[1], m.Data
}

func (e *env) aal1(t *testing.T) session.Session {
	t.Helper()
	res, err := e.login(t, pw)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := e.sessions.Authenticate(context.Background(), res.Token)
	return s
}

// an 8-digit code from the CSPRNG, sent by SMTP, with a link
// under the configured public URL; bound to its flow, replaced by a newer
// one, single use, valid 10 minutes.
func TestEmailVerification(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a := e.register(t)
		sess := e.aal1(t)
		old, err := e.svc.StartEmailVerification(ctx, sess, ip)
		if err != nil {
			t.Fatal(err)
		}
		oldCode, _ := e.lastCode(t)
		flow, err := e.svc.StartEmailVerification(ctx, sess, ip)
		if err != nil {
			t.Fatal(err)
		}
		code, body := e.lastCode(t)
		if len(code) != 8 || !strings.Contains(body, "https://id.example.org/verify-email#code="+code) {
			t.Errorf("e-mail = %q, want an 8-digit code and a link under the public URL", body)
		}
		if got := flow.Expire.Sub(e.clock.Now()); got != credential.EmailCodeTTL || got > 10*time.Minute {
			t.Errorf("code lifetime = %v, want %v", got, credential.EmailCodeTTL)
		}
		for name, tc := range map[string][2]string{
			"wrong code":           {flow.Flow, "00000000"},
			"code of another flow": {old.Flow, code},
			"replaced code":        {old.Flow, oldCode},
		} {
			err := e.svc.ConfirmEmailVerification(ctx, sess, tc[0], tc[1], ip)
			wantKind(t, "ConfirmEmailVerification("+name+")", err, fault.Invalid)
		}
		// Three failures blocked the account for a second (R-10: the same
		// throttle as every credential).
		err = e.svc.ConfirmEmailVerification(ctx, sess, flow.Flow, code, ip)
		wantKind(t, "ConfirmEmailVerification(right code while blocked)", err, fault.ResourceExhausted)
		e.clock.Advance(testPolicy.Base)
		if err := e.svc.ConfirmEmailVerification(ctx, sess, flow.Flow, code, ip); err != nil {
			t.Fatalf("ConfirmEmailVerification = %v", err)
		}
		got, _ := e.accounts.Get(ctx, a.ID, nil)
		if got.Identifiers[0].VerifyTime.IsZero() {
			t.Errorf("identifier after confirmation = %+v, want verified", got.Identifiers[0])
		}
		err = e.svc.ConfirmEmailVerification(ctx, sess, flow.Flow, code, ip)
		wantKind(t, "ConfirmEmailVerification(used code)", err, fault.Invalid)
		_, err = e.svc.StartEmailVerification(ctx, sess, ip)
		wantKind(t, "StartEmailVerification(nothing left to verify)", err, fault.FailedPrecondition)
	})
}

// a code expires after 10 minutes.
func TestEmailCodeExpires(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.register(t)
		sess := e.aal1(t)
		flow, err := e.svc.StartEmailVerification(ctx, sess, ip)
		if err != nil {
			t.Fatal(err)
		}
		code, _ := e.lastCode(t)
		e.clock.Advance(credential.EmailCodeTTL)
		err = e.svc.ConfirmEmailVerification(ctx, sess, flow.Flow, code, ip)
		wantKind(t, "ConfirmEmailVerification(after 10 min)", err, fault.Invalid)
	})
}

// 32 concurrent confirmations of one code: exactly one wins.
func TestEmailCodeExactlyOnce(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a := e.register(t)
		sess := e.aal1(t)
		for range 3 {
			// The losers of a round count as failures; let their block pass.
			e.clock.Advance(testPolicy.Max)
			flow, err := e.svc.StartEmailVerification(ctx, sess, ip)
			if err != nil {
				t.Fatal(err)
			}
			code, _ := e.lastCode(t)
			testenv.ExactlyOnce(t, 32, func() error { return e.svc.ConfirmEmailVerification(ctx, sess, flow.Flow, code, "") })
			// Make the address unverified again for the next round.
			if err := e.db.Credentials().MarkIdentifierVerified(ctx, a.ID, "email", email, time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// a password change is announced to the verified e-mail address.
func TestPasswordChangeNotified(t *testing.T) {
	e := newEnv(t, testenv.SQLiteURL(t))
	ctx := context.Background()
	a := e.register(t)
	if err := e.db.Credentials().MarkIdentifierVerified(ctx, a.ID, "email", email, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	sess := e.aal1(t)
	before := len(e.smtp.Messages())
	if _, err := e.svc.ChangePassword(ctx, credential.ChangePasswordRequest{Session: sess, Current: pw, Password: "an entirely new passphrase", Client: ip}); err != nil {
		t.Fatal(err)
	}
	msgs := e.smtp.Messages()[before:]
	if len(msgs) != 1 || msgs[0].To != email || !strings.Contains(msgs[0].Data, "password changed") {
		t.Errorf("e-mails after a password change = %+v, want one notice to %s", msgs, email)
	}
}
