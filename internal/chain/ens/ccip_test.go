package ens

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/chain"
	"github.com/atriumid/atrium/internal/chain/abi"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/webhook"
)

// callbackSel is the callback an OffchainLookup of fakeOffchain names.
var callbackSel = [4]byte{0xca, 0x11, 0xba, 0xc4}

// fakeOffchain is a fake Universal Resolver whose resolve answers with an
// OffchainLookup revert naming urls; the callback checks that it gets the
// gateway's answer and the extra data, then returns alice's address, or,
// while again is positive, another OffchainLookup.
type fakeOffchain struct {
	t      *testing.T
	sender chain.Address
	urls   []string
	again  int
	answer []byte // what the gateway must have answered
}

func (f *fakeOffchain) lookup() error {
	return revert(append([]byte{0x55, 0x6f, 0x18, 0x30},
		abi.Encode(f.sender, f.urls, []byte("call data"), [32]byte(append(callbackSel[:], make([]byte, 28)...)), []byte("extra"))...))
}

func (f *fakeOffchain) Call(_ context.Context, _ uint64, _ *chain.Address, data []byte) ([]byte, error) {
	switch [4]byte(data[:4]) {
	case selResolve:
		return nil, f.lookup()
	case callbackSel:
		resp, err1 := abi.Bytes(data[4:], 0)
		extra, err2 := abi.Bytes(data[4:], 1)
		if err1 != nil || err2 != nil || string(extra) != "extra" || string(resp) != string(f.answer) {
			f.t.Errorf("callback(%q, %q), want (%q, \"extra\")", resp, extra, f.answer)
		}
		if f.again > 0 {
			f.again--
			return nil, f.lookup()
		}
		return abi.Encode(abi.Encode(alice), resolver), nil
	}
	f.t.Fatalf("unexpected selector %x", data[:4])
	return nil, nil
}

// gateway is a loopback https CCIP-Read gateway. GET /ok/{sender}/{data}
// and POST /ok answer {"data":"0x<answer>"}; other paths answer as their
// names say.
type gateway struct {
	srv   *httptest.Server
	hits  atomic.Int32
	host  string // the host name of srv's URL
	roots *x509.CertPool
}

var gatewayAnswer = []byte("gateway answer")

