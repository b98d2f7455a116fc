package api

import (
	"context"
	"net/http"
)

// adminOnly serves next to admin API keys only.
func adminOnly(next http.Handler, writeErr func(http.ResponseWriter, *http.Request, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := requireAdmin(r.Context(), "api.adminOnly", "this route needs an admin API key"); err != nil {
			writeErr(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

type routeKey struct{}

// WithRoute returns ctx in which the API stores, in *route, the pattern of
// the route that served the request (such as "GET /v1/accounts/{id}"), so
// that request metrics are labelled by route rather than by raw path. It
// stays "" for a request that no route matched or that was answered
// before routing (refused credentials, a replayed idempotent response).
func WithRoute(ctx context.Context, route *string) context.Context {
	return context.WithValue(ctx, routeKey{}, route)
}

// recordRoute serves mux and stores the pattern it matched where
// WithRoute asked. ServeMux sets the pattern on the request it is given.
func recordRoute(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		if route, ok := r.Context().Value(routeKey{}).(*string); ok {
			*route = r.Pattern
		}
	})
}
