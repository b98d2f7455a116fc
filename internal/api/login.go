package api

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"connectrpc.com/connect"
	atriumv1 "github.com/atriumid/atrium/gen/atrium/v1"
	"github.com/atriumid/atrium/gen/atrium/v1/atriumv1connect"
	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/credential"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/session"
	"google.golang.org/protobuf/proto"
)

// authHandler serves AuthService and SessionService: the login flows and
// the session routes, which authenticate with session tokens, not API
// keys.
type authHandler struct {
	creds    *credential.Service
	sessions *session.Service
	accounts *account.Service
}

var (
	_ atriumv1connect.AuthServiceHandler    = (*authHandler)(nil)
	_ atriumv1connect.SessionServiceHandler = (*authHandler)(nil)
)

// authRoutes registers AuthService and SessionService over Connect and
// REST. Without a credential service the deployment has no logins and
// nothing is registered.
func authRoutes(mux *http.ServeMux, log *slog.Logger, c Config, opts ...connect.HandlerOption) {
	if c.Credentials == nil || c.Sessions == nil {
		return
	}
	h := &authHandler{creds: c.Credentials, sessions: c.Sessions, accounts: c.Accounts}
	mux.Handle(atriumv1connect.NewAuthServiceHandler(h, opts...))
	mux.Handle(atriumv1connect.NewSessionServiceHandler(h, opts...))
	handle := restHandle(mux, log)
	postRoute(handle, "/v1/auth/register", http.StatusAccepted, h.Register)
	postRoute(handle, "/v1/auth/login", http.StatusOK, h.Login)
	postRoute(handle, "/v1/auth/login/mfa", http.StatusOK, h.LoginMfa)
	postRoute(handle, "/v1/auth/totp/enroll", http.StatusOK, h.EnrollTotp)
	postRoute(handle, "/v1/auth/totp/confirm", http.StatusOK, h.ConfirmTotp)
	postRoute(handle, "/v1/auth/password", http.StatusOK, h.ChangePassword)
	postRoute(handle, "/v1/auth/recovery-codes", http.StatusOK, h.RegenerateRecoveryCodes)
	postRoute(handle, "/v1/auth/email/verify", http.StatusOK, h.StartEmailVerification)
	postRoute(handle, "/v1/auth/email/confirm", http.StatusOK, h.ConfirmEmailVerification)
	postRoute(handle, "/v1/auth/phone/verify", http.StatusOK, h.StartPhoneVerification)
	postRoute(handle, "/v1/auth/phone/confirm", http.StatusOK, h.ConfirmPhoneVerification)
	postRoute(handle, "/v1/auth/recovery/start", http.StatusAccepted, h.StartRecovery)
	handle("DELETE /v1/auth/totp", func(w http.ResponseWriter, r *http.Request) error {
		return call(w, r, http.StatusOK, h.RemoveTotp, &atriumv1.RemoveTotpRequest{})
	})
	postRoute(handle, "/v1/auth/recovery/complete", http.StatusOK, h.CompleteRecovery)
	handle("PUT /v1/accounts/{id}/password-hash", func(w http.ResponseWriter, r *http.Request) error {
		msg := &atriumv1.ImportPasswordHashRequest{}
		if err := readMessage(r, msg); err != nil {
			return err
		}
		msg.AccountId = r.PathValue("id")
		return call(w, r, http.StatusOK, h.ImportPasswordHash, msg)
	})
	handle("/v1/auth/", func(w http.ResponseWriter, r *http.Request) error {
		return fault.E("api.rest", fault.NotFound, "no such method: %s %s", r.Method, r.URL.Path)
	})
	sessionRoutes(handle, h)
}

// postRoute registers POST path: the JSON body decodes into the request
// message of method, whose response is written with status.
func postRoute[Req, Res any](handle func(string, restFunc), path string, status int, method func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error)) {
	handle("POST "+path, func(w http.ResponseWriter, r *http.Request) error {
		msg := new(Req)
		if err := readMessage(r, any(msg).(proto.Message)); err != nil {
			return err
		}
		return call(w, r, status, method, msg)
	})
}

// clientKey carries the client's address in a request's context.
type clientKey struct{}

// withClient records the client's address for throttling. It is the
// connection's peer: forwarded-for headers are not trusted.
func withClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientKey{}, clientKeyOf(host))))
	})
}

