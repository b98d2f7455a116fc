package credential_test

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"testing"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/credential"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/sms"
)

// a phone number is verified by an 8-digit code sent by SMS (here
// the development log sender, told to show the text), bound to its flow
// and to the phone, single use.
func TestPhoneVerification(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		var log bytes.Buffer
		cfg := e.cfg
		cfg.SMS = sms.Log{Logger: slog.New(slog.NewTextHandler(&log, nil)), RevealText: true}
		svc, err := credential.NewService(cfg)
		if err != nil {
			t.Fatal(err)
		}
		phone := account.IdentifierInput{Type: "phone", Value: "+14155552671"}
		reg, err := svc.Register(ctx, credential.RegisterRequest{Kind: "user", Identifier: phone, Password: pw, Client: ip})
		if err != nil {
			t.Fatal(err)
		}
		res, err := svc.Login(ctx, credential.LoginRequest{Identifier: phone, Password: pw, Client: ip})
		if err != nil {
			t.Fatal(err)
		}
		sess, _ := e.sessions.Authenticate(ctx, res.Token)
		_, err = e.svc.StartPhoneVerification(ctx, sess, ip)
		wantKind(t, "StartPhoneVerification without an SMS sender", err, fault.FailedPrecondition)
		flow, err := svc.StartPhoneVerification(ctx, sess, ip)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`code is ([0-9]{8})\.`).FindStringSubmatch(log.String())
		if m == nil {
			t.Fatalf("SMS log = %q, want a code", log.String())
		}
		err = svc.ConfirmEmailVerification(ctx, sess, flow.Flow, m[1], ip)
		wantKind(t, "ConfirmEmailVerification(phone code)", err, fault.Invalid)
		err = svc.ConfirmPhoneVerification(ctx, sess, reg.Flow.Flow, m[1], ip)
		wantKind(t, "ConfirmPhoneVerification(another flow)", err, fault.Invalid)
		if err := svc.ConfirmPhoneVerification(ctx, sess, flow.Flow, m[1], ip); err != nil {
			t.Fatalf("ConfirmPhoneVerification = %v", err)
		}
		err = svc.ConfirmPhoneVerification(ctx, sess, flow.Flow, m[1], ip)
		wantKind(t, "ConfirmPhoneVerification(again)", err, fault.Invalid)
		a, _ := e.accounts.Get(ctx, sess.AccountID, nil)
		if len(a.Identifiers) != 1 || a.Identifiers[0].VerifyTime.IsZero() {
			t.Errorf("identifiers = %+v, want the phone verified", a.Identifiers)
		}
	})
}
