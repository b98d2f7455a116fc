package loadgen

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/atriumid/atrium/internal/fault"
)

// ErrNotLoopback is the cause of every refusal to address a host that is not
// on this machine's loopback interface.
var ErrNotLoopback = errors.New("target is not a loopback address")

// CheckTarget reports whether rawURL may be driven: an http or https URL
// whose host is "localhost", an address in 127.0.0.0/8, or ::1. It returns an
// Invalid error wrapping ErrNotLoopback for any other host, so that the
// generator can never be pointed at another machine.
func CheckTarget(rawURL string) error {
	const op = "loadgen.CheckTarget"
	u, err := url.Parse(rawURL)
	if err != nil {
		return fault.Wrap(op, fault.Invalid, err)
	}
	return checkURL(op, u)
}

func checkURL(op string, u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fault.E(op, fault.Invalid, "target scheme must be http or https")
	}
	if !loopbackHost(u.Hostname()) {
		return &fault.Error{Op: op, Kind: fault.Invalid, Msg: "target host must be loopback", Err: ErrNotLoopback}
	}
	return nil
}

// loopbackHost reports whether host names the loopback interface. A name
// other than "localhost" is refused without resolving it: resolution could
// be steered elsewhere, and the dialer re-checks the address it connects to.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// refuseRemote is a net.Dialer Control hook: it runs on the resolved address
// just before connect, so nothing the URL check missed (a "localhost" that
// resolves elsewhere, a redirect, a proxy) can open a connection off the
// machine.
func refuseRemote(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return ErrNotLoopback
	}
	return nil
}

// NewClient returns an HTTP client that can only connect to loopback
// addresses: it ignores proxy settings, does not follow redirects, and its
// dialer refuses any non-loopback address. conns is the number of idle
// keep-alive connections kept per host; set it to the concurrency of the
// load so that connections are reused rather than re-dialled.
func NewClient(conns int) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: refuseRemote}
	transport := &http.Transport{
		Proxy:               nil,
		DialContext:         dialer.DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &http.Client{
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// newRequest turns r into an *http.Request bound to ctx, refusing it unless
// its target is loopback.
func newRequest(ctx context.Context, r Request) (*http.Request, error) {
	const op = "loadgen.Request"
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.URL, body)
	if err != nil {
		return nil, fault.Wrap(op, fault.Invalid, err)
	}
	if err := checkURL(op, req.URL); err != nil {
		return nil, err
	}
	maps.Copy(req.Header, r.Header)
	return req, nil
}
