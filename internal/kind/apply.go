package kind

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/atriumid/atrium/internal/audit"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/ids"
	"github.com/atriumid/atrium/internal/outbox"
)

// StoredFragment is one stored fragment, as the compatibility check reads
// it: JSON, or sealed JSON with the wrapped data key of its account.
type StoredFragment struct {
	AccountID string
	Fragment  string // the fragment's name
	Data      []byte
	Sealed    bool
	DataKey   []byte // the account's wrapped data key, for sealed data
}

// Usage counts what stored accounts use of a kinds document. Every count
// is of live (not erased) accounts. Methods return fault.Unavailable when
// the database fails.
type Usage interface {
	// CountAccounts counts the accounts of kind, only those in state when
	// state is not "".
	CountAccounts(ctx context.Context, kind, state string) (int64, error)
	// CountIdentifierHolders counts the accounts of kind holding at least
	// one identifier of type typ.
	CountIdentifierHolders(ctx context.Context, kind, typ string) (int64, error)
	// CountFragmentHolders counts the accounts of kind holding fragment.
	CountFragmentHolders(ctx context.Context, kind, fragment string) (int64, error)
	// ScanFragments returns up to limit stored copies of fragment held by
	// accounts of kind whose ID is greater than after, in ID order, so
	// that a caller can page through all of them in bounded memory.
	ScanFragments(ctx context.Context, kind, fragment, after string, limit int) ([]StoredFragment, error)
}

// Store is what an Applier needs: the history of documents and the usage
// of the live one.
type Store interface {
	History
	Usage
}

// ScanBatch is how many stored fragments the schema check reads at once.
const ScanBatch = 500

// Applier applies kinds documents: it validates them, refuses breaking
// changes while what they break is in use, stores each applied document as
// a new version with its diff, and makes it live in a Registry. It is safe
// for concurrent use; two applies racing for one version get one winner
// and one fault.Aborted.
type Applier struct {
	store Store
	reg   *Registry
	opts  CompileOptions
	open  func(StoredFragment) ([]byte, error)
	now   func() time.Time
}

// ApplierConfig holds what an Applier needs. Open returns the JSON of a
// sealed stored fragment; it may be nil when no kind has pii or secret
// fragments. Now defaults to time.Now.
type ApplierConfig struct {
	Store    Store
	Registry *Registry
	Options  CompileOptions
	Open     func(StoredFragment) ([]byte, error)
	Now      func() time.Time
}

// NewApplier returns an Applier.
func NewApplier(c ApplierConfig) *Applier {
	now := c.Now
	if now == nil {
		now = time.Now
	}
	return &Applier{store: c.Store, reg: c.Registry, opts: c.Options, open: c.Open, now: now}
}

// ApplyRequest is a document to apply.
type ApplyRequest struct {
	Source    []byte
	AppliedBy string // the API key ID or command that applies it
	DryRun    bool   // check everything, store nothing
}

// ApplyResult is the outcome of an apply.
type ApplyResult struct {
	// Version is the new version when Applied; otherwise the live version
	// the document was compared with.
	Version int64
	// Applied is false for a dry run and for a document identical to the
	// live one, which is not stored again.
	Applied bool
	Changes []Change
}

// Apply checks req.Source against the live document and, unless it is a
// dry run, stores it as the next version and makes it live in the
// Registry. The live document is the newest stored version, not the
// Registry's, so an apply on a replica that has not yet seen the latest
// version still compares with it.
//
// Errors: fault.Invalid or fault.TooLarge for a document that does not
// parse or compile (every problem as a violation); fault.FailedPrecondition
// for breaking changes still in use, with one violation per change whose
// reason gives the number of affected accounts; fault.Aborted when another
// apply stored a version first; fault.Unavailable when the database fails.
func (a *Applier) Apply(ctx context.Context, req ApplyRequest) (ApplyResult, error) {
	const op = "kind.Apply"
	next, err := Load(req.Source, a.opts)
	if err != nil {
		return ApplyResult{}, err
	}
	live, err := a.store.LatestKinds(ctx)
	if fault.Is(err, fault.NotFound) {
		live, err = Version{}, nil // the first document: everything is added
	}
	if err != nil {
		return ApplyResult{}, err
	}
	cur, err := a.liveSet(live)
	if err != nil {
		return ApplyResult{}, fault.Wrap(op, fault.Internal, err)
	}
	res := ApplyResult{Version: live.Number, Changes: Diff(cur, next)}
	if err := Compatible(ctx, a.store, next, res.Changes, a.open); err != nil {
		return res, err
	}
	if req.DryRun || bytes.Equal(req.Source, live.Source) {
		return res, nil
	}
	v := Version{Number: live.Number + 1, Source: req.Source, AppliedBy: req.AppliedBy, ApplyTime: a.now().UTC().Truncate(time.Microsecond), Diff: DiffText(res.Changes)}
	if err := a.store.AppendKinds(ctx, v, trail(ctx, live.Number, v, res.Changes)); err != nil {
		if fault.Is(err, fault.AlreadyExists) {
			return res, fault.E(op, fault.Aborted, "the kinds document changed while this one was checked (now version %d or later); retry", v.Number)
		}
		return res, err
	}
	a.reg.Advance(next, v.Number)
	res.Version, res.Applied = v.Number, true
	return res, nil
}

