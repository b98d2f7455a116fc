package credential

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/atriumid/atrium/internal/audit"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/ids"
	"github.com/atriumid/atrium/internal/outbox"
	"github.com/atriumid/atrium/internal/session"
	"github.com/atriumid/atrium/internal/throttle"
)

// MethodPasskey is the session method of a passkey: RFC 8176 "hwk", proof
// of possession of a key held by an authenticator. The authenticator also
// verified the user, so a passkey login alone is multi-factor ("mfa").
const MethodPasskey = "hwk"

// methodMFA is RFC 8176's "multiple-factor authentication".
const methodMFA = "mfa"

// Purposes of a passkey ceremony.
const (
	purposeRegister = "register"
	purposeLogin    = "login" // a login without an identifier
	purposeMFA      = "mfa"   // the second step after a password
)

// mfaPurposes are the purposes of a second step by the method of the first
// factor it follows.
var mfaPurposes = map[string]string{session.MethodPassword: purposeMFA, MethodWallet: purposeMFA + "_" + MethodWallet}

// mfaFirstFactor returns the method of the first factor a second-step
// purpose follows, and false when purpose is not a second step.
func mfaFirstFactor(purpose string) (string, bool) {
	for method, p := range mfaPurposes {
		if p == purpose {
			return method, true
		}
	}
	return "", false
}

// Reasons recorded with a refused passkey login.
const (
	reasonVerification = "verification_failed"
	reasonSignCount    = "sign_count_regression"
	reasonFlagged      = "flagged"
	reasonReused       = "sign_count_reused"
)

// Passkey limits.
const (
	// MaxPasskeyName bounds the name a user gives a passkey, in bytes.
	MaxPasskeyName = 100
	// userHandleBytes is the length of a random WebAuthn user handle.
	userHandleBytes = 32
	// maxCredentialID is the longest credential ID (W3C WebAuthn L2
	// §5.8.3), which the parser of answers also enforces.
	maxCredentialID = 1023
)

// PasskeyConfig holds what passkeys need; nil in Config disables them.
type PasskeyConfig struct {
	Store PasskeyStore
	RP    Ceremonies
	// Ceremonies limits how many login ceremonies one client address may
	// begin, since beginning one stores its state.
	Ceremonies *throttle.Limiter
}

// Ceremonies runs the WebAuthn ceremonies of one relying party: it builds
// the options of a ceremony, parses a client's answer, and verifies it
// against the ceremony's state. internal/passkey implements it. Parse
// errors are fault.Invalid or fault.TooLarge; a verification that fails
// is fault.Unauthenticated.
type Ceremonies interface {
	// Timeout is how long a begun ceremony may be finished.
	Timeout() time.Duration
	// BeginRegistration begins registering a passkey for u, excluding
	// authenticators that hold one of u's.
	BeginRegistration(u PasskeyUser) (*Ceremony, error)
	// ParseRegistration parses the answer to a registration ceremony.
	ParseRegistration(response []byte) (*Answer, error)
	// FinishRegistration verifies an answer for u and returns the new
	// passkey.
	FinishRegistration(u PasskeyUser, state []byte, a *Answer) (*NewPasskey, error)
	// BeginLogin begins a login with u's passkeys, or with any
	// discoverable passkey when u is nil.
	BeginLogin(u *PasskeyUser) (*Ceremony, error)
	// ParseAssertion parses the answer to a login ceremony.
	ParseAssertion(response []byte) (*Answer, error)
	// FinishLogin verifies an answer by one of u's passkeys.
	FinishLogin(u PasskeyUser, state []byte, a *Answer) (Verified, error)
}

// Ceremony is a begun ceremony: the options for the client, and the state
// the server keeps until the client answers, under its challenge.
type Ceremony struct {
	// Options is {"publicKey": {...}}, the JSON form of the options of
	// navigator.credentials.create or .get.
	Options json.RawMessage
	// Challenge is the base64url challenge; an answer names it in its
	// client data.
	Challenge string
	State     []byte
	Expire    time.Time
}

// Answer is a client's parsed, unverified answer to a ceremony.
type Answer struct {
	Challenge    string // the challenge the client data names
	CredentialID []byte
	UserHandle   []byte // empty when the authenticator returned none
	Parsed       any    // the parse of the Ceremonies that made it
}

// PasskeyUser is an account as WebAuthn sees it.
type PasskeyUser struct {
	Handle   []byte // the user handle: random, never personal data
	Name     string // shown by authenticators
	Passkeys []PasskeyRecord
}

