package credential

import (
	"context"
	"strings"
	"time"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/credential/password"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/mail"
	"github.com/atriumid/atrium/internal/outbox"
	"github.com/atriumid/atrium/internal/throttle"
)

// RegisterRequest registers an account of a self-service kind with one
// identifier and a password.
type RegisterRequest struct {
	Kind       string
	Identifier account.IdentifierInput
	Password   string
	// Client is the address the request came from, for throttling.
	Client string
}

// Registration is the answer to a registration. Callers show only Flow,
// which has the same form whether the identifier was free or taken
// (ASVS 6.3.8): a registration never tells who holds an identifier.
type Registration struct {
	// Flow verifies an e-mail identifier with the code sent to it. When
	// the identifier was taken, or no code could be sent, it is a random
	// flow of the same form that no code matches.
	Flow EmailFlow
	// AccountID is the new account, empty when the identifier was taken.
	// It must not reach the caller, as it would tell the two apart.
	AccountID string
}

// Register creates an account of a kind that allows self-service
// registration, with its identifier and password, and e-mails a
// verification code to an e-mail identifier. When the identifier is
// taken, it does the same work (the password is hashed all the same),
// e-mails the holder a notice instead of a code, and answers alike.
//
// It returns fault.PermissionDenied for a kind that does not allow it,
// fault.Invalid for a password the policy refuses (with a violation on
// "password") or a bad identifier, fault.ResourceExhausted when the client
// registered too often, and fault.Unavailable when hashing is saturated.
func (s *Service) Register(ctx context.Context, req RegisterRequest) (*Registration, error) {
	const op = "credential.Register"
	set, _ := s.c.Kinds.Current()
	k, ok := set.Kind(req.Kind)
	if !ok {
		return nil, fault.Invalidf(op, []fault.Violation{{Field: "kind", Reason: "unknown kind"}}, "unknown kind %q", req.Kind)
	}
	if !k.SelfService() {
		return nil, fault.E(op, fault.PermissionDenied, "kind %q does not allow self-service registration", k.Name)
	}
	if err := s.policyFor(k.Name).Check(req.Password, s.contextWords(req.Identifier.Value)); err != nil {
		return nil, err
	}
	// Every registration counts against its client, taken or not.
	att, err := s.c.Sends.Begin(ctx, throttle.Subject{Client: "register:" + req.Client})
	if err != nil {
		return nil, err
	}
	if err := att.Fail(ctx); err != nil {
		return nil, err
	}
	hash, err := s.hash(ctx, req.Password)
	if err != nil {
		return nil, err
	}
	acc, err := s.createWithPassword(ctx, k.Name, req.Identifier, hash)
	if fault.Is(err, fault.AlreadyExists) {
		return s.registeredAlready(ctx, req)
	}
	if err != nil {
		return nil, err
	}
	reg := &Registration{AccountID: acc.ID}
	if len(acc.Identifiers) == 1 && acc.Identifiers[0].Type == "email" {
		if f, err := s.sendCode(ctx, acc.ID, "email", "email", acc.Identifiers[0].Value, req.Client, ""); err == nil {
			reg.Flow = *f
			return reg, nil
		}
		// The account stands; the holder asks for another code after
		// logging in.
	}
	return reg, s.decoyFlow(&reg.Flow)
}

// registeredAlready answers a registration of a taken identifier: a notice
// to the holder's address when it is an e-mail address, and a decoy flow.
func (s *Service) registeredAlready(ctx context.Context, req RegisterRequest) (*Registration, error) {
	reg := &Registration{}
	if err := s.decoyFlow(&reg.Flow); err != nil {
		return nil, err
	}
	if s.c.Mail == nil || req.Identifier.Type != "email" {
		return reg, nil
	}
	acc, err := s.c.Accounts.Resolve(ctx, req.Identifier.Type, req.Identifier.Value)
	if err != nil {
		return reg, nil // erased meanwhile: nobody to tell
	}
	for _, id := range acc.Identifiers {
		if id.Type != "email" || !strings.EqualFold(id.Value, strings.TrimSpace(req.Identifier.Value)) {
			continue
		}
		// The holder is told at most as often as codes are sent, so the
		// notice cannot flood a mailbox.
		if att, err := s.c.Sends.Begin(ctx, sendSubject(acc.ID, req.Client)); err == nil {
			att.Fail(ctx)
			s.c.Mail.Send(ctx, mail.Message{To: id.Value, Subject: s.c.Issuer + " registration attempt",
				Text: "Someone tried to register a new " + s.c.Issuer + " account with this address, which already has one.\n\nIf it was you, log in at " + s.c.PublicURL + " instead, or reset your password there.\nIf it was not, you can ignore this message.\n"})
		}
	}
	return reg, nil
}

// createWithPassword creates the account, its password, their events and
// audit records in one transaction.
func (s *Service) createWithPassword(ctx context.Context, kindName string, id account.IdentifierInput, hash string) (*account.Account, error) {
	return s.c.Accounts.Create(ctx, account.CreateRequest{Kind: kindName, Identifiers: []account.IdentifierInput{id},
		Within: func(ctx context.Context, atx account.Tx, accountID string, now time.Time) error {
			tx, ok := atx.(Tx)
			if !ok {
				return fault.E("credential.Register", fault.Internal, "the account store cannot write credentials")
			}
			if err := tx.PutPassword(ctx, accountID, hash, now); err != nil {
				return err
			}
			return Record(ctx, tx, outbox.New("atrium.credential.password_set", accountID, now, map[string]any{"via": "registration"}))
		}})
}

// decoyFlow fills f with a random flow of the form of a real one.
func (s *Service) decoyFlow(f *EmailFlow) error {
	flow, _, err := newSecret("atf_")
	if err != nil {
		return err
	}
	*f = EmailFlow{Flow: flow, Expire: s.clock().Add(EmailCodeTTL)}
	return nil
}

// sendSubject is the throttle subject of the codes and notices sent to an
// account: per account, per client and per pair, apart from the keys of
// failed credentials.
func sendSubject(accountID, client string) throttle.Subject {
	return throttle.Subject{Account: "send:" + accountID, Client: "send:" + client}
}

// ImportPasswordHash gives an account without a password the hash of its
// password in a system it comes from (see password.Algorithm for the
// formats). The first successful login verifies it as that system did and
// replaces it with an argon2id hash. It returns fault.Invalid (violation
// "passwordHash") for a format that is not supported, fault.NotFound for
// an unknown account and fault.AlreadyExists when the account has a
// password.
func (s *Service) ImportPasswordHash(ctx context.Context, accountID, hash string) error {
	const op = "credential.ImportPasswordHash"
	alg, err := password.Algorithm(hash)
	if err != nil {
		return fault.Invalidf(op, []fault.Violation{{Field: "passwordHash", Reason: "not a supported hash: argon2id, argon2i, bcrypt, scrypt or pbkdf2-sha256"}}, "unsupported password hash")
	}
	if _, _, err := s.c.Store.AccountState(ctx, accountID); err != nil {
		return err
	}
	err = s.write(ctx, func(ctx context.Context, tx Tx) (outbox.Event, error) {
		now := s.clock()
		return outbox.New("atrium.credential.password_set", accountID, now, map[string]any{"via": "import", "algorithm": alg}),
			tx.PutPassword(ctx, accountID, hash, now)
	})
	if fault.Is(err, fault.AlreadyExists) {
		return fault.E(op, fault.AlreadyExists, "the account has a password")
	}
	return err
}
