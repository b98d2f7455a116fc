package ens

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/atriumid/atrium/internal/chain"
	"github.com/atriumid/atrium/internal/chain/abi"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/webhook"
)

// CCIP-Read limits.
const (
	// DefaultGatewayTimeout bounds one gateway request, redirects included.
	DefaultGatewayTimeout = 5 * time.Second
	// DefaultMaxGatewayResponse caps a gateway's response body.
	DefaultMaxGatewayResponse = 64 << 10
	// DefaultMaxLookups caps the OffchainLookup rounds of one resolution
	// (a callback may answer with another OffchainLookup).
	DefaultMaxLookups = 4
	// MaxRedirects caps the redirects followed per gateway request; each
	// target must pass the same checks as the first URL.
	MaxRedirects = 2
	// maxURLs caps the gateway URLs read from one OffchainLookup, and
	// maxURLLen the length of one after substitution.
	maxURLs   = 8
	maxURLLen = 4096
)

// Errors of CCIP-Read, each inside a fault.Error.
var (
	// ErrGatewayRefused: no gateway URL is an https URL on the allowlist
	// that reaches a public address (fault.FailedPrecondition).
	ErrGatewayRefused = errors.New("no CCIP-Read gateway URL is allowed")
	// ErrLookupSender: the OffchainLookup's sender is not the contract
	// that was called, which EIP-3668 forbids following
	// (fault.FailedPrecondition).
	ErrLookupSender = errors.New("OffchainLookup sender is not the contract called")
	// ErrTooManyLookups: more OffchainLookup rounds than allowed
	// (fault.FailedPrecondition).
	ErrTooManyLookups = errors.New("too many CCIP-Read lookups")
	// ErrGateway: every allowed gateway failed: connection, timeout, an
	// error status (fault.Unavailable).
	ErrGateway = errors.New("the CCIP-Read gateway failed")
	// ErrGatewayTooLarge: the gateway's answer is over the size cap
	// (fault.Unavailable).
	ErrGatewayTooLarge = errors.New("the CCIP-Read gateway's answer is too large")
	// ErrGatewayMalformed: the gateway's answer is not {"data":"0x…"}
	// (fault.Unavailable).
	ErrGatewayMalformed = errors.New("the CCIP-Read gateway's answer is malformed")
)

// CCIPConfig configures CCIP-Read (EIP-3668). Gateway URLs come from the
// chain, that is from whoever owns a name, so only https URLs whose host
// is listed in Hosts are fetched, never on a loopback, private or internal
// address (Guard), with time, size, redirect and round caps.
type CCIPConfig struct {
	// Hosts are the host names (exact, lower case) gateways may have.
	Hosts []string
	// Timeout bounds one gateway request; 0 means DefaultGatewayTimeout.
	Timeout time.Duration
	// MaxResponse caps a response body in bytes; 0 means
	// DefaultMaxGatewayResponse.
	MaxResponse int64
	// MaxLookups caps the lookup rounds of one resolution; 0 means
	// DefaultMaxLookups.
	MaxLookups int
	// Guard decides which addresses a gateway connection may reach; its
	// zero value allows public unicast addresses only. Only tests set
	// AllowPrivate, to reach a loopback gateway.
	Guard webhook.Guard
	// RootCAs, when set, replaces the system's roots (tests).
	RootCAs *x509.CertPool
}

// ccipReader follows OffchainLookup reverts.
type ccipReader struct {
	cfg    CCIPConfig
	client *http.Client
}

func newCCIPReader(c CCIPConfig) *ccipReader {
	if c.Timeout <= 0 {
		c.Timeout = DefaultGatewayTimeout
	}
	if c.MaxResponse <= 0 {
		c.MaxResponse = DefaultMaxGatewayResponse
	}
	if c.MaxLookups <= 0 {
		c.MaxLookups = DefaultMaxLookups
	}
	hosts := make([]string, len(c.Hosts))
	for i, h := range c.Hosts {
		hosts[i] = strings.ToLower(h)
	}
	c.Hosts = hosts
	r := &ccipReader{cfg: c}
	r.client = &http.Client{
		Timeout: c.Timeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           c.Guard.Dialer().DialContext,
			TLSClientConfig:       &tls.Config{RootCAs: c.RootCAs, MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:   c.Timeout,
			ResponseHeaderTimeout: c.Timeout,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       30 * time.Second,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > MaxRedirects || !r.allowed(req.URL) {
				return refused("a gateway redirect is not allowed")
			}
			return nil
		},
	}
	return r
}

// allowed reports whether u may be fetched: https, no credentials, a
// listed host.
func (r *ccipReader) allowed(u *url.URL) bool {
	return u.Scheme == "https" && u.User == nil && u.Opaque == "" && slices.Contains(r.cfg.Hosts, strings.ToLower(u.Hostname()))
}

