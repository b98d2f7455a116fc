package kind

import (
	"context"
	"time"

	"github.com/atriumid/atrium/internal/audit"
	"github.com/atriumid/atrium/internal/outbox"
)

// Version is one applied kinds document, as stored.
type Version struct {
	Number    int64 // 1, 2, …: each apply adds one
	Source    []byte
	AppliedBy string // the API key ID or command that applied it
	ApplyTime time.Time
	Diff      string // the changes from the previous version, one per line (DiffText)
}

// History stores every applied kinds document.
type History interface {
	// LatestKinds returns the newest version, or fault.NotFound when none
	// was ever applied.
	LatestKinds(ctx context.Context) (Version, error)
	// LatestKindsNumber returns the newest version's number, 0 when none
	// was ever applied. Replicas poll it, so it reads one small row.
	LatestKindsNumber(ctx context.Context) (int64, error)
	// KindsVersion returns version n, or fault.NotFound.
	KindsVersion(ctx context.Context, n int64) (Version, error)
	// AppendKinds stores v and, when trail is not nil, its event and audit
	// record, all in one transaction. It returns fault.AlreadyExists when
	// v.Number is taken, so that two concurrent applies cannot both win.
	AppendKinds(ctx context.Context, v Version, trail *Trail) error
}

// Trail is what an apply writes besides the version, in the same
// transaction: its atrium.kinds.applied event and its audit record.
//
// The first version of a database has none: it is the database's initial
// state, installed by `atrium serve` at its first start as migrations are,
// and its stored version (applied by "serve", with its time) is its
// record. Every later version, applied through the API, by `atrium kinds
// apply` or by `serve --kinds` with a changed file, has both.
type Trail struct {
	Event outbox.Event
	Audit audit.Entry
}

// KindsSubject is the subject of kinds events. Kinds documents belong to
// no account, and one subject keeps their events in apply order.
const KindsSubject = "kinds"
