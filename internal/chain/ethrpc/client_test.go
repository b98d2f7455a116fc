package ethrpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/atriumid/atrium/internal/chain"
	"github.com/atriumid/atrium/internal/fault"
)

// fakeNode is a JSON-RPC endpoint with canned answers: answer maps a method
// to the body to send, where "%ID%" stands for the request's ID. Methods
// without an answer get a JSON-RPC "method not found" error.
type fakeNode struct {
	mu     sync.Mutex
	answer map[string]string
	delay  time.Duration
	status int
	calls  []string // methods asked, in order
	params []json.RawMessage
}

func (n *fakeNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID     uint64          `json:"id"`
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	n.mu.Lock()
	n.calls = append(n.calls, req.Method)
	n.params = append(n.params, req.Params)
	body, ok := n.answer[req.Method]
	delay, status := n.delay, n.status
	n.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if status != 0 {
		w.WriteHeader(status)
	}
	if !ok {
		body = `{"jsonrpc":"2.0","id":%ID%,"error":{"code":-32601,"message":"method not found"}}`
	}
	io.WriteString(w, strings.ReplaceAll(body, "%ID%", fmt.Sprint(req.ID)))
}

func (n *fakeNode) methods() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.calls...)
}

func result(v string) string { return `{"jsonrpc":"2.0","id":%ID%,"result":"` + v + `"}` }

// chain1 is a fake node of chain 1 that answers eth_getCode with 0x6001.
func chain1() *fakeNode {
	return &fakeNode{answer: map[string]string{
		"eth_chainId": result("0x1"),
		"eth_getCode": result("0x6001"),
		"eth_call":    result("0x" + strings.Repeat("00", 31) + "01"),
	}}
}

func newClient(t *testing.T, n *fakeNode, cfg Config) *Client {
	t.Helper()
	srv := httptest.NewServer(n)
	t.Cleanup(srv.Close)
	cfg.Endpoints = []Endpoint{{ChainID: 1, URL: srv.URL + "/v3/secret-api-key"}}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return c
}

var someAddr = chain.Address{0xab, 0x58}

func TestCodeAndCall(t *testing.T) {
	n := chain1()
	c := newClient(t, n, Config{})
	ctx := context.Background()
	code, err := c.Code(ctx, 1, someAddr)
	if err != nil {
		t.Fatalf("Code() = %v", err)
	}
	if diff := cmp.Diff([]byte{0x60, 0x01}, code); diff != "" {
		t.Errorf("Code() (-want +got):\n%s", diff)
	}
	out, err := c.Call(ctx, 1, &someAddr, []byte{0x16, 0x26, 0xba, 0x7e})
	if err != nil {
		t.Fatalf("Call() = %v", err)
	}
	if len(out) != 32 || out[31] != 1 {
		t.Errorf("Call() = %x, want 31 zero bytes and 01", out)
	}
	// The chain ID is checked once, before the first call.
	if diff := cmp.Diff([]string{"eth_chainId", "eth_getCode", "eth_call"}, n.methods()); diff != "" {
		t.Errorf("methods asked (-want +got):\n%s", diff)
	}
	var params []json.RawMessage
	if err := json.Unmarshal(n.params[2], &params); err != nil {
		t.Fatal(err)
	}
	want := `{"to":"` + someAddr.String() + `","gas":"0x989680","data":"0x1626ba7e"}`
	if got := string(params[0]); got != want {
		t.Errorf("eth_call params[0] = %s, want %s", got, want)
	}
}

func TestCreationCallHasNoTo(t *testing.T) {
	n := chain1()
	c := newClient(t, n, Config{})
	if _, err := c.Call(context.Background(), 1, nil, []byte{0x60}); err != nil {
		t.Fatalf("Call() = %v", err)
	}
	if got, want := string(n.params[1]), `[{"gas":"0x989680","data":"0x60"},"latest"]`; got != want {
		t.Errorf("eth_call params = %s, want %s", got, want)
	}
}

func TestChainID(t *testing.T) {
	n := chain1()
	n.answer["eth_chainId"] = result("0x2105")
	c := newClient(t, n, Config{})
	id, err := c.ChainID(context.Background(), 1)
	if err != nil || id != 8453 {
		t.Errorf("ChainID() = %d, %v, want 8453", id, err)
	}
}