// NewPasskey is a verified registration.
type NewPasskey struct {
	ID         []byte
	Credential []byte // the credential record, opaque to this package
	SignCount  uint32
}

// Verified is a verified login: the sign count the authenticator sent,
// and whether it failed to move forward (the passkey may be cloned).
type Verified struct {
	SignCount    uint32
	CloneWarning bool
}

// PasskeyRecord is a passkey as stored.
type PasskeyRecord struct {
	ID        []byte // the credential ID, unique across accounts
	AccountID string
	Name      string
	// Credential is the credential record of Ceremonies (JSON); its sign
	// count is SignCount, kept apart so that it can be compared and set.
	Credential  []byte
	SignCount   uint32
	CreateTime  time.Time
	LastUseTime time.Time
	// FlagTime is when a sign count that did not move forward showed the
	// passkey may be cloned; a flagged passkey no longer signs in.
	FlagTime time.Time
}

// PasskeyID returns the public ID of a passkey: its credential ID in
// base64url, as WebAuthn clients show it.
func PasskeyID(credentialID []byte) string { return base64.RawURLEncoding.EncodeToString(credentialID) }

// PasskeyCeremony is the server's state of a begun ceremony, stored under
// the SHA-256 of its challenge until the client answers.
type PasskeyCeremony struct {
	Hash      []byte
	Purpose   string
	AccountID string // empty for a login without an identifier
	MFAHash   []byte // the MFA challenge a second step completes
	State     []byte
	Expire    time.Time
}

// Change is the outbox event and the audit record that a passkey write
// commits in its transaction. Event is nil for a record alone.
type Change struct {
	Event *outbox.Event
	Audit audit.Entry
}

// PasskeyStore keeps passkeys, user handles and ceremonies. Methods return
// fault.Unavailable when the database fails. Writes that take a Change
// append its event and audit record in their transaction.
type PasskeyStore interface {
	// UserHandle returns the user handle of a live account, storing fresh
	// as it when the account has none; fault.NotFound when the account is
	// gone.
	UserHandle(ctx context.Context, accountID string, fresh []byte) ([]byte, error)
	// HandleAccount returns the account of a user handle, or
	// fault.NotFound.
	HandleAccount(ctx context.Context, handle []byte) (string, error)
	// Passkeys lists the passkeys of an account, oldest first.
	Passkeys(ctx context.Context, accountID string) ([]PasskeyRecord, error)
	// InsertCeremony stores a begun ceremony.
	InsertCeremony(ctx context.Context, c PasskeyCeremony) error
	// ConsumeCeremony deletes an unexpired ceremony and returns it, or
	// returns fault.Aborted when it is unknown, used or expired. Under any
	// concurrency one caller gets it.
	ConsumeCeremony(ctx context.Context, hash []byte, now time.Time) (PasskeyCeremony, error)
	// AddPasskey stores a new passkey of a live account. It returns
	// fault.AlreadyExists when any account holds the credential ID and
	// fault.NotFound when the account is gone.
	AddPasskey(ctx context.Context, r PasskeyRecord, c Change) error
	// DeletePasskey removes a passkey of an account, or returns
	// fault.NotFound.
	DeletePasskey(ctx context.Context, accountID string, id []byte, c Change) error
	// UsePasskey moves the sign count of an unflagged passkey from old to
	// count and sets its last use (compare-and-set), or returns
	// fault.Aborted.
	UsePasskey(ctx context.Context, id []byte, old, count uint32, now time.Time, c Change) error
	// FlagPasskey marks a passkey possibly cloned.
	FlagPasskey(ctx context.Context, id []byte, now time.Time, c Change) error
	// RecordPasskeyChange commits c alone.
	RecordPasskeyChange(ctx context.Context, c Change) error
}

func (s *Service) passkeys(op string) (*PasskeyConfig, error) {
	if s.c.Passkeys == nil || s.c.Passkeys.Store == nil || s.c.Passkeys.RP == nil {
		return nil, fault.E(op, fault.FailedPrecondition, "passkeys are not enabled")
	}
	return s.c.Passkeys, nil
}

