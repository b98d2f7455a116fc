package api

import (
	"context"
	"log/slog"
	"net/http"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	atriumv1 "github.com/atriumid/atrium/gen/atrium/v1"
	"github.com/atriumid/atrium/gen/atrium/v1/atriumv1connect"
	"github.com/atriumid/atrium/internal/audit"
	"github.com/atriumid/atrium/internal/credential"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/passkey"
	"github.com/atriumid/atrium/internal/session"
)

// passkeyHandler serves PasskeyService: WebAuthn registration and login,
// and the passkeys of the session's account.
type passkeyHandler struct{ *authHandler }

var _ atriumv1connect.PasskeyServiceHandler = passkeyHandler{}

// passkeyRoutes registers PasskeyService over Connect and REST. Like the
// other login flows it authenticates in its handlers. Its requests carry
// their actor (the client's address and user agent) for the audit records
// of passkey changes and logins.
func passkeyRoutes(mux *http.ServeMux, log *slog.Logger, c Config, opts ...connect.HandlerOption) {
	if c.Credentials == nil || c.Sessions == nil {
		return
	}
	h := passkeyHandler{&authHandler{creds: c.Credentials, sessions: c.Sessions, accounts: c.Accounts}}
	path, connectHandler := atriumv1connect.NewPasskeyServiceHandler(h, opts...)
	mux.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		connectHandler.ServeHTTP(w, withAnonymousActor(w, r))
	}))
	rest := restHandle(mux, log)
	handle := func(pattern string, f restFunc) {
		rest(pattern, func(w http.ResponseWriter, r *http.Request) error { return f(w, withAnonymousActor(w, r)) })
	}
	postRoute(handle, "/v1/auth/webauthn/register/begin", http.StatusOK, h.BeginPasskeyRegistration)
	postRoute(handle, "/v1/auth/webauthn/register/finish", http.StatusCreated, h.FinishPasskeyRegistration)
	postRoute(handle, "/v1/auth/webauthn/login/begin", http.StatusOK, h.BeginPasskeyLogin)
	postRoute(handle, "/v1/auth/webauthn/login/finish", http.StatusOK, h.FinishPasskeyLogin)
	handle("GET /v1/auth/passkeys", func(w http.ResponseWriter, r *http.Request) error {
		return call(w, r, http.StatusOK, h.ListPasskeys, &atriumv1.ListPasskeysRequest{})
	})
	handle("DELETE /v1/auth/passkeys/{id}", func(w http.ResponseWriter, r *http.Request) error {
		return call(w, r, http.StatusOK, h.DeletePasskey, &atriumv1.DeletePasskeyRequest{Id: r.PathValue("id")})
	})
}

// withAnonymousActor returns r carrying an anonymous actor with the
// request's address, user agent and ID; a method that authenticates a
// session names its account instead (asAccount).
func withAnonymousActor(w http.ResponseWriter, r *http.Request) *http.Request {
	return r.WithContext(audit.WithActor(r.Context(), requestActor(w, r, "anonymous")))
}

// asAccount returns ctx with its actor attributed to the session's
// account.
func asAccount(ctx context.Context, s session.Session) context.Context {
	a := audit.ActorFrom(ctx)
	a.Principal = "account:" + s.AccountID
	return audit.WithActor(ctx, a)
}

// sessionActor authenticates the request's session and attributes ctx to
// its account.
func (h passkeyHandler) sessionActor(ctx context.Context, header http.Header) (context.Context, session.Session, error) {
	s, err := h.session(ctx, header)
	if err != nil {
		return ctx, s, err
	}
	return asAccount(ctx, s), s, nil
}

// credentialJSON returns the JSON of a PublicKeyCredential sent as a
// Struct, within passkey.MaxResponseBytes.
func credentialJSON(c *structpb.Struct) ([]byte, error) {
	const op = "api.credentialJSON"
	if c == nil {
		return nil, fault.Invalidf(op, []fault.Violation{{Field: "credential", Reason: "required"}}, "missing credential")
	}
	b, err := protojson.Marshal(c)
	if err != nil {
		return nil, fault.Invalidf(op, []fault.Violation{{Field: "credential", Reason: "not JSON"}}, "malformed credential")
	}
	if len(b) > passkey.MaxResponseBytes {
		return nil, fault.E(op, fault.TooLarge, "credential larger than %d bytes", passkey.MaxResponseBytes)
	}
	return b, nil
}

