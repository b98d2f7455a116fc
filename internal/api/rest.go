package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"connectrpc.com/connect"
	atriumv1 "github.com/atriumid/atrium/gen/atrium/v1"
	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/fault"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// The REST mapping is written out by hand rather than transcoded, because
// its HTTP semantics (201 on create, ETag and If-Match, the freshness
// header, merge patch bodies) do not fit an annotation. Each route decodes
// into the same request message that gRPC and Connect carry and calls the
// same handler method, so there is one implementation of every method. Two
// reads differ only in how they reach the service: GetAccount and
// ResolveIdentifier ask it for their JSON body (GetEncoded,
// ResolveEncoded), which it keeps for repeated reads of one snapshot, built
// by the same accountToProto.

var (
	unmarshal = protojson.UnmarshalOptions{DiscardUnknown: false}
	marshal   = protojson.MarshalOptions{}
)

// restFunc is a REST handler that returns its error for one place to write.
type restFunc func(w http.ResponseWriter, r *http.Request) error

// restHandle returns a function that registers a restFunc on mux under a
// pattern, answering its error through the one error table.
func restHandle(mux *http.ServeMux, log *slog.Logger) func(pattern string, f restFunc) {
	return func(pattern string, f restFunc) {
		mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := f(w, r); err != nil {
				writeError(w, r, log, err)
			}
		}))
	}
}

