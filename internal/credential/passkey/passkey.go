// Package passkey runs the WebAuthn Level 2 ceremonies of one relying
// party (registration and authentication with passkeys) on top of
// github.com/go-webauthn/webauthn: it builds the options a client passes
// to navigator.credentials, parses the client's response within size
// limits, and verifies it against the state kept since the ceremony began.
//
// The relying party ID and the accepted origins come from configuration,
// never from a request. Every ceremony requires user verification, so a
// passkey alone is two factors (something the user has, unlocked by
// something the user knows or is), and every credential is discoverable,
// so a login needs no identifier. Storage, single use of challenges and
// sign counts are the caller's (see credential.PasskeyStore).
package passkey

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/atriumid/atrium/internal/fault"
)

// Limits on what a client sends and what a credential may hold.
const (
	// MaxResponseBytes bounds a client's response to a ceremony before it
	// is parsed.
	MaxResponseBytes = 64 << 10
	// MaxNameLen bounds the display name a user gives a passkey, in bytes.
	MaxNameLen = 100
	// HandleBytes is the length of a random user handle.
	HandleBytes = 32
	// DefaultTimeout is how long a begun ceremony may be finished.
	DefaultTimeout = 5 * time.Minute
)

// Config is a relying party.
type Config struct {
	// RPID is the relying party ID, a registrable domain suffix of the
	// origins' hosts ("id.example.com", or "localhost").
	RPID string
	// Origins are the origins a client's response may come from
	// ("https://id.example.com").
	Origins []string
	// Name is shown by authenticators, such as "Atrium".
	Name string
	// Timeout bounds a ceremony; DefaultTimeout when zero.
	Timeout time.Duration
}

// RelyingParty runs the ceremonies of one configured relying party. It is
// safe for concurrent use.
type RelyingParty struct {
	wa      *webauthn.WebAuthn
	timeout time.Duration
}

// New returns the relying party of c, or fault.Invalid when its ID or
// origins are not usable.
func New(c Config) (*RelyingParty, error) {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Name == "" {
		c.Name = c.RPID
	}
	uv := protocol.VerificationRequired
	t := webauthn.TimeoutConfig{Enforce: true, Timeout: c.Timeout, TimeoutUVD: c.Timeout}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:                  c.RPID,
		RPDisplayName:         c.Name,
		RPOrigins:             c.Origins,
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification:   uv,
		},
		Timeouts: webauthn.TimeoutsConfig{Login: t, Registration: t},
	})
	if err != nil {
		return nil, fault.Wrap("passkey.New", fault.Invalid, err)
	}
	return &RelyingParty{wa: wa, timeout: c.Timeout}, nil
}

// RPID returns the relying party ID.
func (rp *RelyingParty) RPID() string { return rp.wa.Config.RPID }

// Timeout returns how long a begun ceremony may be finished.
func (rp *RelyingParty) Timeout() time.Duration { return rp.timeout }

// NewHandle returns a random user handle: WebAuthn's user.id, which holds
// no personal data and never changes for an account.
func NewHandle() ([]byte, error) {
	b := make([]byte, HandleBytes)
	if _, err := rand.Read(b); err != nil {
		return nil, fault.Wrap("passkey.NewHandle", fault.Internal, err)
	}
	return b, nil
}

// User is an account as WebAuthn sees it. It implements webauthn.User.
type User struct {
	Handle      []byte
	Name        string // shown by authenticators; an identifier or the account ID
	Credentials []webauthn.Credential
}

// WebAuthnID returns the user handle.
func (u *User) WebAuthnID() []byte { return u.Handle }

// WebAuthnName returns the name authenticators show.
func (u *User) WebAuthnName() string { return u.Name }

// WebAuthnDisplayName returns the name authenticators show.
func (u *User) WebAuthnDisplayName() string { return u.Name }

// WebAuthnCredentials returns the user's passkeys.
func (u *User) WebAuthnCredentials() []webauthn.Credential { return u.Credentials }

// Ceremony is a begun ceremony: the options for the client, and the state
// the server keeps until the client answers, under its challenge.
type Ceremony struct {
	// Options is {"publicKey": {...}}, the JSON form of the options of
	// navigator.credentials.create or .get.
	Options json.RawMessage
	// Challenge is the base64url challenge, 256 random bits; a response
	// names it in its client data.
	Challenge string
	// State is the server's record of the ceremony (go-webauthn's
	// SessionData as JSON).
	State  []byte
	Expire time.Time
}

// BeginRegistration begins registering a new passkey for u, excluding the
// authenticators that already hold one of u's credentials.
func (rp *RelyingParty) BeginRegistration(u *User) (*Ceremony, error) {
	exclude := make([]protocol.CredentialDescriptor, 0, len(u.Credentials))
	for _, c := range u.Credentials {
		exclude = append(exclude, c.Descriptor())
	}
	opts, sd, err := rp.wa.BeginRegistration(u, webauthn.WithExclusions(exclude))
	if err != nil {
		return nil, fault.Wrap("passkey.BeginRegistration", fault.Internal, err)
	}
	return ceremony(opts, sd)
}

