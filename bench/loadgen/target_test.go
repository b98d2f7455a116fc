package loadgen

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/atriumid/atrium/internal/fault"
)

// Addresses in the documentation ranges (RFC 5737, RFC 3849): refused before
// any packet is sent, and unroutable even if one were.
var remoteTargets = []string{
	"http://192.0.2.1/",
	"http://192.0.2.1:8080/v1/accounts",
	"http://[2001:db8::1]:80/",
	"http://10.0.0.1/",
	"http://0.0.0.0:8080/",
	"http://example.com/",
	"http://localhost.example.com/",
	"http://127.0.0.1.example.com/",
	"https://[::ffff:192.0.2.1]/",
}

func TestCheckTarget(t *testing.T) {
	for _, u := range []string{
		"http://127.0.0.1:8080/", "http://127.1.2.3/", "https://localhost:443/x", "http://LocalHost/",
		"http://[::1]:9000/readyz",
	} {
		if err := CheckTarget(u); err != nil {
			t.Errorf("CheckTarget(%q) = %v, want nil", u, err)
		}
	}
	for _, u := range remoteTargets {
		if err := CheckTarget(u); !errors.Is(err, ErrNotLoopback) || !fault.Is(err, fault.Invalid) {
			t.Errorf("CheckTarget(%q) = %v, want an Invalid error wrapping ErrNotLoopback", u, err)
		}
	}
	for _, u := range []string{"ftp://127.0.0.1/", "127.0.0.1:80", "http://%zz/", ""} {
		if err := CheckTarget(u); !fault.Is(err, fault.Invalid) {
			t.Errorf("CheckTarget(%q) = %v, want an Invalid error", u, err)
		}
	}
}

func TestRunRefusesRemoteTargets(t *testing.T) {
	for _, u := range remoteTargets {
		rep, err := Run(t.Context(), Plan{Requests: 3, Concurrency: 2, Build: func(int) Request { return Request{URL: u} }})
		if !errors.Is(err, ErrNotLoopback) || rep != nil {
			t.Errorf("Run(%q) = %v, %v; want nil, an error wrapping ErrNotLoopback", u, rep, err)
		}
	}
}

// TestRunStopsAtFirstRemoteTarget checks that a run whose requests turn
// remote part-way fails instead of sending them.
func TestRunStopsAtFirstRemoteTarget(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	_, err := Run(t.Context(), Plan{
		Requests: 1000, Concurrency: 1,
		Build: func(i int) Request {
			if i == 10 {
				return Request{URL: "http://192.0.2.1/?i=" + strconv.Itoa(i)}
			}
			return Request{URL: srv.URL}
		},
	})
	if !errors.Is(err, ErrNotLoopback) {
		t.Errorf("Run(remote at request 10) = %v, want an error wrapping ErrNotLoopback", err)
	}
	if got := hits.Load(); got != 10 {
		t.Errorf("requests served before the refusal = %d, want 10", got)
	}
}

func TestClientRefusesRemoteAddresses(t *testing.T) {
	for _, addr := range []string{"192.0.2.1:80", "[2001:db8::1]:443", "0.0.0.0:80", "nonsense"} {
		if err := refuseRemote("tcp", addr, nil); err == nil {
			t.Errorf("refuseRemote(%q) = nil, want an error", addr)
		}
	}
	for _, addr := range []string{"127.0.0.1:80", "127.9.9.9:1", "[::1]:443"} {
		if err := refuseRemote("tcp", addr, nil); err != nil {
			t.Errorf("refuseRemote(%q) = %v, want nil", addr, err)
		}
	}
	// The client itself, used directly, dials nothing off the machine and
	// does not follow a redirect elsewhere.
	c := NewClient(1)
	if _, err := c.Get("http://192.0.2.1:9/"); !errors.Is(err, ErrNotLoopback) {
		t.Errorf("NewClient().Get(remote) = %v, want an error wrapping ErrNotLoopback", err)
	}
	srv := httptest.NewServer(http.RedirectHandler("http://192.0.2.1/", http.StatusFound))
	defer srv.Close()
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatalf("NewClient().Get(redirecting server) = %v, want the redirect itself", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("NewClient().Get(redirecting server) status = %d, want %d (not followed)", resp.StatusCode, http.StatusFound)
	}
}

// FuzzCheckTarget checks that every accepted URL names a loopback host.
func FuzzCheckTarget(f *testing.F) {
	for _, u := range append(remoteTargets,
		"http://127.0.0.1:8080/v1/accounts", "http://[::1]/", "http://localhost/", "http://127.0.0.1@192.0.2.1/",
		"http://192.0.2.1#@127.0.0.1/", "http://[::1%25eth0]/", "http://0x7f.1/", "http://2130706433/") {
		f.Add(u)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if CheckTarget(raw) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("CheckTarget(%q) = nil for an unparseable URL", raw)
		}
		host := u.Hostname()
		if ip := net.ParseIP(host); !strings.EqualFold(host, "localhost") && (ip == nil || !ip.IsLoopback()) {
			t.Fatalf("CheckTarget(%q) = nil for host %q", raw, host)
		}
	})
}
