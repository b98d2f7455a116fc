// Package freshness makes and checks freshness tokens: the opaque strings
// every write returns so that a later read can ask to see at least that write
// (read-your-writes), on any replica and through any cache.
//
// A token is a version byte, the fields of Token as varints, and an
// HMAC-SHA256 over them truncated to 128 bits, in unpadded base64url. The MAC
// key is derived from a server secret that all replicas share, so any replica
// can check a token that another one issued, and no client can forge one
// that asks for more than a write it made. Tokens hide nothing: their fields
// are readable by whoever holds them, so they never carry a secret.
package freshness

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/atriumid/atrium/internal/fault"
)

const (
	// MaxTokenLen is the longest token text Decode reads; an encoded token is
	// at most about 240 characters.
	MaxTokenLen = 512
	// MaxAccountLen is the longest Token.Account that Encode accepts. Account
	// IDs are at most 43 bytes.
	MaxAccountLen = 128
	// MinSecretLen is the shortest secret NewCodec accepts.
	MinSecretLen = 32

	formatVersion = 1
	macLen        = 16 // 128 bits: forging takes 2^128 guesses, each a request
	keyLabel      = "atrium freshness token"
	invalidMsg    = "invalid freshness token"
)

var (
	errTooLong   = errors.New("token longer than MaxTokenLen")
	errMalformed = errors.New("token is malformed")
	errVersion   = errors.New("token has an unknown format version")
	errMAC       = errors.New("token MAC does not verify")
)

// Token is what a write tells a later read about itself.
//
// Revision is the store's commit position after the write: it grows with
// every committed write, and a replica or cache that has applied revision R
// has applied every write at or below R. Account names the written account
// and Version its version after the write; both are empty for writes that
// touch no single account (relationships, kinds). Time is the commit time
// from the writer's clock; tokens carry it to the microsecond.
type Token struct {
	Revision int64
	Account  string
	Version  int64
	Time     time.Time
}

// Covers reports whether t is at least as fresh as other: whether a view of
// the data as of t (a replica's applied position, a cache entry's source
// write) is guaranteed to include the write that other describes.
//
// It holds when t is not older than other in any order the two share:
// t.Revision ≥ other.Revision, t.Time not before other.Time, and, when both
// name the same account, t.Version ≥ other.Version. In a consistent store the
// revision alone decides; the other checks make Covers conservative when a
// revision is missing (zero) or clocks disagree: then it answers false, and
// the read goes where the write is known to be visible — slower, never stale.
// Covers is reflexive, and transitive over tokens taken from one store.
func (t Token) Covers(other Token) bool {
	if t.Revision < other.Revision || t.Time.Before(other.Time) {
		return false
	}
	return other.Account == "" || t.Account != other.Account || t.Version >= other.Version
}

// Codec encodes and decodes tokens with the server's secret. It is immutable
// and safe for concurrent use.
type Codec struct {
	keys [][]byte // MAC keys derived from the secrets; keys[0] signs, all verify
}

// NewCodec returns a codec that signs with secret and also accepts tokens
// signed with any of previous, so that the secret can rotate without failing
// the tokens clients hold. Every secret must be at least MinSecretLen bytes
// (fault.Invalid otherwise) and the same on every replica.
func NewCodec(secret []byte, previous ...[]byte) (*Codec, error) {
	c := &Codec{}
	for _, s := range append([][]byte{secret}, previous...) {
		if len(s) < MinSecretLen {
			return nil, fault.E("freshness.NewCodec", fault.Invalid, "freshness secret must be at least %d bytes", MinSecretLen)
		}
		// A derived key keeps tokens apart from anything else the same
		// server secret might sign.
		m := hmac.New(sha256.New, s)
		m.Write([]byte(keyLabel))
		c.keys = append(c.keys, m.Sum(nil))
	}
	return c, nil
}

// Encode returns t as a signed token. Time is truncated to the microsecond.
// Encode panics if t.Account is longer than MaxAccountLen: the account comes
// from the server's own IDs, so that is a bug in the caller, not bad input.
func (c *Codec) Encode(t Token) string {
	if len(t.Account) > MaxAccountLen {
		panic(fmt.Sprintf("freshness: account of %d bytes is over MaxAccountLen", len(t.Account)))
	}
	b := make([]byte, 0, 1+4*binary.MaxVarintLen64+len(t.Account)+macLen)
	b = append(b, formatVersion)
	b = binary.AppendVarint(b, t.Revision)
	b = binary.AppendUvarint(b, uint64(len(t.Account)))
	b = append(b, t.Account...)
	b = binary.AppendVarint(b, t.Version)
	b = binary.AppendVarint(b, t.Time.UnixMicro())
	b = append(b, c.mac(c.keys[0], b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode checks and reads a token made by Encode with this codec's secret
// or one of its previous secrets. Every failure — too long, not base64url,
// wrong MAC, unknown version, malformed fields — is fault.Invalid with the
// message "invalid freshness token", which says nothing about why.
func (c *Codec) Decode(s string) (Token, error) {
	t, err := c.decode(s)
	if err != nil {
		return Token{}, &fault.Error{Op: "freshness.Decode", Kind: fault.Invalid, Msg: invalidMsg, Err: err}
	}
	return t, nil
}

func (c *Codec) decode(s string) (Token, error) {
	if len(s) > MaxTokenLen {
		return Token{}, errTooLong
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	// The decoder skips '\r' and '\n'; the length check refuses them, so
	// that every token has exactly one text form.
	if err != nil || len(b) < 1+macLen || base64.RawURLEncoding.EncodedLen(len(b)) != len(s) {
		return Token{}, errMalformed
	}
	if b[0] != formatVersion {
		return Token{}, errVersion
	}
	body, sum := b[:len(b)-macLen], b[len(b)-macLen:]
	if !c.verify(body, sum) {
		return Token{}, errMAC
	}
	return parse(body[1:])
}

// verify compares sum with the MAC of body under every key, in constant time
// for each, and without stopping early, so the time taken says nothing about
// which key matched or how much of the MAC was right.
func (c *Codec) verify(body, sum []byte) bool {
	ok := false
	for _, k := range c.keys {
		ok = hmac.Equal(c.mac(k, body), sum) || ok
	}
	return ok
}

func (c *Codec) mac(key, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return m.Sum(nil)[:macLen]
}

// parse reads the fields after the version byte. The MAC has already been
// checked, so only this server's Encode made b; parse stays strict anyway.
func parse(b []byte) (Token, error) {
	var t Token
	var n int
	if t.Revision, n = binary.Varint(b); n <= 0 {
		return Token{}, errMalformed
	}
	b = b[n:]
	alen, n := binary.Uvarint(b)
	if n <= 0 || alen > MaxAccountLen || uint64(len(b)-n) < alen {
		return Token{}, errMalformed
	}
	t.Account, b = string(b[n:n+int(alen)]), b[n+int(alen):]
	if t.Version, n = binary.Varint(b); n <= 0 {
		return Token{}, errMalformed
	}
	b = b[n:]
	us, n := binary.Varint(b)
	if n <= 0 || n != len(b) {
		return Token{}, errMalformed
	}
	t.Time = time.UnixMicro(us).UTC()
	return t, nil
}
