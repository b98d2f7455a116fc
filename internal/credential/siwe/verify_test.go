package siwe

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"

	"github.com/atriumid/atrium/internal/chain"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/testvectors"
)

// vectorMaxAge lets the spruceid vectors, signed in 2022 and checked at
// times up to 2200, reach their own time checks: they predate Atrium's
// MaxAge rule, which TestVerifyTimes covers.
const vectorMaxAge = 200 * 365 * 24 * time.Hour

type verifyVector struct {
	fields
	Signature     string `json:"signature"`
	Time          string `json:"time"`
	DomainBinding string `json:"domainBinding"`
	MatchNonce    string `json:"matchNonce"`
}

// verifyVectorCase builds the message, signature, policy and time of a
// verification vector: the policy expects the vector's domainBinding (else
// its domain), its URI, chain and matchNonce (else its nonce), and now is
// its time (else its issued-at time).
func verifyVectorCase(t *testing.T, v verifyVector) (*Message, []byte, Policy, time.Time, error) {
	m, err := v.fields.message()
	if err != nil {
		return nil, nil, Policy{}, time.Time{}, err
	}
	sig, err := chain.ParseSignature(v.Signature)
	if err != nil {
		return nil, nil, Policy{}, time.Time{}, err
	}
	p := Policy{Origin: "https://" + m.Domain, URI: m.URI, ChainIDs: []uint64{m.ChainID}, Nonce: m.Nonce, MaxAge: vectorMaxAge}
	if v.DomainBinding != "" {
		p.Origin = "https://" + v.DomainBinding
		p.URI = ""
	}
	if v.MatchNonce != "" {
		p.Nonce = v.MatchNonce
	}
	now := m.IssuedAt.Time()
	if v.Time != "" {
		now = mustTime(t, v.Time)
	}
	return m, sig, p, now, nil
}

func TestVerifyPositiveVectors(t *testing.T) {
	var cases map[string]verifyVector
	testvectors.Decode(t, "siwe/verification_positive.json", &cases)
	if len(cases) != 4 {
		t.Fatalf("read %d positive verification vectors, want 4", len(cases))
	}
	for name, v := range cases {
		m, sig, p, now, err := verifyVectorCase(t, v)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if err := Verify(m, sig, p, now); err != nil {
			t.Errorf("Verify(%s) = %v, want nil", name, err)
		}
		// The message text round-trips, so a wallet's text verifies too.
		if parsed, err := Parse(m.String()); err != nil || Verify(parsed, sig, p, now) != nil {
			t.Errorf("Verify(Parse(%s)) failed: %v", name, err)
		}
	}
}