func startGateway(t *testing.T) *gateway {
	g := &gateway{}
	wantSender := "0x" + hex.EncodeToString(universal[:])
	wantData := "0x" + hex.EncodeToString([]byte("call data"))
	ok := fmt.Sprintf(`{"data":"0x%x"}`, gatewayAnswer)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ok/{sender}/{data}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("sender") != wantSender || r.PathValue("data") != wantData {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, ok)
	})
	mux.HandleFunc("POST /ok", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Data, Sender string }
		if err := decodeJSON(r, &body); err != nil || body.Data != wantData || body.Sender != wantSender {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, ok)
	})
	mux.HandleFunc("/server-error", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusBadGateway) })
	mux.HandleFunc("/not-found", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"data":"0x%s"}`, strings.Repeat("00", DefaultMaxGatewayResponse))
	})
	mux.HandleFunc("/malformed", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"data":"0xzz"}`) })
	mux.HandleFunc("/unknown-member", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"data":"0x00","more":1}`) })
	release := make(chan struct{})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	mux.HandleFunc("/redirect-http", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+r.Host+"/ok", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/redirect-loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/redirect-loop", http.StatusTemporaryRedirect)
	})
	g.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.hits.Add(1)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(g.srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: Close waits for handlers
	u, _ := url.Parse(g.srv.URL)
	g.host = u.Hostname()
	g.roots = x509.NewCertPool()
	g.roots.AddCert(g.srv.Certificate())
	return g
}

func decodeJSON(r *http.Request, v any) error {
	return json.NewDecoder(io.LimitReader(r.Body, 1024)).Decode(v)
}

// testOnly is the explicit test-only allowance: the loopback gateway's
// host on the allowlist, private addresses allowed, its certificate
// trusted.
func (g *gateway) testOnly() CCIPConfig {
	return CCIPConfig{Hosts: []string{g.host}, Guard: webhook.Guard{AllowPrivate: true}, RootCAs: g.roots}
}

// R-24, T-F7: CCIP-Read follows an allowed loopback gateway only under the
// explicit test-only allowance, and every refusal is a typed error.
func TestCCIPRead(t *testing.T) {
	g := startGateway(t)
	base := g.srv.URL
	tests := []struct {
		name  string
		urls  []string
		cfg   func(CCIPConfig) CCIPConfig
		setup func(*fakeOffchain)
		kind  fault.Kind
		cause error
	}{
		{"GET gateway", []string{base + "/ok/{sender}/{data}"}, nil, nil, 0, nil},
		{"POST gateway", []string{base + "/ok"}, nil, nil, 0, nil},
		{"5xx moves on to the next URL", []string{base + "/server-error", base + "/ok"}, nil, nil, 0, nil},
		{"refused URL skipped", []string{"http://" + g.host + "/ok", base + "/ok"}, nil, nil, 0, nil},
		{"second round", []string{base + "/ok"}, nil, func(f *fakeOffchain) { f.again = 1 }, 0, nil},

		{"http", []string{"http://" + g.host + "/ok"}, nil, nil, fault.FailedPrecondition, ErrGatewayRefused},
		{"host not listed", []string{strings.Replace(base, g.host, "localhost", 1) + "/ok"}, nil, nil, fault.FailedPrecondition, ErrGatewayRefused},
		{"credentials in URL", []string{strings.Replace(base, "https://", "https://user:pw@", 1) + "/ok"}, nil, nil, fault.FailedPrecondition, ErrGatewayRefused},
		{"no URLs", nil, nil, nil, fault.FailedPrecondition, ErrGatewayRefused},
		{"loopback without the allowance", []string{base + "/ok"}, func(c CCIPConfig) CCIPConfig { c.Guard = webhook.Guard{}; return c }, nil, fault.FailedPrecondition, ErrGatewayRefused},
		{"redirect to http", []string{base + "/redirect-http"}, nil, nil, fault.FailedPrecondition, ErrGatewayRefused},
		{"redirect loop", []string{base + "/redirect-loop"}, nil, nil, fault.FailedPrecondition, ErrGatewayRefused},
		{"sender is another contract", []string{base + "/ok"}, nil, func(f *fakeOffchain) { f.sender = resolver }, fault.FailedPrecondition, ErrLookupSender},
		{"too many rounds", []string{base + "/ok"}, nil, func(f *fakeOffchain) { f.again = DefaultMaxLookups }, fault.FailedPrecondition, ErrTooManyLookups},
		{"4xx ends the lookup", []string{base + "/not-found", base + "/ok"}, nil, nil, fault.Unavailable, ErrGateway},
		{"all fail", []string{base + "/server-error"}, nil, nil, fault.Unavailable, ErrGateway},
		{"too large", []string{base + "/huge"}, nil, nil, fault.Unavailable, ErrGatewayTooLarge},
		{"not hex", []string{base + "/malformed"}, nil, nil, fault.Unavailable, ErrGatewayMalformed},
		{"unknown member", []string{base + "/unknown-member"}, nil, nil, fault.Unavailable, ErrGatewayMalformed},
		{"slow", []string{base + "/slow"}, func(c CCIPConfig) CCIPConfig { c.Timeout = 100 * time.Millisecond; return c }, nil, fault.Unavailable, ErrGateway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeOffchain{t: t, sender: universal, urls: tt.urls, answer: gatewayAnswer}
			if tt.setup != nil {
				tt.setup(f)
			}
			cfg := g.testOnly()
			if tt.cfg != nil {
				cfg = tt.cfg(cfg)
			}
			got, err := NewResolver(f, 1, universal).WithCCIPRead(cfg).Address(context.Background(), "offchain.eth")
			if tt.kind == 0 {
				if err != nil || got != alice {
					t.Fatalf("Address() = %v, %v, want %v", got, err, alice)
				}
				return
			}
			if !fault.Is(err, tt.kind) || !errors.Is(err, tt.cause) {
				t.Fatalf("Address() = %v, %v, want kind %v cause %v", got, err, tt.kind, tt.cause)
			}
			if msg, _ := fault.PublicOf(err); strings.Contains(msg, g.host) || strings.Contains(msg, "call data") {
				t.Errorf("error %q repeats the gateway or the call", msg)
			}
		})
	}
	t.Run("off by default", func(t *testing.T) {
		hits := g.hits.Load()
		f := &fakeOffchain{t: t, sender: universal, urls: []string{base + "/ok"}}
		if _, err := NewResolver(f, 1, universal).Address(context.Background(), "offchain.eth"); !errors.Is(err, ErrOffchainLookup) {
			t.Errorf("Address() without CCIP-Read = %v, want ErrOffchainLookup", err)
		}
		if g.hits.Load() != hits {
			t.Errorf("the gateway was called with CCIP-Read off")
		}
	})
}

// FuzzDecodeLookup checks that no revert data makes the OffchainLookup
// decoder panic or return more URLs than allowed.
func FuzzDecodeLookup(f *testing.F) {
	f.Add(append([]byte{0x55, 0x6f, 0x18, 0x30}, abi.Encode(universal, []string{"https://gw.example/{sender}/{data}.json"}, []byte{1}, [32]byte{1, 2, 3, 4}, []byte{})...))
	f.Add([]byte{0x55, 0x6f, 0x18, 0x30})
	f.Fuzz(func(t *testing.T, data []byte) {
		if l, err := decodeLookup(data); err == nil && len(l.urls) > maxURLs {
			t.Fatalf("decodeLookup() returned %d URLs", len(l.urls))
		}
	})
}
