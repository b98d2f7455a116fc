package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"
	atriumv1 "github.com/atriumid/atrium/gen/atrium/v1"
	"github.com/atriumid/atrium/gen/atrium/v1/atriumv1connect"
	"github.com/atriumid/atrium/internal/testenv"
)

// client is a small REST client for one server.
type client struct {
	t   *testing.T
	srv *testenv.Server
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// do sends a request; body is JSON-encoded unless it is a string or
// []byte, sent as is. Extra headers come in pairs.
func (c client) do(method, path string, body any, headers ...string) response {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, _ := json.Marshal(b)
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, c.srv.URL+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.srv.Key)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := response{status: res.StatusCode, header: res.Header, raw: string(raw)}
	json.Unmarshal(raw, &out.body)
	return out
}

func forEachServer(t *testing.T, fn func(t *testing.T, c client)) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, client{t: t, srv: testenv.StartServer(t, e.URL(t))})
		})
	}
}

func TestWalkthrough(t *testing.T) {
	forEachServer(t, func(t *testing.T, c client) {
		r := c.do("POST", "/v1/accounts", map[string]any{
			"kind": "org", "fragments": map[string]any{"profile": map[string]any{"name": "Acme"}},
			"identifiers": []any{map[string]any{"type": "username", "value": "Acme"}},
		})
		if r.status != 201 || r.header.Get("Atrium-Freshness") == "" || r.body["freshnessToken"] != r.header.Get("Atrium-Freshness") ||
			r.header.Get("Location") != "/v1/accounts/"+r.body["id"].(string) {
			t.Fatalf("create = %d %s; want 201 with a freshness token", r.status, r.raw)
		}
		id := r.body["id"].(string)
		r = c.do("GET", "/v1/accounts/"+id, nil, "Atrium-Freshness", r.header.Get("Atrium-Freshness"))
		if r.status != 200 || r.header.Get("ETag") != `"1"` || r.body["version"] != "1" {
			t.Fatalf("get = %d %s %v", r.status, r.raw, r.header)
		}
		r = c.do("PATCH", "/v1/accounts/"+id+"/fragments/profile", `{"name":"Acme Corp"}`, "If-Match", `"1"`, "Content-Type", "application/merge-patch+json")
		if r.status != 200 || r.header.Get("ETag") != `"2"` || r.body["data"].(map[string]any)["name"] != "Acme Corp" {
			t.Fatalf("patch = %d %s", r.status, r.raw)
		}
		r = c.do("PATCH", "/v1/accounts/"+id+"/fragments/profile", `{"name":"Stale"}`, "If-Match", `"1"`)
		if r.status != 409 || r.body["code"] != "aborted" {
			t.Errorf("stale patch = %d %s; want 409 aborted", r.status, r.raw)
		}
		r = c.do("GET", "/v1/identifiers/username/ACME", nil)
		if r.status != 200 || r.body["id"] != id {
			t.Errorf("resolve = %d %s", r.status, r.raw)
		}
		r = c.do("POST", "/v1/accounts/"+id+":transition", map[string]any{"transition": "suspend", "reason": "review"})
		if r.status != 200 || r.body["state"] != "suspended" {
			t.Errorf("transition = %d %s", r.status, r.raw)
		}
		r = c.do("POST", "/v1/accounts/"+id+":transition", map[string]any{"transition": "suspend"})
		if r.status != 400 || r.body["code"] != "failed_precondition" {
			t.Errorf("illegal transition = %d %s; want 400 failed_precondition", r.status, r.raw)
		}
		r = c.do("POST", "/v1/accounts/"+id+"/identifiers", map[string]any{"type": "username", "value": "acme-two"})
		if r.status != 201 || r.body["value"] != "acme-two" {
			t.Errorf("add identifier = %d %s", r.status, r.raw)
		}
		r = c.do("POST", "/v1/accounts/"+id+"/identifiers", map[string]any{"type": "username", "value": "ACME-TWO"})
		if r.status != 409 || r.body["code"] != "already_exists" {
			t.Errorf("duplicate identifier = %d %s; want 409 already_exists", r.status, r.raw)
		}
		r = c.do("GET", "/v1/accounts?kind=org&page_size=1", nil)
		if r.status != 200 || len(r.body["accounts"].([]any)) != 1 {
			t.Errorf("list = %d %s", r.status, r.raw)
		}
		r = c.do("PUT", "/v1/accounts/"+id+"/fragments/tax_id", `{"ein":"12-3456789"}`, "If-Match", `"0"`)
		if r.status != 200 || r.body["sensitivity"] != "secret" {
			t.Errorf("put tax_id = %d %s", r.status, r.raw)
		}
		r = c.do("DELETE", "/v1/accounts/"+id, nil)
		if r.status != 200 || r.body["state"] != "erased" {
			t.Errorf("delete = %d %s", r.status, r.raw)
		}
		if r = c.do("GET", "/v1/identifiers/username/acme", nil); r.status != 404 {
			t.Errorf("resolve after erasure = %d %s; want 404", r.status, r.raw)
		}
		r = c.do("GET", "/v1/kinds", nil)
		if r.status != 200 || r.body["version"] != "1" || !strings.Contains(r.body["document"].(string), "kinds:") {
			t.Errorf("kinds = %d %.200s", r.status, r.raw)
		}
	})
}

