package api

import (
	"context"
	"strings"

	"connectrpc.com/connect"
	atriumv1 "github.com/atriumid/atrium/gen/atrium/v1"
	"github.com/atriumid/atrium/gen/atrium/v1/atriumv1connect"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/kind"
)

// KindApplier applies kinds documents; *kind.Applier implements it.
type KindApplier interface {
	// Apply checks and applies a document; see kind.Applier.Apply for the
	// errors.
	Apply(ctx context.Context, req kind.ApplyRequest) (kind.ApplyResult, error)
}

// kindHandler serves KindService.
type kindHandler struct {
	history kind.History
	applier KindApplier
}

var _ atriumv1connect.KindServiceHandler = (*kindHandler)(nil)

func (h *kindHandler) GetKinds(ctx context.Context, req *connect.Request[atriumv1.GetKindsRequest]) (*connect.Response[atriumv1.KindsDocument], error) {
	var v kind.Version
	var err error
	switch n := req.Msg.Version; {
	case n < 0:
		return nil, fault.Invalidf("api.GetKinds", []fault.Violation{{Field: "version", Reason: "must not be negative"}}, "bad version")
	case n == 0:
		v, err = h.history.LatestKinds(ctx)
	default:
		v, err = h.history.KindsVersion(ctx, n)
	}
	if err != nil {
		return nil, err
	}
	return respond(&atriumv1.KindsDocument{Version: v.Number, Document: string(v.Source), ApplyTime: timestamp(v.ApplyTime),
		AppliedBy: v.AppliedBy, Changes: diffLines(v.Diff)}, "", -1), nil
}

func (h *kindHandler) PutKinds(ctx context.Context, req *connect.Request[atriumv1.PutKindsRequest]) (*connect.Response[atriumv1.PutKindsResponse], error) {
	const op = "api.PutKinds"
	if err := requireAdmin(ctx, op, "applying a kinds document needs an admin API key"); err != nil {
		return nil, err
	}
	p, _ := PrincipalFrom(ctx)
	if h.applier == nil {
		return nil, fault.E(op, fault.FailedPrecondition, "this server does not apply kinds documents")
	}
	res, err := h.applier.Apply(ctx, kind.ApplyRequest{Source: []byte(req.Msg.Document), AppliedBy: p.KeyID, DryRun: req.Msg.DryRun})
	if err != nil {
		return nil, err
	}
	out := &atriumv1.PutKindsResponse{Version: res.Version, Applied: res.Applied, Changes: diffLines(kind.DiffText(res.Changes))}
	if len(res.Changes) == 0 {
		out.Changes = nil
	}
	return respond(out, "", -1), nil
}

// diffLines splits a stored diff into its lines.
func diffLines(diff string) []string {
	diff = strings.TrimSpace(diff)
	if diff == "" || diff == "no changes" {
		return nil
	}
	return strings.Split(diff, "\n")
}
