package api

import (
	"context"
	"net/http"

	"connectrpc.com/connect"
	atriumv1 "github.com/atriumid/atrium/gen/atrium/v1"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/session"
)

// sessionRoutes registers the REST mapping of SessionService.
func sessionRoutes(handle func(string, restFunc), h *authHandler) {
	handle("GET /v1/sessions/whoami", func(w http.ResponseWriter, r *http.Request) error {
		return call(w, r, http.StatusOK, h.WhoAmI, &atriumv1.WhoAmIRequest{})
	})
	handle("GET /v1/sessions", func(w http.ResponseWriter, r *http.Request) error {
		return call(w, r, http.StatusOK, h.ListSessions, &atriumv1.ListSessionsRequest{})
	})
	handle("DELETE /v1/sessions/{id}", func(w http.ResponseWriter, r *http.Request) error {
		return call(w, r, http.StatusOK, h.RevokeSession, &atriumv1.RevokeSessionRequest{Id: r.PathValue("id")})
	})
	postRoute(handle, "/v1/sessions:revoke-others", http.StatusOK, h.RevokeOtherSessions)
	handle("DELETE /v1/accounts/{id}/sessions", func(w http.ResponseWriter, r *http.Request) error {
		return call(w, r, http.StatusOK, h.RevokeAccountSessions, &atriumv1.RevokeAccountSessionsRequest{AccountId: r.PathValue("id")})
	})
}

func (h *authHandler) WhoAmI(ctx context.Context, req *connect.Request[atriumv1.WhoAmIRequest]) (*connect.Response[atriumv1.WhoAmIResponse], error) {
	s, err := h.session(ctx, req.Header())
	if err != nil {
		return nil, err
	}
	a, err := h.accounts.Get(ctx, s.AccountID, nil)
	if err != nil {
		return nil, err
	}
	msg, err := accountToProto(a)
	if err != nil {
		return nil, err
	}
	return noStore(connect.NewResponse(&atriumv1.WhoAmIResponse{Session: sessionToProto(s), Account: msg})), nil
}

func (h *authHandler) ListSessions(ctx context.Context, req *connect.Request[atriumv1.ListSessionsRequest]) (*connect.Response[atriumv1.ListSessionsResponse], error) {
	s, err := h.fullSession(ctx, req.Header())
	if err != nil {
		return nil, err
	}
	list, err := h.sessions.List(ctx, s.AccountID)
	if err != nil {
		return nil, err
	}
	out := &atriumv1.ListSessionsResponse{}
	for _, x := range list {
		out.Sessions = append(out.Sessions, sessionToProto(x))
	}
	return connect.NewResponse(out), nil
}

func (h *authHandler) RevokeSession(ctx context.Context, req *connect.Request[atriumv1.RevokeSessionRequest]) (*connect.Response[atriumv1.RevokeSessionsResponse], error) {
	s, err := h.session(ctx, req.Header())
	if err != nil {
		return nil, err
	}
	if req.Msg.Id != s.ID && s.AAL == session.AAL0 {
		return nil, fault.E("api.RevokeSession", fault.PermissionDenied, "enrol a second factor first")
	}
	if err := h.sessions.Revoke(ctx, s.AccountID, req.Msg.Id, s.ID); err != nil {
		return nil, err
	}
	return connect.NewResponse(&atriumv1.RevokeSessionsResponse{Revoked: 1}), nil
}

func (h *authHandler) RevokeOtherSessions(ctx context.Context, req *connect.Request[atriumv1.RevokeOtherSessionsRequest]) (*connect.Response[atriumv1.RevokeSessionsResponse], error) {
	s, err := h.fullSession(ctx, req.Header())
	if err != nil {
		return nil, err
	}
	n, err := h.sessions.RevokeOthers(ctx, s.AccountID, s.ID)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&atriumv1.RevokeSessionsResponse{Revoked: int32(n)}), nil
}

// RevokeAccountSessions is for admins: it needs an API key, which the
// authenticator has already checked.
func (h *authHandler) RevokeAccountSessions(ctx context.Context, req *connect.Request[atriumv1.RevokeAccountSessionsRequest]) (*connect.Response[atriumv1.RevokeSessionsResponse], error) {
	if err := requireAdmin(ctx, "api.RevokeAccountSessions", "an admin API key is required"); err != nil {
		return nil, err
	}
	if _, err := h.accounts.Get(ctx, req.Msg.AccountId, []string{}); err != nil {
		return nil, err
	}
	n, err := h.sessions.RevokeAll(ctx, req.Msg.AccountId)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&atriumv1.RevokeSessionsResponse{Revoked: int32(n)}), nil
}
