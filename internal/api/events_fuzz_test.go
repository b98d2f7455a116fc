package api_test

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/atriumid/atrium/internal/testenv"
)

// FuzzEventQueries sends arbitrary query strings and path values to the
// event, audit and webhook routes: the answer is never a server error.
func FuzzEventQueries(f *testing.F) {
	for _, s := range []string{
		"after=3&page_size=2", "after=-1", "after=99999999999999999999", "page_size=x", "account=usr_1&actor=key:k&type=atrium.account.created",
		"since=2026-01-01T00:00:00Z&until=2027-01-01T00:00:00Z", "since=yesterday", "page_token=-5", "state=dead", "state=bogus",
		"account=" + strings.Repeat("a", 300), "%zz", "after=1&after=2",
	} {
		f.Add(s, uint8(0))
	}
	srv := testenv.StartServer(f, testenv.SQLiteURL(f))
	targets := []struct{ method, path string }{
		{"GET", "/v1/events?"},
		{"GET", "/v1/events:status?"},
		{"GET", "/v1/audit?"},
		{"GET", "/v1/webhooks/whk_1/deliveries?"},
		{"POST", "/v1/webhooks/whk_1/deliveries/"},
		{"DELETE", "/v1/webhooks/"},
	}
	f.Fuzz(func(t *testing.T, q string, target uint8) {
		tg := targets[int(target)%len(targets)]
		path := tg.path + q
		if !strings.HasSuffix(tg.path, "?") {
			path = tg.path + url.PathEscape(q) + ":redeliver"
		}
		req := httptest.NewRequest(tg.method, "/", nil)
		u, err := url.Parse(path)
		if err != nil {
			return
		}
		req.URL = u
		req.Header.Set("Authorization", "Bearer "+srv.Key)
		rec := httptest.NewRecorder()
		srv.Handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s = %d %s", tg.method, path, rec.Code, rec.Body)
		}
		if rec.Code >= 400 && !strings.Contains(rec.Body.String(), `"code"`) {
			t.Fatalf("%s %s: untyped error %d %s", tg.method, path, rec.Code, rec.Body)
		}
	})
}
