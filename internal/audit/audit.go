// Package audit owns the audit log: one record for every mutation and every
// security event, written inside the transaction of the change it records,
// chained to the previous record by SHA-256, and checkpointed with Ed25519
// signatures, so that `atrium audit verify` finds any edit, deletion,
// insertion or reordering and names the first bad record.
//
// Records hold no raw personal data of the account they are about: account
// IDs, fragment names, versions, states and identifier types only. The
// caller's IP address and user agent are kept apart: the chain covers an
// HMAC of them under a per-record random salt, and forgetting them (on
// erasure of the account that made the request) deletes the values and the
// salt while every hash still verifies.
package audit

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// System is the actor of changes that no request made, such as those of
// `atrium serve` at start.
const System = "system"

// Actor is who made a request and from where. The API layer puts one in
// the request's context; domain services read it when they append a
// record.
type Actor struct {
	Principal string // "key:<api key id>", "account:<id>" or System
	IP        string // the peer address of the request, without port
	UserAgent string
	RequestID string
}

type actorKey struct{}

// WithActor returns ctx carrying a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor carried by ctx, or System when there is none.
func ActorFrom(ctx context.Context) Actor {
	a, ok := ctx.Value(actorKey{}).(Actor)
	if !ok || a.Principal == "" {
		a.Principal = System
	}
	return a
}

// Limits on what a record keeps of a request.
const (
	MaxUserAgent = 512
	MaxRequestID = 128
)

// Entry is what a caller asks to record. The store gives it its place in
// the chain and turns it into a Record with Seal.
type Entry struct {
	ID      string    // unique record ID
	Type    string    // such as "atrium.account.created"
	Account string    // the account the record is about
	Time    time.Time // UTC, microsecond precision
	Data    []byte    // JSON object without personal data
	Actor   Actor
	// Forget names an account whose requests' IP addresses and user agents
	// are to be forgotten in earlier records (set when the account is
	// erased). The chain stays verifiable.
	Forget string
}

// Record is one link of the chain as stored.
type Record struct {
	Seq          int64 // 1, 2, 3, … without gaps
	ID           string
	Time         time.Time
	Type         string
	Account      string
	Actor        string
	RequestID    string
	Data         []byte
	ClientDigest []byte // HMAC-SHA256(ClientSalt, IP, UserAgent); covered by Hash
	IP           string // "" once forgotten
	UserAgent    string // "" once forgotten
	ClientSalt   []byte // nil once forgotten
	PrevHash     []byte // Hash of record Seq-1; Genesis for the first
	Hash         []byte // SHA-256 of Canonical()
}

// Genesis is the previous hash of the first record.
var Genesis = make([]byte, sha256.Size)

// Seal returns the record of e at position seq after a record whose hash is
// prev (nil or empty for the first record).
func Seal(e Entry, seq int64, prev []byte) (Record, error) {
	if len(prev) == 0 {
		prev = Genesis
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return Record{}, err
	}
	ua, rid := truncate(e.Actor.UserAgent, MaxUserAgent), truncate(e.Actor.RequestID, MaxRequestID)
	r := Record{
		Seq: seq, ID: e.ID, Time: e.Time.UTC().Truncate(time.Microsecond), Type: e.Type, Account: e.Account,
		Actor: e.Actor.Principal, RequestID: rid, Data: e.Data,
		IP: e.Actor.IP, UserAgent: ua, ClientSalt: salt, PrevHash: prev,
	}
	r.ClientDigest = clientDigest(salt, r.IP, r.UserAgent)
	r.Hash = r.ComputeHash()
	return r, nil
}

// clientDigest binds the request's IP and user agent to the chain without
// putting them in it.
func clientDigest(salt []byte, ip, ua string) []byte {
	m := hmac.New(sha256.New, salt)
	writeField(m, []byte(ip))
	writeField(m, []byte(ua))
	return m.Sum(nil)
}

// Canonical returns the encoding that Hash covers: a version tag, then
// every field but Hash, IP, UserAgent and ClientSalt, each prefixed by its
// length, so that no two records share an encoding.
func (r Record) Canonical() []byte {
	var b []byte
	field := func(v []byte) {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	field([]byte("atrium-audit-v1"))
	field(binary.BigEndian.AppendUint64(nil, uint64(r.Seq)))
	field([]byte(r.ID))
	field(binary.BigEndian.AppendUint64(nil, uint64(r.Time.UnixMicro())))
	field([]byte(r.Type))
	field([]byte(r.Account))
	field([]byte(r.Actor))
	field([]byte(r.RequestID))
	field(r.Data)
	field(r.ClientDigest)
	field(r.PrevHash)
	return b
}

// ComputeHash returns the SHA-256 of r's canonical encoding.
func (r Record) ComputeHash() []byte {
	h := sha256.Sum256(r.Canonical())
	return h[:]
}

// Forgotten reports whether r's client data has been forgotten.
func (r Record) Forgotten() bool { return r.ClientSalt == nil }

func writeField(w interface{ Write([]byte) (int, error) }, v []byte) {
	w.Write(binary.AppendUvarint(nil, uint64(len(v))))
	w.Write(v)
}

// truncate cuts s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
