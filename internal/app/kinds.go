package app

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/atriumid/atrium/internal/envelope"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/kind"
	"github.com/atriumid/atrium/internal/relation"
)

// KindsPollInterval is how often a replica looks for a kinds document
// applied elsewhere. One indexed read of one row per interval; it bounds
// how long a replica serves an older document.
const KindsPollInterval = 500 * time.Millisecond

// kindOptions compiles kinds documents with their relations type-checked
// by the relationship engine.
var kindOptions = kind.CompileOptions{CheckRelations: checkRelations}

// KindOptions returns the options a server compiles kinds documents with:
// relations are type-checked by the relationship engine. Commands that
// check a document offline use them to report what a server would.
func KindOptions() kind.CompileOptions { return kindOptions }

// checkRelations type-checks the relations of every kind as one model. Its
// violations name "kinds.<kind>.relations", with the relation in the
// reason.
func checkRelations(relations map[string]string) error {
	const op = "app.checkRelations"
	_, err := relation.ParseKindRelations(relations)
	if err == nil {
		return nil
	}
	msg, vs := fault.PublicOf(err)
	if !fault.Is(err, fault.Invalid) && !fault.Is(err, fault.TooLarge) {
		return err
	}
	if len(vs) == 0 {
		vs = []fault.Violation{{Field: "kinds", Reason: "relations: " + msg}}
	}
	out := make([]fault.Violation, len(vs))
	for i, v := range vs {
		out[i] = v
		if strings.HasPrefix(v.Field, "kinds.") {
			continue
		}
		typ, rel, _ := strings.Cut(v.Field, "#")
		out[i].Field = "kinds." + typ + ".relations"
		if rel != "" {
			out[i].Reason = rel + ": " + v.Reason
		}
	}
	return fault.Invalidf(op, out, "relations do not type-check")
}

// openFragment returns a function that opens sealed stored fragments with
// keys, for the compatibility check of a changed schema.
func openFragment(keys *envelope.Keyring) func(kind.StoredFragment) ([]byte, error) {
	return func(sf kind.StoredFragment) ([]byte, error) {
		dek, err := keys.Unwrap(sf.DataKey)
		if err != nil {
			return nil, err
		}
		return dek.Open(sf.Data, envelope.FragmentAAD(sf.AccountID, sf.Fragment))
	}
}

// newApplier returns the Applier of a server: relations checked, sealed
// fragments opened with keys.
func newApplier(store kind.Store, reg *kind.Registry, keys *envelope.Keyring) *kind.Applier {
	var open func(kind.StoredFragment) ([]byte, error)
	if keys != nil {
		open = openFragment(keys)
	}
	return kind.NewApplier(kind.ApplierConfig{Store: store, Registry: reg, Options: kindOptions, Open: open})
}

// InstallKinds makes sure the database holds a kinds document and returns
// a registry of the live one. On an empty database it stores file's
// document, or the built-in one when file is empty. When file is given and
// differs from the stored document, it is applied as the next version,
// with the checks of every apply: a breaking change still in use is
// refused. keys opens sealed fragments for those checks; it may be nil
// when no pii or secret schema changes.
func InstallKinds(ctx context.Context, store kind.Store, file, appliedBy string, keys *envelope.Keyring) (*kind.Registry, error) {
	const op = "app.InstallKinds"
	var src []byte
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fault.E(op, fault.Invalid, "cannot read kinds file %s: %v", file, err)
		}
		src = b
	}
	latest, err := store.LatestKinds(ctx)
	reg := kind.NewRegistry(nil, 0)
	switch {
	case fault.Is(err, fault.NotFound):
		if src == nil {
			src = kind.Builtin()
		}
	case err != nil:
		return nil, err
	default:
		set, err := kind.Load(latest.Source, kindOptions)
		if err != nil {
			return nil, fault.Wrap(op, fault.Internal, err)
		}
		reg = kind.NewRegistry(set, latest.Number)
		if src == nil || bytes.Equal(src, latest.Source) {
			return reg, nil
		}
	}
	_, err = newApplier(store, reg, keys).Apply(ctx, kind.ApplyRequest{Source: src, AppliedBy: appliedBy})
	if fault.Is(err, fault.Aborted) && latest.Number == 0 {
		// Another replica installed the first version at the same time.
		return InstallKinds(ctx, store, file, appliedBy, keys)
	}
	if err != nil {
		return nil, err
	}
	return reg, nil
}

// watchKinds polls the database for kinds documents applied by other
// replicas, every interval and whenever wake receives, and makes each newer
// one live, until ctx ends. Requests in flight keep the Set they started
// with; the next ones get the new one.
func watchKinds(ctx context.Context, h kind.History, reg *kind.Registry, every time.Duration, wake <-chan struct{}, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wake:
		}
		n, err := h.LatestKindsNumber(ctx)
		if _, cur := reg.Current(); err != nil || n <= cur {
			if err != nil && ctx.Err() == nil {
				log.Warn("cannot look for a new kinds document", "err", err)
			}
			continue
		}
		v, err := h.KindsVersion(ctx, n)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("cannot read the new kinds document", "version", n, "err", err)
			}
			continue
		}
		set, err := kind.Load(v.Source, kindOptions)
		if err != nil {
			log.Error("a stored kinds document does not compile", "version", n, "err", err)
			continue
		}
		if reg.Advance(set, n) {
			log.Info("kinds document is live", "version", n)
		}
	}
}
