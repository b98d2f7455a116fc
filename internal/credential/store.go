package credential

import (
	"context"
	"time"

	"github.com/atriumid/atrium/internal/audit"
	"github.com/atriumid/atrium/internal/outbox"
)

// TOTPRecord is an account's TOTP secret as stored.
type TOTPRecord struct {
	AccountID string
	// Sealed is the secret sealed with the account's data key.
	Sealed []byte
	// LastStep is the last time step accepted (0 when none); a code is
	// accepted only for a later step.
	LastStep    int64
	CreateTime  time.Time
	ConfirmTime time.Time // zero while enrolment is pending
}

// Store keeps credentials, MFA challenges and e-mail codes. Methods return
// fault.Unavailable when the database fails. Every one-time use is a
// conditional write whose affected-row count decides: under any
// concurrency exactly one caller wins, the others get fault.Aborted.
type Store interface {
	// AccountState returns the kind and lifecycle state of an account, or
	// fault.NotFound.
	AccountState(ctx context.Context, accountID string) (kind, state string, err error)
	// DataKey returns the wrapped data key of an account, nil when it has
	// none.
	DataKey(ctx context.Context, accountID string) ([]byte, error)
	// SetDataKeyIfMissing stores wrapped as the data key of a live account
	// that has none, and returns the data key the account then has (which
	// is another one when a concurrent writer stored first).
	SetDataKeyIfMissing(ctx context.Context, accountID string, wrapped []byte) ([]byte, error)

	// Update runs fn in one transaction and commits when fn returns nil.
	Update(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error

	// PasswordHash returns the stored password hash, or fault.NotFound.
	PasswordHash(ctx context.Context, accountID string) (string, error)

	// TOTP returns the TOTP record of an account, or fault.NotFound.
	TOTP(ctx context.Context, accountID string) (TOTPRecord, error)
	// AdvanceTOTP sets the last step of a confirmed secret to step if it
	// is earlier (compare-and-set), or returns fault.Aborted.
	AdvanceTOTP(ctx context.Context, accountID string, step int64) error

	// RecoveryCodesLeft counts the unused recovery codes of an account.
	RecoveryCodesLeft(ctx context.Context, accountID string) (int, error)

	// InsertChallenge stores an MFA challenge by the hash of its secret.
	InsertChallenge(ctx context.Context, hash []byte, accountID string, expire time.Time) error
	// ChallengeAccount returns the account of an unexpired challenge, or
	// fault.NotFound.
	ChallengeAccount(ctx context.Context, hash []byte, now time.Time) (string, error)
	// ConsumeChallenge deletes an unexpired challenge, or returns
	// fault.Aborted when it is gone or expired.
	ConsumeChallenge(ctx context.Context, hash []byte, now time.Time) error

	EmailCodeStore
}

// Tx is one transaction of credential writes. Each write is recorded
// with its event and audit record (AppendEvent, AppendAudit, last) in the
// same transaction. The account service's transactions (account.Tx) are
// ones too, so a credential can commit with its account.
type Tx interface {
	// AppendEvent appends an event to the outbox.
	AppendEvent(ctx context.Context, e outbox.Event) error
	// AppendAudit appends a record to the audit chain; callers append
	// last.
	AppendAudit(ctx context.Context, e audit.Entry) error

	// PutPassword stores the first password hash of an account.
	PutPassword(ctx context.Context, accountID, hash string, now time.Time) error
	// SetPassword stores the password hash of an account, whatever it had.
	SetPassword(ctx context.Context, accountID, hash string, now time.Time) error
	// ReplacePassword replaces the hash old with hash, or returns
	// fault.Aborted when the stored hash is not old any more.
	ReplacePassword(ctx context.Context, accountID, old, hash string, now time.Time) error
	// PutPendingTOTP stores a new, unconfirmed TOTP secret, replacing a
	// pending one; it returns fault.AlreadyExists when a confirmed one
	// exists.
	PutPendingTOTP(ctx context.Context, r TOTPRecord) error
	// ConfirmTOTP confirms the pending secret whose sealed form is sealed
	// (so that a concurrent re-enrolment is not confirmed by a code of the
	// older secret) and sets its last step; fault.Aborted otherwise.
	ConfirmTOTP(ctx context.Context, accountID string, sealed []byte, step int64, now time.Time) error
	// DeleteTOTP deletes the TOTP secret and the recovery codes of an
	// account; fault.NotFound when it has no secret.
	DeleteTOTP(ctx context.Context, accountID string) error
	// ReplaceRecoveryCodes replaces every recovery code of an account with
	// the given hashes.
	ReplaceRecoveryCodes(ctx context.Context, accountID string, hashes [][]byte, now time.Time) error
	// UseRecoveryCode marks an unused code used, or returns fault.Aborted
	// when there is no such unused code.
	UseRecoveryCode(ctx context.Context, accountID string, hash []byte, now time.Time) error
	// MarkIdentifierVerified sets the verify time of an account's
	// identifier; fault.NotFound when the account no longer holds it.
	MarkIdentifierVerified(ctx context.Context, accountID, typ, value string, now time.Time) error
}

// EmailCode is a pending e-mail verification code, bound to its flow.
type EmailCode struct {
	FlowHash  []byte // SHA-256 of the flow secret
	AccountID string
	Type      string // what it is for: "email" or "phone" verification, or "recovery"
	Address   string // the normalized identifier it verifies
	CodeHash  []byte // SHA-256 of the flow secret and the code
	Expire    time.Time
}

// EmailCodeStore keeps e-mail verification codes. Methods return
// fault.Unavailable when the database fails.
type EmailCodeStore interface {
	// PutEmailCode stores a code, replacing every other code of the
	// account, so that one code at most is live per account.
	PutEmailCode(ctx context.Context, c EmailCode) error
	// EmailCode returns the unexpired code of the flow for the account,
	// or fault.NotFound.
	EmailCode(ctx context.Context, flowHash []byte, accountID string, now time.Time) (EmailCode, error)
	// CodeByFlow returns the unexpired code of the flow, whatever its
	// account, or fault.NotFound.
	CodeByFlow(ctx context.Context, flowHash []byte, now time.Time) (EmailCode, error)
	// ConsumeEmailCode deletes an unexpired code, or returns fault.Aborted
	// when it is gone.
	ConsumeEmailCode(ctx context.Context, flowHash []byte, now time.Time) error
	// MarkIdentifierVerified sets the verify time of an account's
	// identifier; fault.NotFound when the account no longer holds it.
	MarkIdentifierVerified(ctx context.Context, accountID, typ, value string, now time.Time) error
}