// TestFailures drives the client against fake nodes that misbehave in one
// way each and checks that every failure is classified, typed, and free of
// the endpoint URL.
func TestFailures(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(n *fakeNode)
		kind   fault.Kind
		cause  error
		target any
	}{
		{"huge", func(n *fakeNode) { n.answer["eth_getCode"] = result("0x" + strings.Repeat("ab", 600<<10)) }, fault.Unavailable, ErrTooLarge, nil},
		{"slow", func(n *fakeNode) { n.delay = time.Second }, fault.Unavailable, ErrTimeout, nil},
		{"not JSON", func(n *fakeNode) { n.answer["eth_getCode"] = "<html>502</html>" }, fault.Unavailable, ErrMalformed, nil},
		{"trailing data", func(n *fakeNode) { n.answer["eth_getCode"] = result("0x") + `{}` }, fault.Unavailable, ErrMalformed, nil},
		{"unknown member", func(n *fakeNode) {
			n.answer["eth_getCode"] = `{"jsonrpc":"2.0","id":%ID%,"result":"0x","extra":1}`
		}, fault.Unavailable, ErrMalformed, nil},
		{"wrong id", func(n *fakeNode) { n.answer["eth_getCode"] = `{"jsonrpc":"2.0","id":999999,"result":"0x"}` }, fault.Unavailable, ErrMalformed, nil},
		{"string id", func(n *fakeNode) { n.answer["eth_getCode"] = `{"jsonrpc":"2.0","id":"%ID%","result":"0x"}` }, fault.Unavailable, ErrMalformed, nil},
		{"no version", func(n *fakeNode) { n.answer["eth_getCode"] = `{"id":%ID%,"result":"0x"}` }, fault.Unavailable, ErrMalformed, nil},
		{"result and error", func(n *fakeNode) {
			n.answer["eth_getCode"] = `{"jsonrpc":"2.0","id":%ID%,"result":"0x","error":{"code":1,"message":"x"}}`
		}, fault.Unavailable, ErrMalformed, nil},
		{"neither result nor error", func(n *fakeNode) { n.answer["eth_getCode"] = `{"jsonrpc":"2.0","id":%ID%}` }, fault.Unavailable, ErrMalformed, nil},
		{"odd hex", func(n *fakeNode) { n.answer["eth_getCode"] = result("0x600") }, fault.Unavailable, ErrMalformed, nil},
		{"no 0x", func(n *fakeNode) { n.answer["eth_getCode"] = result("6001") }, fault.Unavailable, ErrMalformed, nil},
		{"number result", func(n *fakeNode) { n.answer["eth_getCode"] = `{"jsonrpc":"2.0","id":%ID%,"result":1}` }, fault.Unavailable, ErrMalformed, nil},
		{"error object", func(n *fakeNode) {
			n.answer["eth_getCode"] = `{"jsonrpc":"2.0","id":%ID%,"error":{"code":-32005,"message":"rate limited"}}`
		}, fault.Unavailable, nil, new(*Error)},
		{"error object without code", func(n *fakeNode) {
			n.answer["eth_getCode"] = `{"jsonrpc":"2.0","id":%ID%,"error":{"message":"x"}}`
		}, fault.Unavailable, ErrMalformed, nil},
		{"HTTP 503", func(n *fakeNode) { n.status = http.StatusServiceUnavailable }, fault.Unavailable, ErrTransport, nil},
		{"wrong chain id", func(n *fakeNode) { n.answer["eth_chainId"] = result("0x89") }, fault.Unavailable, ErrWrongChain, nil},
		{"chain id with leading zero", func(n *fakeNode) { n.answer["eth_chainId"] = result("0x01") }, fault.Unavailable, ErrMalformed, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := chain1()
			tt.setup(n)
			c := newClient(t, n, Config{Timeout: 200 * time.Millisecond})
			_, err := c.Code(context.Background(), 1, someAddr)
			if !fault.Is(err, tt.kind) {
				t.Fatalf("Code() = %v, want kind %v", err, tt.kind)
			}
			if tt.cause != nil && !errors.Is(err, tt.cause) {
				t.Errorf("Code() = %v, want cause %v", err, tt.cause)
			}
			if tt.target != nil && !errors.As(err, tt.target) {
				t.Errorf("Code() = %v, want cause of type %T", err, tt.target)
			}
			if strings.Contains(err.Error(), "secret-api-key") {
				t.Errorf("Code() = %v, shows the endpoint URL", err)
			}
		})
	}
}