// hasSecondFactor reports whether an account has a confirmed TOTP secret
// or a passkey.
func (s *Service) hasSecondFactor(ctx context.Context, accountID string) (bool, error) {
	rec, err := s.c.Store.TOTP(ctx, accountID)
	switch {
	case err == nil && !rec.ConfirmTime.IsZero():
		return true, nil
	case err != nil && !fault.Is(err, fault.NotFound):
		return false, err
	}
	if s.c.Passkeys == nil || s.c.Passkeys.Store == nil {
		return false, nil
	}
	keys, err := s.c.Passkeys.Store.Passkeys(ctx, accountID)
	return len(keys) > 0, err
}

// passkeyUser returns the account as WebAuthn sees it, with its passkeys,
// creating its user handle when create is set.
func (s *Service) passkeyUser(ctx context.Context, p *PasskeyConfig, accountID string, create bool) (PasskeyUser, error) {
	var fresh []byte
	if create {
		fresh = make([]byte, userHandleBytes)
		if _, err := rand.Read(fresh); err != nil {
			return PasskeyUser{}, fault.Wrap("credential.passkeyUser", fault.Internal, err)
		}
	}
	handle, err := p.Store.UserHandle(ctx, accountID, fresh)
	if err != nil {
		return PasskeyUser{}, err
	}
	recs, err := p.Store.Passkeys(ctx, accountID)
	return PasskeyUser{Handle: handle, Name: accountID, Passkeys: recs}, err
}

// factorChangeAllowed guards adding and removing second factors: a
// session authenticated within FreshAuth (an AAL0 session too, which
// exists to enrol one), and an AAL2 session when the account already has
// a second factor, so that one factor alone never adds or removes
// another.
func (s *Service) factorChangeAllowed(ctx context.Context, op string, sess session.Session) error {
	enrolled, err := s.hasSecondFactor(ctx, sess.AccountID)
	if err != nil {
		return err
	}
	if enrolled {
		return s.stepUp(op, sess)
	}
	return s.fresh(op, sess)
}

// BeginPasskeyRegistration begins adding a passkey to the session's
// account and returns the options for navigator.credentials.create. Adding
// a credential is sensitive: it needs a recent session, AAL2 when the
// account already has a second factor (fault.PermissionDenied otherwise).
func (s *Service) BeginPasskeyRegistration(ctx context.Context, sess session.Session) (*Ceremony, error) {
	const op = "credential.BeginPasskeyRegistration"
	p, err := s.passkeys(op)
	if err != nil {
		return nil, err
	}
	if err := s.factorChangeAllowed(ctx, op, sess); err != nil {
		return nil, err
	}
	u, err := s.passkeyUser(ctx, p, sess.AccountID, true)
	if err != nil {
		return nil, err
	}
	c, err := p.RP.BeginRegistration(u)
	if err != nil {
		return nil, err
	}
	return c, s.storeCeremony(ctx, p, c, purposeRegister, sess.AccountID, nil)
}

func (s *Service) storeCeremony(ctx context.Context, p *PasskeyConfig, c *Ceremony, purpose, accountID string, mfa []byte) error {
	c.Expire = s.clock().Add(p.RP.Timeout())
	return p.Store.InsertCeremony(ctx, PasskeyCeremony{Hash: hashSecret(c.Challenge), Purpose: purpose,
		AccountID: accountID, MFAHash: mfa, State: c.State, Expire: c.Expire})
}

var errCeremony = fault.E("credential.passkey", fault.Unauthenticated, "passkey challenge unknown, used or expired")

// consumeCeremony takes the ceremony a response's challenge names, once.
func (s *Service) consumeCeremony(ctx context.Context, p *PasskeyConfig, challenge, purpose string) (PasskeyCeremony, error) {
	if len(challenge) > maxSecretInput {
		return PasskeyCeremony{}, errCeremony
	}
	c, err := p.Store.ConsumeCeremony(ctx, hashSecret(challenge), s.clock())
	if fault.Is(err, fault.Aborted) {
		return c, errCeremony
	}
	if err != nil {
		return c, err
	}
	if _, mfa := mfaFirstFactor(c.Purpose); c.Purpose != purpose && (purpose != purposeLogin || !mfa) {
		return c, errCeremony
	}
	return c, nil
}

