package credential

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"math/big"
	"time"

	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/mail"
	"github.com/atriumid/atrium/internal/outbox"
	"github.com/atriumid/atrium/internal/session"
)

// Mailer sends e-mail; mail.SMTP is one.
type Mailer interface {
	// Send delivers m, or returns fault.Unavailable.
	Send(ctx context.Context, m mail.Message) error
}

// E-mail codes (NIST SP 800-63B §5.1.3.2): 8 digits (26.6 bits) from the
// CSPRNG, valid 10 minutes, single use, and bound to the flow that asked
// for them: a code is checked together with the flow's 256-bit secret.
const (
	EmailCodeTTL    = 10 * time.Minute
	emailCodeDigits = 8
)

// EmailFlow is a started e-mail verification: its secret, which the
// client keeps and presents with the code, and when the code expires.
type EmailFlow struct {
	Flow   string
	Expire time.Time
}

// StartEmailVerification sends a code to the first unverified e-mail
// identifier of the session's account, replacing any earlier code. The
// message links to the configured public URL only, never to a host taken
// from a request. It returns fault.FailedPrecondition when e-mail is not
// configured or the account has no unverified e-mail identifier,
// fault.ResourceExhausted when throttled and fault.Unavailable when the
// mail relay fails.
func (s *Service) StartEmailVerification(ctx context.Context, sess session.Session, client string) (*EmailFlow, error) {
	const op = "credential.StartEmailVerification"
	if s.c.Mail == nil {
		return nil, fault.E(op, fault.FailedPrecondition, "e-mail is not configured")
	}
	if err := s.checkCodes(ctx, sess.AccountID, client); err != nil {
		return nil, err
	}
	acc, err := s.c.Accounts.Get(ctx, sess.AccountID, nil)
	if err != nil {
		return nil, err
	}
	address := ""
	for _, id := range acc.Identifiers {
		if id.Type == "email" && id.VerifyTime.IsZero() {
			address = id.Value
			break
		}
	}
	if address == "" {
		return nil, fault.E(op, fault.FailedPrecondition, "the account has no unverified e-mail address")
	}
	return s.sendCode(ctx, sess.AccountID, address, client)
}

// sendCode sends a code to address, an e-mail identifier of the account,
// replacing any earlier code, and counts the message against the account
// and the client (Config.Sends), so that nobody can flood a mailbox. It
// returns fault.ResourceExhausted when too many were sent.
func (s *Service) sendCode(ctx context.Context, accountID, address, client string) (*EmailFlow, error) {
	const op = "credential.sendCode"
	if s.c.Mail == nil {
		return nil, fault.E(op, fault.FailedPrecondition, "e-mail is not configured")
	}
	att, err := s.c.Sends.Begin(ctx, sendSubject(accountID, client))
	if err != nil {
		return nil, err
	}
	if err := att.Fail(ctx); err != nil {
		return nil, err
	}
	n, err := rand.Int(rand.Reader, big.NewInt(100_000_000))
	if err != nil {
		return nil, fault.Wrap(op, fault.Internal, err)
	}
	code := fmt.Sprintf("%0*d", emailCodeDigits, n)
	flow, flowHash, err := newSecret("atf_")
	if err != nil {
		return nil, err
	}
	expire := s.clock().Add(EmailCodeTTL)
	if err := s.c.Store.PutEmailCode(ctx, EmailCode{FlowHash: flowHash, AccountID: accountID, Address: address, CodeHash: emailCodeHash(flow, code), Expire: expire}); err != nil {
		return nil, err
	}
	text := fmt.Sprintf("Your %s verification code is %s. It expires in %d minutes.\n\nYou can also enter it at %s/verify-email#code=%s\n\nIf you did not ask for it, ignore this message.\n",
		s.c.Issuer, code, int(EmailCodeTTL/time.Minute), s.c.PublicURL, code)
	if err := s.c.Mail.Send(ctx, mail.Message{To: address, Subject: s.c.Issuer + " verification code", Text: text}); err != nil {
		return nil, err
	}
	return &EmailFlow{Flow: flow, Expire: expire}, nil
}

// ConfirmEmailVerification checks a code against its flow and marks the
// e-mail identifier verified. A code works once, with its flow and for the
// account that started it. It returns fault.Invalid (violation "code") for
// a wrong, used or expired code, counted by the throttle, and
// fault.ResourceExhausted when throttled.
func (s *Service) ConfirmEmailVerification(ctx context.Context, sess session.Session, flow, code, client string) error {
	const op = "credential.ConfirmEmailVerification"
	wrong := fault.Invalidf(op, []fault.Violation{{Field: "code", Reason: "wrong, used or expired"}}, "wrong code")
	if len(flow) > maxSecretInput || len(code) > maxSecretInput {
		return wrong
	}
	att, err := s.beginCodes(ctx, sess.AccountID, client)
	if err != nil {
		return err
	}
	defer att.Release(ctx)
	fh := hashSecret(flow)
	rec, err := s.c.Store.EmailCode(ctx, fh, sess.AccountID, s.clock())
	if err != nil && !fault.Is(err, fault.NotFound) {
		return err
	}
	if err != nil || subtle.ConstantTimeCompare(rec.CodeHash, emailCodeHash(flow, code)) != 1 {
		return failed(ctx, att, wrong)
	}
	if err := s.c.Store.ConsumeEmailCode(ctx, fh, s.clock()); fault.Is(err, fault.Aborted) {
		return wrong
	} else if err != nil {
		return err
	}
	if err := att.Succeed(ctx); err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, tx Tx) (outbox.Event, error) {
		now := s.clock()
		return outbox.New("atrium.credential.identifier_verified", sess.AccountID, now, map[string]any{"identifier_type": "email"}),
			tx.MarkIdentifierVerified(ctx, sess.AccountID, "email", rec.Address, now)
	})
}

// emailCodeHash binds a code to its flow: with the flow's secret hashed
// in, the short code cannot be found offline from the stored hash.
func emailCodeHash(flow, code string) []byte { return hashSecret(flow + "\x00" + code) }
