package api

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/atriumid/atrium/internal/audit"
	"github.com/atriumid/atrium/internal/ids"
)

// requestIDHeader carries a request's ID. A client's own ID is kept when
// it is short and printable, so that its logs and the audit log meet;
// otherwise Atrium makes one. Either way the response echoes it.
const requestIDHeader = "X-Request-Id"

// requestActor returns who is making r, for the audit log: principal, the
// peer address (not X-Forwarded-For, which any client can write), the user
// agent and the request ID, which it also sets on the response.
func requestActor(w http.ResponseWriter, r *http.Request, principal string) audit.Actor {
	rid := r.Header.Get(requestIDHeader)
	if !printable(rid, audit.MaxRequestID) {
		rid = ids.New("req")
	}
	w.Header().Set(requestIDHeader, rid)
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	return audit.Actor{Principal: principal, IP: ip, UserAgent: r.UserAgent(), RequestID: rid}
}

// printable reports whether s is non-empty, at most n bytes, and visible
// ASCII only.
func printable(s string, n int) bool {
	if s == "" || len(s) > n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// SecurityLog records security events that change nothing else.
type SecurityLog interface {
	// Append appends e to the audit chain in a transaction of its own;
	// fault.Unavailable when the database fails.
	Append(ctx context.Context, e audit.Entry) error
}

// failureLog records refused credentials in the audit log, so that a
// flood of bad requests cannot turn into a flood of writes: at most once
// a minute per client (per /64 for IPv6, which one subscriber can rotate
// through freely; see clientKeyOf), and at most maxFailureRecords a minute
// from all clients together, which caps what a botnet spread over many
// networks can add to the chain. The first record after a minute in which
// the global cap dropped some counts them in "suppressed".
type failureLog struct {
	log SecurityLog
	now func() time.Time

	mu         sync.Mutex
	last       map[string]time.Time // guarded by mu; bounded by maxCachedKeys
	window     time.Time            // start of the global minute; guarded by mu
	recorded   int                  // records in the global minute; guarded by mu
	suppressed int                  // dropped by the global cap, not yet reported; guarded by mu
}

const (
	failureEvery      = time.Minute
	maxFailureRecords = 60 // per failureEvery, from every client together
)

// record appends an authentication failure of the request's client, unless
// one was recorded for its client key within the last minute or the
// global cap is reached.
func (f *failureLog) record(w http.ResponseWriter, r *http.Request, reason string) {
	if f == nil || f.log == nil {
		return
	}
	a := requestActor(w, r, "anonymous")
	f.append(r.Context(), "atrium.security.authentication_failed", clientKeyOf(a.IP), a,
		map[string]any{"reason": reason, "path": truncatePath(r.URL.Path)})
}

// denied records that the API key of ctx was refused op, at most once a
// minute per key and under the same global cap as refused credentials.
func (f *failureLog) denied(ctx context.Context, op string) {
	p, ok := PrincipalFrom(ctx)
	if f == nil || f.log == nil || !ok {
		return
	}
	f.append(ctx, "atrium.security.authorization_denied", "key:"+p.KeyID, audit.ActorFrom(ctx), map[string]any{"operation": op})
}

// append appends a record of type typ with data d, unless one was
// recorded for key within the last minute or the global cap is reached.
func (f *failureLog) append(ctx context.Context, typ, key string, a audit.Actor, d map[string]any) {
	now := f.now().UTC().Truncate(time.Microsecond)
	f.mu.Lock()
	if now.Sub(f.last[key]) < failureEvery {
		f.mu.Unlock()
		return
	}
	if now.Sub(f.window) >= failureEvery {
		f.window, f.recorded = now, 0
	}
	if f.recorded >= maxFailureRecords {
		f.suppressed++
		f.mu.Unlock()
		return
	}
	if len(f.last) >= maxCachedKeys {
		clear(f.last)
	}
	f.last[key] = now
	f.recorded++
	suppressed := f.suppressed
	f.suppressed = 0
	f.mu.Unlock()
	if suppressed > 0 {
		d["suppressed"] = suppressed
	}
	data, _ := json.Marshal(d)
	e := audit.Entry{ID: ids.New("aud"), Type: typ, Account: "", Time: now, Data: data, Actor: a}
	// A failure to record is not the caller's business; the request is
	// refused either way.
	_ = f.log.Append(context.WithoutCancel(ctx), e)
}

func truncatePath(p string) string {
	if len(p) > 200 {
		return p[:200]
	}
	return p
}