// restRoutes registers the REST mapping of accounts and kinds on mux.
func restRoutes(mux *http.ServeMux, log *slog.Logger, ah *accountHandler, kh *kindHandler) {
	handle := restHandle(mux, log)
	handle("POST /v1/accounts", func(w http.ResponseWriter, r *http.Request) error {
		msg := &atriumv1.CreateAccountRequest{}
		if err := readMessage(r, msg); err != nil {
			return err
		}
		return call(w, r, http.StatusCreated, ah.CreateAccount, msg)
	})
	handle("GET /v1/accounts", func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		size, err := intParam(q.Get("page_size"), q.Get("pageSize"))
		if err != nil {
			return err
		}
		msg := &atriumv1.ListAccountsRequest{Kind: q.Get("kind"), State: q.Get("state"), PageSize: size,
			PageToken: first(q.Get("page_token"), q.Get("pageToken")), FreshnessToken: r.Header.Get(freshnessHeader)}
		return call(w, r, http.StatusOK, ah.ListAccounts, msg)
	})
	handle("GET /v1/accounts/{id}", func(w http.ResponseWriter, r *http.Request) error {
		msg := &atriumv1.GetAccountRequest{Id: r.PathValue("id"), FreshnessToken: r.Header.Get(freshnessHeader)}
		if f := r.URL.Query().Get("fragments"); f != "" {
			msg.Fragments = strings.Split(f, ",")
		}
		enc, err := ah.svc.GetEncoded(r.Context(), msg.Id, msg.Fragments, msg.FreshnessToken, restAccount)
		return writeEncoded(w, enc, err)
	})
	handle("POST /v1/accounts/{idAction}", func(w http.ResponseWriter, r *http.Request) error {
		id, action, _ := strings.Cut(r.PathValue("idAction"), ":")
		if action != "transition" {
			return fault.E("api.rest", fault.NotFound, "no such method: POST %s", r.URL.Path)
		}
		msg := &atriumv1.TransitionAccountRequest{}
		if err := readMessage(r, msg); err != nil {
			return err
		}
		msg.Id = id
		return call(w, r, http.StatusOK, ah.TransitionAccount, msg)
	})
	handle("DELETE /v1/accounts/{id}", func(w http.ResponseWriter, r *http.Request) error {
		return call(w, r, http.StatusOK, ah.DeleteAccount, &atriumv1.DeleteAccountRequest{Id: r.PathValue("id")})
	})
	handle("GET /v1/accounts/{id}/fragments/{name}", func(w http.ResponseWriter, r *http.Request) error {
		msg := &atriumv1.GetFragmentRequest{AccountId: r.PathValue("id"), Name: r.PathValue("name"), FreshnessToken: r.Header.Get(freshnessHeader)}
		return call(w, r, http.StatusOK, ah.GetFragment, msg)
	})
	handle("PUT /v1/accounts/{id}/fragments/{name}", func(w http.ResponseWriter, r *http.Request) error {
		data, expected, err := readFragmentWrite(r)
		if err != nil {
			return err
		}
		msg := &atriumv1.PutFragmentRequest{AccountId: r.PathValue("id"), Name: r.PathValue("name"), Data: data, ExpectedVersion: expected}
		return call(w, r, http.StatusOK, ah.PutFragment, msg)
	})
	handle("PATCH /v1/accounts/{id}/fragments/{name}", func(w http.ResponseWriter, r *http.Request) error {
		patch, expected, err := readFragmentWrite(r)
		if err != nil {
			return err
		}
		msg := &atriumv1.PatchFragmentRequest{AccountId: r.PathValue("id"), Name: r.PathValue("name"), Patch: patch, ExpectedVersion: expected}
		return call(w, r, http.StatusOK, ah.PatchFragment, msg)
	})
	handle("POST /v1/accounts/{id}/identifiers", func(w http.ResponseWriter, r *http.Request) error {
		msg := &atriumv1.AddIdentifierRequest{}
		if err := readMessage(r, msg); err != nil {
			return err
		}
		msg.AccountId = r.PathValue("id")
		return call(w, r, http.StatusCreated, ah.AddIdentifier, msg)
	})
	handle("GET /v1/identifiers/{type}/{value...}", func(w http.ResponseWriter, r *http.Request) error {
		enc, err := ah.svc.ResolveEncoded(r.Context(), r.PathValue("type"), r.PathValue("value"), r.Header.Get(freshnessHeader), restAccount)
		return writeEncoded(w, enc, err)
	})
	handle("GET /v1/kinds", func(w http.ResponseWriter, r *http.Request) error {
		v, err := intParam(r.URL.Query().Get("version"), "")
		if err != nil {
			return err
		}
		return call(w, r, http.StatusOK, kh.GetKinds, &atriumv1.GetKindsRequest{Version: int64(v)})
	})
	handle("PUT /v1/kinds", func(w http.ResponseWriter, r *http.Request) error {
		msg := &atriumv1.PutKindsRequest{}
		if err := readMessage(r, msg); err != nil {
			return err
		}
		return call(w, r, http.StatusOK, kh.PutKinds, msg)
	})
	handle("/v1/", func(w http.ResponseWriter, r *http.Request) error {
		return fault.E("api.rest", fault.NotFound, "no such method: %s %s", r.Method, r.URL.Path)
	})
}

// call runs a handler method with msg and writes its response with status.
func call[Req, Res any](w http.ResponseWriter, r *http.Request, status int, method func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error), msg *Req) error {
	req := connect.NewRequest(msg)
	for k, vs := range r.Header {
		req.Header()[k] = vs
	}
	res, err := method(r.Context(), req)
	if err != nil {
		return err
	}
	for k, vs := range res.Header() {
		w.Header()[k] = vs
	}
	b, err := encodeJSON(any(res.Msg).(proto.Message))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
	return nil
}

// encodeJSON returns the REST encoding of msg: protojson, compacted.
func encodeJSON(msg proto.Message) ([]byte, error) {
	b, err := marshal.Marshal(msg)
	if err != nil {
		return nil, fault.Wrap("api.rest", fault.Internal, err)
	}
	// protojson varies its spacing on purpose; REST clients get it stable.
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return nil, fault.Wrap("api.rest", fault.Internal, err)
	}
	return out.Bytes(), nil
}

// restAccount is the REST encoding of an account, as GetAccount's answer.
// The service keeps what it makes for reads served from its cache, so
// repeated reads of one version skip building and encoding the account.
var restAccount = account.Encoding{Name: "rest-json", Encode: func(a *account.Account) ([]byte, error) {
	msg, err := accountToProto(a)
	if err != nil {
		return nil, err
	}
	return encodeJSON(msg)
}}

