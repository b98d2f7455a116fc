package credential

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/audit"
	"github.com/atriumid/atrium/internal/chain"
	"github.com/atriumid/atrium/internal/credential/siwe"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/ids"
	"github.com/atriumid/atrium/internal/outbox"
	"github.com/atriumid/atrium/internal/session"
	"github.com/atriumid/atrium/internal/throttle"
)

// Wallet sign-in (EIP-4361) settings and names.
const (
	// NonceTTL is how long an issued sign-in nonce may be used.
	NonceTTL = 5 * time.Minute
	// MethodWallet is the session method of a wallet sign-in: RFC 8176
	// "swk", proof of possession of a software-secured key. Atrium cannot
	// tell a hardware wallet from a software one, so it claims the weaker.
	MethodWallet = "swk"
	// LinkStatement is the exact statement of a message that links a
	// wallet to the signed-in account. A sign-in message must not carry
	// it, so that a signature given to link is never a login.
	LinkStatement = "Link this wallet to my account."
	// SignupKind is the kind of the account a first wallet sign-in creates,
	// when that kind allows self-service and accepts wallet identifiers.
	SignupKind = "user"
	// WalletIdentifier is the identifier type of wallets.
	WalletIdentifier = "wallet"
)

// WalletConfig holds what wallet sign-in needs. Origin, URI and ChainIDs
// come from configuration only, never from a request.
type WalletConfig struct {
	Store WalletStore
	// Origin is the relying party's origin ("https://id.example.com"),
	// URI the URI sign-in messages must lie under (see siwe.Policy).
	Origin, URI string
	ChainIDs    []uint64
	// Verifier checks contract-wallet signatures (ERC-1271, ERC-6492) on
	// the chains listed in RPCChains; nil, or a chain not listed, accepts
	// EOA signatures only.
	Verifier  siwe.WalletVerifier
	RPCChains []uint64
	// Nonces limits how many nonces one client address may ask for.
	Nonces *throttle.Limiter
	// ENS resolves ENS names on chain ENSChainID; nil leaves ENS names
	// off. See VerifyENS.
	ENS        ENSResolver
	ENSChainID uint64
}

// WalletRecord is a wallet identifier as stored.
type WalletRecord struct {
	Value      string // the identity key, see NormalizeWallet
	CreateTime time.Time
	VerifyTime time.Time
}

// IdentifierChange is a change to one identifier of an account, which the
// store makes in one transaction with the event and audit record Record
// returns for the account's kind and new version.
type IdentifierChange struct {
	AccountID, Value string
	Time             time.Time
	Record           func(kind string, version int64) (outbox.Event, audit.Entry, error)
}

// WalletStore keeps sign-in nonces, removes wallet identifiers and keeps
// ENS identifiers. Methods return fault.Unavailable when the database
// fails.
type WalletStore interface {
	// InsertNonce stores the hash of an issued nonce.
	InsertNonce(ctx context.Context, hash []byte, expire time.Time) error
	// ConsumeNonce marks an issued, unexpired, unused nonce used, or
	// returns fault.Aborted. Under any concurrency one caller wins.
	ConsumeNonce(ctx context.Context, hash []byte, now time.Time) error
	// Wallets lists the wallet identifiers of an account.
	Wallets(ctx context.Context, accountID string) ([]WalletRecord, error)
	// DeleteWallet removes the wallet identifier c.Value from a live
	// account. It returns fault.NotFound when the account does not hold
	// it, and fault.FailedPrecondition wrapping ErrLastSignIn when it is
	// the account's only wallet and the account has no password nor
	// passkey.
	DeleteWallet(ctx context.Context, c IdentifierChange) error
	ENSStore
}