func TestVerifyNegativeVectors(t *testing.T) {
	var cases map[string]verifyVector
	testvectors.Decode(t, "siwe/verification_negative.json", &cases)
	if len(cases) != 10 {
		t.Fatalf("read %d negative verification vectors, want 10", len(cases))
	}
	// The reason each case must fail for; the others are malformed input.
	reasons := map[string]error{
		"not yet valid": ErrNotYetValid, "expired message": ErrExpired, "custom time": ErrExpired,
		"custom nonce": ErrNonceMismatch, "wrong signature": ErrNotEOASignature, "domain binding": ErrOriginMismatch,
	}
	for name, v := range cases {
		m, sig, p, now, err := verifyVectorCase(t, v)
		if err == nil {
			err = Verify(m, sig, p, now)
		}
		if want, ok := reasons[name]; ok {
			if !errors.Is(err, want) || !fault.Is(err, fault.Unauthenticated) {
				t.Errorf("Verify(%s) = %v, want Unauthenticated wrapping %v", name, err, want)
			}
		} else if !fault.Is(err, fault.Invalid) {
			t.Errorf("Verify(%s) = %v, want an Invalid error", name, err)
		}
	}
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// testKey is the well-known Hardhat/Anvil development key #0; public, never
// to be used with funds.
var testKey = secp256k1.PrivKeyFromBytes(mustHex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"))

const testAddress = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// sign returns the 65-byte personal_sign signature of text by key.
func sign(key *secp256k1.PrivateKey, text string) []byte {
	h := chain.PersonalMessageHash([]byte(text))
	c := ecdsa.SignCompact(key, h[:], false) // code ‖ r ‖ s, code = 27 + parity
	return append(c[1:], c[0])
}

// testMessage returns a valid message by testKey for https://atrium.example,
// issued at now, and a policy that accepts it.
func testMessage(t *testing.T, now time.Time) (*Message, Policy) {
	addr, err := chain.ParseAddressStrict(testAddress)
	if err != nil {
		t.Fatal(err)
	}
	nonce := NewNonce()
	m := &Message{
		Domain: "atrium.example", Address: addr, Statement: "Sign in to Atrium",
		URI: "https://atrium.example/v1/auth/siwe/login", Version: Version, ChainID: 10,
		Nonce: nonce, IssuedAt: NewTimestamp(now),
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	return m, Policy{Origin: "https://atrium.example", ChainIDs: []uint64{1, 10}, Nonce: nonce}
}

func TestVerify(t *testing.T) {
	now := mustTime(t, "2026-11-26T18:00:00Z")
	m, p := testMessage(t, now)
	sig := sign(testKey, m.String())
	if err := Verify(m, sig, p, now); err != nil {
		t.Fatalf("Verify(good) = %v", err)
	}
	other := secp256k1.PrivKeyFromBytes(mustHex("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"))
	compact := append([]byte(nil), sig[:64]...)
	compact[32] |= (sig[64] - 27) << 7
	if err := Verify(m, compact, p, now); err != nil {
		t.Errorf("Verify(EIP-2098 signature) = %v", err)
	}
	change := func(f func(m *Message, p *Policy)) (*Message, Policy) {
		m2, p2 := *m, p
		f(&m2, &p2)
		return &m2, p2
	}
	for _, c := range []struct {
		name string
		m    *Message
		p    Policy
		sig  []byte
		want error
	}{
		{"other origin", m, Policy{Origin: "https://evil.example", ChainIDs: p.ChainIDs, Nonce: p.Nonce}, sig, ErrOriginMismatch},
		{"http origin", m, Policy{Origin: "http://atrium.example", ChainIDs: p.ChainIDs, Nonce: p.Nonce}, sig, ErrOriginMismatch},
		{"other port", m, Policy{Origin: "https://atrium.example:8443", ChainIDs: p.ChainIDs, Nonce: p.Nonce}, sig, ErrOriginMismatch},
		{"scheme http", nil, Policy{}, nil, ErrOriginMismatch},
		{"userinfo in domain", nil, Policy{}, nil, ErrOriginMismatch},
		{"URI elsewhere", nil, Policy{}, nil, ErrURIMismatch},
		{"URI outside path", nil, Policy{}, nil, ErrURIMismatch},
		{"URI dot segments", nil, Policy{}, nil, ErrURIMismatch},
		{"chain not allowed", m, Policy{Origin: p.Origin, ChainIDs: []uint64{1}, Nonce: p.Nonce}, sig, ErrChainNotAllowed},
		{"nonce differs", m, Policy{Origin: p.Origin, ChainIDs: p.ChainIDs, Nonce: NewNonce()}, sig, ErrNonceMismatch},
		{"other key", m, p, sign(other, m.String()), ErrNotEOASignature},
		{"signature over other text", m, p, sign(testKey, m.String()+" "), ErrNotEOASignature},
		{"truncated signature", m, p, sig[:63], ErrNotEOASignature},
		{"high-s twin", m, p, highS(sig), ErrNotEOASignature},
		{"ERC-6492 wrapped", m, p, append(make([]byte, 96), mustHex(strings.Repeat("6492", 16))...), ErrNotEOASignature},
	} {
		msg, pol, s := c.m, c.p, c.sig
		switch c.name {
		case "scheme http":
			msg, pol = change(func(m *Message, _ *Policy) { m.Scheme = "http" })
		case "userinfo in domain":
			msg, pol = change(func(m *Message, _ *Policy) { m.Domain = "user@atrium.example" })
		case "URI elsewhere":
			msg, pol = change(func(m *Message, _ *Policy) { m.URI = "https://evil.example/v1/auth/siwe/login" })
		case "URI outside path":
			msg, pol = change(func(_ *Message, p *Policy) { p.URI = "https://atrium.example/v1/auth/siwe/log" })
		case "URI dot segments":
			msg, pol = change(func(m *Message, p *Policy) {
				m.URI = "https://atrium.example/v1/%2e%2e/admin"
				p.URI = "https://atrium.example/v1"
			})
		}
		if s == nil {
			s = sign(testKey, msg.String())
		}
		err := Verify(msg, s, pol, now)
		if !errors.Is(err, c.want) || !fault.Is(err, fault.Unauthenticated) {
			t.Errorf("Verify(%s) = %v, want Unauthenticated wrapping %v", c.name, err, c.want)
		}
	}
}

// highS returns the malleated twin of a 65-byte signature: s' = n - s with
// the parity flipped.
func highS(sig []byte) []byte {
	var s secp256k1.ModNScalar
	s.SetByteSlice(sig[32:64])
	s.Negate()
	out := append([]byte(nil), sig...)
	b := s.Bytes()
	copy(out[32:64], b[:])
	out[64] ^= 1
	return out
}

func TestVerifyAcceptsEquivalentOrigins(t *testing.T) {
	now := mustTime(t, "2026-11-26T18:00:00Z")
	for _, c := range []struct {
		scheme, domain, uri, origin, policyURI string
	}{
		{"", "atrium.example", "https://atrium.example", "https://atrium.example", ""},
		{"https", "atrium.example:443", "https://ATRIUM.example:443/x", "HTTPS://Atrium.Example/", ""},
		{"http", "localhost:8080", "http://localhost:8080/login", "http://localhost:8080", "http://localhost:8080/login"},
		{"", "[::1]:8443", "https://[::1]:8443/a/b", "https://[::1]:8443", "https://[::1]:8443/a"},
	} {
		m, p := testMessage(t, now)
		m.Scheme, m.Domain, m.URI = c.scheme, c.domain, c.uri
		p.Origin, p.URI = c.origin, c.policyURI
		if err := Verify(m, sign(testKey, m.String()), p, now); err != nil {
			t.Errorf("Verify(%s, %s, %s) under %s %s = %v", c.scheme, c.domain, c.uri, c.origin, c.policyURI, err)
		}
	}
}

func TestVerifyTimes(t *testing.T) {
	issued := mustTime(t, "2026-11-26T18:00:00Z")
	at := func(d time.Duration) Timestamp { return NewTimestamp(issued.Add(d)) }
	for _, c := range []struct {
		name           string
		exp, notBefore Timestamp
		now            time.Duration // after issued
		skew, maxAge   time.Duration
		want           error
	}{
		{"at issue", Timestamp{}, Timestamp{}, 0, 0, 0, nil},
		{"within default max age", Timestamp{}, Timestamp{}, 10*time.Minute + 59*time.Second, 0, 0, nil},
		{"past default max age and skew", Timestamp{}, Timestamp{}, 11*time.Minute + time.Second, 0, 0, ErrExpired},
		{"past custom max age", Timestamp{}, Timestamp{}, 2 * time.Minute, time.Second, time.Minute, ErrExpired},
		{"issued in the future within skew", Timestamp{}, Timestamp{}, -10*time.Minute - 30*time.Second, 0, 0, nil},
		{"issued too far in the future", Timestamp{}, Timestamp{}, -12 * time.Minute, 0, 0, ErrNotYetValid},
		{"before expiry", at(time.Minute), Timestamp{}, 30 * time.Second, 0, 0, nil},
		{"expired within skew", at(time.Minute), Timestamp{}, time.Minute + 59*time.Second, 0, 0, nil},
		{"expired past skew", at(time.Minute), Timestamp{}, 2 * time.Minute, 0, 0, ErrExpired},
		{"expired, no skew tolerance left", at(time.Minute), Timestamp{}, time.Minute + 2*time.Second, time.Second, 0, ErrExpired},
		{"not before, within skew", Timestamp{}, at(time.Minute), 30 * time.Second, 0, 0, nil},
		{"not before, past skew", Timestamp{}, at(5 * time.Minute), time.Minute, 0, 0, ErrNotYetValid},
		{"max age too large to add", Timestamp{}, Timestamp{}, 100 * 365 * 24 * time.Hour, 0, math.MaxInt64, nil},
	} {
		m, p := testMessage(t, issued)
		m.ExpirationTime, m.NotBefore = c.exp, c.notBefore
		p.MaxClockSkew, p.MaxAge = c.skew, c.maxAge
		err := Verify(m, sign(testKey, m.String()), p, issued.Add(c.now))
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("Verify(%s) = %v, want %v", c.name, err, c.want)
		}
	}
}

func TestVerifyRequiresPolicyAndValidMessage(t *testing.T) {
	now := mustTime(t, "2026-11-26T18:00:00Z")
	m, p := testMessage(t, now)
	sig := sign(testKey, m.String())
	for _, c := range []struct {
		name string
		p    Policy
	}{
		{"zero policy", Policy{}},
		{"no origin", Policy{ChainIDs: p.ChainIDs, Nonce: p.Nonce}},
		{"origin without scheme", Policy{Origin: "atrium.example", ChainIDs: p.ChainIDs, Nonce: p.Nonce}},
		{"origin with query", Policy{Origin: "https://atrium.example/?a=b", ChainIDs: p.ChainIDs, Nonce: p.Nonce}},
		{"origin with path", Policy{Origin: "https://atrium.example/login", ChainIDs: p.ChainIDs, Nonce: p.Nonce}},
		{"relative URI", Policy{Origin: p.Origin, URI: "/login", ChainIDs: p.ChainIDs, Nonce: p.Nonce}},
		{"no chains", Policy{Origin: p.Origin, Nonce: p.Nonce}},
		{"chain 0", Policy{Origin: p.Origin, ChainIDs: []uint64{0, 10}, Nonce: p.Nonce}},
		{"no nonce", Policy{Origin: p.Origin, ChainIDs: p.ChainIDs}},
		{"negative skew", Policy{Origin: p.Origin, ChainIDs: p.ChainIDs, Nonce: p.Nonce, MaxClockSkew: -1}},
	} {
		if err := Verify(m, sig, c.p, now); !fault.Is(err, fault.Internal) || err == nil {
			t.Errorf("Verify(policy %s) = %v, want an Internal error", c.name, err)
		}
	}
	bad := *m
	bad.Nonce = "short"
	if err := Verify(&bad, sig, p, now); !fault.Is(err, fault.Invalid) {
		t.Errorf("Verify(invalid message) = %v, want Invalid", err)
	}
	if err := Verify(nil, sig, p, now); !fault.Is(err, fault.Invalid) {
		t.Errorf("Verify(nil) = %v, want Invalid", err)
	}
	if err := Verify(m, make([]byte, chain.MaxWrappedSignatureLen+1), p, now); !fault.Is(err, fault.Invalid) {
		t.Errorf("Verify(huge signature) = %v, want Invalid", err)
	}
}

func TestNewNonce(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		n := NewNonce()
		if len(n) < 26 || !alphanumeric(n) || seen[n] {
			t.Fatalf("NewNonce() = %q: want 26+ fresh letters or digits", n)
		}
		seen[n] = true
	}
}

// R-24, T-B1: a signature of every length from 0 to 200 bytes but 64 and
// 65 (the valid one cut short, or followed by extra bytes) is refused as
// fault.Unauthenticated, never a panic; the 65-byte one passes, and so
// does its EIP-2098 64-byte form, but not that form with the other parity.
func TestVerifySignatureLengths(t *testing.T) {
	now := mustTime(t, "2026-11-26T18:00:00Z")
	m, p := testMessage(t, now)
	valid := sign(testKey, m.String())
	verify := func(sig []byte) error {
		_, err := VerifyWallet(context.Background(), m, sig, p, now, nil)
		return err
	}
	for n := range 201 {
		sig := append(bytes.Clone(valid), bytes.Repeat([]byte{0xab}, max(0, n-len(valid)))...)[:n]
		switch err := verify(sig); {
		case n == 64: // checked below: a cut 65-byte signature may be its own compact form
		case n == len(valid) && err != nil:
			t.Errorf("VerifyWallet(the valid signature) = %v", err)
		case n != len(valid) && !fault.Is(err, fault.Unauthenticated):
			t.Errorf("VerifyWallet(%d-byte signature) = %v, want Unauthenticated", n, err)
		}
	}
	compact := bytes.Clone(valid[:64])
	if valid[64] == 28 || valid[64] == 1 {
		compact[32] |= 0x80 // yParity in the top bit of s
	}
	if err := verify(compact); err != nil {
		t.Errorf("VerifyWallet(EIP-2098 form) = %v", err)
	}
	compact[32] ^= 0x80
	if err := verify(compact); !fault.Is(err, fault.Unauthenticated) {
		t.Errorf("VerifyWallet(EIP-2098 form, other parity) = %v, want Unauthenticated", err)
	}
}
