package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"encoding/binary"
	"fmt"
	"time"
)

// Head is the chain's last position and hash, kept in its own row and
// updated in the transaction of every append. It lets verification see
// records cut from the end of the chain.
type Head struct {
	Seq  int64
	Hash []byte // nil before the first record
}

// Checkpoint is a signed statement that the chain's record Seq has hash
// Hash. A checkpoint signed with a key the database does not hold makes a
// rewrite of the whole chain up to it detectable.
type Checkpoint struct {
	Seq       int64
	Hash      []byte
	Time      time.Time
	KeyID     string
	Signature []byte
}

// checkpointMessage is what a checkpoint signature covers.
func checkpointMessage(seq int64, hash []byte, at time.Time) []byte {
	b := []byte("atrium-audit-checkpoint-v1\x00")
	b = binary.BigEndian.AppendUint64(b, uint64(seq))
	b = binary.BigEndian.AppendUint64(b, uint64(at.UnixMicro()))
	return append(b, hash...)
}

// SignCheckpoint returns a checkpoint of head signed with key.
func SignCheckpoint(key ed25519.PrivateKey, keyID string, head Head, at time.Time) Checkpoint {
	at = at.UTC().Truncate(time.Microsecond)
	return Checkpoint{Seq: head.Seq, Hash: head.Hash, Time: at, KeyID: keyID,
		Signature: ed25519.Sign(key, checkpointMessage(head.Seq, head.Hash, at))}
}

// Valid reports whether c's signature verifies with pub.
func (c Checkpoint) Valid(pub ed25519.PublicKey) bool {
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, checkpointMessage(c.Seq, c.Hash, c.Time), c.Signature)
}

// Problem is the first bad record found by verification.
type Problem struct {
	Seq    int64  // the first record that does not verify
	Reason string // what is wrong with it
}

// Error describes the problem; it holds no record contents.
func (p *Problem) Error() string { return fmt.Sprintf("audit record %d: %s", p.Seq, p.Reason) }

// Verifier checks records fed to it in sequence order. Its zero value
// starts at the beginning of the chain.
type Verifier struct {
	prev  []byte
	next  int64
	count int64
	// hashes keeps the hash of checkpointed positions met so far.
	want map[int64][]byte
}

// NewVerifier returns a verifier that also checks the given checkpoints,
// which the caller has already checked for valid signatures.
func NewVerifier(checkpoints []Checkpoint) *Verifier {
	v := &Verifier{want: map[int64][]byte{}}
	for _, c := range checkpoints {
		v.want[c.Seq] = c.Hash
	}
	return v
}

// Add checks the next record. It returns the problem of r, or nil.
func (v *Verifier) Add(r Record) *Problem {
	if v.next == 0 {
		v.next, v.prev = 1, Genesis
	}
	switch {
	case r.Seq < v.next:
		return &Problem{r.Seq, "out of order: a record at this position came before it"}
	case r.Seq > v.next:
		return &Problem{v.next, fmt.Sprintf("missing: the chain jumps from %d to %d", v.next-1, r.Seq)}
	case !bytes.Equal(r.PrevHash, v.prev):
		return &Problem{r.Seq, "previous-hash link broken: a record before it was changed, removed, inserted or moved"}
	case !bytes.Equal(r.ComputeHash(), r.Hash):
		return &Problem{r.Seq, "hash does not match the record's contents: the record was edited"}
	case !r.Forgotten() && !hmac.Equal(clientDigest(r.ClientSalt, r.IP, r.UserAgent), r.ClientDigest):
		return &Problem{r.Seq, "client address or user agent was edited"}
	case r.Forgotten() && (r.IP != "" || r.UserAgent != ""):
		// Forgetting removes the salt and the client data together; client
		// data without its salt was put there afterwards.
		return &Problem{r.Seq, "client address or user agent was added to a forgotten record"}
	}
	if h, ok := v.want[r.Seq]; ok && !bytes.Equal(h, r.Hash) {
		return &Problem{r.Seq, "differs from a signed checkpoint: the chain was rewritten"}
	}
	v.prev, v.next, v.count = r.Hash, v.next+1, v.count+1
	return nil
}

