package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/atriumid/atrium/internal/admission"
)

// admit is the API's door under load. Every request gets a deadline of
// timeout, which its database calls inherit, so a request the caller has
// given up on stops holding a connection. When a limiter is set, the
// request then takes a slot of its priority class, or is shed at once with
// 503 or 429 and Retry-After, before anything reads its body or the
// database. Event streams are exempt from both: they are long by design
// and pace their own reads, and a StreamLimit of their own bounds them.
func admit(l *admission.Limiter, timeout time.Duration, next http.Handler) http.Handler {
	rpcErrors := connect.NewErrorWriter()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isEventStream(r) {
			next.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		if l != nil {
			p, err := l.Acquire(ctx, classOf(r), clientOf(ctx))
			if err != nil {
				writeShed(w, r, rpcErrors, normalize(err))
				return
			}
			defer p.Release()
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// writeShed answers a request that was not admitted, in its protocol. It
// does not log: under overload that would be one line per refusal, and
// the limiter's counters already tell the story.
func writeShed(w http.ResponseWriter, r *http.Request, rpcErrors *connect.ErrorWriter, err error) {
	if !strings.HasPrefix(r.URL.Path, "/v1/") && rpcErrors.IsSupported(r) {
		rpcErrors.Write(w, r, toConnect(err))
		return
	}
	respondError(w, err)
}

// isEventStream reports whether r asks for the server-sent event stream.
func isEventStream(r *http.Request) bool {
	return r.URL.Path == "/v1/events" && strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// classOf returns the priority class of r, from its Connect procedure or
// its REST route. Session checks and logins are Critical; lists, batches,
// expansions and the administrative surface (kinds, audit, events,
// webhooks) are Bulk; everything else reads or writes one resource and is
// Standard.
func classOf(r *http.Request) admission.Class {
	p := r.URL.Path
	if rest, ok := strings.CutPrefix(p, "/v1/"); ok {
		return restClass(r.Method, rest)
	}
	_, method, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	return rpcClass(method)
}

// rpcClass classifies a Connect or gRPC method by its name.
func rpcClass(method string) admission.Class {
	switch {
	case method == "WhoAmI" || method == "CreateSiweNonce" || strings.Contains(method, "Login"):
		return admission.Critical
	case strings.HasPrefix(method, "List") || strings.HasPrefix(method, "Batch") || method == "Expand" ||
		method == "ReadRelationships" || method == "VerifyAudit" || strings.HasSuffix(method, "Kinds") ||
		method == "RevokeAccountSessions":
		return admission.Bulk
	}
	return admission.Standard
}

// restClass classifies a REST request by its method and the path after
// /v1/.
func restClass(method, path string) admission.Class {
	switch {
	case path == "sessions/whoami" || path == "auth/siwe/nonce" ||
		strings.HasPrefix(path, "auth/") && strings.Contains(path, "login"):
		return admission.Critical
	case method == http.MethodGet && (path == "accounts" || path == "sessions" || path == "wallets"),
		strings.HasPrefix(path, "kinds"), strings.HasPrefix(path, "audit"), strings.HasPrefix(path, "events"),
		strings.HasPrefix(path, "webhooks"), strings.HasPrefix(path, "relationships:read"),
		strings.HasPrefix(path, "check:batch"), strings.HasPrefix(path, "list-"), path == "expand",
		method == http.MethodDelete && strings.HasSuffix(path, "/sessions"):
		return admission.Bulk
	}
	return admission.Standard
}