// writeEncoded answers a read of one account with its encoded body and
// its version as the ETag, or returns err.
func writeEncoded(w http.ResponseWriter, enc account.Encoded, err error) error {
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set(etagHeader, strconv.Quote(strconv.FormatInt(enc.Version, 10)))
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(enc.Body)
	return nil
}

// readBody reads the request body, which the body limit has capped,
// checking that it is JSON.
func readBody(r *http.Request, types ...string) ([]byte, error) {
	const op = "api.readBody"
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" {
		mt, err = "application/json", nil
	}
	if err != nil || !contains(append(types, "application/json"), mt) {
		return nil, &fault.Error{Op: op, Kind: fault.UnsupportedMedia, Msg: "Content-Type must be application/json", Violations: []fault.Violation{{Field: "Content-Type", Reason: "unsupported media type"}}}
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &fault.Error{Op: op, Kind: fault.TooLarge, Msg: "request body larger than " + strconv.FormatInt(mbe.Limit, 10) + " bytes", Err: err}
		}
		return nil, fault.Wrap(op, fault.Invalid, err)
	}
	return b, nil
}

// readMessage decodes a protobuf-JSON request body into msg, refusing
// unknown fields.
func readMessage(r *http.Request, msg proto.Message) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	if len(b) == 0 {
		b = []byte("{}")
	}
	if err := unmarshal.Unmarshal(b, msg); err != nil {
		return fault.Invalidf("api.readMessage", []fault.Violation{{Field: "body", Reason: cleanProtoError(err)}}, "malformed request body")
	}
	return nil
}

// readFragmentWrite decodes a fragment body (a JSON object: the data for
// PUT, a merge patch for PATCH) and the If-Match header.
func readFragmentWrite(r *http.Request) (*structpb.Struct, *int64, error) {
	const op = "api.readFragmentWrite"
	expected, err := ifMatch(r.Header.Get("If-Match"))
	if err != nil {
		return nil, nil, err
	}
	b, err := readBody(r, "application/merge-patch+json")
	if err != nil {
		return nil, nil, err
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(b, &probe); err != nil || probe == nil {
		return nil, nil, fault.Invalidf(op, []fault.Violation{{Field: "body", Reason: "must be a JSON object"}}, "malformed request body")
	}
	s := &structpb.Struct{}
	if err := unmarshal.Unmarshal(b, s); err != nil {
		return nil, nil, fault.Invalidf(op, []fault.Violation{{Field: "body", Reason: cleanProtoError(err)}}, "malformed request body")
	}
	return s, expected, nil
}

// ifMatch parses an If-Match header holding one fragment version: "3",
// 3 or W/"3". An absent header or * means no condition.
func ifMatch(h string) (*int64, error) {
	h = strings.TrimSpace(h)
	if h == "" || h == "*" {
		return nil, nil
	}
	v, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(h, "W/"), `"`), 10, 64)
	if err != nil || v < 0 {
		return nil, fault.Invalidf("api.ifMatch", []fault.Violation{{Field: "If-Match", Reason: `must be a fragment version, as in "3"`}}, "malformed If-Match")
	}
	return &v, nil
}

// intParam parses the first non-empty of a query parameter's spellings.
func intParam(vals ...string) (int32, error) {
	s := first(vals...)
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, fault.Invalidf("api.intParam", []fault.Violation{{Field: "query", Reason: "not an integer"}}, "malformed query parameter")
	}
	return int32(v), nil
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// cleanProtoError drops the "proto: " prefix and position noise from a
// protojson error, keeping what names the field.
func cleanProtoError(err error) string {
	s := strings.TrimPrefix(err.Error(), "proto:")
	s = strings.TrimSpace(strings.ReplaceAll(s, "\u00a0", " "))
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// writeJSON writes v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"code":"internal","message":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}
