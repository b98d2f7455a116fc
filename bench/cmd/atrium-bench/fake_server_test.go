package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the child processes of the command: run with
// baselineAddrEnv set it is the baseline server, as the command's own binary
// would be; run with fakeModeEnv set it is a fake atrium server. The fake
// follows only the part of the server's contract the command relies on, and
// counts what it served so that tests can check the exact load.
const (
	fakeModeEnv  = "ATRIUM_BENCH_FAKE_MODE"  // "serve", or "crash" to fail at start
	fakeStatsEnv = "ATRIUM_BENCH_FAKE_STATS" // where "serve" appends its fakeStats, a JSON line, on SIGTERM
	fakeKey      = "atr_fakebootstrapkey0123"
)

// fakeStats is what the fake served, written when it stops.
type fakeStats struct {
	Creates   int  // successful CreateAccount calls
	Gets      int  // successful GetAccount calls
	Resolves  int  // successful ResolveIdentifier calls
	Usernames int  // distinct usernames created
	Rejected  int  // requests refused for a bad key, body or duplicate
	Graceful  bool // stopped by SIGTERM
}

func TestMain(m *testing.M) {
	if baselineRole() { // as in main
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		err := serveBaseline(ctx)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if mode := os.Getenv(fakeModeEnv); mode != "" {
		os.Exit(fakeAtrium(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeAtrium(mode string, args []string) int {
	fs := flag.NewFlagSet("fake atrium", flag.ContinueOnError)
	database := fs.String("database", "", "")
	listen := fs.String("listen", "", "")
	fs.String("max-concurrency", "", "") // the overload curve's server without shedding
	if len(args) == 0 || args[0] != "serve" || fs.Parse(args[1:]) != nil ||
		!strings.HasPrefix(*database, "sqlite:///") || !strings.HasPrefix(*listen, "127.0.0.1:") {
		fmt.Fprintf(os.Stderr, "fake atrium: unexpected arguments %q\n", args)
		return 2
	}
	if mode == "crash" {
		fmt.Fprintln(os.Stderr, "bootstrap admin API key: "+fakeKey)
		fmt.Fprintln(os.Stderr, "fake atrium: cannot open the database")
		return 3
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake atrium:", err)
		return 1
	}
	fmt.Fprintln(os.Stderr, `time=2026-01-01T00:00:00Z level=INFO msg="migrations applied"`)
	fmt.Fprintln(os.Stderr, `time=2026-01-01T00:00:00Z level=WARN msg="bootstrap admin API key: `+fakeKey+`"`)

	f := &fake{accounts: map[string]bool{}, usernames: map[string]bool{}, readyAt: time.Now().Add(100 * time.Millisecond)}
	srv := &http.Server{Handler: f.routes()}
	go srv.Serve(ln)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	<-ctx.Done()
	stop()
	srv.Shutdown(context.Background())
	f.mu.Lock()
	f.stats.Usernames = len(f.usernames)
	f.stats.Graceful = true
	b, _ := json.Marshal(f.stats)
	f.mu.Unlock()
	if err := appendLine(os.Getenv(fakeStatsEnv), b); err != nil {
		fmt.Fprintln(os.Stderr, "fake atrium:", err)
		return 1
	}
	return 0
}

// appendLine appends b and a newline to the file at path, so that the
// fakes of one run each add their own line.
func appendLine(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// fake is the state of the fake server.
type fake struct {
	readyAt   time.Time // /readyz answers 503 before, to exercise polling
	mu        sync.Mutex
	accounts  map[string]bool // ids; guarded by mu
	usernames map[string]bool // guarded by mu
	stats     fakeStats       // guarded by mu
}

func (f *fake) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if time.Now().Before(f.readyAt) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("POST /v1/accounts", f.create)
	mux.HandleFunc("GET /v1/accounts/{id}", f.get)
	mux.HandleFunc("GET /v1/identifiers/username/{value}", f.resolve)
	return mux
}

func (f *fake) reject(w http.ResponseWriter, status int) {
	f.mu.Lock()
	f.stats.Rejected++
	f.mu.Unlock()
	w.WriteHeader(status)
}

func (f *fake) create(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+fakeKey {
		f.reject(w, http.StatusUnauthorized)
		return
	}
	var in struct {
		Kind      string
		Fragments struct {
			Profile struct{ Name string }
		}
		Identifiers []struct{ Type, Value string }
	}
	err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&in)
	if err != nil || in.Kind != "org" || in.Fragments.Profile.Name == "" ||
		len(in.Identifiers) != 1 || in.Identifiers[0].Type != "username" {
		f.reject(w, http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	if f.usernames[in.Identifiers[0].Value] {
		f.mu.Unlock()
		f.reject(w, http.StatusConflict)
		return
	}
	f.usernames[in.Identifiers[0].Value] = true
	id := fmt.Sprintf("org_%026d", len(f.accounts))
	f.accounts[id] = true
	f.stats.Creates++
	f.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, `{"id":%q,"kind":"org","state":"active","version":"1"}`, id)
}

func (f *fake) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	f.mu.Lock()
	found := f.accounts[id]
	f.mu.Unlock()
	f.answer(w, r, found, &f.stats.Gets, fmt.Sprintf(`{"id":%q,"kind":"org","state":"active","version":"1","fragments":{"profile":{"name":"x"}}}`, id))
}

func (f *fake) resolve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	found := f.usernames[r.PathValue("value")]
	f.mu.Unlock()
	f.answer(w, r, found, &f.stats.Resolves, `{"id":"org_x","kind":"org","state":"active","version":"1"}`)
}

// answer serves a read: body when the key is right and found, counted in
// served.
func (f *fake) answer(w http.ResponseWriter, r *http.Request, found bool, served *int, body string) {
	switch {
	case r.Header.Get("Authorization") != "Bearer "+fakeKey:
		f.reject(w, http.StatusUnauthorized)
	case !found:
		f.reject(w, http.StatusNotFound)
	default:
		f.mu.Lock()
		*served++
		f.mu.Unlock()
		io.WriteString(w, body)
	}
}