// clientKeyOf is the throttling key of a client address: the address for
// IPv4, its /64 for IPv6, since one subscriber commonly holds a whole /64
// and could otherwise spread guesses over 2^64 keys.
func clientKeyOf(host string) string {
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Unmap().Is6() {
		return host
	}
	p, _ := ip.Prefix(64)
	return p.String()
}

func clientOf(ctx context.Context) string {
	s, _ := ctx.Value(clientKey{}).(string)
	return s
}

// selfAuthenticated reports whether r authenticates in its handler rather
// than with an API key: the login flows (no credential, or a session
// token), the wallet routes, and the session routes when they carry a
// session token. Such
// requests also skip Idempotency-Key handling, whose stored responses
// would hold session tokens.
func selfAuthenticated(r *http.Request) bool {
	p := r.URL.Path
	if p == atriumv1connect.AuthServiceImportPasswordHashProcedure {
		return false // an admin method
	}
	if strings.HasPrefix(p, "/v1/auth/") || strings.HasPrefix(p, "/"+atriumv1connect.AuthServiceName+"/") ||
		strings.HasPrefix(p, "/"+atriumv1connect.WalletServiceName+"/") || strings.HasPrefix(p, "/"+atriumv1connect.PasskeyServiceName+"/") {
		return true
	}
	if p == "/v1/wallets" || strings.HasPrefix(p, "/v1/wallets/") || strings.HasPrefix(p, "/v1/wallets:") {
		return true
	}
	if p == "/v1/sessions" || strings.HasPrefix(p, "/v1/sessions/") || strings.HasPrefix(p, "/v1/sessions:") || strings.HasPrefix(p, "/"+atriumv1connect.SessionServiceName+"/") {
		return session.LooksLikeToken(bearer(r.Header))
	}
	return false
}

func bearer(h http.Header) string {
	b, _ := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
	return b
}

// session authenticates the session token a request carries.
func (h *authHandler) session(ctx context.Context, header http.Header) (session.Session, error) {
	return h.sessions.Authenticate(ctx, bearer(header))
}

// fullSession authenticates the session token a request carries and
// refuses an AAL0 session, which is good only for enrolling a second
// factor (and for whoami and logging out).
func (h *authHandler) fullSession(ctx context.Context, header http.Header) (session.Session, error) {
	s, err := h.session(ctx, header)
	if err == nil && s.AAL == session.AAL0 {
		return s, fault.E("api.session", fault.PermissionDenied, "enrol a second factor first")
	}
	return s, err
}

func (h *authHandler) Register(ctx context.Context, req *connect.Request[atriumv1.RegisterRequest]) (*connect.Response[atriumv1.RegisterResponse], error) {
	m := req.Msg
	reg, err := h.creds.Register(ctx, credential.RegisterRequest{Kind: m.Kind, Password: m.Password, Client: clientOf(ctx),
		Identifier: account.IdentifierInput{Type: m.GetIdentifier().GetType(), Value: m.GetIdentifier().GetValue()}})
	if err != nil {
		return nil, err
	}
	return noStore(connect.NewResponse(&atriumv1.RegisterResponse{Flow: reg.Flow.Flow, ExpireTime: timestamp(reg.Flow.Expire)})), nil
}

func (h *authHandler) Login(ctx context.Context, req *connect.Request[atriumv1.LoginRequest]) (*connect.Response[atriumv1.LoginResponse], error) {
	m := req.Msg
	res, err := h.creds.Login(ctx, credential.LoginRequest{Password: m.Password, Client: clientOf(ctx),
		Identifier: account.IdentifierInput{Type: m.GetIdentifier().GetType(), Value: m.GetIdentifier().GetValue()}})
	return loginResponse(res, err)
}

func (h *authHandler) LoginMfa(ctx context.Context, req *connect.Request[atriumv1.LoginMfaRequest]) (*connect.Response[atriumv1.LoginResponse], error) {
	m := req.Msg
	res, err := h.creds.LoginMFA(ctx, credential.MFARequest{Challenge: m.Challenge, Code: m.Code, RecoveryCode: m.RecoveryCode, Client: clientOf(ctx)})
	return loginResponse(res, err)
}

