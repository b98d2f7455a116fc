package api

import (
	"context"

	"connectrpc.com/connect"
	atriumv1 "github.com/atriumid/atrium/gen/atrium/v1"
	"github.com/atriumid/atrium/gen/atrium/v1/atriumv1connect"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/kind"
)

// kindHandler serves KindService.
type kindHandler struct {
	history kind.History
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
	return respond(&atriumv1.KindsDocument{Version: v.Number, Document: string(v.Source), ApplyTime: timestamp(v.ApplyTime)}, "", -1), nil
}
