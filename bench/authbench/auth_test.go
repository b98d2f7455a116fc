package authbench

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/atriumid/atrium/internal/credential/password"
	"github.com/atriumid/atrium/internal/testenv"
)

const (
	user = "bench@example.com"
	pw   = "correct horse battery staple"
)

// server starts atrium on a new SQLite database with the default (OWASP)
// argon2id parameters and registers the benchmark user.
func server(b *testing.B) *testenv.Server {
	b.Helper()
	srv := testenv.StartServer(b, testenv.SQLiteURL(b))
	r := post(b, srv.URL+"/v1/auth/register", map[string]any{"kind": "user", "identifier": map[string]any{"type": "email", "value": user}, "password": pw})
	if r.StatusCode != http.StatusAccepted {
		b.Fatalf("register = %d", r.StatusCode)
	}
	return srv
}

func post(b *testing.B, url string, body any) *http.Response {
	b.Helper()
	data, _ := json.Marshal(body)
	r, err := http.Post(url, "application/json", bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, r.Body)
	r.Body.Close()
	return r
}

func login(b *testing.B, base string) string {
	data, _ := json.Marshal(map[string]any{"identifier": map[string]any{"type": "email", "value": user}, "password": pw})
	r, err := http.Post(base+"/v1/auth/login", "application/json", bytes.NewReader(data))
	if err != nil {
		b.Error(err)
		return ""
	}
	defer r.Body.Close()
	var out struct{ SessionToken string }
	if err := json.NewDecoder(r.Body).Decode(&out); err != nil || r.StatusCode != http.StatusOK {
		b.Errorf("login = %d, %v", r.StatusCode, err)
	}
	return out.SessionToken
}

// BenchmarkLogin: a whole password login over HTTP (decode, throttle
// reservation, argon2id, session insert, event) against argon2id
// verification alone with the server's parameters. Both run in parallel
// on every core; compare their ns/op.
func BenchmarkLogin(b *testing.B) {
	srv := server(b)
	p := password.Params{Memory: 19 * 1024, Time: 2, Threads: 1} // the server's default
	hash, err := password.Hash(pw, p)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("argon2id-verify", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if ok, err := password.Verify(pw, hash); !ok || err != nil {
					b.Error("verify failed")
				}
			}
		})
	})
	b.Run("password-login", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				login(b, srv.URL)
			}
		})
	})
}

// BenchmarkWhoAmI: GET /v1/sessions/whoami with a session token against a
// bare net/http handler that answers the same body, both over loopback.
func BenchmarkWhoAmI(b *testing.B) {
	srv := server(b)
	tok := login(b, srv.URL)
	get := func(b *testing.B, url string) []byte {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer r.Body.Close()
		body, _ := io.ReadAll(r.Body)
		if r.StatusCode != http.StatusOK {
			b.Fatalf("GET %s = %d", url, r.StatusCode)
		}
		return body
	}
	body := get(b, srv.URL+"/v1/sessions/whoami")
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer bare.Close()
	for _, t := range []struct{ name, url string }{{"bare-handler", bare.URL + "/v1/sessions/whoami"}, {"whoami", srv.URL + "/v1/sessions/whoami"}} {
		url := t.url
		b.Run(t.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					get(b, url)
				}
			})
		})
	}
}