func loginResponse(res *credential.LoginResult, err error) (*connect.Response[atriumv1.LoginResponse], error) {
	if err != nil {
		return nil, err
	}
	out := &atriumv1.LoginResponse{SessionToken: res.Token, MfaRequired: res.MFARequired, Challenge: res.Challenge,
		ChallengeExpireTime: timestamp(res.ChallengeExpire)}
	if res.Token != "" {
		out.Session = sessionToProto(res.Session)
	}
	return noStore(connect.NewResponse(out)), nil
}

// noStore marks a response that carries a secret as not cacheable.
func noStore[T any](res *connect.Response[T]) *connect.Response[T] {
	res.Header().Set("Cache-Control", "no-store")
	return res
}

func sessionToProto(s session.Session) *atriumv1.Session {
	return &atriumv1.Session{Id: s.ID, AccountId: s.AccountID, Aal: s.AAL.String(), Methods: s.Methods,
		AuthTime: timestamp(s.AuthTime), LastSeenTime: timestamp(s.LastSeen), ExpireTime: timestamp(s.ExpireTime)}
}

func (h *authHandler) EnrollTotp(ctx context.Context, req *connect.Request[atriumv1.EnrollTotpRequest]) (*connect.Response[atriumv1.EnrollTotpResponse], error) {
	s, err := h.session(ctx, req.Header())
	if err != nil {
		return nil, err
	}
	e, err := h.creds.EnrollTOTP(ctx, s)
	if err != nil {
		return nil, err
	}
	return noStore(connect.NewResponse(&atriumv1.EnrollTotpResponse{Secret: e.Secret, Uri: e.URI})), nil
}

func (h *authHandler) ConfirmTotp(ctx context.Context, req *connect.Request[atriumv1.ConfirmTotpRequest]) (*connect.Response[atriumv1.ConfirmTotpResponse], error) {
	s, err := h.session(ctx, req.Header())
	if err != nil {
		return nil, err
	}
	c, err := h.creds.ConfirmTOTP(ctx, s, req.Msg.Code, clientOf(ctx))
	if err != nil {
		return nil, err
	}
	return noStore(connect.NewResponse(&atriumv1.ConfirmTotpResponse{RecoveryCodes: c.RecoveryCodes, SessionToken: c.Token, Session: sessionToProto(c.Session)})), nil
}

func (h *authHandler) ChangePassword(ctx context.Context, req *connect.Request[atriumv1.ChangePasswordRequest]) (*connect.Response[atriumv1.LoginResponse], error) {
	s, err := h.session(ctx, req.Header())
	if err != nil {
		return nil, err
	}
	return loginResponse(h.creds.ChangePassword(ctx, credential.ChangePasswordRequest{Session: s, Current: req.Msg.CurrentPassword, Password: req.Msg.Password, Client: clientOf(ctx)}))
}

func (h *authHandler) RegenerateRecoveryCodes(ctx context.Context, req *connect.Request[atriumv1.RegenerateRecoveryCodesRequest]) (*connect.Response[atriumv1.RegenerateRecoveryCodesResponse], error) {
	s, err := h.session(ctx, req.Header())
	if err != nil {
		return nil, err
	}
	codes, err := h.creds.RegenerateRecoveryCodes(ctx, s)
	if err != nil {
		return nil, err
	}
	return noStore(connect.NewResponse(&atriumv1.RegenerateRecoveryCodesResponse{RecoveryCodes: codes})), nil
}

func (h *authHandler) StartEmailVerification(ctx context.Context, req *connect.Request[atriumv1.StartEmailVerificationRequest]) (*connect.Response[atriumv1.StartEmailVerificationResponse], error) {
	f, err := h.startVerification(ctx, req.Header(), h.creds.StartEmailVerification)
	if err != nil {
		return nil, err
	}
	return noStore(connect.NewResponse(&atriumv1.StartEmailVerificationResponse{Flow: f.Flow, ExpireTime: timestamp(f.Expire)})), nil
}

func (h *authHandler) StartPhoneVerification(ctx context.Context, req *connect.Request[atriumv1.StartPhoneVerificationRequest]) (*connect.Response[atriumv1.StartPhoneVerificationResponse], error) {
	f, err := h.startVerification(ctx, req.Header(), h.creds.StartPhoneVerification)
	if err != nil {
		return nil, err
	}
	return noStore(connect.NewResponse(&atriumv1.StartPhoneVerificationResponse{Flow: f.Flow, ExpireTime: timestamp(f.Expire)})), nil
}

