package credential

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"slices"
	"strings"

	"github.com/atriumid/atrium/internal/credential/totp"
	"github.com/atriumid/atrium/internal/envelope"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/outbox"
	"github.com/atriumid/atrium/internal/session"
)

// Recovery codes: RecoveryCodes of them, each of 80 random bits, so a
// SHA-256 of the code (salted with the account ID) is safe to store.
const (
	RecoveryCodes     = 10
	recoveryCodeBytes = 10
	// maxSecretInput bounds challenges and codes before they are used.
	maxSecretInput = 128
)

// MFARequest is the second step of a login: the challenge of the first
// and either a TOTP code or a recovery code.
type MFARequest struct {
	Challenge    string
	Code         string
	RecoveryCode string
	Client       string
}

// challengePrefix is the prefix of the MFA challenges issued after each
// first factor. The prefix is part of the secret whose hash is stored, so
// it cannot be changed, and LoginMFA reads the first factor from it.
var challengePrefix = map[string]string{session.MethodPassword: "atc_", MethodWallet: "atw_"}

// firstFactor returns the method of the first factor a challenge was
// issued after.
func firstFactor(challenge string) string {
	if strings.HasPrefix(challenge, challengePrefix[MethodWallet]) {
		return MethodWallet
	}
	return session.MethodPassword
}

var errMFA = fault.E("credential.LoginMFA", fault.Unauthenticated, "invalid or expired challenge or code")

// LoginMFA completes a login with its second factor and returns an AAL2
// session. Each TOTP step, recovery code and challenge is usable once,
// under any concurrency. It returns fault.Unauthenticated for any wrong or
// used secret and fault.ResourceExhausted when throttled.
func (s *Service) LoginMFA(ctx context.Context, req MFARequest) (*LoginResult, error) {
	const op = "credential.LoginMFA"
	if len(req.Challenge) > maxSecretInput || len(req.Code) > maxSecretInput || len(req.RecoveryCode) > maxSecretInput {
		return nil, errMFA
	}
	ch := hashSecret(req.Challenge)
	accountID, err := s.c.Store.ChallengeAccount(ctx, ch, s.clock())
	if fault.Is(err, fault.NotFound) {
		return nil, errMFA
	}
	if err != nil {
		return nil, err
	}
	att, err := s.beginCodes(ctx, accountID, req.Client)
	if err != nil {
		return nil, err
	}
	defer att.Release(ctx)
	method, ok, err := s.secondFactor(ctx, accountID, req.Code, req.RecoveryCode)
	if err != nil {
		return nil, err
	}
	if !ok {
		// Count first: a failure to record the attempt must not spare it.
		if err := att.Fail(ctx); err != nil {
			return nil, err
		}
		if err := s.note(ctx, outbox.New("atrium.auth.mfa_failed", accountID, s.clock(), map[string]any{"factor": method})); err != nil {
			return nil, err
		}
		return nil, errMFA
	}
	if err := s.c.Store.ConsumeChallenge(ctx, ch, s.clock()); fault.Is(err, fault.Aborted) {
		return nil, errMFA
	} else if err != nil {
		return nil, err
	}
	if err := att.Succeed(ctx); err != nil {
		return nil, err
	}
	kindName, state, err := s.c.Store.AccountState(ctx, accountID)
	if err != nil {
		return nil, err
	}
	if err := s.active(op, kindName, state); err != nil {
		return nil, err
	}
	return s.issue(ctx, session.Grant{AccountID: accountID, AccountState: state, AAL: session.AAL2,
		Methods: []string{firstFactor(req.Challenge), method}})
}

// secondFactor checks exactly one of a TOTP code and a recovery code and
// consumes it. It reports the method tried and whether it was accepted.
func (s *Service) secondFactor(ctx context.Context, accountID, code, recovery string) (string, bool, error) {
	switch {
	case code != "" && recovery == "":
		ok, err := s.useTOTP(ctx, accountID, code)
		return session.MethodTOTP, ok, err
	case recovery != "" && code == "":
		err := s.write(ctx, func(ctx context.Context, tx Tx) (outbox.Event, error) {
			now := s.clock()
			return outbox.New("atrium.credential.recovery_code_used", accountID, now, map[string]any{}),
				tx.UseRecoveryCode(ctx, accountID, recoveryHash(accountID, recovery), now)
		})
		if fault.Is(err, fault.Aborted) {
			return session.MethodRecovery, false, nil
		}
		return session.MethodRecovery, err == nil, err
	}
	return "none", false, nil
}

// useTOTP accepts a code of the account's confirmed secret once: the step
// it matches must be later than the last accepted one, and moving the last
// step to it is a compare-and-set (RFC 6238 §5.2).
func (s *Service) useTOTP(ctx context.Context, accountID, code string) (bool, error) {
	rec, err := s.c.Store.TOTP(ctx, accountID)
	if fault.Is(err, fault.NotFound) {
		return false, nil
	}
	if err != nil || rec.ConfirmTime.IsZero() {
		return false, err
	}
	secret, err := s.openSecret(ctx, rec)
	if err != nil {
		return false, err
	}
	step, ok := totp.Verify(secret, code, s.c.Now(), rec.LastStep)
	if !ok {
		return false, nil
	}
	err = s.c.Store.AdvanceTOTP(ctx, accountID, step)
	if fault.Is(err, fault.Aborted) {
		return false, nil
	}
	return err == nil, err
}