// TestBadInput sends malformed requests to every endpoint: each gets a
// typed 4xx, never a 5xx, and nothing is written (R-46: Content-Type
// enforced with 415, unknown fields refused, body limits).
func TestBadInput(t *testing.T) {
	forEachServer(t, func(t *testing.T, c client) {
		r := c.do("POST", "/v1/accounts", map[string]any{"kind": "org", "fragments": map[string]any{"profile": map[string]any{"name": "Real"}}})
		id := r.body["id"].(string)
		missing := "org_01M8CJK02VFVQA6QBW11CK4SQX"
		huge := `{"kind":"org","fragments":{"profile":{"name":"` + strings.Repeat("x", 2<<20) + `"}}}`
		tests := []struct {
			name, method, path string
			body               any
			headers            []string
			status             int
			code               string
		}{
			{"malformed JSON", "POST", "/v1/accounts", `{"kind":`, nil, 400, "invalid_argument"},
			{"not an object", "POST", "/v1/accounts", `[1,2]`, nil, 400, "invalid_argument"},
			{"unknown field", "POST", "/v1/accounts", `{"kind":"org","colour":"red"}`, nil, 400, "invalid_argument"},
			{"wrong type", "POST", "/v1/accounts", `{"kind":7}`, nil, 400, "invalid_argument"},
			{"wrong fragment type", "POST", "/v1/accounts", `{"kind":"org","fragments":{"profile":"x"}}`, nil, 400, "invalid_argument"},
			{"oversized body", "POST", "/v1/accounts", huge, nil, 413, "resource_exhausted"},
			{"form body", "POST", "/v1/accounts", `kind=org`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "invalid_argument"},
			{"unknown kind", "POST", "/v1/accounts", `{"kind":"planet"}`, nil, 400, "invalid_argument"},
			{"unknown fragment", "POST", "/v1/accounts", `{"kind":"org","fragments":{"secrets":{}}}`, nil, 400, "invalid_argument"},
			{"schema violation", "POST", "/v1/accounts", `{"kind":"org","fragments":{"tax_id":{"ein":"nope"}}}`, nil, 400, "invalid_argument"},
			{"unknown identifier type", "POST", "/v1/accounts", `{"kind":"org","identifiers":[{"type":"fax","value":"1"}]}`, nil, 400, "invalid_argument"},
			{"invalid e-mail", "POST", "/v1/accounts", `{"kind":"user","identifiers":[{"type":"email","value":"not an email"}]}`, nil, 400, "invalid_argument"},
			{"invalid phone", "POST", "/v1/accounts", `{"kind":"user","identifiers":[{"type":"phone","value":"12"}]}`, nil, 400, "invalid_argument"},
			{"bad wallet checksum", "POST", "/v1/accounts", `{"kind":"user","identifiers":[{"type":"wallet","value":"eip155:1:0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}]}`, nil, 400, "invalid_argument"},
			{"ens not yet", "POST", "/v1/accounts", `{"kind":"user","identifiers":[{"type":"ens","value":"vitalik.eth"}]}`, nil, 400, "invalid_argument"},
			{"relationship not in model", "POST", "/v1/accounts", `{"kind":"org","relationships":[{"object":"org:$self","relation":"boss","subject":"user:b"}]}`, nil, 400, "invalid_argument"},
			{"malformed id", "GET", "/v1/accounts/nope", nil, nil, 400, "invalid_argument"},
			{"unknown id", "GET", "/v1/accounts/" + missing, nil, nil, 404, "not_found"},
			{"bad freshness token", "GET", "/v1/accounts/" + id, nil, []string{"Atrium-Freshness", "forged"}, 400, "invalid_argument"},
			{"unknown selected fragment", "GET", "/v1/accounts/" + id + "?fragments=nope", nil, nil, 400, "invalid_argument"},
			{"list without kind", "GET", "/v1/accounts", nil, nil, 400, "invalid_argument"},
			{"bad page size", "GET", "/v1/accounts?kind=org&page_size=x", nil, nil, 400, "invalid_argument"},
			{"bad page token", "GET", "/v1/accounts?kind=org&page_token=garbage", nil, nil, 400, "invalid_argument"},
			{"unknown transition", "POST", "/v1/accounts/" + id + ":transition", `{"transition":"explode"}`, nil, 400, "invalid_argument"},
			{"unknown action", "POST", "/v1/accounts/" + id + ":explode", `{}`, nil, 404, "not_found"},
			{"transition unknown account", "POST", "/v1/accounts/" + missing + ":transition", `{"transition":"suspend"}`, nil, 404, "not_found"},
			{"unknown fragment name", "GET", "/v1/accounts/" + id + "/fragments/nope", nil, nil, 400, "invalid_argument"},
			{"fragment body not object", "PUT", "/v1/accounts/" + id + "/fragments/profile", `"x"`, nil, 400, "invalid_argument"},
			{"fragment body null", "PATCH", "/v1/accounts/" + id + "/fragments/profile", `null`, nil, 400, "invalid_argument"},
			{"fragment schema", "PUT", "/v1/accounts/" + id + "/fragments/profile", `{"name":5}`, nil, 400, "invalid_argument"},
			{"patch removes required", "PATCH", "/v1/accounts/" + id + "/fragments/profile", `{"name":null}`, nil, 400, "invalid_argument"},
			{"bad If-Match", "PATCH", "/v1/accounts/" + id + "/fragments/profile", `{}`, []string{"If-Match", "yesterday"}, 400, "invalid_argument"},
			{"identifier type not accepted", "POST", "/v1/accounts/" + id + "/identifiers", `{"type":"email","value":"a@example.com"}`, nil, 400, "invalid_argument"},
			{"identifier unknown account", "POST", "/v1/accounts/" + missing + "/identifiers", `{"type":"username","value":"ok"}`, nil, 404, "not_found"},
			{"resolve bad value", "GET", "/v1/identifiers/username/%20", nil, nil, 400, "invalid_argument"},
			{"resolve unknown type", "GET", "/v1/identifiers/fax/1", nil, nil, 400, "invalid_argument"},
			{"resolve unknown", "GET", "/v1/identifiers/username/nobody", nil, nil, 404, "not_found"},
			{"unknown kinds version", "GET", "/v1/kinds?version=99", nil, nil, 404, "not_found"},
			{"unknown path", "GET", "/v1/nothing", nil, nil, 404, "not_found"},
			{"oversized idempotency key", "POST", "/v1/accounts", `{"kind":"org"}`, []string{"Idempotency-Key", strings.Repeat("k", 300)}, 400, "invalid_argument"},
		}
		for _, tc := range tests {
			r := c.do(tc.method, tc.path, tc.body, tc.headers...)
			if r.status != tc.status || r.body["code"] != tc.code || r.body["message"] == "" {
				t.Errorf("%s: %s %s = %d %.300s; want %d %s", tc.name, tc.method, tc.path, r.status, r.raw, tc.status, tc.code)
			}
		}
		r = c.do("GET", "/v1/accounts?kind=org", nil)
		if n := len(r.body["accounts"].([]any)); n != 1 {
			t.Errorf("after bad requests: %d orgs, want 1 (nothing written)", n)
		}
		r = c.do("GET", "/v1/accounts/"+id, nil)
		if r.body["version"] != "1" {
			t.Errorf("after bad requests: account version %v, want 1 (nothing written)", r.body["version"])
		}
	})
}