// startVerification runs start for the session a request carries.
func (h *authHandler) startVerification(ctx context.Context, header http.Header, start func(context.Context, session.Session, string) (*credential.EmailFlow, error)) (*credential.EmailFlow, error) {
	s, err := h.session(ctx, header)
	if err != nil {
		return nil, err
	}
	return start(ctx, s, clientOf(ctx))
}

func (h *authHandler) ConfirmEmailVerification(ctx context.Context, req *connect.Request[atriumv1.ConfirmEmailVerificationRequest]) (*connect.Response[atriumv1.ConfirmEmailVerificationResponse], error) {
	if err := h.confirmVerification(ctx, req.Header(), req.Msg.Flow, req.Msg.Code, h.creds.ConfirmEmailVerification); err != nil {
		return nil, err
	}
	return connect.NewResponse(&atriumv1.ConfirmEmailVerificationResponse{}), nil
}

func (h *authHandler) ConfirmPhoneVerification(ctx context.Context, req *connect.Request[atriumv1.ConfirmPhoneVerificationRequest]) (*connect.Response[atriumv1.ConfirmPhoneVerificationResponse], error) {
	if err := h.confirmVerification(ctx, req.Header(), req.Msg.Flow, req.Msg.Code, h.creds.ConfirmPhoneVerification); err != nil {
		return nil, err
	}
	return connect.NewResponse(&atriumv1.ConfirmPhoneVerificationResponse{}), nil
}

// confirmVerification runs confirm for the session a request carries.
func (h *authHandler) confirmVerification(ctx context.Context, header http.Header, flow, code string, confirm func(context.Context, session.Session, string, string, string) error) error {
	s, err := h.session(ctx, header)
	if err != nil {
		return err
	}
	return confirm(ctx, s, flow, code, clientOf(ctx))
}

// ImportPasswordHash is for admins: it needs an API key, which the
// authenticator has already checked.
func (h *authHandler) ImportPasswordHash(ctx context.Context, req *connect.Request[atriumv1.ImportPasswordHashRequest]) (*connect.Response[atriumv1.ImportPasswordHashResponse], error) {
	if p, ok := PrincipalFrom(ctx); !ok || p.Role != "admin" {
		return nil, fault.E("api.ImportPasswordHash", fault.PermissionDenied, "an admin API key is required")
	}
	if err := h.creds.ImportPasswordHash(ctx, req.Msg.AccountId, req.Msg.PasswordHash); err != nil {
		return nil, err
	}
	return connect.NewResponse(&atriumv1.ImportPasswordHashResponse{}), nil
}

func (h *authHandler) StartRecovery(ctx context.Context, req *connect.Request[atriumv1.StartRecoveryRequest]) (*connect.Response[atriumv1.StartRecoveryResponse], error) {
	id := req.Msg.GetIdentifier()
	f, err := h.creds.StartRecovery(ctx, account.IdentifierInput{Type: id.GetType(), Value: id.GetValue()}, clientOf(ctx))
	if err != nil {
		return nil, err
	}
	return noStore(connect.NewResponse(&atriumv1.StartRecoveryResponse{Flow: f.Flow, ExpireTime: timestamp(f.Expire)})), nil
}

func (h *authHandler) CompleteRecovery(ctx context.Context, req *connect.Request[atriumv1.CompleteRecoveryRequest]) (*connect.Response[atriumv1.CompleteRecoveryResponse], error) {
	m := req.Msg
	err := h.creds.CompleteRecovery(ctx, credential.RecoverRequest{Flow: m.Flow, Code: m.Code, Password: m.Password,
		TOTPCode: m.TotpCode, RecoveryCode: m.RecoveryCode, Client: clientOf(ctx)})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&atriumv1.CompleteRecoveryResponse{}), nil
}

func (h *authHandler) RemoveTotp(ctx context.Context, req *connect.Request[atriumv1.RemoveTotpRequest]) (*connect.Response[atriumv1.RemoveTotpResponse], error) {
	s, err := h.session(ctx, req.Header())
	if err != nil {
		return nil, err
	}
	if err := h.creds.RemoveTOTP(ctx, s); err != nil {
		return nil, err
	}
	return connect.NewResponse(&atriumv1.RemoveTotpResponse{}), nil
}
