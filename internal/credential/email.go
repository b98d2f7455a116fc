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
	"github.com/atriumid/atrium/internal/throttle"
)

// SMSSender sends text messages; sms.Log is one, for development.
type SMSSender interface {
	// SendSMS delivers text to the phone number to (E.164), or returns
	// fault.Unavailable.
	SendSMS(ctx context.Context, to, text string) error
}

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
	return s.startVerification(ctx, sess, "email", client)
}

// StartPhoneVerification sends a code by SMS to the first unverified
// phone identifier of the session's account, as StartEmailVerification
// does by e-mail.
func (s *Service) StartPhoneVerification(ctx context.Context, sess session.Session, client string) (*EmailFlow, error) {
	return s.startVerification(ctx, sess, "phone", client)
}

func (s *Service) startVerification(ctx context.Context, sess session.Session, typ, client string) (*EmailFlow, error) {
	const op = "credential.StartVerification"
	if err := usable(op, sess); err != nil {
		return nil, err
	}
	if err := s.checkCodes(ctx, sess.AccountID, client); err != nil {
		return nil, err
	}
	acc, err := s.c.Accounts.Get(ctx, sess.AccountID, nil)
	if err != nil {
		return nil, err
	}
	for _, id := range acc.Identifiers {
		if id.Type == typ && id.VerifyTime.IsZero() {
			return s.sendCode(ctx, sess.AccountID, typ, typ, id.Value, client, "")
		}
	}
	return nil, fault.E(op, fault.FailedPrecondition, "the account has no unverified %s identifier", typ)
}

// sendCode sends a code for purpose (the identifier type it verifies, or
// recoveryType) to address, an identifier of type typ ("email" or
// "phone") of the account, replacing any earlier code, and counts the
// message against the account and the client (Config.Sends), so that
// nobody can flood a mailbox or a phone. It returns
// fault.FailedPrecondition when the channel is not configured and
// fault.ResourceExhausted when too many were sent.
func (s *Service) sendCode(ctx context.Context, accountID, purpose, typ, address, client, flow string) (*EmailFlow, error) {
	const op = "credential.sendCode"
	if (typ == "email" && s.c.Mail == nil) || (typ == "phone" && s.c.SMS == nil) || (typ != "email" && typ != "phone") {
		return nil, fault.E(op, fault.FailedPrecondition, "sending codes to %s identifiers is not configured", typ)
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
	flowHash := hashSecret(flow)
	if flow == "" {
		if flow, flowHash, err = newSecret("atf_"); err != nil {
			return nil, err
		}
	}
	expire := s.clock().Add(EmailCodeTTL)
	if err := s.c.Store.PutEmailCode(ctx, EmailCode{FlowHash: flowHash, AccountID: accountID, Type: purpose, Address: address, CodeHash: emailCodeHash(flow, code), Expire: expire}); err != nil {
		return nil, err
	}
	minutes := int(EmailCodeTTL / time.Minute)
	what, page := "verification", "verify-email"
	if purpose == recoveryType {
		what, page = "account recovery", "recover"
	}
	if typ == "phone" {
		err = s.c.SMS.SendSMS(ctx, address, fmt.Sprintf("Your %s %s code is %s. It expires in %d minutes.", s.c.Issuer, what, code, minutes))
	} else {
		// Links are built from the configured public URL only (ASVS
		// 6.4.3, R-17).
		err = s.c.Mail.Send(ctx, mail.Message{To: address, Subject: s.c.Issuer + " " + what + " code",
			Text: fmt.Sprintf("Your %s %s code is %s. It expires in %d minutes.\n\nYou can also enter it at %s/%s#code=%s\n\nIf you did not ask for it, ignore this message.\n",
				s.c.Issuer, what, code, minutes, s.c.PublicURL, page, code)})
	}
	if err != nil {
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
	return s.confirmVerification(ctx, sess, "email", flow, code, client)
}

// ConfirmPhoneVerification checks an SMS code as ConfirmEmailVerification
// does an e-mailed one, and marks the phone identifier verified.
func (s *Service) ConfirmPhoneVerification(ctx context.Context, sess session.Session, flow, code, client string) error {
	return s.confirmVerification(ctx, sess, "phone", flow, code, client)
}

func (s *Service) confirmVerification(ctx context.Context, sess session.Session, typ, flow, code, client string) error {
	const op = "credential.ConfirmVerification"
	if err := usable(op, sess); err != nil {
		return err
	}
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
	if err != nil || rec.Type != typ || subtle.ConstantTimeCompare(rec.CodeHash, emailCodeHash(flow, code)) != 1 {
		return failed(ctx, att, wrong)
	}
	if err := s.consumeCode(ctx, att, fh, wrong); err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, tx Tx) (outbox.Event, error) {
		now := s.clock()
		return outbox.New("atrium.credential.identifier_verified", sess.AccountID, now, map[string]any{"identifier_type": typ}),
			tx.MarkIdentifierVerified(ctx, sess.AccountID, typ, rec.Address, now)
	})
}

// consumeCode uses up the code of a flow and settles its attempt as a
// success; wrong is the answer when a concurrent attempt used it first.
func (s *Service) consumeCode(ctx context.Context, att *throttle.Attempt, flowHash []byte, wrong error) error {
	if err := s.c.Store.ConsumeEmailCode(ctx, flowHash, s.clock()); fault.Is(err, fault.Aborted) {
		return wrong
	} else if err != nil {
		return err
	}
	return att.Succeed(ctx)
}

// emailCodeHash binds a code to its flow: with the flow's secret hashed
// in, the short code cannot be found offline from the stored hash.
func emailCodeHash(flow, code string) []byte { return hashSecret(flow + "\x00" + code) }
