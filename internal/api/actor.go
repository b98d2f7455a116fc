package api

import (
	"net"
	"net/http"

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