// FinishPasskeyRegistration verifies the client's response (the JSON of
// the PublicKeyCredential) to the session account's registration ceremony
// and stores the passkey under name. Its ceremony is used once, whatever
// the outcome. It returns fault.Invalid for a malformed response or name,
// fault.Unauthenticated when the response fails verification or its
// challenge is unknown, used or expired, fault.AlreadyExists when any
// account holds the credential, and fault.PermissionDenied when the
// session no longer qualifies.
func (s *Service) FinishPasskeyRegistration(ctx context.Context, sess session.Session, name string, response []byte) (*PasskeyRecord, error) {
	const op = "credential.FinishPasskeyRegistration"
	p, err := s.passkeys(op)
	if err != nil {
		return nil, err
	}
	if name, err = passkeyName(op, name); err != nil {
		return nil, err
	}
	if err := s.factorChangeAllowed(ctx, op, sess); err != nil {
		return nil, err
	}
	reg, err := p.RP.ParseRegistration(response)
	if err != nil {
		return nil, err
	}
	c, err := s.consumeCeremony(ctx, p, reg.Challenge, purposeRegister)
	if err != nil {
		return nil, err
	}
	if c.AccountID != sess.AccountID {
		return nil, errCeremony
	}
	u, err := s.passkeyUser(ctx, p, sess.AccountID, false)
	if err != nil {
		return nil, err
	}
	cred, err := p.RP.FinishRegistration(u, c.State, reg)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	rec := PasskeyRecord{ID: cred.ID, AccountID: sess.AccountID, Name: name, Credential: cred.Credential,
		SignCount: cred.SignCount, CreateTime: now}
	ch := passkeyChange(ctx, sess.AccountID, outbox.New("atrium.credential.passkey_added", sess.AccountID, now,
		map[string]any{"passkey": PasskeyID(cred.ID)}))
	if err := p.Store.AddPasskey(ctx, rec, ch); err != nil {
		if fault.Is(err, fault.AlreadyExists) {
			return nil, fault.E(op, fault.AlreadyExists, "this passkey is already registered")
		}
		return nil, err
	}
	return &rec, nil
}

// passkeyName checks the name a user gives a passkey: "Passkey" when
// empty, at most MaxPasskeyName bytes of printable UTF-8.
func passkeyName(op, name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "Passkey", nil
	}
	ok := len(name) <= MaxPasskeyName && utf8.ValidString(name)
	for _, r := range name {
		ok = ok && r >= ' ' && r != 0x7f
	}
	if !ok {
		return "", fault.Invalidf(op, []fault.Violation{{Field: "name", Reason: "must be printable and at most 100 bytes"}}, "bad passkey name")
	}
	return name, nil
}

// Passkeys lists the passkeys of the session's account.
func (s *Service) Passkeys(ctx context.Context, sess session.Session) ([]PasskeyRecord, error) {
	p, err := s.passkeys("credential.Passkeys")
	if err != nil {
		return nil, err
	}
	return p.Store.Passkeys(ctx, sess.AccountID)
}

// DeletePasskey removes a passkey of the session's account. Removing a
// credential is sensitive: the account has a second factor (this
// passkey), so it needs a recent AAL2 session (fault.PermissionDenied
// otherwise). It returns fault.NotFound when the account holds no such
// passkey.
func (s *Service) DeletePasskey(ctx context.Context, sess session.Session, id string) error {
	const op = "credential.DeletePasskey"
	p, err := s.passkeys(op)
	if err != nil {
		return err
	}
	if err := s.factorChangeAllowed(ctx, op, sess); err != nil {
		return err
	}
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(raw) == 0 || len(raw) > maxCredentialID {
		return fault.E(op, fault.NotFound, "no such passkey")
	}
	if err := s.keepsEnforcedFactor(ctx, op, sess.AccountID, p); err != nil {
		return err
	}
	ch := passkeyChange(ctx, sess.AccountID, outbox.New("atrium.credential.passkey_removed", sess.AccountID, s.clock(),
		map[string]any{"passkey": id}))
	return p.Store.DeletePasskey(ctx, sess.AccountID, raw, ch)
}

// keepsEnforcedFactor refuses removing a passkey of an account whose kind
// requires a second factor when it is the account's last one.
func (s *Service) keepsEnforcedFactor(ctx context.Context, op, accountID string, p *PasskeyConfig) error {
	kindName, _, err := s.c.Store.AccountState(ctx, accountID)
	if err != nil || !s.mfaRequired(kindName) {
		return err
	}
	rec, err := s.c.Store.TOTP(ctx, accountID)
	if err == nil && !rec.ConfirmTime.IsZero() {
		return nil
	}
	if err != nil && !fault.Is(err, fault.NotFound) {
		return err
	}
	keys, err := p.Store.Passkeys(ctx, accountID)
	if err != nil || len(keys) > 1 {
		return err
	}
	return fault.E(op, fault.FailedPrecondition, "the account's kind requires a second factor")
}

