package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/atriumid/atrium/internal/fault"
)

// Query selects audit records for listing. Empty fields do not filter.
type Query struct {
	Account string
	Actor   string
	Type    string
	Since   time.Time // inclusive
	Until   time.Time // exclusive
	After   int64     // records with a greater Seq only
	Limit   int
}

// KeyID names an Ed25519 public key: the first 8 bytes of its SHA-256, in
// hex.
func KeyID(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:8])
}

// CheckpointStore is what Checkpoint needs. Methods return
// fault.Unavailable when the database fails.
type CheckpointStore interface {
	// AuditHead returns the chain's head.
	AuditHead(ctx context.Context) (Head, error)
	// LatestCheckpoint returns the checkpoint of the highest Seq, and false
	// when there is none. It reads one row, however long the chain.
	LatestCheckpoint(ctx context.Context) (Checkpoint, bool, error)
	// AppendCheckpoint stores a checkpoint; fault.AlreadyExists when its
	// position has one.
	AppendCheckpoint(ctx context.Context, c Checkpoint) error
}

// WriteCheckpoint signs the chain's head with key and stores it, unless
// the head has not moved since the last checkpoint. It returns whether it
// stored one. Replicas that checkpoint at once are safe: one wins, the
// others get false.
func WriteCheckpoint(ctx context.Context, s CheckpointStore, key ed25519.PrivateKey, now time.Time) (bool, error) {
	head, err := s.AuditHead(ctx)
	if err != nil || head.Seq == 0 {
		return false, err
	}
	last, ok, err := s.LatestCheckpoint(ctx)
	if err != nil {
		return false, err
	}
	if ok && last.Seq >= head.Seq {
		return false, nil
	}
	pub := key.Public().(ed25519.PublicKey)
	err = s.AppendCheckpoint(ctx, SignCheckpoint(key, KeyID(pub), head, now))
	if fault.Is(err, fault.AlreadyExists) {
		return false, nil
	}
	return err == nil, err
}
