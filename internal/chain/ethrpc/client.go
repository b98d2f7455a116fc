// Package ethrpc is Atrium's own Ethereum JSON-RPC client: the few read-only
// calls that checking a smart-contract wallet's signature and resolving ENS
// names need (eth_chainId, eth_call, eth_getCode), against one configured
// endpoint per chain.
//
// It treats every endpoint as untrusted and unreliable. Each call has a
// timeout; a response is read up to a size cap and decoded strictly (one
// JSON-RPC 2.0 object with our request ID, no unknown fields, hex of the
// right shape); the chain ID the endpoint reports is checked once against the
// configured one before anything else is asked of it; and a circuit breaker
// per endpoint stops calling it after repeated failures, until a cool-down
// has passed. Every failure of the endpoint is a fault.Unavailable error, so
// that callers fail closed: a wallet whose signature cannot be checked is not
// signed in. Endpoint URLs often carry API keys; they never appear in errors.
package ethrpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/atriumid/atrium/internal/chain"
	"github.com/atriumid/atrium/internal/fault"
)

// Defaults for the Config fields left at zero.
const (
	DefaultTimeout          = 5 * time.Second
	DefaultMaxResponseBytes = 1 << 20
	DefaultFailureThreshold = 5
	DefaultCoolDown         = 30 * time.Second
	DefaultMaxCallGas       = 10_000_000
)

// Errors that the client wraps, each inside a fault.Error, so that callers
// and logs can tell one failure from another. All but ErrNoEndpoint and
// RevertError are faults of the endpoint and come with fault.Unavailable.
var (
	// ErrNoEndpoint: no endpoint is configured for the chain
	// (fault.FailedPrecondition).
	ErrNoEndpoint = errors.New("no JSON-RPC endpoint for the chain")
	// ErrTransport: the request could not be sent or the HTTP status was
	// not 200.
	ErrTransport = errors.New("JSON-RPC transport failure")
	// ErrTimeout: the endpoint did not answer within the call timeout.
	ErrTimeout = errors.New("JSON-RPC call timed out")
	// ErrTooLarge: the response was longer than the size cap.
	ErrTooLarge = errors.New("JSON-RPC response too large")
	// ErrMalformed: the response was not a well-formed JSON-RPC 2.0
	// response to our request, or its result had the wrong shape.
	ErrMalformed = errors.New("malformed JSON-RPC response")
	// ErrWrongChain: the endpoint reports another chain ID than the one it
	// is configured for.
	ErrWrongChain = errors.New("JSON-RPC endpoint serves another chain")
	// ErrCircuitOpen: the endpoint failed too often in a row and is not
	// called again until its cool-down has passed.
	ErrCircuitOpen = errors.New("JSON-RPC endpoint circuit open")
)

// Error is a JSON-RPC error object that an endpoint returned for a call
// other than a revert. It is the cause inside a fault.Unavailable error.
type Error struct {
	Code    int64
	Message string // as the endpoint sent it, cut to 200 bytes
}

// Error describes e for logs.
func (e *Error) Error() string { return fmt.Sprintf("JSON-RPC error %d: %s", e.Code, e.Message) }

// RevertError is the answer to an eth_call whose execution reverted: an
// answer about the call, not a failure of the endpoint. It is the cause
// inside a fault.Invalid error; Data is the revert data, possibly empty.
type RevertError struct {
	Data []byte
}

// Error describes e for logs.
func (e *RevertError) Error() string {
	return fmt.Sprintf("execution reverted (%d bytes of data)", len(e.Data))
}

// Endpoint is the JSON-RPC URL to ask about one chain.
type Endpoint struct {
	ChainID uint64 // EIP-155 chain ID, positive
	URL     string // http or https URL; may contain an API key, so it is never shown
}

// Config configures a Client. Endpoints is required; the zero value of every
// other field means its default.
type Config struct {
	Endpoints []Endpoint
	// Timeout bounds each call, including the chain-ID check that may
	// precede it. Zero means DefaultTimeout.
	Timeout time.Duration
	// MaxResponseBytes caps the size of a response body. Zero means
	// DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// FailureThreshold is the number of consecutive failures after which an
	// endpoint's circuit opens. Zero means DefaultFailureThreshold.
	FailureThreshold int
	// CoolDown is how long an open circuit stays open before one trial call
	// is let through. Zero means DefaultCoolDown.
	CoolDown time.Duration
	// MaxCallGas is the gas every eth_call may use. The code a call runs
	// can come from the caller (an ERC-6492 factory call), so it is capped
	// well below the endpoint's own limit. Zero means DefaultMaxCallGas.
	MaxCallGas uint64
	// HTTPClient sends the requests. Nil means a client that follows no
	// redirects. A client given here should not follow redirects either.
	HTTPClient *http.Client
	// Now is the clock of the circuit breakers. Nil means time.Now.
	Now func() time.Time
}