func TestAuthentication(t *testing.T) {
	srv := testenv.StartServer(t, testenv.SQLiteURL(t))
	for _, auth := range []string{"", "Bearer", "Bearer nope", "Basic abc", "Bearer " + srv.Key + "x", "Bearer atr_aaaaaaaaaaaa_" + strings.Repeat("A", 43)} {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/kinds", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 401 || res.Header.Get("WWW-Authenticate") == "" || !strings.Contains(string(body), `"unauthenticated"`) {
			t.Errorf("Authorization %q: %d %s; want 401 unauthenticated", auth, res.StatusCode, body)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		res, err := http.Get(srv.URL + path)
		if err != nil || res.StatusCode != 200 {
			t.Errorf("GET %s = %v, %v; want 200 without a key", path, res, err)
		}
	}
}

func TestIdempotencyKey(t *testing.T) {
	forEachServer(t, func(t *testing.T, c client) {
		body := map[string]any{"kind": "org", "identifiers": []any{map[string]any{"type": "username", "value": "once"}}}
		first := c.do("POST", "/v1/accounts", body, "Idempotency-Key", "k1")
		again := c.do("POST", "/v1/accounts", body, "Idempotency-Key", "k1")
		if first.status != 201 || again.status != 201 || first.raw != again.raw || again.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("retry with the same key: %d %s then %d %s; want the first response replayed", first.status, first.raw, again.status, again.raw)
		}
		if again.header.Get("Atrium-Freshness") != first.header.Get("Atrium-Freshness") {
			t.Errorf("replayed response lost its freshness header")
		}
		other := c.do("POST", "/v1/accounts", map[string]any{"kind": "org"}, "Idempotency-Key", "k1")
		if other.status != 400 || !strings.Contains(other.raw, "different request") {
			t.Errorf("same key, different body: %d %s; want 400", other.status, other.raw)
		}
		// A failed request is replayed too: its outcome is the answer.
		bad := c.do("POST", "/v1/accounts", map[string]any{"kind": "planet"}, "Idempotency-Key", "k2")
		badAgain := c.do("POST", "/v1/accounts", map[string]any{"kind": "planet"}, "Idempotency-Key", "k2")
		if bad.status != 400 || badAgain.raw != bad.raw {
			t.Errorf("retried bad request: %d %s then %s", bad.status, bad.raw, badAgain.raw)
		}
		list := c.do("GET", "/v1/accounts?kind=org", nil)
		if n := len(list.body["accounts"].([]any)); n != 1 {
			t.Errorf("after retries: %d orgs, want 1", n)
		}
	})
}

