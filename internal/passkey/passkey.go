// Package passkey runs the WebAuthn Level 2 ceremonies of one relying
// party (registration and authentication with passkeys) over
// github.com/go-webauthn/webauthn: it builds the options a client passes
// to navigator.credentials, parses the client's response within size
// limits, and verifies it against the state kept since the ceremony began.
// It implements credential.Ceremonies; the credential package owns the
// flows, storage and single use of challenges and sign counts. (It sits
// outside credential because the library depends on net/http.)
//
// The relying party ID and the accepted origins come from configuration,
// never from a request. Every ceremony requires user verification, so a
// passkey alone is two factors (something the user has, unlocked by
// something the user knows or is), and every credential is discoverable,
// so a login needs no identifier.
package passkey

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/atriumid/atrium/internal/credential"
	"github.com/atriumid/atrium/internal/fault"
)

// Limits on what a client sends.
const (
	// MaxResponseBytes bounds a client's response to a ceremony before it
	// is parsed.
	MaxResponseBytes = 64 << 10
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

var _ credential.Ceremonies = (*RelyingParty)(nil)

// New returns the relying party of c, or fault.Invalid when its ID or
// origins are not usable.
func New(c Config) (*RelyingParty, error) {
	if c.RPID == "" {
		return nil, fault.E("passkey.New", fault.Invalid, "a relying party ID is required")
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Name == "" {
		c.Name = c.RPID
	}
	t := webauthn.TimeoutConfig{Enforce: true, Timeout: c.Timeout, TimeoutUVD: c.Timeout}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:                  c.RPID,
		RPDisplayName:         c.Name,
		RPOrigins:             c.Origins,
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification:   protocol.VerificationRequired,
		},
		Timeouts: webauthn.TimeoutsConfig{Login: t, Registration: t},
	})
	if err != nil {
		return nil, fault.Wrap("passkey.New", fault.Invalid, err)
	}
	return &RelyingParty{wa: wa, timeout: c.Timeout}, nil
}

// Timeout returns how long a begun ceremony may be finished.
func (rp *RelyingParty) Timeout() time.Duration { return rp.timeout }

// user is an account as WebAuthn sees it.
type user struct {
	handle []byte
	name   string
	creds  []webauthn.Credential
}

func (u *user) WebAuthnID() []byte                         { return u.handle }
func (u *user) WebAuthnName() string                       { return u.name }
func (u *user) WebAuthnDisplayName() string                { return u.name }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// webauthnUser decodes the stored credential records of u, with their
// sign counts.
func webauthnUser(op string, u credential.PasskeyUser) (*user, error) {
	out := &user{handle: u.Handle, name: u.Name}
	for _, r := range u.Passkeys {
		var c webauthn.Credential
		if err := json.Unmarshal(r.Credential, &c); err != nil {
			return nil, fault.Wrap(op, fault.Internal, err)
		}
		c.Authenticator.SignCount = r.SignCount
		out.creds = append(out.creds, c)
	}
	return out, nil
}

// BeginRegistration begins registering a new passkey for u, excluding the
// authenticators that already hold one of u's credentials.
func (rp *RelyingParty) BeginRegistration(u credential.PasskeyUser) (*credential.Ceremony, error) {
	const op = "passkey.BeginRegistration"
	wu, err := webauthnUser(op, u)
	if err != nil {
		return nil, err
	}
	exclude := make([]protocol.CredentialDescriptor, 0, len(wu.creds))
	for _, c := range wu.creds {
		exclude = append(exclude, c.Descriptor())
	}
	opts, sd, err := rp.wa.BeginRegistration(wu, webauthn.WithExclusions(exclude))
	if err != nil {
		return nil, fault.Wrap(op, fault.Internal, err)
	}
	return ceremony(opts, sd)
}

// BeginLogin begins an authentication. With u, the client may use u's
// credentials only (the second step after a password); without, any
// discoverable credential of this relying party (a login without an
// identifier).
func (rp *RelyingParty) BeginLogin(u *credential.PasskeyUser) (*credential.Ceremony, error) {
	const op = "passkey.BeginLogin"
	uv := webauthn.WithUserVerification(protocol.VerificationRequired)
	var (
		opts *protocol.CredentialAssertion
		sd   *webauthn.SessionData
		err  error
	)
	if u == nil {
		opts, sd, err = rp.wa.BeginDiscoverableLogin(uv)
	} else {
		var wu *user
		if wu, err = webauthnUser(op, *u); err != nil {
			return nil, err
		}
		opts, sd, err = rp.wa.BeginLogin(wu, uv)
	}
	if err != nil {
		return nil, fault.Wrap(op, fault.Internal, err)
	}
	return ceremony(opts, sd)
}

func ceremony(opts any, sd *webauthn.SessionData) (*credential.Ceremony, error) {
	o, err := json.Marshal(opts)
	if err != nil {
		return nil, fault.Wrap("passkey.ceremony", fault.Internal, err)
	}
	st, err := json.Marshal(sd)
	if err != nil {
		return nil, fault.Wrap("passkey.ceremony", fault.Internal, err)
	}
	return &credential.Ceremony{Options: o, Challenge: sd.Challenge, State: st}, nil
}

func readState(op string, state []byte) (webauthn.SessionData, error) {
	var sd webauthn.SessionData
	if err := json.Unmarshal(state, &sd); err != nil {
		return sd, fault.Wrap(op, fault.Internal, err)
	}
	return sd, nil
}

