// Package session owns end-user sessions: opaque bearer tokens of 256
// random bits that the server keeps only as SHA-256 hashes, the
// authenticator assurance level (AAL) and methods each session was
// established with, idle and absolute timeouts per AAL (NIST SP 800-63B
// §4, §7), rotation at every login and step-up, and revocation.
//
// Sessions live in the database, so a revocation is seen by every replica
// at its next request.
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"strings"
	"time"

	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/ids"
	"github.com/atriumid/atrium/internal/outbox"
)

// AAL is an authenticator assurance level.
type AAL int

// The assurance levels a session can have.
const (
	// AAL0 is a password alone where the account's kind requires a second
	// factor: the session is good for enrolling one and nothing else.
	AAL0 AAL = 0
	AAL1 AAL = 1 // one factor
	AAL2 AAL = 2 // two factors
)

// String returns "aal0", "aal1" or "aal2".
func (a AAL) String() string {
	switch a {
	case AAL2:
		return "aal2"
	case AAL0:
		return "aal0"
	}
	return "aal1"
}

// Authentication methods, as in RFC 8176 (amr values).
const (
	MethodPassword = "pwd"
	MethodTOTP     = "otp"
	MethodRecovery = "kba" // a recovery code: something the user wrote down
)

// Timeouts bound a session of one AAL.
type Timeouts struct {
	Idle     time.Duration // since the last use
	Absolute time.Duration // since authentication, whatever the activity
}

// Policy holds the timeouts per AAL.
type Policy struct {
	AAL1 Timeouts
	AAL2 Timeouts
}

// DefaultPolicy follows NIST SP 800-63B §4: an AAL1 session lasts at most
// 30 days (idle 24 h here), an AAL2 session at most 12 h and 30 min idle.
var DefaultPolicy = Policy{
	AAL1: Timeouts{Idle: 24 * time.Hour, Absolute: 30 * 24 * time.Hour},
	AAL2: Timeouts{Idle: 30 * time.Minute, Absolute: 12 * time.Hour},
}

// enrolTimeouts bound an AAL0 session, which only enrols a second factor.
var enrolTimeouts = Timeouts{Idle: 15 * time.Minute, Absolute: time.Hour}

func (p Policy) of(a AAL) Timeouts {
	switch a {
	case AAL2:
		return p.AAL2
	case AAL0:
		return Timeouts{Idle: min(p.AAL1.Idle, enrolTimeouts.Idle), Absolute: min(p.AAL1.Absolute, enrolTimeouts.Absolute)}
	}
	return p.AAL1
}

// Session is one login of an account.
type Session struct {
	ID        string
	AccountID string
	// AccountState is the account's lifecycle state when the session
	// began; the session ends if the account leaves it.
	AccountState string
	AAL          AAL
	Methods      []string
	AuthTime     time.Time // when the account last proved itself
	LastSeen     time.Time
	ExpireTime   time.Time // the absolute limit
	RevokeTime   time.Time // zero while live
}

// Record is a session as stored, with the hash of its token.
type Record struct {
	Session
	TokenHash []byte
}

// Store keeps sessions. Methods return fault.Unavailable when the
// database fails.
type Store interface {
	// InsertSession stores a new session and appends e with its audit
	// record, in one transaction. When replaces is not empty it first
	// revokes that live session of the same account with a compare-and-set
	// and returns fault.Aborted (storing nothing) when it was not live: a
	// session is rotated once.
	InsertSession(ctx context.Context, r Record, replaces string, now time.Time, e outbox.Event) error
	// SessionByToken returns the session whose token hashes to hash, with
	// the account's current state in AccountState, or fault.NotFound.
	SessionByToken(ctx context.Context, hash []byte) (Record, string, error)
	// TouchSession records a use of a live session at now.
	TouchSession(ctx context.Context, id string, now time.Time) error
	// Sessions returns the live sessions of an account, newest first.
	Sessions(ctx context.Context, accountID string, now time.Time) ([]Session, error)
	// RevokeSession revokes one live session of the account and appends
	// e with its audit record in the same transaction; it returns
	// fault.NotFound when there is no such live session.
	RevokeSession(ctx context.Context, accountID, id string, now time.Time, e outbox.Event) error
	// RevokeSessions revokes every live session of the account except
	// keep (none when empty), appends e with its audit record in the same
	// transaction, and returns how many it revoked.
	RevokeSessions(ctx context.Context, accountID, keep string, now time.Time, e outbox.Event) (int, error)
}

// Service issues and checks sessions. It is safe for concurrent use.
type Service struct {
	store  Store
	policy Policy
	now    func() time.Time
}

// NewService returns a Service. now defaults to time.Now.
func NewService(store Store, policy Policy, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, policy: policy, now: now}
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// tokenPrefix marks session tokens, so that they are told apart from API
// keys and found by secret scanners.
const tokenPrefix = "ats_"

