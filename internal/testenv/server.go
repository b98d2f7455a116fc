package testenv

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/atriumid/atrium/internal/app"
	"github.com/atriumid/atrium/internal/config"
)

// Server is an Atrium server on a loopback port, with a real database.
type Server struct {
	URL      string // base URL, such as http://127.0.0.1:43210
	Key      string // the bootstrap admin API key
	Database string // the database URL
	Handler  http.Handler
}

// StartServer starts a server on database dbURL (see Engine.URL) with the
// given configuration changes, stopped when t ends. It serves HTTP/1.1 and
// HTTP/2 without TLS (h2c), as `atrium serve` does, so gRPC clients work.
func StartServer(t testing.TB, dbURL string, configure ...func(*config.Config)) *Server {
	t.Helper()
	s, notices := start(t, dbURL, configure)
	s.Key = BootstrapKey(t, notices)
	return s
}

// StartPeer starts another server on first's database, as a second
// replica of one deployment: it shares first's database and admin key.
func StartPeer(t testing.TB, first *Server, configure ...func(*config.Config)) *Server {
	t.Helper()
	s, _ := start(t, first.Database, configure)
	s.Key = first.Key
	return s
}

func start(t testing.TB, dbURL string, configure []func(*config.Config)) (*Server, string) {
	t.Helper()
	cfg := config.Default()
	cfg.Database, cfg.Listen = dbURL, "127.0.0.1:0"
	cfg.EncryptionKeys = "test1:" + strings.Repeat("A", 43) + "="
	// Tests race many requests at once to check the database's answers;
	// load shedding would refuse some of them, so it is off unless a test
	// turns it on (as the overload test does).
	cfg.Concurrency = config.Concurrency{}
	for _, f := range configure {
		f(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	var notices bytes.Buffer
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := app.Open(context.Background(), cfg, log, &notices)
	if err != nil {
		t.Fatalf("app.Open: %v", err)
	}
	srv := httptest.NewUnstartedServer(a.Handler())
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		a.Close()
	})
	return &Server{URL: srv.URL, Database: dbURL, Handler: a.Handler()}, notices.String()
}

// BootstrapKey returns the admin API key that a first start printed in
// out.
func BootstrapKey(t testing.TB, out string) string {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "bootstrap admin API key: "); ok {
			return strings.TrimSpace(rest)
		}
	}
	t.Fatalf("no bootstrap admin API key in %q", out)
	return ""
}

// H2CClient returns an HTTP client that speaks HTTP/2 without TLS, for
// gRPC.
func H2CClient() *http.Client {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: tr}
}