// BeginPasskeyLogin begins a passkey login and returns the options for
// navigator.credentials.get. Without mfaChallenge it is a login without an
// identifier: any discoverable passkey may answer. With the challenge of a
// password login (LoginResult.Challenge) it is that login's second step,
// and only the account's passkeys may answer. It returns
// fault.Unauthenticated for an unknown or expired MFA challenge,
// fault.FailedPrecondition when that account has no passkey, and
// fault.ResourceExhausted when the client begins too many.
func (s *Service) BeginPasskeyLogin(ctx context.Context, mfaChallenge, client string) (*Ceremony, error) {
	const op = "credential.BeginPasskeyLogin"
	p, err := s.passkeys(op)
	if err != nil {
		return nil, err
	}
	if err := limitRate(ctx, p.Ceremonies, "passkey-begin/"+client); err != nil {
		return nil, err
	}
	if mfaChallenge == "" {
		c, err := p.RP.BeginLogin(nil)
		if err != nil {
			return nil, err
		}
		return c, s.storeCeremony(ctx, p, c, purposeLogin, "", nil)
	}
	if len(mfaChallenge) > maxSecretInput {
		return nil, errMFA
	}
	mfa := hashSecret(mfaChallenge)
	accountID, err := s.c.Store.ChallengeAccount(ctx, mfa, s.clock())
	if fault.Is(err, fault.NotFound) {
		return nil, errMFA
	}
	if err != nil {
		return nil, err
	}
	u, err := s.passkeyUser(ctx, p, accountID, false)
	if fault.Is(err, fault.NotFound) || (err == nil && len(u.Passkeys) == 0) {
		return nil, fault.E(op, fault.FailedPrecondition, "the account has no passkey")
	}
	if err != nil {
		return nil, err
	}
	c, err := p.RP.BeginLogin(&u)
	if err != nil {
		return nil, err
	}
	return c, s.storeCeremony(ctx, p, c, mfaPurposes[firstFactor(mfaChallenge)], accountID, mfa)
}

var errPasskeyLogin = fault.E("credential.FinishPasskeyLogin", fault.Unauthenticated, "passkey login failed")

// FinishPasskeyLogin verifies the client's response to a login ceremony
// and returns an AAL2 session: a passkey with user verification is two
// factors, and as the second step of a password login it is the second
// one. The ceremony is used once whatever the outcome; the sign count must
// move forward (or stay 0 for authenticators that keep none), and a
// passkey whose count went back is flagged as possibly cloned and refused
// from then on. Every refusal goes through the same limiter as passwords
// and codes and is recorded when the account is known.
//
// Errors: fault.Invalid for a malformed response; fault.Unauthenticated
// for any response that does not verify, an unknown, used or expired
// challenge, or a flagged passkey; fault.ResourceExhausted when
// throttled; fault.PermissionDenied when the account is not active.
func (s *Service) FinishPasskeyLogin(ctx context.Context, response []byte, client string) (*LoginResult, error) {
	const op = "credential.FinishPasskeyLogin"
	p, err := s.passkeys(op)
	if err != nil {
		return nil, err
	}
	a, err := p.RP.ParseAssertion(response)
	if err != nil {
		return nil, err
	}
	anonymous := throttle.Subject{Client: client}
	if err := s.c.Limiter.Check(ctx, anonymous); err != nil {
		return nil, err
	}
	c, err := s.consumeCeremony(ctx, p, a.Challenge, purposeLogin)
	if err != nil {
		return nil, s.failErr(ctx, anonymous, err)
	}
	accountID := c.AccountID
	first, mfa := mfaFirstFactor(c.Purpose)
	var att *throttle.Attempt
	if mfa {
		att, err = s.beginCodes(ctx, accountID, client)
	} else {
		accountID, err = p.Store.HandleAccount(ctx, a.UserHandle)
		if fault.Is(err, fault.NotFound) {
			return nil, s.fail(ctx, anonymous, errPasskeyLogin)
		}
		if err == nil {
			att, err = s.c.Limiter.Begin(ctx, throttle.Subject{Account: accountID, Client: client})
		}
	}
	if err != nil {
		return nil, err
	}
	defer att.Release(ctx)
	state, err := s.verifyAssertion(ctx, p, accountID, c, a)
	if fault.Is(err, fault.Unauthenticated) {
		return nil, failed(ctx, att, err)
	}
	if err != nil {
		return nil, err
	}
	if err := att.Succeed(ctx); err != nil {
		return nil, err
	}
	methods := []string{MethodPasskey, methodMFA}
	if mfa {
		if err := s.c.Store.ConsumeChallenge(ctx, c.MFAHash, s.clock()); fault.Is(err, fault.Aborted) {
			return nil, errMFA
		} else if err != nil {
			return nil, err
		}
		methods = []string{first, MethodPasskey}
	}
	tok, sess, err := s.c.Sessions.Issue(ctx, session.Grant{AccountID: accountID, AccountState: state, AAL: session.AAL2, Methods: methods})
	if err != nil {
		return nil, err
	}
	return &LoginResult{Token: tok, Session: sess}, nil
}