// TestConnectAndGRPC calls the same methods over Connect (JSON) and gRPC
// (HTTP/2 without TLS): errors carry their code and field violations.
func TestConnectAndGRPC(t *testing.T) {
	srv := testenv.StartServer(t, testenv.SQLiteURL(t))
	auth := connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+srv.Key)
			return next(ctx, req)
		}
	}))
	clients := map[string]atriumv1connect.AccountServiceClient{
		"connect-json": atriumv1connect.NewAccountServiceClient(http.DefaultClient, srv.URL, connect.WithProtoJSON(), auth),
		"grpc":         atriumv1connect.NewAccountServiceClient(testenv.H2CClient(), srv.URL, connect.WithGRPC(), auth),
	}
	for name, cl := range clients {
		ctx := context.Background()
		res, err := cl.CreateAccount(ctx, connect.NewRequest(&atriumv1.CreateAccountRequest{
			Kind: "user", Identifiers: []*atriumv1.IdentifierInput{{Type: "username", Value: "via-" + name}},
		}))
		if err != nil {
			t.Fatalf("%s: CreateAccount: %v", name, err)
		}
		got, err := cl.GetAccount(ctx, connect.NewRequest(&atriumv1.GetAccountRequest{Id: res.Msg.Id, FreshnessToken: res.Msg.FreshnessToken}))
		if err != nil || got.Msg.Identifiers[0].Value != "via-"+name {
			t.Errorf("%s: GetAccount = %v, %v", name, got, err)
		}
		_, err = cl.GetAccount(ctx, connect.NewRequest(&atriumv1.GetAccountRequest{Id: "usr_01M8CJK02VFVQA6QBW11CK4SQX"}))
		if connect.CodeOf(err) != connect.CodeNotFound {
			t.Errorf("%s: GetAccount(unknown) = %v, want NotFound", name, err)
		}
		_, err = cl.CreateAccount(ctx, connect.NewRequest(&atriumv1.CreateAccountRequest{Kind: "org", Identifiers: []*atriumv1.IdentifierInput{{Type: "email", Value: "x@y.z"}}}))
		var ce *connect.Error
		if !errors.As(err, &ce) || ce.Code() != connect.CodeInvalidArgument || len(ce.Details()) != 1 {
			t.Fatalf("%s: CreateAccount(bad) = %v, want InvalidArgument with a BadRequest detail", name, err)
		}
		v, _ := ce.Details()[0].Value()
		if br, ok := v.(*atriumv1.BadRequest); !ok || fmt.Sprint(br.FieldViolations[0].Field) != "identifiers[0].type" {
			t.Errorf("%s: detail = %v", name, v)
		}
	}
}
