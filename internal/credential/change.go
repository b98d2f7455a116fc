package credential

import (
	"context"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/mail"

	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/outbox"
	"github.com/atriumid/atrium/internal/session"
	"github.com/atriumid/atrium/internal/throttle"
)

// ChangePasswordRequest changes the password of the session's account.
type ChangePasswordRequest struct {
	Session  session.Session
	Current  string
	Password string
	Client   string
}

// ChangePassword replaces the password after checking the current one
// (ASVS 6.2.3), revokes every other session of the account, and rotates
// the caller's session: the result carries the new token. It returns
// fault.Invalid with a violation on "currentPassword" when the current
// password is wrong and on "password" when the policy refuses the new
// one, fault.PermissionDenied for an AAL0 session or, when the account has
// a second factor, for one that is not a recent AAL2 session,
// fault.ResourceExhausted when throttled, and fault.Aborted when the
// password changed concurrently.
func (s *Service) ChangePassword(ctx context.Context, req ChangePasswordRequest) (*LoginResult, error) {
	const op = "credential.ChangePassword"
	id := req.Session.AccountID
	if err := s.sensitive(ctx, op, req.Session); err != nil {
		return nil, err
	}
	subject := throttle.Subject{Account: id, Client: req.Client}
	att, err := s.c.Limiter.Begin(ctx, subject)
	if err != nil {
		return nil, err
	}
	defer att.Release(ctx)
	stored, err := s.c.Store.PasswordHash(ctx, id)
	if fault.Is(err, fault.NotFound) {
		return nil, fault.E(op, fault.FailedPrecondition, "the account has no password")
	}
	if err != nil {
		return nil, err
	}
	ok, err := s.verify(ctx, req.Current, stored)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, failed(ctx, att, fault.Invalidf(op, []fault.Violation{{Field: "currentPassword", Reason: "does not match"}}, "current password is wrong"))
	}
	if err := att.Succeed(ctx); err != nil {
		return nil, err
	}
	acc, err := s.c.Accounts.Get(ctx, id, nil)
	if err != nil {
		return nil, err
	}
	if err := s.checkNewPassword(acc, req.Password); err != nil {
		return nil, err
	}
	hash, err := s.hash(ctx, req.Password)
	if err != nil {
		return nil, err
	}
	err = s.write(ctx, func(ctx context.Context, tx Tx) (outbox.Event, error) {
		now := s.clock()
		return outbox.New("atrium.credential.password_changed", id, now, map[string]any{"session": req.Session.ID}), tx.ReplacePassword(ctx, id, stored, hash, now)
	})
	if err != nil {
		return nil, err
	}
	if _, err := s.c.Sessions.RevokeOthers(ctx, id, req.Session.ID); err != nil {
		return nil, err
	}
	tok, sess, err := s.c.Sessions.Issue(ctx, session.Grant{AccountID: id, AccountState: req.Session.AccountState,
		AAL: req.Session.AAL, Methods: req.Session.Methods, Replaces: req.Session.ID})
	if err != nil {
		return nil, err
	}
	s.notifyPasswordChange(ctx, acc.Identifiers)
	return &LoginResult{Token: tok, Session: sess}, nil
}

// notifyPasswordChange tells the account's verified e-mail addresses that
// the password changed (ASVS 6.2.3), when e-mail is configured. The change
// stands whether or not the message goes out.
func (s *Service) notifyPasswordChange(ctx context.Context, idents []account.Identifier) {
	if s.c.Mail == nil {
		return
	}
	for _, id := range idents {
		if id.Type != "email" || id.VerifyTime.IsZero() {
			continue
		}
		s.c.Mail.Send(ctx, mail.Message{To: id.Value, Subject: s.c.Issuer + " password changed",
			Text: "The password of your " + s.c.Issuer + " account was changed and your other sessions were ended.\n\nIf you did not do this, reset your password at " + s.c.PublicURL + " at once.\n"})
	}
}
