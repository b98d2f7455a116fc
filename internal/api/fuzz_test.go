package api_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/atriumid/atrium/internal/testenv"
)

// FuzzRequests sends arbitrary bodies to every writing endpoint: the answer
// is never a server error.
func FuzzRequests(f *testing.F) {
	for _, s := range []string{
		`{"kind":"org","fragments":{"profile":{"name":"Acme"}},"identifiers":[{"type":"username","value":"acme"}]}`,
		`{"kind":"user","identifiers":[{"type":"wallet","value":"eip155:1:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}]}`,
		`{"transition":"suspend","reason":"x"}`, `{"name":null}`, `{"type":"email","value":"a@b.c"}`,
		`{"document":"kinds: {org: {id_prefix: org, lifecycle: {initial: a, transitions: {go: {from: [a], to: b, guards: {g: 'fragments.p.x > 1'}}}}}}","dryRun":true}`,
		`{"document":"{\"kinds\":{}}"}`,
		`[]`, `null`, `{"kind":{"a":1}}`, "\xff", `{"fragments":{"profile":{"name":"` + strings.Repeat("x", 70000) + `"}}}`,
	} {
		f.Add(s, uint8(0))
	}
	srv := testenv.StartServer(f, testenv.SQLiteURL(f))
	create := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/v1/accounts", strings.NewReader(`{"kind":"org","fragments":{"profile":{"name":"x"}}}`))
	req.Header.Set("Authorization", "Bearer "+srv.Key)
	srv.Handler.ServeHTTP(create, req)
	id := strings.Split(strings.Split(create.Body.String(), `"id":"`)[1], `"`)[0]
	targets := []struct{ method, path string }{
		{"POST", "/v1/accounts"},
		{"POST", "/v1/accounts/" + id + ":transition"},
		{"PUT", "/v1/accounts/" + id + "/fragments/profile"},
		{"PATCH", "/v1/accounts/" + id + "/fragments/tax_id"},
		{"POST", "/v1/accounts/" + id + "/identifiers"},
		{"POST", "/atrium.v1.AccountService/CreateAccount"},
		{"PUT", "/v1/kinds"},
		{"POST", "/v1/auth/siwe/login"},
	}
	f.Fuzz(func(t *testing.T, body string, target uint8) {
		tg := targets[int(target)%len(targets)]
		req := httptest.NewRequest(tg.method, tg.path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+srv.Key)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		srv.Handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s with %q = %d %s", tg.method, tg.path, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 && !strings.Contains(rec.Body.String(), `"code"`) {
			t.Fatalf("%s %s: untyped error %d %s", tg.method, tg.path, rec.Code, rec.Body)
		}
	})
}
