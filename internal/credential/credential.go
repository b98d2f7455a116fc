// Package credential orchestrates how an account proves it is itself:
// registration with a password, password login, the TOTP second factor
// with its recovery codes, the MFA step of a login, and password changes.
// Every check of a credential goes through one throttle.Limiter, and every
// success ends in a new session (session.Service).
//
// A login answers an unknown identifier exactly as a wrong password: same
// error, and the same work, since a dummy hash is verified when there is
// no stored one (ASVS 6.3.8).
package credential

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"time"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/credential/password"
	"github.com/atriumid/atrium/internal/envelope"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/kind"
	"github.com/atriumid/atrium/internal/outbox"
	"github.com/atriumid/atrium/internal/session"
	"github.com/atriumid/atrium/internal/throttle"
)

// Lifetimes of the secrets of a login.
const (
	// ChallengeTTL bounds the time between the password and the second
	// factor of one login.
	ChallengeTTL = 5 * time.Minute
	// FreshAuth is how recent a session's authentication must be for a
	// change of credentials (ASVS 7.5.1).
	FreshAuth = 15 * time.Minute
)

// Config holds what a Service needs.
type Config struct {
	Accounts *account.Service
	Kinds    *kind.Registry
	Store    Store
	Sessions *session.Service
	Limiter  *throttle.Limiter
	// Sends limits the codes and notices sent per account and client, and
	// registrations per client (throttle.SendPolicies).
	Sends *throttle.Limiter
	Keys  *envelope.Keyring
	// Hashing are the argon2id parameters of new hashes; stored hashes
	// made with others are replaced at the next login.
	Hashing password.Params
	// HashConcurrency bounds the password hashes computed at once; 0 sizes
	// it from the cores and the Go memory limit. HashQueueWait bounds the
	// wait for a slot (DefaultHashQueueWait when 0).
	HashConcurrency int
	HashQueueWait   time.Duration
	Policy          password.Policy
	// Issuer names the service in authenticator apps; it is also a
	// context word that passwords must not be built from.
	Issuer string
	// ContextWords are further words passwords must not be built from,
	// such as the organisation's name.
	ContextWords []string
	// Mail sends verification codes; nil disables e-mail verification.
	// SMS sends them to phones; nil disables phone verification.
	SMS  SMSSender
	Mail Mailer
	// PublicURL is the externally visible base URL, the only origin of
	// links in e-mail.
	PublicURL string
	// Wallets configures Sign-In with Ethereum; nil disables it.
	Wallets *WalletConfig
	// Passkeys configures WebAuthn passkeys; nil disables them.
	Passkeys *PasskeyConfig
	Now      func() time.Time
}

// Service runs the credential flows. It is safe for concurrent use.
type Service struct {
	c     Config
	dummy string // a hash of a random password, verified for unknown identifiers
	gate  *hashGate
}

// NewService returns a Service. It returns fault.Invalid when the hashing
// parameters or the password policy are out of range.
func NewService(c Config) (*Service, error) {
	if c.Now == nil {
		c.Now = time.Now
	}
	if err := c.Policy.Validate(); err != nil {
		return nil, err
	}
	dummy, err := password.Dummy(c.Hashing)
	if err != nil {
		return nil, err
	}
	slots := c.HashConcurrency
	if slots <= 0 {
		slots = hashSlots(c.Hashing)
	}
	if c.HashQueueWait <= 0 {
		c.HashQueueWait = DefaultHashQueueWait
	}
	return &Service{c: c, dummy: dummy, gate: newHashGate(slots, c.HashQueueWait)}, nil
}

func (s *Service) clock() time.Time { return s.c.Now().UTC().Truncate(time.Microsecond) }

// contextWords returns the words a password of the holder of identifier
// must not be built from.
func (s *Service) contextWords(identifier string) []string {
	return append([]string{identifier, s.c.Issuer}, s.c.ContextWords...)
}

// LoginRequest is the first step of a login.
type LoginRequest struct {
	Identifier account.IdentifierInput
	Password   string
	// Client is the address the request came from, for throttling.
	Client string
}

// LoginResult is a session, or a challenge for the second factor.
type LoginResult struct {
	Token   string // the session token, shown once
	Session session.Session
	// MFARequired is set, with Challenge, when the account has a second
	// factor: LoginMFA completes the login.
	MFARequired     bool
	Challenge       string
	ChallengeExpire time.Time
}

var errLogin = fault.E("credential.Login", fault.Unauthenticated, "invalid identifier or password")

