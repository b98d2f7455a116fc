// Package api serves Atrium's API on one HTTP handler: gRPC, gRPC-Web and
// Connect through connect-go, and the REST paths of the contract, all
// calling the same handler methods. It owns the one table from error kinds
// to protocol statuses, authentication of API keys, request body limits,
// idempotency keys, and admission under load with request deadlines.
package api

import (
	"crypto/ed25519"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/atriumid/atrium/gen/atrium/v1/atriumv1connect"
	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/admission"
	"github.com/atriumid/atrium/internal/authz"
	"github.com/atriumid/atrium/internal/credential"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/idempotency"
	"github.com/atriumid/atrium/internal/kind"
	"github.com/atriumid/atrium/internal/session"
	"github.com/atriumid/atrium/internal/webhook"
)

// DefaultMaxBodyBytes caps request bodies unless configured otherwise.
const DefaultMaxBodyBytes = 1 << 20

// Config holds the API's dependencies and settings.
type Config struct {
	Accounts       *account.Service
	Credentials    *credential.Service // nil: no login routes
	Sessions       *session.Service
	Relations      *authz.Service
	Kinds          kind.History
	KindApplier    KindApplier // nil: PUT /v1/kinds is refused
	Keys           KeyStore
	Idempotency    idempotency.Store
	IdempotencyTTL time.Duration // default 24 h
	MaxBodyBytes   int64         // default DefaultMaxBodyBytes
	Log            *slog.Logger
	Now            func() time.Time // default time.Now

	// Events feeds GET /v1/events; without it the route is absent.
	Events      EventLog
	EventSource string        // CloudEvents source; default outbox.DefaultSource
	EventPoll   time.Duration // how often a stream looks for new events; default 250 ms
	// Stop is closed when the server shuts down: event streams end then,
	// so that a graceful shutdown does not wait for them.
	Stop <-chan struct{}
	// Streams bounds the event streams served at once; nil leaves them
	// unbounded.
	Streams *StreamLimit
	// Audit feeds GET /v1/audit and /v1/audit:verify; AuditKey verifies
	// the chain's checkpoints.
	Audit    AuditLog
	AuditKey ed25519.PublicKey
	// Security records refused credentials in the audit log.
	Security SecurityLog
	// Webhooks feeds /v1/webhooks; WebhookGuard checks their URLs.
	Webhooks       WebhookStore
	WebhookGuard   webhook.Guard
	WebhookSecrets *webhook.Sealer // seals signing secrets; nil stores them in the clear
	// Metrics serves GET /metrics (Prometheus text) to admin API keys;
	// without it the route is absent.
	Metrics http.Handler

	// Admission bounds the requests that run at once, shedding the excess
	// by priority class (see admit); nil admits every request.
	Admission *admission.Limiter
	// RequestTimeout bounds each request, its database calls included;
	// zero leaves only the caller's own deadline.
	RequestTimeout time.Duration
}

// Handler returns the API handler for the paths under /v1/ and the Connect
// procedure paths. Every request is authenticated; bodies are capped; POSTs
// honour Idempotency-Key.
func Handler(c Config) http.Handler {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.IdempotencyTTL <= 0 {
		c.IdempotencyTTL = 24 * time.Hour
	}
	writeErr := func(w http.ResponseWriter, r *http.Request, err error) { writeError(w, r, c.Log, err) }

	ah := &accountHandler{svc: c.Accounts}
	kh := &kindHandler{history: c.Kinds, applier: c.KindApplier}
	opts := []connect.HandlerOption{
		connect.WithInterceptors(errorInterceptor(c.Log)),
		connect.WithReadMaxBytes(int(c.MaxBodyBytes)),
	}
	mux := http.NewServeMux()
	routed := recordRoute(mux)
	mux.Handle(atriumv1connect.NewAccountServiceHandler(ah, opts...))
	mux.Handle(atriumv1connect.NewKindServiceHandler(kh, opts...))
	restRoutes(mux, c.Log, ah, kh)
	rh := &relationHandler{svc: c.Relations}
	mux.Handle(atriumv1connect.NewRelationServiceHandler(rh, opts...))
	relationRoutes(mux, c.Log, rh)
	authRoutes(mux, c.Log, c, opts...)
	walletRoutes(mux, c.Log, c, opts...)
	passkeyRoutes(mux, c.Log, c, opts...)
	eventsRoutes(mux, c, opts)
	if c.Metrics != nil {
		mux.Handle("GET /metrics", adminOnly(c.Metrics, writeErr))
	}

	// Idempotency keys are honoured on the REST paths, whose responses are
	// plain JSON that can be stored and replayed as written. Connect and
	// gRPC responses are framed, compressed and carry their status in
	// trailers, so replaying their bytes would not be a faithful answer.
	idem := idempotency.Middleware(c.Idempotency, func(r *http.Request) string {
		p, _ := PrincipalFrom(r.Context())
		return p.KeyID
	}, c.IdempotencyTTL, c.Now, writeErr, c.Log)(routed)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			idem.ServeHTTP(w, r)
			return
		}
		routed.ServeHTTP(w, r)
	})
	auth := &authenticator{keys: c.Keys, now: c.Now, cache: map[[32]byte]cachedKey{},
		failures: &failureLog{log: c.Security, now: c.Now, last: map[string]time.Time{}}}
	return withClient(admit(c.Admission, c.RequestTimeout, limitBody(c.MaxBodyBytes, writeErr, auth.middleware(writeErr, h, mux))))
}

// limitBody caps request bodies at n bytes; reading more fails with
// *http.MaxBytesError, which is answered with 413.
func limitBody(n int64, writeErr func(http.ResponseWriter, *http.Request, error), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > n {
			writeErr(w, r, fault.E("api.limitBody", fault.TooLarge, "request body larger than %d bytes", n))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, n)
		next.ServeHTTP(w, r)
	})
}