// NormalizeWallet returns the stored form of a wallet identifier, which is
// its identity key (chain.AccountID.Key): "eip155:0:<EIP-55 address>" names
// a wallet whose key was proven, the same on every chain;
// "eip155:<chain>:<EIP-55 address>" names a contract wallet proven on that
// chain only. The error is fault.Invalid.
func NormalizeWallet(v string) (string, error) {
	if rest, ok := strings.CutPrefix(v, "eip155:0:"); ok {
		a, err := chain.ParseAddress(rest)
		if err != nil {
			return "", fault.Wrap("credential.NormalizeWallet", fault.Invalid, err)
		}
		return chain.AccountID{Address: a}.Key(chain.KeyControl), nil
	}
	id, err := chain.ParseAccountID(v)
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

// Nonce is an issued sign-in nonce.
type Nonce struct {
	Value  string
	Expire time.Time
}

// NewNonce issues a sign-in nonce, valid for NonceTTL and usable once. It
// returns fault.ResourceExhausted when the client has asked for too many,
// and fault.FailedPrecondition when wallet sign-in is not configured.
func (s *Service) NewNonce(ctx context.Context, client string) (*Nonce, error) {
	w, err := s.wallets("credential.NewNonce")
	if err != nil {
		return nil, err
	}
	if err := limitRate(ctx, w.Nonces, "siwe-nonce/"+client); err != nil {
		return nil, err
	}
	n := &Nonce{Value: siwe.NewNonce(), Expire: s.clock().Add(NonceTTL)}
	if err := w.Store.InsertNonce(ctx, hashSecret(n.Value), n.Expire); err != nil {
		return nil, err
	}
	return n, nil
}

func (s *Service) wallets(op string) (*WalletConfig, error) {
	if s.c.Wallets == nil || s.c.Wallets.Store == nil {
		return nil, fault.E(op, fault.FailedPrecondition, "wallet sign-in is not enabled")
	}
	return s.c.Wallets, nil
}

// SignedMessage is an EIP-4361 message and its signature as a client sends
// them.
type SignedMessage struct {
	Message   string
	Signature string // 0x-prefixed hex
	Client    string // the client's address, for throttling
}

// WalletLogin is the result of a wallet sign-in: a session, or, when the
// account has a second factor, a challenge for LoginMFA.
type WalletLogin struct {
	LoginResult
	Account *account.Account // nil when MFARequired
	Wallet  string           // the identity key the account was found by
}

var errNonce = fault.E("credential.LoginWallet", fault.Unauthenticated, "sign-in message nonce is not valid")

// LoginWallet signs in with a signed EIP-4361 message. It checks the
// message against the configured origin, URI and chains, the clock and the
// signature (an EOA's, or a contract wallet's on chains with an endpoint),
// consumes its nonce, which must be one issued by NewNonce, then issues an
// AAL1 session for the account that holds the wallet; when none does, it
// creates a SignupKind account with it if that kind allows self-service
// and wallets. When the account has a confirmed second factor it issues,
// as Login does, a challenge instead: LoginMFA completes it with an AAL2
// session whose methods are MethodWallet and the second factor's.
//
// Errors: fault.Invalid for a malformed message or signature;
// fault.Unauthenticated for a message for another site, chain or time, a
// bad signature or a nonce not issued, expired or already used;
// fault.Unavailable when a contract wallet's chain cannot be asked;
// fault.ResourceExhausted when throttled; fault.PermissionDenied when no
// account holds the wallet and sign-up is closed, or the account is not
// active.
func (s *Service) LoginWallet(ctx context.Context, req SignedMessage) (*WalletLogin, error) {
	const op = "credential.LoginWallet"
	m, sig, err := s.readSigned(op, req)
	if err != nil {
		return nil, err
	}
	if m.Statement == LinkStatement {
		return nil, fault.E(op, fault.Unauthenticated, "a link message cannot sign in")
	}
	key, err := s.checkSigned(ctx, m, sig, throttle.Subject{Account: "wallet:" + m.Address.String(), Client: req.Client})
	if err != nil {
		return nil, err
	}
	acc, err := s.walletAccount(ctx, op, key)
	if err != nil {
		return nil, err
	}
	if err := s.active(op, acc.Kind, acc.State); err != nil {
		return nil, err
	}
	res, err := s.afterFirstFactor(ctx, acc.ID, acc.Kind, acc.State, MethodWallet)
	if err != nil {
		return nil, err
	}
	if res.MFARequired {
		acc = nil // shown only once both factors are proven
	}
	return &WalletLogin{LoginResult: *res, Account: acc, Wallet: key}, nil
}

// readSigned parses a message and its signature when wallet sign-in is on.
func (s *Service) readSigned(op string, req SignedMessage) (*siwe.Message, []byte, error) {
	if _, err := s.wallets(op); err != nil {
		return nil, nil, err
	}
	return ParseSigned(req)
}

// ParseSigned parses the message and the signature of req, within their
// size limits (siwe.MaxMessageLen, chain.MaxWrappedSignatureLen). It does
// no verification. The error is fault.Invalid.
func ParseSigned(req SignedMessage) (*siwe.Message, []byte, error) {
	const op = "credential.ParseSigned"
	if len(req.Message) > siwe.MaxMessageLen {
		return nil, nil, fault.Invalidf(op, []fault.Violation{{Field: "message", Reason: "too long"}}, "sign-in message too long")
	}
	m, err := siwe.Parse(req.Message)
	if err != nil {
		return nil, nil, fault.Wrap(op, fault.Invalid, err)
	}
	sig, err := chain.ParseSignature(req.Signature)
	if err != nil {
		return nil, nil, fault.Invalidf(op, []fault.Violation{{Field: "signature", Reason: "must be 0x-prefixed hex"}}, "malformed signature")
	}
	return m, sig, nil
}

// checkSigned verifies m and sig under the configured policy, then
// consumes m's nonce, counting every refusal against subject. It returns
// the wallet's identity key.
func (s *Service) checkSigned(ctx context.Context, m *siwe.Message, sig []byte, subject throttle.Subject) (string, error) {
	w := s.c.Wallets
	att, err := s.c.Limiter.Begin(ctx, subject)
	if err != nil {
		return "", err
	}
	defer att.Release(ctx)
	p := siwe.Policy{Origin: w.Origin, URI: w.URI, ChainIDs: w.ChainIDs, Nonce: m.Nonce,
		MaxClockSkew: siwe.DefaultMaxClockSkew, MaxAge: siwe.DefaultMaxAge}
	var verifier siwe.WalletVerifier
	if w.Verifier != nil && slices.Contains(w.RPCChains, m.ChainID) {
		verifier = w.Verifier
	}
	control, err := siwe.VerifyWallet(ctx, m, sig, p, s.c.Now(), verifier)
	if fault.Is(err, fault.Unauthenticated) {
		return "", failed(ctx, att, err)
	}
	if err != nil {
		return "", err
	}
	err = w.Store.ConsumeNonce(ctx, hashSecret(m.Nonce), s.clock())
	if fault.Is(err, fault.Aborted) {
		return "", failed(ctx, att, errNonce)
	}
	if err != nil {
		return "", err
	}
	if err := att.Succeed(ctx); err != nil {
		return "", err
	}
	return chain.AccountID{ChainID: m.ChainID, Address: m.Address}.Key(control), nil
}

// walletAccount returns the account that holds the wallet key, creating a
// SignupKind account when none does and the kind allows it. Two first
// sign-ins of one wallet at once create one account: the loser of the
// identifier's unique index finds the winner's.
func (s *Service) walletAccount(ctx context.Context, op, key string) (*account.Account, error) {
	acc, err := s.c.Accounts.Resolve(ctx, WalletIdentifier, key)
	if !fault.Is(err, fault.NotFound) {
		return acc, err
	}
	set, _ := s.c.Kinds.Current()
	k, ok := set.Kind(SignupKind)
	if !ok || !k.SelfService() || !k.AcceptsIdentifier(WalletIdentifier) {
		return nil, fault.E(op, fault.PermissionDenied, "no account holds this wallet")
	}
	acc, err = s.c.Accounts.Create(ctx, account.CreateRequest{Kind: k.Name, Identifiers: []account.IdentifierInput{{Type: WalletIdentifier, Value: key}}})
	if fault.Is(err, fault.AlreadyExists) {
		return s.c.Accounts.Resolve(ctx, WalletIdentifier, key)
	}
	if err != nil {
		return nil, err
	}
	now := s.markVerified(ctx, acc.ID, key)
	for i := range acc.Identifiers {
		acc.Identifiers[i].VerifyTime = now
	}
	return acc, nil
}

// markVerified records that the signature proved the wallet, and returns
// the verify time. Failing to record it loses only the verify time, so the
// error is dropped.
func (s *Service) markVerified(ctx context.Context, accountID, key string) time.Time {
	now := s.clock()
	s.c.Store.MarkIdentifierVerified(ctx, accountID, WalletIdentifier, key, now)
	return now
}

// stepUp refuses sessions that are not AAL2 or whose authentication is
// older than FreshAuth: the rule of every sensitive change.
func (s *Service) stepUp(op string, sess session.Session) error {
	if sess.AAL < session.AAL2 {
		return fault.E(op, fault.PermissionDenied, "a session with a second factor is required")
	}
	return s.fresh(op, sess)
}

// LinkWallet adds the wallet that signed req to the session's account. The
// message must pass every check of LoginWallet and carry LinkStatement. It
// needs a recent AAL2 session (fault.PermissionDenied otherwise) and
// returns fault.AlreadyExists when any account holds the wallet, besides
// the errors of LoginWallet.
func (s *Service) LinkWallet(ctx context.Context, sess session.Session, req SignedMessage) (*WalletRecord, error) {
	const op = "credential.LinkWallet"
	if err := s.stepUp(op, sess); err != nil {
		return nil, err
	}
	m, sig, err := s.readSigned(op, req)
	if err != nil {
		return nil, err
	}
	if m.Statement != LinkStatement {
		return nil, fault.Invalidf(op, []fault.Violation{{Field: "message", Reason: "statement must be " + `"` + LinkStatement + `"`}}, "not a link message")
	}
	key, err := s.checkSigned(ctx, m, sig, throttle.Subject{Account: sess.AccountID, Client: req.Client})
	if err != nil {
		return nil, err
	}
	id, err := s.c.Accounts.AddIdentifier(ctx, sess.AccountID, account.IdentifierInput{Type: WalletIdentifier, Value: key})
	if err != nil {
		return nil, err
	}
	verified := s.markVerified(ctx, sess.AccountID, key)
	return &WalletRecord{Value: id.Value, CreateTime: id.CreateTime, VerifyTime: verified}, nil
}

// ErrLastSignIn is wrapped by the fault.FailedPrecondition error of
// removing an account's only wallet when it has no password nor passkey:
// the account would have no way left to sign in.
var ErrLastSignIn = errors.New("the wallet is the account's only way to sign in")

// UnlinkWallet removes a wallet from the session's account, with an
// atrium.account.identifier_removed event and its audit record. It needs a
// recent AAL2 session (fault.PermissionDenied otherwise). It returns
// fault.Invalid for a malformed id, fault.NotFound when the account does
// not hold the wallet, and fault.FailedPrecondition wrapping ErrLastSignIn
// for the only wallet of an account without a password or passkey.
func (s *Service) UnlinkWallet(ctx context.Context, sess session.Session, id string) error {
	const op = "credential.UnlinkWallet"
	if err := s.stepUp(op, sess); err != nil {
		return err
	}
	w, err := s.wallets(op)
	if err != nil {
		return err
	}
	key, err := NormalizeWallet(id)
	if err != nil {
		return fault.Invalidf(op, []fault.Violation{{Field: "id", Reason: "must be a CAIP-10 account ID"}}, "malformed wallet id")
	}
	now := s.clock()
	return w.Store.DeleteWallet(ctx, IdentifierChange{AccountID: sess.AccountID, Value: key, Time: now,
		Record: func(kind string, version int64) (outbox.Event, audit.Entry, error) {
			return recordOf(ctx, outbox.New("atrium.account.identifier_removed", sess.AccountID, now,
				map[string]any{"identifier_type": WalletIdentifier, "kind": kind, "version": version}))
		}})
}

// recordOf returns e and its audit record, which keeps e's data and ID.
func recordOf(ctx context.Context, e outbox.Event) (outbox.Event, audit.Entry, error) {
	var data map[string]any
	if err := json.Unmarshal(e.Data, &data); err != nil {
		return e, audit.Entry{}, fault.Wrap("credential.recordOf", fault.Internal, err)
	}
	data["event"] = e.ID
	b, err := json.Marshal(data)
	if err != nil {
		return e, audit.Entry{}, fault.Wrap("credential.recordOf", fault.Internal, err)
	}
	return e, audit.Entry{ID: ids.New("aud"), Type: e.Type, Account: e.Subject, Time: e.Time, Data: b, Actor: audit.ActorFrom(ctx)}, nil
}

// Wallets lists the wallets of the session's account.
func (s *Service) Wallets(ctx context.Context, sess session.Session) ([]WalletRecord, error) {
	w, err := s.wallets("credential.Wallets")
	if err != nil {
		return nil, err
	}
	return w.Store.Wallets(ctx, sess.AccountID)
}

// WalletChain splits a stored wallet identifier into its chain ID (0 for a
// wallet proven by its key) and address.
func WalletChain(value string) (uint64, chain.Address, error) {
	if rest, ok := strings.CutPrefix(value, "eip155:0:"); ok {
		a, err := chain.ParseAddress(rest)
		return 0, a, err
	}
	id, err := chain.ParseAccountID(value)
	return id.ChainID, id.Address, err
}