// ParseRegistration parses a client's response to navigator.credentials
// .create (the PublicKeyCredential's JSON form) without verifying it. The
// error is fault.Invalid (violation "credential") or fault.TooLarge.
func (*RelyingParty) ParseRegistration(response []byte) (*credential.Answer, error) {
	return ParseRegistration(response)
}

// ParseRegistration is RelyingParty.ParseRegistration, which needs no
// relying party.
func ParseRegistration(response []byte) (*credential.Answer, error) {
	p, err := parse("passkey.ParseRegistration", response, protocol.ParseCredentialCreationResponseBytes)
	if err != nil {
		return nil, err
	}
	return &credential.Answer{Challenge: p.Response.CollectedClientData.Challenge, CredentialID: p.RawID, Parsed: p}, nil
}

// FinishRegistration verifies a against the state of its ceremony for u:
// type, challenge, origin, RP ID hash, the user present and verified
// flags, the algorithm and the attestation statement (W3C WebAuthn L2
// §7.1). It returns the new credential, or fault.Unauthenticated.
func (rp *RelyingParty) FinishRegistration(u credential.PasskeyUser, state []byte, a *credential.Answer) (*credential.NewPasskey, error) {
	const op = "passkey.FinishRegistration"
	p, ok := a.Parsed.(*protocol.ParsedCredentialCreationData)
	if !ok {
		return nil, fault.E(op, fault.Internal, "not a parsed registration")
	}
	sd, err := readState(op, state)
	if err != nil {
		return nil, err
	}
	wu, err := webauthnUser(op, u)
	if err != nil {
		return nil, err
	}
	c, err := rp.wa.CreateCredential(wu, sd, p)
	if err != nil {
		return nil, refused(op, err)
	}
	rec, err := json.Marshal(c)
	if err != nil {
		return nil, fault.Wrap(op, fault.Internal, err)
	}
	return &credential.NewPasskey{ID: c.ID, Credential: rec, SignCount: c.Authenticator.SignCount}, nil
}

// ParseAssertion parses a client's response to navigator.credentials.get
// without verifying it. The error is fault.Invalid (violation
// "credential") or fault.TooLarge.
func (*RelyingParty) ParseAssertion(response []byte) (*credential.Answer, error) {
	return ParseAssertion(response)
}

// ParseAssertion is RelyingParty.ParseAssertion, which needs no relying
// party.
func ParseAssertion(response []byte) (*credential.Answer, error) {
	p, err := parse("passkey.ParseAssertion", response, protocol.ParseCredentialRequestResponseBytes)
	if err != nil {
		return nil, err
	}
	return &credential.Answer{Challenge: p.Response.CollectedClientData.Challenge,
		CredentialID: p.RawID, UserHandle: p.Response.UserHandle, Parsed: p}, nil
}

// FinishLogin verifies a against the state of its ceremony and u, who must
// hold the credential a names: type, challenge, origin, RP ID hash, the
// user present and verified flags and the signature (W3C WebAuthn L2
// §7.2). It returns the new sign count, and CloneWarning when the count
// did not move forward, which the caller must treat as a refusal. Any
// other failure is fault.Unauthenticated.
func (rp *RelyingParty) FinishLogin(u credential.PasskeyUser, state []byte, a *credential.Answer) (credential.Verified, error) {
	const op = "passkey.FinishLogin"
	p, ok := a.Parsed.(*protocol.ParsedCredentialAssertionData)
	if !ok {
		return credential.Verified{}, fault.E(op, fault.Internal, "not a parsed assertion")
	}
	sd, err := readState(op, state)
	if err != nil {
		return credential.Verified{}, err
	}
	wu, err := webauthnUser(op, u)
	if err != nil {
		return credential.Verified{}, err
	}
	var c *webauthn.Credential
	if len(sd.UserID) == 0 {
		_, c, err = rp.wa.ValidatePasskeyLogin(func(_, handle []byte) (webauthn.User, error) {
			if !bytes.Equal(handle, wu.handle) {
				return nil, errors.New("user handle of another account")
			}
			return wu, nil
		}, sd, p)
	} else {
		c, err = rp.wa.ValidateLogin(wu, sd, p)
	}
	if err != nil {
		return credential.Verified{}, refused(op, err)
	}
	return credential.Verified{SignCount: c.Authenticator.SignCount, CloneWarning: c.Authenticator.CloneWarning}, nil
}

// parse checks the size of a response, then parses it with f; a response
// f refuses is fault.Invalid.
func parse[T any](op string, response []byte, f func([]byte) (T, error)) (T, error) {
	var zero T
	if len(response) > MaxResponseBytes {
		return zero, fault.E(op, fault.TooLarge, "credential larger than %d bytes", MaxResponseBytes)
	}
	p, err := f(response)
	if err != nil {
		return zero, &fault.Error{Op: op, Kind: fault.Invalid, Msg: "malformed credential",
			Violations: []fault.Violation{{Field: "credential", Reason: "not a WebAuthn public key credential"}}, Err: err}
	}
	return p, nil
}

// refused is the error of a response that failed verification. The
// library's details (which check failed) stay in the hidden cause.
func refused(op string, err error) error {
	return &fault.Error{Op: op, Kind: fault.Unauthenticated, Msg: "passkey verification failed", Err: err}
}
