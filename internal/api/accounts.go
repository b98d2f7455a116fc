package api

import (
	"context"
	"strconv"

	"connectrpc.com/connect"
	atriumv1 "github.com/atriumid/atrium/gen/atrium/v1"
	"github.com/atriumid/atrium/gen/atrium/v1/atriumv1connect"
	"github.com/atriumid/atrium/internal/account"
)

// Headers of the REST mapping, also set on Connect responses.
const (
	freshnessHeader = "Atrium-Freshness"
	etagHeader      = "ETag"
)

// accountHandler serves AccountService. Its methods return domain errors;
// errorInterceptor and the REST layer turn them into protocol errors.
type accountHandler struct {
	svc *account.Service
}

var _ atriumv1connect.AccountServiceHandler = (*accountHandler)(nil)

// respond wraps msg in a response that carries the write's freshness token
// and the ETag of version (when not negative).
func respond[T any](msg *T, freshness string, version int64) *connect.Response[T] {
	res := connect.NewResponse(msg)
	if freshness != "" {
		res.Header().Set(freshnessHeader, freshness)
	}
	if version >= 0 {
		res.Header().Set(etagHeader, strconv.Quote(strconv.FormatInt(version, 10)))
	}
	return res
}

func (h *accountHandler) account(a *account.Account, err error) (*connect.Response[atriumv1.Account], error) {
	if err != nil {
		return nil, err
	}
	msg, err := accountToProto(a)
	if err != nil {
		return nil, err
	}
	return respond(msg, a.Freshness, a.Version), nil
}

func (h *accountHandler) fragment(f *account.Fragment, err error) (*connect.Response[atriumv1.Fragment], error) {
	if err != nil {
		return nil, err
	}
	msg, err := fragmentToProto(f)
	if err != nil {
		return nil, err
	}
	return respond(msg, f.Freshness, f.Version), nil
}

func (h *accountHandler) CreateAccount(ctx context.Context, req *connect.Request[atriumv1.CreateAccountRequest]) (*connect.Response[atriumv1.Account], error) {
	m := req.Msg
	in := account.CreateRequest{Kind: m.Kind, Fragments: make(map[string]map[string]any, len(m.Fragments)), Relationships: rawTuples(m.Relationships)}
	for name, s := range m.Fragments {
		in.Fragments[name] = structMap(s)
	}
	for _, id := range m.Identifiers {
		in.Identifiers = append(in.Identifiers, account.IdentifierInput{Type: id.GetType(), Value: id.GetValue()})
	}
	res, err := h.account(h.svc.Create(ctx, in))
	if err == nil {
		res.Header().Set("Location", "/v1/accounts/"+res.Msg.Id)
	}
	return res, err
}

func (h *accountHandler) GetAccount(ctx context.Context, req *connect.Request[atriumv1.GetAccountRequest]) (*connect.Response[atriumv1.Account], error) {
	return h.account(h.svc.GetSince(ctx, req.Msg.Id, req.Msg.Fragments, req.Msg.FreshnessToken))
}

func (h *accountHandler) ListAccounts(ctx context.Context, req *connect.Request[atriumv1.ListAccountsRequest]) (*connect.Response[atriumv1.ListAccountsResponse], error) {
	m := req.Msg
	if err := h.svc.CheckFreshness(m.FreshnessToken); err != nil {
		return nil, err
	}
	accs, next, err := h.svc.List(ctx, account.ListRequest{Kind: m.Kind, State: m.State, PageSize: int(m.PageSize), PageToken: m.PageToken})
	if err != nil {
		return nil, err
	}
	out := &atriumv1.ListAccountsResponse{NextPageToken: next, Accounts: make([]*atriumv1.Account, 0, len(accs))}
	for _, a := range accs {
		pa, err := accountToProto(a)
		if err != nil {
			return nil, err
		}
		out.Accounts = append(out.Accounts, pa)
	}
	return respond(out, "", -1), nil
}

func (h *accountHandler) TransitionAccount(ctx context.Context, req *connect.Request[atriumv1.TransitionAccountRequest]) (*connect.Response[atriumv1.Account], error) {
	return h.account(h.svc.Transition(ctx, req.Msg.Id, req.Msg.Transition, req.Msg.Reason))
}

func (h *accountHandler) DeleteAccount(ctx context.Context, req *connect.Request[atriumv1.DeleteAccountRequest]) (*connect.Response[atriumv1.Account], error) {
	return h.account(h.svc.Erase(ctx, req.Msg.Id))
}

func (h *accountHandler) GetFragment(ctx context.Context, req *connect.Request[atriumv1.GetFragmentRequest]) (*connect.Response[atriumv1.Fragment], error) {
	return h.fragment(h.svc.GetFragmentSince(ctx, req.Msg.AccountId, req.Msg.Name, req.Msg.FreshnessToken))
}

func (h *accountHandler) PutFragment(ctx context.Context, req *connect.Request[atriumv1.PutFragmentRequest]) (*connect.Response[atriumv1.Fragment], error) {
	m := req.Msg
	w := account.FragmentWrite{AccountID: m.AccountId, Name: m.Name, Expected: m.ExpectedVersion}
	return h.fragment(h.svc.PutFragment(ctx, w, structMap(m.Data)))
}

func (h *accountHandler) PatchFragment(ctx context.Context, req *connect.Request[atriumv1.PatchFragmentRequest]) (*connect.Response[atriumv1.Fragment], error) {
	m := req.Msg
	w := account.FragmentWrite{AccountID: m.AccountId, Name: m.Name, Expected: m.ExpectedVersion}
	return h.fragment(h.svc.PatchFragment(ctx, w, structMap(m.Patch)))
}

func (h *accountHandler) AddIdentifier(ctx context.Context, req *connect.Request[atriumv1.AddIdentifierRequest]) (*connect.Response[atriumv1.Identifier], error) {
	m := req.Msg
	id, err := h.svc.AddIdentifier(ctx, m.AccountId, account.IdentifierInput{Type: m.Type, Value: m.Value})
	if err != nil {
		return nil, err
	}
	return respond(identifierToProto(id), id.Freshness, -1), nil
}

func (h *accountHandler) ResolveIdentifier(ctx context.Context, req *connect.Request[atriumv1.ResolveIdentifierRequest]) (*connect.Response[atriumv1.Account], error) {
	return h.account(h.svc.ResolveSince(ctx, req.Msg.Type, req.Msg.Value, req.Msg.FreshnessToken))
}