// Finish checks that the chain ends at head, so that records cut from its
// end are found, and that it reaches every checkpoint.
func (v *Verifier) Finish(head Head) *Problem {
	last := v.next - 1
	if v.next == 0 {
		last = 0
	}
	switch {
	case head.Seq > last:
		return &Problem{last + 1, fmt.Sprintf("missing: the chain ends at %d but its head is at %d", last, head.Seq)}
	case last > 0 && !bytes.Equal(head.Hash, v.prev):
		return &Problem{last, "the head's hash does not match the last record"}
	}
	for seq := range v.want {
		if seq > last {
			return &Problem{last + 1, fmt.Sprintf("missing: a signed checkpoint names record %d", seq)}
		}
	}
	return nil
}

// Count returns the number of records verified so far.
func (v *Verifier) Count() int64 { return v.count }

// Report is the outcome of verifying a whole chain.
type Report struct {
	Records     int64    // records that verified
	Checkpoints int      // checkpoints whose signature verified
	Problem     *Problem // the first bad record; nil when the chain is intact
}

// Reader reads the chain for verification. Methods return
// fault.Unavailable when the database fails.
type Reader interface {
	// AuditChain returns up to limit records with Seq > after, in Seq order.
	AuditChain(ctx context.Context, after int64, limit int) ([]Record, error)
	// AuditHead returns the chain's head.
	AuditHead(ctx context.Context) (Head, error)
	// AuditCheckpoints returns every checkpoint in Seq order.
	AuditCheckpoints(ctx context.Context) ([]Checkpoint, error)
}

// Verify checks the whole chain read from r, and the checkpoints signed
// with pub (none are checked when pub is nil). It returns a Report whose
// Problem names the first bad record, and an error only when r fails.
func Verify(ctx context.Context, r Reader, pub ed25519.PublicKey) (Report, error) {
	var rep Report
	cps, err := r.AuditCheckpoints(ctx)
	if err != nil {
		return rep, err
	}
	var trusted []Checkpoint
	if pub != nil {
		for _, c := range cps {
			if !c.Valid(pub) {
				rep.Problem = &Problem{c.Seq, "a checkpoint's signature does not verify"}
				return rep, nil
			}
			trusted = append(trusted, c)
		}
		rep.Checkpoints = len(trusted)
	}
	// The head is read first: records appended while verifying lie beyond
	// it and are ignored.
	head, err := r.AuditHead(ctx)
	if err != nil {
		return rep, err
	}
	v := NewVerifier(trusted)
	const batch = 1000
	for after := int64(0); after < head.Seq; {
		recs, err := r.AuditChain(ctx, after, int(min(batch, head.Seq-after)))
		if err != nil {
			return rep, err
		}
		if len(recs) == 0 {
			break
		}
		for _, rec := range recs {
			if p := v.Add(rec); p != nil {
				rep.Records, rep.Problem = v.Count(), p
				return rep, nil
			}
		}
		after = recs[len(recs)-1].Seq
	}
	rep.Records, rep.Problem = v.Count(), v.Finish(head)
	if rep.Problem == nil {
		rep.Problem, err = beyondHead(ctx, r, head)
	}
	return rep, err
}

// beyondHead finds a record placed after the head without moving it. A
// record appended while verifying is beyond the head read at the start
// too, so the head is read again: a true append has moved it.
func beyondHead(ctx context.Context, r Reader, head Head) (*Problem, error) {
	next, err := r.AuditChain(ctx, head.Seq, 1)
	if err != nil || len(next) == 0 {
		return nil, err
	}
	now, err := r.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	if next[0].Seq > now.Seq {
		return &Problem{next[0].Seq, fmt.Sprintf("the head is at %d but records follow it", now.Seq)}, nil
	}
	return nil, nil
}
