package credential

import (
	"context"
	"crypto/subtle"
	"time"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/outbox"
	"github.com/atriumid/atrium/internal/throttle"
)

// Recovery codes go out under this flow type, so that a code of one
// purpose never confirms another.
const recoveryType = "recovery"

// StartRecovery sends a recovery code to the verified e-mail address (or,
// without one, the verified phone number) of the account that holds
// identifier. It returns a new flow at once and does the rest in the
// background, so that neither its answer nor its timing tells whether
// the identifier is held or verified: without a verified
// destination, nothing is sent and no code matches the flow. The e-mail
// links to the configured public URL, never to a host from a request
// (ASVS 6.4.3). It returns fault.ResourceExhausted when the client asked
// too often.
func (s *Service) StartRecovery(ctx context.Context, id account.IdentifierInput, client string) (*EmailFlow, error) {
	att, err := s.c.Sends.Begin(ctx, throttle.Subject{Client: "recover:" + client})
	if err != nil {
		return nil, err
	}
	if err := att.Fail(ctx); err != nil {
		return nil, err
	}
	var f EmailFlow
	if err := s.decoyFlow(&f); err != nil {
		return nil, err
	}
	go s.sendRecovery(context.WithoutCancel(ctx), id, client, f.Flow)
	return &f, nil
}

// recoverySendTimeout bounds the background work of one StartRecovery.
const recoverySendTimeout = 30 * time.Second

// sendRecovery sends the recovery code of flow to the first verified
// destination of the account holding id. Failures, throttling included,
// leave the flow without a code, as for an unknown identifier.
func (s *Service) sendRecovery(ctx context.Context, id account.IdentifierInput, client, flow string) {
	ctx, cancel := context.WithTimeout(ctx, recoverySendTimeout)
	defer cancel()
	acc, err := s.c.Accounts.Resolve(ctx, id.Type, id.Value)
	if err != nil {
		return
	}
	for _, typ := range []string{"email", "phone"} {
		for _, ident := range acc.Identifiers {
			if ident.Type == typ && !ident.VerifyTime.IsZero() {
				s.sendCode(ctx, acc.ID, recoveryType, typ, ident.Value, client, flow)
				return
			}
		}
	}
}

// RecoverRequest completes an account recovery.
type RecoverRequest struct {
	Flow, Code string
	// Password is the new password.
	Password string
	// TOTPCode or RecoveryCode is required when the account has a second
	// factor: recovery proves the e-mail address or phone, never the
	// second factor.
	TOTPCode, RecoveryCode string
	Client                 string
}

// CompleteRecovery checks the recovery code with its flow and, when the
// account has a second factor, a TOTP or recovery code too, then sets the
// new password, ends every session of the account and tells its verified
// e-mail addresses (ASVS 6.4.3: recovery never bypasses an enrolled second
// factor). It returns fault.Unauthenticated for a wrong, used or expired
// code or a missing or wrong second factor (all counted by the throttle),
// fault.Invalid for a password the policy refuses, and
// fault.ResourceExhausted when throttled.
func (s *Service) CompleteRecovery(ctx context.Context, req RecoverRequest) error {
	const op = "credential.CompleteRecovery"
	wrong := fault.E(op, fault.Unauthenticated, "invalid or expired recovery code or second factor")
	if len(req.Flow) > maxSecretInput || len(req.Code) > maxSecretInput || len(req.TOTPCode) > maxSecretInput || len(req.RecoveryCode) > maxSecretInput {
		return wrong
	}
	fh := hashSecret(req.Flow)
	rec, err := s.c.Store.CodeByFlow(ctx, fh, s.clock())
	if err != nil && !fault.Is(err, fault.NotFound) {
		return err
	}
	if err != nil || rec.Type != recoveryType {
		// No account to count against: the client is throttled.
		if err := s.c.Limiter.Check(ctx, throttle.Subject{Client: req.Client}); err != nil {
			return err
		}
		return s.fail(ctx, throttle.Subject{Client: req.Client}, wrong)
	}
	att, err := s.beginCodes(ctx, rec.AccountID, req.Client)
	if err != nil {
		return err
	}
	defer att.Release(ctx)
	if subtle.ConstantTimeCompare(rec.CodeHash, emailCodeHash(req.Flow, req.Code)) != 1 {
		return failed(ctx, att, wrong)
	}
	acc, err := s.c.Accounts.Get(ctx, rec.AccountID, nil)
	if err != nil {
		return err
	}
	if err := s.checkNewPassword(acc, req.Password); err != nil {
		return err
	}
	enrolled, err := s.hasSecondFactor(ctx, rec.AccountID)
	if err != nil {
		return err
	}
	method := "code"
	if enrolled {
		if err := s.recoverableFactor(ctx, op, rec.AccountID); err != nil {
			return err
		}
		m, ok, err := s.secondFactor(ctx, rec.AccountID, req.TOTPCode, req.RecoveryCode)
		if err != nil {
			return err
		}
		if !ok {
			return failed(ctx, att, wrong)
		}
		method = m
	}
	if err := s.consumeCode(ctx, att, fh, wrong); err != nil {
		return err
	}
	hash, err := s.hash(ctx, req.Password)
	if err != nil {
		return err
	}
	err = s.write(ctx, func(ctx context.Context, tx Tx) (outbox.Event, error) {
		now := s.clock()
		return outbox.New("atrium.credential.password_reset", rec.AccountID, now, map[string]any{"second_factor": method}),
			tx.SetPassword(ctx, rec.AccountID, hash, now)
	})
	if err != nil {
		return err
	}
	if _, err := s.c.Sessions.RevokeAll(ctx, rec.AccountID); err != nil {
		return err
	}
	s.notifyPasswordChange(ctx, acc.Identifiers)
	return nil
}

// recoverableFactor returns fault.FailedPrecondition when the account's
// only second factor is a passkey and it has no recovery code left:
// recovery can check a TOTP or recovery code, not a passkey, and the
// passkey alone signs in at AAL2, from where the password can be changed.
func (s *Service) recoverableFactor(ctx context.Context, op, accountID string) error {
	rec, err := s.c.Store.TOTP(ctx, accountID)
	if err == nil && !rec.ConfirmTime.IsZero() {
		return nil
	}
	if err != nil && !fault.Is(err, fault.NotFound) {
		return err
	}
	left, err := s.c.Store.RecoveryCodesLeft(ctx, accountID)
	if err != nil || left > 0 {
		return err
	}
	return fault.E(op, fault.FailedPrecondition, "the account's second factor is a passkey: sign in with it to change the password")
}