// trail returns the event and audit record of applying v over version
// prev, attributed to the actor in ctx; nil for the first version (see
// Trail). They name the version and the changed fields, nothing else of
// the document.
func trail(ctx context.Context, prev int64, v Version, changes []Change) *Trail {
	if prev == 0 {
		return nil
	}
	fields := make([]string, 0, len(changes))
	for _, c := range changes {
		fields = append(fields, c.Field())
	}
	e := outbox.New("atrium.kinds.applied", KindsSubject, v.ApplyTime,
		map[string]any{"version": v.Number, "previous": prev, "changes": fields})
	data, err := json.Marshal(map[string]any{"version": v.Number, "previous": prev, "changes": fields, "event": e.ID})
	if err != nil {
		panic("kind: audit data: " + err.Error()) // strings and numbers always encode
	}
	return &Trail{Event: e, Audit: audit.Entry{ID: ids.New("aud"), Type: e.Type, Time: v.ApplyTime, Data: data, Actor: audit.ActorFrom(ctx)}}
}

// liveSet returns the compiled Set of the stored version v, from the
// Registry when it holds that version.
func (a *Applier) liveSet(v Version) (*Set, error) {
	if v.Number == 0 {
		return &Set{kinds: map[string]*Kind{}, doc: &Document{}}, nil
	}
	if s, n := a.reg.Current(); n == v.Number && s != nil {
		return s, nil
	}
	return Load(v.Source, a.opts)
}

// Compatible checks that changes, which turn the live document into next,
// break nothing in use: for each change that needs it, it counts the
// accounts that use what is removed, and streams every stored copy of a
// fragment whose schema changed through next's schema, in batches of
// ScanBatch. open returns the JSON of sealed data. It returns nil, or
// fault.FailedPrecondition with one violation per refused change, its
// field the change's and its reason naming the number of accounts
// affected.
func Compatible(ctx context.Context, u Usage, next *Set, changes []Change, open func(StoredFragment) ([]byte, error)) error {
	const op = "kind.Compatible"
	var vs []fault.Violation
	for _, c := range changes {
		n, why, err := inUse(ctx, u, next, c, open)
		if err != nil {
			return err
		}
		if n == 0 {
			continue
		}
		vs = append(vs, fault.Violation{Field: c.Field(), Reason: fmt.Sprintf("%s; %s affected", why, count(int(n), "account"))})
	}
	if len(vs) > 0 {
		return &fault.Error{Op: op, Kind: fault.FailedPrecondition, Violations: vs,
			Msg: fmt.Sprintf("the kinds document makes %s that stored accounts still use", count(len(vs), "breaking change"))}
	}
	return nil
}

// inUse returns how many accounts change c would break, and why.
func inUse(ctx context.Context, u Usage, next *Set, c Change, open func(StoredFragment) ([]byte, error)) (int64, string, error) {
	switch c.Need {
	case NeedAccounts:
		n, err := u.CountAccounts(ctx, c.Kind, "")
		if c.What == "id_prefix" {
			return n, "cannot change: the IDs of existing " + c.Kind + " accounts carry the old prefix", err
		}
		return n, "cannot remove: accounts of kind " + c.Kind + " exist", err
	case NeedState:
		n, err := u.CountAccounts(ctx, c.Kind, c.Name)
		return n, "cannot remove: " + c.Kind + " accounts are in state " + c.Name, err
	case NeedIdentifiers:
		n, err := u.CountIdentifierHolders(ctx, c.Kind, c.Name)
		return n, "cannot remove: " + c.Kind + " accounts hold " + c.Name + " identifiers", err
	case NeedFragments:
		n, err := u.CountFragmentHolders(ctx, c.Kind, c.Name)
		if c.What == "sensitivity" {
			return n, "cannot make it encrypted: " + c.Kind + " accounts hold it unencrypted", err
		}
		return n, "cannot remove: " + c.Kind + " accounts hold this fragment", err
	case NeedSchema:
		k, _ := next.Kind(c.Kind)
		f, _ := k.Fragment(c.Name)
		n, err := countInvalid(ctx, u, c.Kind, f, open)
		return n, "stored " + c.Name + " data fails the new schema", err
	}
	return 0, "", nil
}

// countInvalid pages through the stored copies of fragment f of kind and
// counts those that f's schema refuses. Memory stays bounded by ScanBatch.
func countInvalid(ctx context.Context, u Usage, kind string, f *Fragment, open func(StoredFragment) ([]byte, error)) (int64, error) {
	const op = "kind.Compatible"
	var bad int64
	after := ""
	for {
		batch, err := u.ScanFragments(ctx, kind, f.Name, after, ScanBatch)
		if err != nil {
			return 0, err
		}
		for _, sf := range batch {
			data := sf.Data
			if sf.Sealed {
				if open == nil {
					return 0, fault.E(op, fault.Internal, "sealed fragment data and no way to open it")
				}
				if data, err = open(sf); err != nil {
					return 0, fault.Wrap(op, fault.Internal, err)
				}
			}
			v, err := decodeJSON(data)
			if err != nil || len(f.Validate(v)) > 0 {
				bad++
			}
		}
		if len(batch) < ScanBatch {
			return bad, nil
		}
		after = batch[len(batch)-1].AccountID
	}
}

// decodeJSON decodes stored fragment data as Validate expects it, with
// numbers as json.Number.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}
