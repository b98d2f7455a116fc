// Package totp implements time-based one-time passwords (RFC 6238) over
// HOTP (RFC 4226): secrets, codes, the otpauth URI that authenticator apps
// read, and verification within ±1 time step of the server clock.
//
// Verification is stateless here; the caller makes each code usable once
// by storing the last accepted step and advancing it with a
// compare-and-set (RFC 6238 §5.2): Verify takes that step and never
// accepts a step at or before it.
package totp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"hash"
	"net/url"
	"strings"
	"time"

	"github.com/atriumid/atrium/internal/fault"
)

// Parameters of the codes Atrium issues: what every authenticator app
// supports.
const (
	Period     = 30 * time.Second
	Digits     = 6
	SecretSize = 20 // 160 bits, RFC 4226 §4's recommendation
	// Skew is how many steps before and after the current one are
	// accepted (RFC 6238 §5.2 recommends at most one).
	Skew = 1
)

// NewSecret returns a fresh secret from the system CSPRNG.
func NewSecret() ([]byte, error) {
	b := make([]byte, SecretSize)
	if _, err := rand.Read(b); err != nil {
		return nil, fault.Wrap("totp.NewSecret", fault.Internal, err)
	}
	return b, nil
}

// Step returns the time step that t falls in.
func Step(t time.Time) int64 { return t.Unix() / int64(Period/time.Second) }

// HOTP returns the RFC 4226 value of counter under secret with digits
// digits, computed with HMAC over h (SHA-1 for RFC 4226; RFC 6238 also
// allows SHA-256 and SHA-512).
func HOTP(h func() hash.Hash, secret []byte, counter int64, digits int) string {
	mac := hmac.New(h, secret)
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(counter))
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// Code returns the code of secret for step, as Atrium issues it.
func Code(secret []byte, step int64) string { return HOTP(sha1.New, secret, step, Digits) }

// Verify looks for code among the steps around now (±Skew) that are later
// than last, the last step accepted for this secret (0 when none). It
// returns the matching step, which the caller must store with a
// compare-and-set before accepting the code, and whether one matched.
// Every candidate is compared in constant time.
func Verify(secret []byte, code string, now time.Time, last int64) (int64, bool) {
	code = strings.TrimSpace(code)
	if len(code) != Digits {
		return 0, false
	}
	cur := Step(now)
	var match int64
	for s := cur - Skew; s <= cur+Skew; s++ {
		if subtle.ConstantTimeCompare([]byte(Code(secret, s)), []byte(code)) == 1 && s > last && match == 0 {
			match = s
		}
	}
	return match, match != 0
}

// URI returns the otpauth URI of secret for an authenticator app (the
// Key Uri Format of Google Authenticator), labelled issuer:account.
func URI(issuer, account string, secret []byte) string {
	v := url.Values{}
	v.Set("secret", Encode(secret))
	v.Set("issuer", issuer)
	v.Set("algorithm", "SHA1")
	v.Set("digits", fmt.Sprint(Digits))
	v.Set("period", fmt.Sprint(int(Period/time.Second)))
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + issuer + ":" + account, RawQuery: v.Encode()}
	return u.String()
}

// Encode returns secret in unpadded base32, as authenticator apps take it.
func Encode(secret []byte) string {
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
}