// Enrollment is a pending TOTP secret, shown once to be added to an
// authenticator app.
type Enrollment struct {
	Secret string // base32
	URI    string // otpauth://totp/…
}

// EnrollTOTP starts (or restarts) the enrolment of a TOTP secret for the
// session's account; ConfirmTOTP completes it. It returns
// fault.PermissionDenied when the session's authentication is not recent
// (FreshAuth), or not AAL2 when the account already has a passkey, and
// fault.AlreadyExists when a secret is already confirmed.
func (s *Service) EnrollTOTP(ctx context.Context, sess session.Session) (*Enrollment, error) {
	const op = "credential.EnrollTOTP"
	if err := s.factorChangeAllowed(ctx, op, sess); err != nil {
		return nil, err
	}
	secret, err := totp.NewSecret()
	if err != nil {
		return nil, err
	}
	dek, err := s.dataKey(ctx, sess.AccountID)
	if err != nil {
		return nil, err
	}
	sealed, err := dek.Seal(secret, totpAAD(sess.AccountID))
	if err != nil {
		return nil, fault.Wrap(op, fault.Internal, err)
	}
	err = s.write(ctx, func(ctx context.Context, tx Tx) (outbox.Event, error) {
		now := s.clock()
		return outbox.New("atrium.credential.totp_enrolment_started", sess.AccountID, now, map[string]any{"session": sess.ID}),
			tx.PutPendingTOTP(ctx, TOTPRecord{AccountID: sess.AccountID, Sealed: sealed, CreateTime: now})
	})
	if err != nil {
		return nil, err
	}
	return &Enrollment{Secret: totp.Encode(secret), URI: totp.URI(s.c.Issuer, sess.AccountID, secret)}, nil
}

// Confirmation is the result of confirming a TOTP enrolment: the recovery
// codes, shown once, and the new AAL2 session that replaces the one that
// confirmed.
type Confirmation struct {
	RecoveryCodes []string
	Token         string
	Session       session.Session
}

// ConfirmTOTP confirms the pending TOTP secret with a code from it,
// creates recovery codes, and steps the session up to AAL2 with a new
// token (the old one is revoked). It returns fault.Invalid (violation
// "code") for a wrong code, fault.FailedPrecondition when nothing is
// pending, fault.AlreadyExists when already confirmed, and
// fault.ResourceExhausted when throttled.
func (s *Service) ConfirmTOTP(ctx context.Context, sess session.Session, code, client string) (*Confirmation, error) {
	const op = "credential.ConfirmTOTP"
	if err := s.factorChangeAllowed(ctx, op, sess); err != nil {
		return nil, err
	}
	att, err := s.beginCodes(ctx, sess.AccountID, client)
	if err != nil {
		return nil, err
	}
	defer att.Release(ctx)
	rec, err := s.c.Store.TOTP(ctx, sess.AccountID)
	switch {
	case fault.Is(err, fault.NotFound):
		return nil, fault.E(op, fault.FailedPrecondition, "no TOTP enrolment is pending")
	case err != nil:
		return nil, err
	case !rec.ConfirmTime.IsZero():
		return nil, fault.E(op, fault.AlreadyExists, "TOTP is already enrolled")
	}
	secret, err := s.openSecret(ctx, rec)
	if err != nil {
		return nil, err
	}
	wrong := fault.Invalidf(op, []fault.Violation{{Field: "code", Reason: "does not match the pending secret"}}, "wrong code")
	step, ok := totp.Verify(secret, code, s.c.Now(), rec.LastStep)
	if !ok {
		return nil, failed(ctx, att, wrong)
	}
	codes, hashes, err := newRecoveryCodes(sess.AccountID)
	if err != nil {
		return nil, err
	}
	// The confirmation, the recovery codes and their record commit
	// together: no confirmed secret without its codes.
	err = s.write(ctx, func(ctx context.Context, tx Tx) (outbox.Event, error) {
		now := s.clock()
		if err := tx.ConfirmTOTP(ctx, sess.AccountID, rec.Sealed, step, now); err != nil {
			return outbox.Event{}, err
		}
		return outbox.New("atrium.credential.totp_confirmed", sess.AccountID, now, map[string]any{"session": sess.ID, "recovery_codes": len(codes)}),
			tx.ReplaceRecoveryCodes(ctx, sess.AccountID, hashes, now)
	})
	if fault.Is(err, fault.Aborted) {
		return nil, wrong
	} else if err != nil {
		return nil, err
	}
	if err := att.Succeed(ctx); err != nil {
		return nil, err
	}
	methods := sess.Methods
	if !slices.Contains(methods, session.MethodTOTP) {
		methods = append(slices.Clone(methods), session.MethodTOTP)
	}
	tok, ns, err := s.c.Sessions.Issue(ctx, session.Grant{AccountID: sess.AccountID, AccountState: sess.AccountState, AAL: session.AAL2, Methods: methods, Replaces: sess.ID})
	if err != nil {
		return nil, err
	}
	return &Confirmation{RecoveryCodes: codes, Token: tok, Session: ns}, nil
}