// Hash returns the stored form of a token.
func Hash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// LooksLikeToken reports whether s has the shape of a session token.
func LooksLikeToken(s string) bool {
	return strings.HasPrefix(s, tokenPrefix) && len(s) == len(tokenPrefix)+43
}

// Grant is what a successful authentication establishes.
type Grant struct {
	AccountID    string
	AccountState string
	AAL          AAL
	Methods      []string
	// Replaces is the session this one replaces (a step-up or a
	// credential change), revoked in the same transaction; empty for a
	// fresh login.
	Replaces string
}

// Issue creates a session for g and returns it with its token, which is
// shown once: only its hash is stored. It returns fault.Aborted when
// g.Replaces is no longer live.
func (s *Service) Issue(ctx context.Context, g Grant) (string, Session, error) {
	const op = "session.Issue"
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", Session{}, fault.Wrap(op, fault.Internal, err)
	}
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	now := s.clock()
	sess := Session{ID: ids.New("ses"), AccountID: g.AccountID, AccountState: g.AccountState, AAL: g.AAL,
		Methods: slices.Clone(g.Methods), AuthTime: now, LastSeen: now, ExpireTime: now.Add(s.policy.of(g.AAL).Absolute)}
	e := outbox.New("atrium.session.created", g.AccountID, now, map[string]any{"session": sess.ID, "aal": g.AAL.String(), "methods": sess.Methods, "replaces": g.Replaces})
	if err := s.store.InsertSession(ctx, Record{Session: sess, TokenHash: Hash(token)}, g.Replaces, now, e); err != nil {
		return "", Session{}, fault.Wrap(op, fault.Internal, err)
	}
	return token, sess, nil
}

var errInvalid = fault.E("session.Authenticate", fault.Unauthenticated, "missing, invalid or expired session")

// touchEvery is how stale the recorded last use may get before a request
// writes it again. Recording less often keeps reads cheap; it can only
// make an idle timeout end earlier, never later.
const touchEvery = time.Minute

// Authenticate returns the live session of token. Every failure (unknown,
// revoked, idle, past its absolute limit, account no longer in the state
// it logged in with) is the same fault.Unauthenticated error.
func (s *Service) Authenticate(ctx context.Context, token string) (Session, error) {
	if !LooksLikeToken(token) {
		return Session{}, errInvalid
	}
	r, state, err := s.store.SessionByToken(ctx, Hash(token))
	if fault.Is(err, fault.NotFound) {
		return Session{}, errInvalid
	}
	if err != nil {
		return Session{}, err
	}
	now := s.clock()
	t := s.policy.of(r.AAL)
	switch {
	case !r.RevokeTime.IsZero(), !now.Before(r.ExpireTime), !now.Before(r.LastSeen.Add(t.Idle)), state != r.AccountState:
		return Session{}, errInvalid
	}
	if now.Sub(r.LastSeen) >= touchEvery {
		if err := s.store.TouchSession(ctx, r.ID, now); err != nil {
			return Session{}, err
		}
		r.LastSeen = now
	}
	return r.Session, nil
}

// List returns the live sessions of an account.
func (s *Service) List(ctx context.Context, accountID string) ([]Session, error) {
	out, err := s.store.Sessions(ctx, accountID, s.clock())
	if err != nil {
		return nil, err
	}
	now := s.clock()
	return slices.DeleteFunc(out, func(x Session) bool { return !now.Before(x.LastSeen.Add(s.policy.of(x.AAL).Idle)) }), nil
}

// Revoke revokes one session of an account; by is the session asking,
// so that a session ending itself is recorded as a logout. It returns
// fault.NotFound when the account has no such live session.
func (s *Service) Revoke(ctx context.Context, accountID, id, by string) error {
	now := s.clock()
	e := outbox.New("atrium.session.revoked", accountID, now, map[string]any{"session": id, "scope": "one", "by": by})
	if id == by {
		e = outbox.New("atrium.session.logged_out", accountID, now, map[string]any{"session": id})
	}
	return s.store.RevokeSession(ctx, accountID, id, now, e)
}

// RevokeOthers revokes every session of an account but keep, and returns
// how many it revoked.
func (s *Service) RevokeOthers(ctx context.Context, accountID, keep string) (int, error) {
	now := s.clock()
	return s.store.RevokeSessions(ctx, accountID, keep, now, outbox.New("atrium.session.revoked", accountID, now, map[string]any{"scope": "others", "by": keep}))
}

// RevokeAll revokes every session of an account, as an administrator
// does.
func (s *Service) RevokeAll(ctx context.Context, accountID string) (int, error) {
	now := s.clock()
	return s.store.RevokeSessions(ctx, accountID, "", now, outbox.New("atrium.session.revoked", accountID, now, map[string]any{"scope": "all"}))
}