// Client calls the configured endpoints. It is safe for concurrent use.
type Client struct {
	endpoints map[uint64]*endpoint
	timeout   time.Duration
	maxBody   int64
	gas       string // MaxCallGas as a QUANTITY
	http      *http.Client
	nextID    atomic.Uint64
}

// endpoint is one chain's URL, its verified chain ID and its breaker.
type endpoint struct {
	chainID uint64
	url     string
	breaker *breaker

	mu       sync.Mutex
	verified bool // the endpoint reported chainID; guarded by mu
}

// New returns a Client for cfg. It fails with fault.Invalid when an endpoint
// has no chain ID, a URL that is not absolute http(s), or repeats a chain.
func New(cfg Config) (*Client, error) {
	const op = "ethrpc.New"
	c := &Client{
		endpoints: make(map[uint64]*endpoint, len(cfg.Endpoints)),
		timeout:   orDefault(cfg.Timeout, DefaultTimeout),
		maxBody:   orDefault(cfg.MaxResponseBytes, DefaultMaxResponseBytes),
		gas:       "0x" + strconv.FormatUint(orDefault(cfg.MaxCallGas, DefaultMaxCallGas), 16),
		http:      cfg.HTTPClient,
	}
	if c.http == nil {
		c.http = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	threshold := orDefault(cfg.FailureThreshold, DefaultFailureThreshold)
	coolDown := orDefault(cfg.CoolDown, DefaultCoolDown)
	if threshold < 0 || coolDown < 0 || c.timeout < 0 || c.maxBody < 0 {
		return nil, fault.E(op, fault.Invalid, "JSON-RPC limits must not be negative")
	}
	for _, e := range cfg.Endpoints {
		if e.ChainID == 0 {
			return nil, fault.E(op, fault.Invalid, "JSON-RPC endpoint needs a positive chain ID")
		}
		u, err := url.Parse(e.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fault.E(op, fault.Invalid, "JSON-RPC endpoint for chain %d must be an http or https URL", e.ChainID)
		}
		if _, dup := c.endpoints[e.ChainID]; dup {
			return nil, fault.E(op, fault.Invalid, "chain %d has more than one JSON-RPC endpoint", e.ChainID)
		}
		c.endpoints[e.ChainID] = &endpoint{chainID: e.ChainID, url: e.URL, breaker: newBreaker(threshold, coolDown, now)}
	}
	return c, nil
}

func orDefault[T int | int64 | uint64 | time.Duration](v, d T) T {
	if v == 0 {
		return d
	}
	return v
}

// Supports reports whether an endpoint is configured for chainID.
func (c *Client) Supports(chainID uint64) bool {
	_, ok := c.endpoints[chainID]
	return ok
}

// ChainID asks the endpoint of chainID which chain it serves (eth_chainId)
// and returns the answer, without comparing it with chainID. The errors are
// those of Call, without RevertError.
func (c *Client) ChainID(ctx context.Context, chainID uint64) (uint64, error) {
	const op = "ethrpc.ChainID"
	e, err := c.endpoint(op, chainID)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, c.timeout, ErrTimeout)
	defer cancel()
	return c.chainID(ctx, op, e, nil)
}

// chainID asks e for its chain ID; check, when not nil, judges the answer,
// and its error counts as a failure of e.
func (c *Client) chainID(ctx context.Context, op string, e *endpoint, check func(uint64) error) (uint64, error) {
	var id uint64
	err := c.do(ctx, op, e, "eth_chainId", []any{}, func(raw json.RawMessage) error {
		var err error
		if id, err = decodeQuantity(raw); err != nil || check == nil {
			return err
		}
		return check(id)
	})
	return id, err
}

// Call runs a read-only message call (eth_call) on the latest block of
// chainID, from the zero address with at most Config.MaxCallGas gas, and
// returns its output. A nil to makes it a contract-creation call whose
// output is what the init code returns, which is how a "deployless"
// contract runs without being deployed (ERC-6492). data is at most
// MaxCallData bytes.
//
// Errors: fault.FailedPrecondition wrapping ErrNoEndpoint; fault.Invalid
// wrapping *RevertError when the call reverted, which is an answer and not a
// failure; fault.Unavailable wrapping ErrTransport, ErrTimeout, ErrTooLarge,
// ErrMalformed, ErrWrongChain, ErrCircuitOpen or *Error otherwise;
// fault.Canceled or fault.DeadlineExceeded when ctx ends first.
func (c *Client) Call(ctx context.Context, chainID uint64, to *chain.Address, data []byte) ([]byte, error) {
	const op = "ethrpc.Call"
	if len(data) > MaxCallData {
		return nil, fault.E(op, fault.Invalid, "call data longer than %d bytes", MaxCallData)
	}
	msg := callMsg{Gas: c.gas, Data: encodeData(data)}
	if to != nil {
		s := to.String()
		msg.To = &s
	}
	return c.data(ctx, op, chainID, "eth_call", []any{msg, "latest"})
}