// BeginLogin begins an authentication. With u, the client may use u's
// credentials only (the second step after a password); without, any
// discoverable credential of this relying party (a login without an
// identifier).
func (rp *RelyingParty) BeginLogin(u *User) (*Ceremony, error) {
	uv := webauthn.WithUserVerification(protocol.VerificationRequired)
	var (
		opts *protocol.CredentialAssertion
		sd   *webauthn.SessionData
		err  error
	)
	if u == nil {
		opts, sd, err = rp.wa.BeginDiscoverableLogin(uv)
	} else {
		opts, sd, err = rp.wa.BeginLogin(u, uv)
	}
	if err != nil {
		return nil, fault.Wrap("passkey.BeginLogin", fault.Internal, err)
	}
	return ceremony(opts, sd)
}

func ceremony(opts any, sd *webauthn.SessionData) (*Ceremony, error) {
	o, err := json.Marshal(opts)
	if err != nil {
		return nil, fault.Wrap("passkey.ceremony", fault.Internal, err)
	}
	st, err := json.Marshal(sd)
	if err != nil {
		return nil, fault.Wrap("passkey.ceremony", fault.Internal, err)
	}
	return &Ceremony{Options: o, Challenge: sd.Challenge, State: st, Expire: sd.Expires}, nil
}

func readState(op string, state []byte) (webauthn.SessionData, error) {
	var sd webauthn.SessionData
	if err := json.Unmarshal(state, &sd); err != nil {
		return sd, fault.Wrap(op, fault.Internal, err)
	}
	return sd, nil
}

// Registration is a client's parsed answer to a registration ceremony.
type Registration struct {
	parsed *protocol.ParsedCredentialCreationData
	// Challenge is the challenge the client data names.
	Challenge string
}

// ParseRegistration parses a client's response to navigator.credentials
// .create (the PublicKeyCredential's JSON form) without verifying it. The
// error is fault.Invalid (violation "credential") or fault.TooLarge.
func ParseRegistration(response []byte) (*Registration, error) {
	const op = "passkey.ParseRegistration"
	if err := checkSize(op, response); err != nil {
		return nil, err
	}
	p, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, malformed(op, err)
	}
	return &Registration{parsed: p, Challenge: p.Response.CollectedClientData.Challenge}, nil
}

// FinishRegistration verifies r against the state of its ceremony for u:
// type, challenge, origin, RP ID hash, the user present and verified
// flags, the algorithm and the attestation statement (W3C WebAuthn L2
// §7.1). It returns the new credential, or fault.Unauthenticated.
func (rp *RelyingParty) FinishRegistration(u *User, state []byte, r *Registration) (*webauthn.Credential, error) {
	const op = "passkey.FinishRegistration"
	sd, err := readState(op, state)
	if err != nil {
		return nil, err
	}
	c, err := rp.wa.CreateCredential(u, sd, r.parsed)
	if err != nil {
		return nil, refused(op, err)
	}
	return c, nil
}

// Assertion is a client's parsed answer to an authentication ceremony.
type Assertion struct {
	parsed *protocol.ParsedCredentialAssertionData
	// Challenge is the challenge the client data names.
	Challenge string
	// CredentialID is the raw ID of the credential used.
	CredentialID []byte
	// UserHandle is the user handle the authenticator returned; empty when
	// it returned none (allowed only when the ceremony named the user).
	UserHandle []byte
}

// ParseAssertion parses a client's response to navigator.credentials.get
// without verifying it. The error is fault.Invalid (violation
// "credential") or fault.TooLarge.
func ParseAssertion(response []byte) (*Assertion, error) {
	const op = "passkey.ParseAssertion"
	if err := checkSize(op, response); err != nil {
		return nil, err
	}
	p, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return nil, malformed(op, err)
	}
	return &Assertion{parsed: p, Challenge: p.Response.CollectedClientData.Challenge,
		CredentialID: p.RawID, UserHandle: p.Response.UserHandle}, nil
}

// FinishLogin verifies a against the state of its ceremony and u, who must
// hold the credential a names: type, challenge, origin, RP ID hash, the
// user present and verified flags and the signature (W3C WebAuthn L2
// §7.2). It returns the credential with its flags and sign count updated;
// Authenticator.CloneWarning is set when the sign count did not move
// forward, which the caller must treat as a refusal. Any other failure is
// fault.Unauthenticated.
func (rp *RelyingParty) FinishLogin(u *User, state []byte, a *Assertion) (*webauthn.Credential, error) {
	const op = "passkey.FinishLogin"
	sd, err := readState(op, state)
	if err != nil {
		return nil, err
	}
	var c *webauthn.Credential
	if len(sd.UserID) == 0 {
		_, c, err = rp.wa.ValidatePasskeyLogin(func(_, handle []byte) (webauthn.User, error) {
			if !bytes.Equal(handle, u.Handle) {
				return nil, errors.New("user handle of another account")
			}
			return u, nil
		}, sd, a.parsed)
	} else {
		c, err = rp.wa.ValidateLogin(u, sd, a.parsed)
	}
	if err != nil {
		return nil, refused(op, err)
	}
	return c, nil
}

func checkSize(op string, response []byte) error {
	if len(response) > MaxResponseBytes {
		return fault.E(op, fault.TooLarge, "credential larger than %d bytes", MaxResponseBytes)
	}
	return nil
}

func malformed(op string, err error) error {
	return &fault.Error{Op: op, Kind: fault.Invalid, Msg: "malformed credential",
		Violations: []fault.Violation{{Field: "credential", Reason: "not a WebAuthn public key credential"}}, Err: err}
}

// refused is the error of a response that failed verification. The
// library's details (which check failed) stay in the hidden cause.
func refused(op string, err error) error {
	return &fault.Error{Op: op, Kind: fault.Unauthenticated, Msg: "passkey verification failed", Err: err}
}
