package kind

import (
	"context"
	"time"
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
	// AppendKinds stores v. It returns fault.AlreadyExists when v.Number is
	// taken, so that two concurrent applies cannot both win.
	AppendKinds(ctx context.Context, v Version) error
}