// MaxCallData bounds the call data that Call sends.
const MaxCallData = 256 << 10

// callMsg is the transaction object of eth_call.
type callMsg struct {
	To   *string `json:"to,omitempty"`
	Gas  string  `json:"gas"`
	Data string  `json:"data"`
}

// Code returns the code at addr on the latest block of chainID
// (eth_getCode): empty for an account without code. The errors are those of
// Call, without RevertError.
func (c *Client) Code(ctx context.Context, chainID uint64, addr chain.Address) ([]byte, error) {
	return c.data(ctx, "ethrpc.Code", chainID, "eth_getCode", []any{addr.String(), "latest"})
}

// data makes a call whose result is DATA (0x-prefixed hex bytes).
func (c *Client) data(ctx context.Context, op string, chainID uint64, method string, params []any) ([]byte, error) {
	e, err := c.endpoint(op, chainID)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, c.timeout, ErrTimeout)
	defer cancel()
	if err := c.verifyChain(ctx, op, e); err != nil {
		return nil, err
	}
	var b []byte
	err = c.do(ctx, op, e, method, params, func(raw json.RawMessage) error {
		var err error
		b, err = decodeData(raw)
		return err
	})
	return b, err
}

func (c *Client) endpoint(op string, chainID uint64) (*endpoint, error) {
	e, ok := c.endpoints[chainID]
	if !ok {
		return nil, &fault.Error{Op: op, Kind: fault.FailedPrecondition, Msg: fmt.Sprintf("chain %d is not supported", chainID), Err: ErrNoEndpoint}
	}
	return e, nil
}

// verifyChain checks, once per endpoint, that it serves the configured
// chain: a wrong chain would answer about the state of another chain. A
// mismatch counts as a failure of the endpoint and is checked again on the
// next call, so that a fixed endpoint recovers without a restart.
func (c *Client) verifyChain(ctx context.Context, op string, e *endpoint) error {
	e.mu.Lock()
	verified := e.verified
	e.mu.Unlock()
	if verified {
		return nil
	}
	_, err := c.chainID(ctx, op, e, func(got uint64) error {
		if got != e.chainID {
			return fmt.Errorf("%w: configured for %d, reports %d", ErrWrongChain, e.chainID, got)
		}
		return nil
	})
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.verified = true
	e.mu.Unlock()
	return nil
}

func unavailable(op string, chainID uint64, cause error) error {
	return &fault.Error{Op: op, Kind: fault.Unavailable, Msg: fmt.Sprintf("the JSON-RPC endpoint of chain %d is unavailable", chainID), Err: cause}
}

// do sends one request through e's breaker and hands the raw result to
// decode. The breaker hears one verdict per call: a failure for a transport
// error, a bad response, an error object other than a revert, or a result
// that decode rejects; a success otherwise, revert included.
func (c *Client) do(ctx context.Context, op string, e *endpoint, method string, params []any, decode func(json.RawMessage) error) error {
	if !e.breaker.allow() {
		return unavailable(op, e.chainID, ErrCircuitOpen)
	}
	raw, err := c.roundTrip(ctx, e, c.nextID.Add(1), method, params)
	if err == nil {
		err = decode(raw)
	}
	if err == nil {
		e.breaker.done(true)
		return nil
	}
	if rev, ok := errors.AsType[*RevertError](err); ok {
		e.breaker.done(true)
		return &fault.Error{Op: op, Kind: fault.Invalid, Msg: "the contract call reverted", Err: rev}
	}
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(context.Cause(ctx), ErrTimeout) {
		// The caller went away or its own deadline passed: not the
		// endpoint's fault, so the breaker only hears that the call ended.
		e.breaker.release()
		return fault.Wrap(op, callerKind(ctxErr), ctxErr)
	}
	e.breaker.done(false)
	return unavailable(op, e.chainID, err)
}

func callerKind(err error) fault.Kind {
	if errors.Is(err, context.DeadlineExceeded) {
		return fault.DeadlineExceeded
	}
	return fault.Canceled
}

// request is a JSON-RPC 2.0 request.
type request struct {
	JSONRPC string `json:"jsonrpc"`
	ID      uint64 `json:"id"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

func (c *Client) roundTrip(ctx context.Context, e *endpoint, id uint64, method string, params []any) (json.RawMessage, error) {
	body, err := json.Marshal(request{JSONRPC: "2.0", ID: id, Method: method, Params: params})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		return nil, ErrTransport
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, transportError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: HTTP status %d", ErrTransport, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, transportError(ctx, err)
	}
	if int64(len(b)) > c.maxBody {
		return nil, fmt.Errorf("%w: over %d bytes", ErrTooLarge, c.maxBody)
	}
	return decodeResponse(b, id)
}

// transportError classifies a failure to send or read, dropping the
// *url.Error around it because its text holds the endpoint URL.
func transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ErrTimeout
	}
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	return fmt.Errorf("%w: %w", ErrTransport, err)
}