// failErr counts a failed attempt when err is a refusal of the attempt
// (fault.Unauthenticated) and returns err.
func (s *Service) failErr(ctx context.Context, subject throttle.Subject, err error) error {
	if !fault.Is(err, fault.Unauthenticated) {
		return err
	}
	return s.fail(ctx, subject, err)
}

// verifyAssertion checks a against the ceremony c for the account and
// that the account is active, then moves the passkey's sign count forward
// and records the login. It returns the account's state. Refusals of the
// answer are errPasskeyLogin and are recorded with their reason; an
// account that is not active is fault.PermissionDenied.
func (s *Service) verifyAssertion(ctx context.Context, p *PasskeyConfig, accountID string, c PasskeyCeremony, a *Answer) (string, error) {
	u, err := s.passkeyUser(ctx, p, accountID, false)
	if fault.Is(err, fault.NotFound) {
		return "", errPasskeyLogin
	}
	if err != nil {
		return "", err
	}
	var rec *PasskeyRecord
	for i := range u.Passkeys {
		if bytes.Equal(u.Passkeys[i].ID, a.CredentialID) {
			rec = &u.Passkeys[i]
		}
	}
	if rec == nil {
		return "", errPasskeyLogin
	}
	now := s.clock()
	refuse := func(reason string, write func(Change) error) error {
		ch := passkeyChange(ctx, accountID, outbox.New("atrium.credential.passkey_login_failed", accountID, now,
			map[string]any{"passkey": PasskeyID(rec.ID), "reason": reason}))
		if err := write(ch); err != nil {
			return err
		}
		return errPasskeyLogin
	}
	record := func(c Change) error { return p.Store.RecordPasskeyChange(ctx, c) }
	if !rec.FlagTime.IsZero() {
		return "", refuse(reasonFlagged, record)
	}
	v, err := p.RP.FinishLogin(u, c.State, a)
	if fault.Is(err, fault.Unauthenticated) {
		return "", refuse(reasonVerification, record)
	}
	if err != nil {
		return "", err
	}
	if v.CloneWarning {
		return "", refuse(reasonSignCount, func(c Change) error { return p.Store.FlagPasskey(ctx, rec.ID, now, c) })
	}
	kindName, state, err := s.c.Store.AccountState(ctx, accountID)
	if err != nil {
		return "", err
	}
	if err := s.active("credential.FinishPasskeyLogin", kindName, state); err != nil {
		return "", err
	}
	_, mfa := mfaFirstFactor(c.Purpose)
	ok := passkeyChange(ctx, accountID, outbox.New("atrium.credential.passkey_login_succeeded", accountID, now,
		map[string]any{"passkey": PasskeyID(rec.ID), "mfa": mfa}))
	err = p.Store.UsePasskey(ctx, rec.ID, rec.SignCount, v.SignCount, now, ok)
	if fault.Is(err, fault.Aborted) {
		// A concurrent login moved the count or flagged the passkey: the
		// count of this assertion is no longer ahead.
		return "", refuse(reasonReused, record)
	}
	if err != nil {
		return "", err
	}
	return state, nil
}

// passkeyChange pairs event e about an account with its audit record,
// attributed to the actor in ctx.
func passkeyChange(ctx context.Context, accountID string, e outbox.Event) Change {
	var data map[string]any
	_ = json.Unmarshal(e.Data, &data) // e.Data was marshalled from a map by outbox.New
	if data == nil {
		data = map[string]any{}
	}
	data["event"] = e.ID
	b, _ := json.Marshal(data)
	return Change{Event: &e, Audit: audit.Entry{ID: ids.New("aud"), Type: e.Type, Account: accountID, Time: e.Time, Data: b, Actor: audit.ActorFrom(ctx)}}
}