func ceremonyToProto(c *credential.Ceremony) (*connect.Response[atriumv1.PasskeyCeremony], error) {
	opts := &structpb.Struct{}
	if err := protojson.Unmarshal(c.Options, opts); err != nil {
		return nil, fault.Wrap("api.ceremonyToProto", fault.Internal, err)
	}
	return noStore(connect.NewResponse(&atriumv1.PasskeyCeremony{Options: opts, ExpireTime: timestamp(c.Expire)})), nil
}

func passkeyToProto(r credential.PasskeyRecord) *atriumv1.Passkey {
	return &atriumv1.Passkey{Id: credential.PasskeyID(r.ID), Name: r.Name, CreateTime: timestamp(r.CreateTime),
		LastUseTime: timestamp(r.LastUseTime), FlagTime: timestamp(r.FlagTime)}
}

func (h passkeyHandler) BeginPasskeyRegistration(ctx context.Context, req *connect.Request[atriumv1.BeginPasskeyRegistrationRequest]) (*connect.Response[atriumv1.PasskeyCeremony], error) {
	ctx, s, err := h.sessionActor(ctx, req.Header())
	if err != nil {
		return nil, err
	}
	c, err := h.creds.BeginPasskeyRegistration(ctx, s)
	if err != nil {
		return nil, err
	}
	return ceremonyToProto(c)
}

func (h passkeyHandler) FinishPasskeyRegistration(ctx context.Context, req *connect.Request[atriumv1.FinishPasskeyRegistrationRequest]) (*connect.Response[atriumv1.Passkey], error) {
	ctx, s, err := h.sessionActor(ctx, req.Header())
	if err != nil {
		return nil, err
	}
	b, err := credentialJSON(req.Msg.Credential)
	if err != nil {
		return nil, err
	}
	r, err := h.creds.FinishPasskeyRegistration(ctx, s, req.Msg.Name, b)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(passkeyToProto(*r)), nil
}

func (h passkeyHandler) BeginPasskeyLogin(ctx context.Context, req *connect.Request[atriumv1.BeginPasskeyLoginRequest]) (*connect.Response[atriumv1.PasskeyCeremony], error) {
	c, err := h.creds.BeginPasskeyLogin(ctx, req.Msg.Challenge, clientOf(ctx))
	if err != nil {
		return nil, err
	}
	return ceremonyToProto(c)
}

func (h passkeyHandler) FinishPasskeyLogin(ctx context.Context, req *connect.Request[atriumv1.FinishPasskeyLoginRequest]) (*connect.Response[atriumv1.LoginResponse], error) {
	b, err := credentialJSON(req.Msg.Credential)
	if err != nil {
		return nil, err
	}
	return loginResponse(h.creds.FinishPasskeyLogin(ctx, b, clientOf(ctx)))
}

func (h passkeyHandler) ListPasskeys(ctx context.Context, req *connect.Request[atriumv1.ListPasskeysRequest]) (*connect.Response[atriumv1.ListPasskeysResponse], error) {
	ctx, s, err := h.sessionActor(ctx, req.Header())
	if err != nil {
		return nil, err
	}
	recs, err := h.creds.Passkeys(ctx, s)
	if err != nil {
		return nil, err
	}
	out := &atriumv1.ListPasskeysResponse{}
	for _, r := range recs {
		out.Passkeys = append(out.Passkeys, passkeyToProto(r))
	}
	return connect.NewResponse(out), nil
}

func (h passkeyHandler) DeletePasskey(ctx context.Context, req *connect.Request[atriumv1.DeletePasskeyRequest]) (*connect.Response[atriumv1.DeletePasskeyResponse], error) {
	ctx, s, err := h.sessionActor(ctx, req.Header())
	if err != nil {
		return nil, err
	}
	if err := h.creds.DeletePasskey(ctx, s, req.Msg.Id); err != nil {
		return nil, err
	}
	return connect.NewResponse(&atriumv1.DeletePasskeyResponse{}), nil
}