// Login checks a password. It returns the same fault.Unauthenticated error
// for an unknown identifier and a wrong password, fault.ResourceExhausted
// (with a throttle.RetryError) when the account or the client is
// throttled, fault.Invalid for a malformed identifier, and
// fault.PermissionDenied when the account is not in its initial state
// (suspended, closed).
func (s *Service) Login(ctx context.Context, req LoginRequest) (*LoginResult, error) {
	const op = "credential.Login"
	if len(req.Password) > password.MaxBytes {
		return nil, errLogin
	}
	acc, err := s.c.Accounts.Resolve(ctx, req.Identifier.Type, req.Identifier.Value)
	switch {
	case fault.Is(err, fault.NotFound):
		acc = nil
	case err != nil:
		return nil, err
	}
	subject := throttle.Subject{Client: req.Client}
	if acc != nil {
		subject.Account = acc.ID
	} else {
		subject.Account = unknownKey(req.Identifier)
	}
	att, err := s.c.Limiter.Begin(ctx, subject)
	if err != nil {
		return nil, err
	}
	defer att.Release(ctx)
	stored := s.dummy
	if acc != nil {
		h, err := s.c.Store.PasswordHash(ctx, acc.ID)
		switch {
		case err == nil:
			stored = h
		case !fault.Is(err, fault.NotFound):
			return nil, err
		}
	}
	ok, err := s.verify(ctx, req.Password, stored)
	if err != nil {
		return nil, err
	}
	if !ok || acc == nil || stored == s.dummy {
		// Count first: a failure to record the attempt must not spare it.
		if err := att.Fail(ctx); err != nil {
			return nil, err
		}
		if acc != nil {
			if err := s.note(ctx, outbox.New("atrium.auth.login_failed", acc.ID, s.clock(), map[string]any{"factor": session.MethodPassword})); err != nil {
				return nil, err
			}
		}
		return nil, errLogin
	}
	if err := att.Succeed(ctx); err != nil {
		return nil, err
	}
	if err := s.active(op, acc.Kind, acc.State); err != nil {
		return nil, err
	}
	if password.NeedsRehash(stored, s.c.Hashing) {
		s.rehash(ctx, acc.ID, req.Password, stored)
	}
	return s.afterFirstFactor(ctx, acc.ID, acc.Kind, acc.State, session.MethodPassword)
}