// RemoveTOTP removes the account's TOTP secret and its recovery codes. It
// needs a recent AAL2 session (fault.PermissionDenied otherwise) and
// returns fault.FailedPrecondition when the account's kind requires a
// second factor, which would leave it with none, and fault.NotFound when
// there is no TOTP secret.
func (s *Service) RemoveTOTP(ctx context.Context, sess session.Session) error {
	const op = "credential.RemoveTOTP"
	if err := s.stepUp(op, sess); err != nil {
		return err
	}
	kindName, _, err := s.c.Store.AccountState(ctx, sess.AccountID)
	if err != nil {
		return err
	}
	if s.mfaRequired(kindName) {
		return fault.E(op, fault.FailedPrecondition, "the account's kind requires a second factor")
	}
	return s.write(ctx, func(ctx context.Context, tx Tx) (outbox.Event, error) {
		now := s.clock()
		return outbox.New("atrium.credential.totp_removed", sess.AccountID, now, map[string]any{"session": sess.ID}), tx.DeleteTOTP(ctx, sess.AccountID)
	})
}

// RegenerateRecoveryCodes replaces every recovery code of the session's
// account. It needs a recent AAL2 session (fault.PermissionDenied
// otherwise).
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, sess session.Session) ([]string, error) {
	const op = "credential.RegenerateRecoveryCodes"
	if err := s.stepUp(op, sess); err != nil {
		return nil, err
	}
	codes, hashes, err := newRecoveryCodes(sess.AccountID)
	if err != nil {
		return nil, err
	}
	err = s.write(ctx, func(ctx context.Context, tx Tx) (outbox.Event, error) {
		now := s.clock()
		return outbox.New("atrium.credential.recovery_codes_regenerated", sess.AccountID, now, map[string]any{"session": sess.ID, "recovery_codes": len(codes)}),
			tx.ReplaceRecoveryCodes(ctx, sess.AccountID, hashes, now)
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// fresh refuses sessions whose authentication is older than FreshAuth.
func (s *Service) fresh(op string, sess session.Session) error {
	if s.clock().Sub(sess.AuthTime) > FreshAuth {
		return fault.E(op, fault.PermissionDenied, "authenticate again first")
	}
	return nil
}

// newRecoveryCodes returns RecoveryCodes fresh codes and their stored
// forms.
func newRecoveryCodes(accountID string) ([]string, [][]byte, error) {
	codes := make([]string, RecoveryCodes)
	hashes := make([][]byte, RecoveryCodes)
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	for i := range codes {
		b := make([]byte, recoveryCodeBytes)
		if _, err := rand.Read(b); err != nil {
			return nil, nil, fault.Wrap("credential.newRecoveryCodes", fault.Internal, err)
		}
		c := strings.ToLower(enc.EncodeToString(b))
		codes[i] = c[0:4] + "-" + c[4:8] + "-" + c[8:12] + "-" + c[12:16]
		hashes[i] = recoveryHash(accountID, codes[i])
	}
	return codes, hashes, nil
}

// recoveryHash is the stored form of a recovery code: SHA-256 over the
// account ID and the code without separators or case.
func recoveryHash(accountID, code string) []byte {
	code = strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(code))
	sum := sha256.Sum256([]byte(accountID + "\x00" + code))
	return sum[:]
}

// totpAAD binds a sealed TOTP secret to its account. Fragment names
// cannot hold "/", so it never equals a fragment's associated data.
func totpAAD(accountID string) []byte { return envelope.FragmentAAD(accountID, "credential/totp") }

// dataKey returns the account's data key, creating it when the account
// has none yet.
func (s *Service) dataKey(ctx context.Context, accountID string) (envelope.DataKey, error) {
	wrapped, err := s.c.Store.DataKey(ctx, accountID)
	if err != nil {
		return envelope.DataKey{}, err
	}
	if wrapped == nil {
		_, fresh, err := s.c.Keys.NewDataKey()
		if err != nil {
			return envelope.DataKey{}, err
		}
		if wrapped, err = s.c.Store.SetDataKeyIfMissing(ctx, accountID, fresh); err != nil {
			return envelope.DataKey{}, err
		}
	}
	return s.c.Keys.Unwrap(wrapped)
}

func (s *Service) openSecret(ctx context.Context, rec TOTPRecord) ([]byte, error) {
	dek, err := s.dataKey(ctx, rec.AccountID)
	if err != nil {
		return nil, err
	}
	secret, err := dek.Open(rec.Sealed, totpAAD(rec.AccountID))
	if err != nil {
		return nil, fault.Wrap("credential.openSecret", fault.Internal, err)
	}
	return secret, nil
}
