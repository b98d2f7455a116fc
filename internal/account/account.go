// Package account owns Atrium's one abstraction for every party: the
// Account, of a kind declared in the kinds document, with its fragments
// (schema-validated groups of fields, each with its own version and
// sensitivity) and its identifiers (unique, normalized handles).
//
// The Service enforces every rule — kinds, schemas, lifecycles, optimistic
// concurrency, encryption of pii and secret fragments — and writes through
// the Store it declares, so that storage holds no rules.
package account

import (
	"time"

	"github.com/atriumid/atrium/internal/kind"
)

// Erased is the state of an erased account's tombstone. No kind may declare
// it.
const Erased = "erased"

// Account is one party of any kind.
type Account struct {
	ID          string
	Kind        string
	State       string
	Version     int64
	Fragments   map[string]Fragment // the selected fragments that have been written
	Identifiers []Identifier
	CreateTime  time.Time
	UpdateTime  time.Time
	EraseTime   time.Time // zero unless erased
	Freshness   string    // set on the result of a write
}

// Fragment is one named group of fields of an account.
type Fragment struct {
	AccountID   string
	Name        string
	Version     int64 // 0 for a fragment never written
	Sensitivity kind.Sensitivity
	Data        map[string]any
	UpdateTime  time.Time
	Freshness   string // set on the result of a write
}

// Identifier is a unique handle of an account, in normalized form.
type Identifier struct {
	Type       string
	Value      string
	VerifyTime time.Time // zero until verified
	CreateTime time.Time
	Freshness  string // set on the result of a write
}

// IdentifierInput is an identifier as a caller gives it, before
// normalization.
type IdentifierInput struct {
	Type  string
	Value string
}

// Erased reports whether a is a tombstone.
func (a *Account) Erased() bool { return !a.EraseTime.IsZero() }
