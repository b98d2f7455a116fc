package account

import (
	"context"
	"time"

	"github.com/atriumid/atrium/internal/audit"
	"github.com/atriumid/atrium/internal/outbox"
	"github.com/atriumid/atrium/internal/relation"
)

// Store is the storage the account service needs. Implementations run fn in
// one transaction and commit only if fn returns nil; every change, its
// events and its audit records commit together or not at all.
type Store interface {
	// Update runs fn in a read-write transaction. It returns fn's error, or
	// a fault.Unavailable error when the database cannot be reached.
	Update(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// View runs fn in a read-only transaction that sees one consistent
	// snapshot.
	View(ctx context.Context, fn func(ctx context.Context, r Reader) error) error
}

// Reader reads accounts. Methods return fault.NotFound for a missing
// account and fault.Unavailable when the database fails.
type Reader interface {
	// Account returns the account record with the given ID, erased or not.
	Account(ctx context.Context, id string) (Record, error)
	// Accounts returns up to q.Limit accounts matching q, in ID order,
	// starting after q.After.
	Accounts(ctx context.Context, q Query) ([]Record, error)
	// Fragments returns the stored fragments of the given accounts, limited
	// to names when names is not empty, ordered by account then name.
	Fragments(ctx context.Context, accountIDs, names []string) ([]FragmentRecord, error)
	// Identifiers returns the identifiers of the given accounts, ordered by
	// account, type and value.
	Identifiers(ctx context.Context, accountIDs []string) ([]IdentifierRecord, error)
	// Resolve returns the ID of the account holding the normalized
	// identifier (typ, value), or fault.NotFound.
	Resolve(ctx context.Context, typ, value string) (string, error)
}

// Tx is a read-write transaction.
type Tx interface {
	Reader
	// InsertAccount inserts a new account record.
	InsertAccount(ctx context.Context, r Record) error
	// TouchAccount increments the version of the account, sets its update
	// time and returns the updated record. It holds the account's row lock
	// until the transaction ends, so the writers of one account are
	// serialized while writers of different accounts never wait for each
	// other. It returns fault.NotFound for a missing account; it does not
	// refuse an erased one: the caller decides.
	TouchAccount(ctx context.Context, id string, now time.Time) (Record, error)
	// SetState sets the lifecycle state of a touched account.
	SetState(ctx context.Context, id, state string) error
	// SetDataKey stores the wrapped data key of a touched account.
	SetDataKey(ctx context.Context, id string, wrapped []byte) error
	// Erase turns a touched account into a tombstone: state "erased", erase
	// time set, data key destroyed, fragments, identifiers and every
	// relationship tuple naming the account (as object or subject) deleted.
	Erase(ctx context.Context, id string, now time.Time) error
	// PutFragment writes a fragment whose current stored version is
	// current (0: none). It returns fault.Aborted when the stored version
	// is not current.
	PutFragment(ctx context.Context, f FragmentRecord, current int64) error
	// InsertIdentifier adds an identifier. It returns
	// fault.AlreadyExists when any account holds (Type, Value), under any
	// concurrency.
	InsertIdentifier(ctx context.Context, r IdentifierRecord) error
	// WriteTuples writes relationship tuples and returns the new
	// relationship revision. It returns fault.Invalid when a tuple exists.
	WriteTuples(ctx context.Context, ts []relation.Tuple) (int64, error)
	// AppendEvent appends an event to the outbox.
	AppendEvent(ctx context.Context, e outbox.Event) error
	// AppendAudit appends a record to the audit chain. It serializes with
	// every other append until the transaction ends, so the chain's order
	// is the commit order; callers append last.
	AppendAudit(ctx context.Context, e audit.Entry) error
}

// Record is an account as stored.
type Record struct {
	ID         string
	Kind       string
	State      string
	Version    int64
	DataKey    []byte // wrapped data key for pii and secret fragments; nil when none or erased
	CreateTime time.Time
	UpdateTime time.Time
	EraseTime  time.Time // zero unless erased
}

// FragmentRecord is a fragment as stored: JSON, or sealed JSON for pii and
// secret fragments.
type FragmentRecord struct {
	AccountID  string
	Name       string
	Version    int64
	Data       []byte
	Sealed     bool
	UpdateTime time.Time
}

// IdentifierRecord is an identifier as stored, with its normalized value.
type IdentifierRecord struct {
	AccountID  string
	Type       string
	Value      string
	VerifyTime time.Time // zero until verified
	CreateTime time.Time
}

// Query selects accounts for listing.
type Query struct {
	Kind  string // required
	State string // optional
	After string // exclusive lower bound on ID; "" starts at the beginning
	Limit int
}