func TestRevertIsAnAnswer(t *testing.T) {
	tests := []struct {
		name, body string
		data       []byte
	}{
		{"geth code 3", `{"jsonrpc":"2.0","id":%ID%,"error":{"code":3,"message":"execution reverted","data":"0x08c379a0"}}`, []byte{0x08, 0xc3, 0x79, 0xa0}},
		{"message only", `{"jsonrpc":"2.0","id":%ID%,"error":{"code":-32000,"message":"execution reverted"}}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := chain1()
			n.answer["eth_call"] = tt.body
			c := newClient(t, n, Config{FailureThreshold: 1})
			for range 2 { // a revert does not open the circuit
				_, err := c.Call(context.Background(), 1, &someAddr, nil)
				rev, ok := errors.AsType[*RevertError](err)
				if !ok || !fault.Is(err, fault.Invalid) {
					t.Fatalf("Call() = %v, want fault.Invalid wrapping *RevertError", err)
				}
				if diff := cmp.Diff(tt.data, rev.Data); diff != "" {
					t.Errorf("revert data (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestNoEndpoint(t *testing.T) {
	c := newClient(t, chain1(), Config{})
	_, err := c.Code(context.Background(), 10, someAddr)
	if !fault.Is(err, fault.FailedPrecondition) || !errors.Is(err, ErrNoEndpoint) {
		t.Errorf("Code(chain 10) = %v, want FailedPrecondition wrapping ErrNoEndpoint", err)
	}
	if c.Supports(10) || !c.Supports(1) {
		t.Errorf("Supports(10), Supports(1) = %v, %v, want false, true", c.Supports(10), c.Supports(1))
	}
}

func TestCallerCancelIsNotAnEndpointFailure(t *testing.T) {
	n := chain1()
	n.delay = time.Second
	c := newClient(t, n, Config{FailureThreshold: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := c.Code(ctx, 1, someAddr)
	if !fault.Is(err, fault.DeadlineExceeded) {
		t.Fatalf("Code() = %v, want fault.DeadlineExceeded", err)
	}
	n.mu.Lock()
	n.delay = 0
	n.mu.Unlock()
	if _, err := c.Code(context.Background(), 1, someAddr); err != nil {
		t.Errorf("Code() after the caller's timeout = %v, want the circuit still closed", err)
	}
}

func TestCircuitBreaker(t *testing.T) {
	n := chain1()
	n.status = http.StatusBadGateway
	now := time.Unix(1_700_000_000, 0)
	c := newClient(t, n, Config{FailureThreshold: 3, CoolDown: time.Minute, Now: func() time.Time { return now }})
	ctx := context.Background()
	for i := range 3 {
		if _, err := c.Code(ctx, 1, someAddr); !errors.Is(err, ErrTransport) {
			t.Fatalf("call %d: Code() = %v, want ErrTransport", i, err)
		}
	}
	asked := len(n.methods())
	_, err := c.Code(ctx, 1, someAddr)
	if !errors.Is(err, ErrCircuitOpen) || !fault.Is(err, fault.Unavailable) {
		t.Fatalf("Code() after 3 failures = %v, want Unavailable wrapping ErrCircuitOpen", err)
	}
	if got := len(n.methods()); got != asked {
		t.Errorf("open circuit sent %d requests, want 0", got-asked)
	}

	// After the cool-down one trial goes out; it fails and the circuit
	// opens again at once.
	now = now.Add(time.Minute)
	if _, err := c.Code(ctx, 1, someAddr); !errors.Is(err, ErrTransport) {
		t.Fatalf("trial Code() = %v, want ErrTransport", err)
	}
	if _, err := c.Code(ctx, 1, someAddr); !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("Code() after a failed trial = %v, want ErrCircuitOpen", err)
	}

	// A successful trial closes it.
	now = now.Add(time.Minute)
	n.mu.Lock()
	n.status = 0
	n.mu.Unlock()
	for i := range 2 {
		if _, err := c.Code(ctx, 1, someAddr); err != nil {
			t.Fatalf("call %d after recovery: Code() = %v", i, err)
		}
	}
}

func TestBreakerHalfOpenLetsOneTrialThrough(t *testing.T) {
	now := time.Unix(0, 0)
	b := newBreaker(1, time.Second, func() time.Time { return now })
	if !b.allow() {
		t.Fatal("closed breaker refused a call")
	}
	b.done(false)
	if b.allow() {
		t.Fatal("open breaker allowed a call before the cool-down")
	}
	now = now.Add(time.Second)
	if !b.allow() {
		t.Fatal("breaker refused the trial after the cool-down")
	}
	if b.allow() {
		t.Error("half-open breaker allowed a second call while the trial is in flight")
	}
	b.release()
	if !b.allow() {
		t.Error("released trial did not let another trial through")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no chain ID", Config{Endpoints: []Endpoint{{URL: "https://rpc.example"}}}},
		{"not http", Config{Endpoints: []Endpoint{{ChainID: 1, URL: "ws://rpc.example"}}}},
		{"relative", Config{Endpoints: []Endpoint{{ChainID: 1, URL: "/rpc"}}}},
		{"duplicate chain", Config{Endpoints: []Endpoint{{ChainID: 1, URL: "https://a.example"}, {ChainID: 1, URL: "https://b.example"}}}},
		{"negative timeout", Config{Timeout: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg); !fault.Is(err, fault.Invalid) {
				t.Errorf("New() = %v, want fault.Invalid", err)
			}
		})
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	target := chain1()
	dst := httptest.NewServer(target)
	defer dst.Close()
	src := httptest.NewServer(http.RedirectHandler(dst.URL, http.StatusTemporaryRedirect))
	defer src.Close()
	c, err := New(Config{Endpoints: []Endpoint{{ChainID: 1, URL: src.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Code(context.Background(), 1, someAddr); !errors.Is(err, ErrTransport) {
		t.Errorf("Code() through a redirect = %v, want ErrTransport", err)
	}
	if got := target.methods(); len(got) != 0 {
		t.Errorf("redirect target was asked %v", got)
	}
}

func TestCallDataLimit(t *testing.T) {
	c := newClient(t, chain1(), Config{})
	if _, err := c.Call(context.Background(), 1, &someAddr, make([]byte, MaxCallData+1)); !fault.Is(err, fault.Invalid) {
		t.Errorf("Call(too much data) = %v, want fault.Invalid", err)
	}
}

func TestConcurrentCalls(t *testing.T) {
	n := chain1()
	c := newClient(t, n, Config{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			_, err := c.Code(context.Background(), 1, someAddr)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Code() = %v", err)
		}
	}
}

func TestMaxCallGas(t *testing.T) {
	n := chain1()
	c := newClient(t, n, Config{MaxCallGas: 300_000})
	if _, err := c.Call(context.Background(), 1, nil, nil); err != nil {
		t.Fatalf("Call() = %v", err)
	}
	if got, want := string(n.params[1]), `[{"gas":"0x493e0","data":"0x"},"latest"]`; got != want {
		t.Errorf("eth_call params = %s, want %s", got, want)
	}
}

// TestMalformedTrialReopens checks that a half-open trial whose response
// arrives but does not decode counts as one failure, reopening the circuit.
func TestMalformedTrialReopens(t *testing.T) {
	n := chain1()
	n.status = http.StatusBadGateway
	now := time.Unix(1_700_000_000, 0)
	c := newClient(t, n, Config{FailureThreshold: 3, CoolDown: time.Minute, Now: func() time.Time { return now }})
	ctx := context.Background()
	for range 3 {
		c.Code(ctx, 1, someAddr)
	}
	now = now.Add(time.Minute)
	n.mu.Lock()
	n.status = 0
	n.answer["eth_chainId"] = result("0x01") // a malformed quantity
	n.mu.Unlock()
	if _, err := c.Code(ctx, 1, someAddr); !errors.Is(err, ErrMalformed) {
		t.Fatalf("trial Code() = %v, want ErrMalformed", err)
	}
	if _, err := c.Code(ctx, 1, someAddr); !errors.Is(err, ErrCircuitOpen) {
		t.Errorf("Code() after a malformed trial = %v, want ErrCircuitOpen", err)
	}
}
