package api

import (
	"context"
	"log/slog"
	"net/http"

	"connectrpc.com/connect"
	atriumv1 "github.com/atriumid/atrium/gen/atrium/v1"
	"github.com/atriumid/atrium/gen/atrium/v1/atriumv1connect"
	"github.com/atriumid/atrium/internal/credential"
)

// walletHandler serves WalletService: Sign-In with Ethereum and the
// wallets of the session's account.
type walletHandler struct{ *authHandler }

var _ atriumv1connect.WalletServiceHandler = walletHandler{}

// walletRoutes registers WalletService over Connect and REST. Like the
// other login flows it authenticates in its handlers: the sign-in methods
// take no credential, the others a session token.
func walletRoutes(mux *http.ServeMux, log *slog.Logger, c Config, opts ...connect.HandlerOption) {
	if c.Credentials == nil || c.Sessions == nil {
		return
	}
	h := walletHandler{&authHandler{creds: c.Credentials, sessions: c.Sessions, accounts: c.Accounts}}
	mux.Handle(atriumv1connect.NewWalletServiceHandler(h, opts...))
	handle := restHandle(mux, log)
	postRoute(handle, "/v1/auth/siwe/nonce", http.StatusOK, h.CreateSiweNonce)
	postRoute(handle, "/v1/auth/siwe/login", http.StatusOK, h.SiweLogin)
	postRoute(handle, "/v1/wallets:link", http.StatusCreated, h.LinkWallet)
	handle("GET /v1/wallets", func(w http.ResponseWriter, r *http.Request) error {
		return call(w, r, http.StatusOK, h.ListWallets, &atriumv1.ListWalletsRequest{})
	})
	postRoute(handle, "/v1/wallets:verifyEns", http.StatusOK, h.VerifyEnsName)
	handle("DELETE /v1/wallets/{id}", func(w http.ResponseWriter, r *http.Request) error {
		return call(w, r, http.StatusOK, h.UnlinkWallet, &atriumv1.UnlinkWalletRequest{Id: r.PathValue("id")})
	})
}

func (h walletHandler) CreateSiweNonce(ctx context.Context, _ *connect.Request[atriumv1.CreateSiweNonceRequest]) (*connect.Response[atriumv1.CreateSiweNonceResponse], error) {
	n, err := h.creds.NewNonce(ctx, clientOf(ctx))
	if err != nil {
		return nil, err
	}
	return noStore(connect.NewResponse(&atriumv1.CreateSiweNonceResponse{Nonce: n.Value, ExpireTime: timestamp(n.Expire)})), nil
}

func (h walletHandler) SiweLogin(ctx context.Context, req *connect.Request[atriumv1.SiweLoginRequest]) (*connect.Response[atriumv1.SiweLoginResponse], error) {
	res, err := h.creds.LoginWallet(ctx, credential.SignedMessage{Message: req.Msg.Message, Signature: req.Msg.Signature, Client: clientOf(ctx)})
	if err != nil {
		return nil, err
	}
	if res.MFARequired {
		return noStore(connect.NewResponse(&atriumv1.SiweLoginResponse{MfaRequired: true, Challenge: res.Challenge, ChallengeExpireTime: timestamp(res.ChallengeExpire)})), nil
	}
	acc, err := accountToProto(res.Account)
	if err != nil {
		return nil, err
	}
	return noStore(connect.NewResponse(&atriumv1.SiweLoginResponse{SessionToken: res.Token, Session: sessionToProto(res.Session), Account: acc})), nil
}

func (h walletHandler) VerifyEnsName(ctx context.Context, req *connect.Request[atriumv1.VerifyEnsNameRequest]) (*connect.Response[atriumv1.EnsName], error) {
	s, err := h.fullSession(ctx, req.Header())
	if err != nil {
		return nil, err
	}
	n, err := h.creds.VerifyENS(ctx, s, req.Msg.Name)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&atriumv1.EnsName{Name: n.Name, Address: n.Address.String(), VerifyTime: timestamp(n.VerifyTime)}), nil
}

func (h walletHandler) LinkWallet(ctx context.Context, req *connect.Request[atriumv1.LinkWalletRequest]) (*connect.Response[atriumv1.Wallet], error) {
	s, err := h.session(ctx, req.Header())
	if err != nil {
		return nil, err
	}
	w, err := h.creds.LinkWallet(ctx, s, credential.SignedMessage{Message: req.Msg.Message, Signature: req.Msg.Signature, Client: clientOf(ctx)})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(walletToProto(*w)), nil
}

func (h walletHandler) UnlinkWallet(ctx context.Context, req *connect.Request[atriumv1.UnlinkWalletRequest]) (*connect.Response[atriumv1.UnlinkWalletResponse], error) {
	s, err := h.session(ctx, req.Header())
	if err != nil {
		return nil, err
	}
	if err := h.creds.UnlinkWallet(ctx, s, req.Msg.Id); err != nil {
		return nil, err
	}
	return connect.NewResponse(&atriumv1.UnlinkWalletResponse{}), nil
}

func (h walletHandler) ListWallets(ctx context.Context, req *connect.Request[atriumv1.ListWalletsRequest]) (*connect.Response[atriumv1.ListWalletsResponse], error) {
	s, err := h.fullSession(ctx, req.Header())
	if err != nil {
		return nil, err
	}
	ws, err := h.creds.Wallets(ctx, s)
	if err != nil {
		return nil, err
	}
	out := &atriumv1.ListWalletsResponse{}
	for _, w := range ws {
		out.Wallets = append(out.Wallets, walletToProto(w))
	}
	return connect.NewResponse(out), nil
}

func walletToProto(w credential.WalletRecord) *atriumv1.Wallet {
	out := &atriumv1.Wallet{Id: w.Value, CreateTime: timestamp(w.CreateTime)}
	if id, addr, err := credential.WalletChain(w.Value); err == nil {
		out.ChainId, out.Address = id, addr.String()
	}
	return out
}