// unknownKey names the throttle account of an identifier that no account
// holds, so it is throttled as an account would be. It is a hash: the
// throttle table keeps no identifier that someone merely typed.
func unknownKey(id account.IdentifierInput) string {
	sum := sha256.Sum256([]byte(id.Type + "\x00" + strings.ToLower(strings.TrimSpace(id.Value))))
	return "identifier:" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// codesKey names the throttle account of an account's one-time codes
// (TOTP, recovery and e-mail codes). Their failures are counted apart from
// the password's, so that a correct password, which resets the password's
// count, never resets the count of guessed codes.
func codesKey(accountID string) string { return "otp:" + accountID }

// checkCodes refuses a one-time code attempt while either the account's
// password or its codes are blocked, so a blocked account is refused on
// every pathway.
func (s *Service) checkCodes(ctx context.Context, accountID, client string) error {
	if err := s.c.Limiter.Check(ctx, throttle.Subject{Account: accountID, Client: client}); err != nil {
		return err
	}
	return s.c.Limiter.Check(ctx, throttle.Subject{Account: codesKey(accountID), Client: client})
}

// beginCodes refuses a one-time code attempt while the account's password
// is blocked, and reserves an attempt of the account's codes.
func (s *Service) beginCodes(ctx context.Context, accountID, client string) (*throttle.Attempt, error) {
	if err := s.c.Limiter.Check(ctx, throttle.Subject{Account: accountID, Client: client}); err != nil {
		return nil, err
	}
	return s.c.Limiter.Begin(ctx, throttle.Subject{Account: codesKey(accountID), Client: client})
}

// failed counts a failed attempt and returns err, or the error of
// counting.
func failed(ctx context.Context, att *throttle.Attempt, err error) error {
	if ferr := att.Fail(ctx); ferr != nil {
		return ferr
	}
	return err
}

// fail counts a failed attempt and returns err, or the error of counting.
func (s *Service) fail(ctx context.Context, subject throttle.Subject, err error) error {
	if ferr := s.c.Limiter.Fail(ctx, subject); ferr != nil {
		return ferr
	}
	return err
}

// active refuses accounts that have left their kind's initial state.
func (s *Service) active(op, kindName, state string) error {
	set, _ := s.c.Kinds.Current()
	k, ok := set.Kind(kindName)
	if !ok || state != k.InitialState() {
		return fault.E(op, fault.PermissionDenied, "account is not active")
	}
	return nil
}

// rehash replaces a hash made with old parameters or another algorithm.
// Losing the race to a concurrent login or password change is fine: the
// other write stands.
func (s *Service) rehash(ctx context.Context, accountID, pw, old string) {
	h, err := s.hash(ctx, pw)
	if err != nil {
		return
	}
	s.write(ctx, func(ctx context.Context, tx Tx) (outbox.Event, error) {
		now := s.clock()
		return outbox.New("atrium.credential.password_rehashed", accountID, now, map[string]any{}), tx.ReplacePassword(ctx, accountID, old, h, now)
	})
}

// afterFirstFactor issues an AAL1 session with the first factor's method,
// or an MFA challenge when the account has a confirmed second factor, or
// an AAL0 session, good only for enrolling one, when its kind requires a
// second factor that the account lacks.
func (s *Service) afterFirstFactor(ctx context.Context, accountID, kindName, state, method string) (*LoginResult, error) {
	mfa, err := s.hasSecondFactor(ctx, accountID)
	if err != nil {
		return nil, err
	}
	if mfa {
		secret, hash, err := newSecret(challengePrefix[method])
		if err != nil {
			return nil, err
		}
		expire := s.clock().Add(ChallengeTTL)
		if err := s.c.Store.InsertChallenge(ctx, hash, accountID, expire); err != nil {
			return nil, err
		}
		return &LoginResult{MFARequired: true, Challenge: secret, ChallengeExpire: expire}, nil
	}
	aal := session.AAL1
	if s.mfaRequired(kindName) {
		aal = session.AAL0
	}
	return s.issue(ctx, session.Grant{AccountID: accountID, AccountState: state, AAL: aal, Methods: []string{method}})
}

// mfaRequired reports whether the kind's accounts must have a second
// factor.
func (s *Service) mfaRequired(kindName string) bool {
	set, _ := s.c.Kinds.Current()
	k, ok := set.Kind(kindName)
	return ok && k.MFARequired()
}

// policyFor returns the password policy of a kind's accounts: the
// configured one, or, where a second factor is enforced, the NIST minimum
// of 8 code points.
func (s *Service) policyFor(kindName string) password.Policy {
	if s.mfaRequired(kindName) {
		return password.Policy{MinLength: password.MinLengthWithMFA, MFAEnforced: true}
	}
	return s.c.Policy
}

// checkNewPassword checks a new password of an account against its kind's
// policy, with its identifiers as context words.
func (s *Service) checkNewPassword(acc *account.Account, pw string) error {
	var words []string
	for _, ident := range acc.Identifiers {
		words = append(words, ident.Value)
	}
	return s.policyFor(acc.Kind).Check(pw, append(words, s.contextWords("")...))
}

// usable refuses an AAL0 session, which is good only for enrolling a
// second factor.
func usable(op string, sess session.Session) error {
	if sess.AAL == session.AAL0 {
		return fault.E(op, fault.PermissionDenied, "enrol a second factor first")
	}
	return nil
}

// sensitive guards changes of credentials: an AAL2 session
// authenticated within FreshAuth when the account has a second factor,
// and any but an AAL0 session otherwise.
func (s *Service) sensitive(ctx context.Context, op string, sess session.Session) error {
	if err := usable(op, sess); err != nil {
		return err
	}
	enrolled, err := s.hasSecondFactor(ctx, sess.AccountID)
	if err != nil || !enrolled {
		return err
	}
	return s.stepUp(op, sess)
}

// issue starts a session; its event (atrium.session.created) records the
// login with its methods.
func (s *Service) issue(ctx context.Context, g session.Grant) (*LoginResult, error) {
	tok, sess, err := s.c.Sessions.Issue(ctx, g)
	if err != nil {
		return nil, err
	}
	return &LoginResult{Token: tok, Session: sess}, nil
}

// newSecret returns a 256-bit random secret with prefix, and its SHA-256,
// the only form stored.
func newSecret(prefix string) (string, []byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fault.Wrap("credential.newSecret", fault.Internal, err)
	}
	secret := prefix + base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(secret))
	return secret, sum[:], nil
}

func hashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}