// lookup is a decoded OffchainLookup(address sender, string[] urls, bytes
// callData, bytes4 callbackFunction, bytes extraData).
type lookup struct {
	sender    chain.Address
	urls      []string
	callData  []byte
	callback  [4]byte
	extraData []byte
}

// decodeLookup decodes revert data that starts with the OffchainLookup
// selector.
func decodeLookup(rev []byte) (*lookup, error) {
	if !bytes.HasPrefix(rev, offchainLookup) {
		return nil, malformed()
	}
	data := rev[len(offchainLookup):]
	var l lookup
	var errs [5]error
	l.sender, errs[0] = abi.Address(data, 0)
	l.urls, errs[1] = abi.Strings(data, 1, maxURLs)
	l.callData, errs[2] = abi.Bytes(data, 2)
	l.callback, errs[3] = abi.Bytes4(data, 3)
	l.extraData, errs[4] = abi.Bytes(data, 4)
	if errors.Join(errs[:]...) != nil {
		return nil, malformed()
	}
	return &l, nil
}

// follow answers the OffchainLookup revert rev of a call to contract: it
// fetches the gateways and returns the calldata of the callback to call
// on contract.
func (r *ccipReader) follow(ctx context.Context, contract chain.Address, rev []byte) ([]byte, error) {
	l, err := decodeLookup(rev)
	if err != nil {
		return nil, err
	}
	if l.sender != contract {
		return nil, &fault.Error{Kind: fault.FailedPrecondition, Msg: "the off-chain lookup names another contract", Err: ErrLookupSender}
	}
	resp, err := r.fetch(ctx, l)
	if err != nil {
		return nil, err
	}
	return abi.Call(l.callback, resp, l.extraData), nil
}

// fetch asks the allowed gateways of l in order, as EIP-3668 says: a 4xx
// answer ends the lookup, a 5xx or a failure moves on to the next URL.
func (r *ccipReader) fetch(ctx context.Context, l *lookup) ([]byte, error) {
	sender := "0x" + hex.EncodeToString(l.sender[:])
	data := "0x" + hex.EncodeToString(l.callData)
	var last error = refused("no gateway URL is an allowed https URL")
	for _, tmpl := range l.urls {
		raw := strings.ReplaceAll(strings.ReplaceAll(tmpl, "{sender}", sender), "{data}", data)
		u, err := url.Parse(raw)
		if len(raw) > maxURLLen || err != nil || !r.allowed(u) {
			continue
		}
		var body io.Reader
		method := http.MethodGet
		if !strings.Contains(tmpl, "{data}") {
			method = http.MethodPost
			js, _ := json.Marshal(map[string]string{"data": data, "sender": sender})
			body = bytes.NewReader(js)
		}
		out, final, err := r.get(ctx, method, u.String(), body)
		if err == nil || final {
			return out, err
		}
		last = err
	}
	return nil, last
}

// get makes one gateway request. final reports an error that ends the
// lookup (a 4xx answer, or the caller's context).
func (r *ccipReader) get(ctx context.Context, method, u string, body io.Reader) (out []byte, final bool, err error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, false, refused("a gateway URL is not valid")
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := r.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, true, fault.Wrap("ens.ccipRead", fault.Unavailable, ctx.Err())
		}
		if fault.Is(err, fault.PermissionDenied) || fault.Is(err, fault.FailedPrecondition) {
			return nil, false, refused("a gateway resolves to a loopback, private or internal address, or redirects where it may not")
		}
		return nil, false, gatewayError(ErrGateway, "the gateway cannot be reached")
	}
	defer res.Body.Close()
	if res.StatusCode >= 400 && res.StatusCode < 500 {
		return nil, true, gatewayError(ErrGateway, fmt.Sprintf("the gateway answered %d", res.StatusCode))
	}
	if res.StatusCode != http.StatusOK {
		return nil, false, gatewayError(ErrGateway, fmt.Sprintf("the gateway answered %d", res.StatusCode))
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, r.cfg.MaxResponse+1))
	if err != nil {
		return nil, false, gatewayError(ErrGateway, "the gateway's answer was cut off")
	}
	if int64(len(b)) > r.cfg.MaxResponse {
		return nil, false, gatewayError(ErrGatewayTooLarge, "the gateway's answer is too large")
	}
	var msg struct {
		Data string `json:"data"`
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&msg); err != nil || d.More() {
		return nil, false, gatewayError(ErrGatewayMalformed, "the gateway's answer is malformed")
	}
	hexData, ok := strings.CutPrefix(msg.Data, "0x")
	out, err = hex.DecodeString(hexData)
	if !ok || err != nil {
		return nil, false, gatewayError(ErrGatewayMalformed, "the gateway's answer is malformed")
	}
	return out, false, nil
}

func refused(msg string) error {
	return &fault.Error{Kind: fault.FailedPrecondition, Msg: msg, Err: ErrGatewayRefused}
}

func gatewayError(cause error, msg string) error {
	return &fault.Error{Kind: fault.Unavailable, Msg: msg, Err: cause}
}
