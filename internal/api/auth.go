package api

import (
	"context"
	"crypto/sha256"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/atriumid/atrium/internal/apikey"
	"github.com/atriumid/atrium/internal/audit"
	"github.com/atriumid/atrium/internal/fault"
)

// KeyStore finds stored API keys.
type KeyStore interface {
	// APIKey returns the hash and role of a live API key, fault.NotFound
	// for an unknown or revoked one.
	APIKey(ctx context.Context, id string) (hash []byte, role string, err error)
}

// Principal is the authenticated caller of a request.
type Principal struct {
	KeyID string
	Role  string
}

type principalKey struct{}

// PrincipalFrom returns the caller authenticated for ctx.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// keyCacheTTL bounds how long a verified key is trusted without a database
// read, and so how long a revoked key may still be accepted by a replica.
const keyCacheTTL = 5 * time.Second

// authenticator checks bearer API keys. Verified keys are cached briefly
// by the SHA-256 of the bearer string, so a hot client costs no database
// read per request.
type authenticator struct {
	keys KeyStore
	now  func() time.Time

	mu    sync.Mutex
	cache map[[32]byte]cachedKey // guarded by mu; bounded by maxCachedKeys

	failures *failureLog // records refused keys in the audit log
}

type cachedKey struct {
	p       Principal
	expires time.Time
}

const maxCachedKeys = 4096

type failureLogKey struct{}

// requireAdmin returns nil when the request of ctx carries an admin API
// key. Otherwise it returns fault.PermissionDenied with msg, and records
// the refusal in the audit log (see failureLog.denied).
func requireAdmin(ctx context.Context, op, msg string) error {
	if p, ok := PrincipalFrom(ctx); ok && p.Role == "admin" {
		return nil
	}
	f, _ := ctx.Value(failureLogKey{}).(*failureLog)
	f.denied(ctx, op)
	return fault.E(op, fault.PermissionDenied, "%s", msg)
}

var errUnauthenticated = fault.E("api.authenticate", fault.Unauthenticated, "missing or invalid API key")

// authenticate returns the principal of a bearer string. Every failure is
// the same error, so a caller learns nothing about which part was wrong.
func (a *authenticator) authenticate(ctx context.Context, header string) (Principal, error) {
	bearer, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		return Principal{}, errUnauthenticated
	}
	sum := sha256.Sum256([]byte(bearer))
	now := a.now()
	a.mu.Lock()
	c, hit := a.cache[sum]
	a.mu.Unlock()
	if hit && now.Before(c.expires) {
		return c.p, nil
	}
	id, err := apikey.Parse(bearer)
	if err != nil {
		return Principal{}, errUnauthenticated
	}
	hash, role, err := a.keys.APIKey(ctx, id)
	if fault.Is(err, fault.NotFound) {
		return Principal{}, errUnauthenticated
	}
	if err != nil {
		return Principal{}, err
	}
	if !apikey.Verify(bearer, hash) {
		return Principal{}, errUnauthenticated
	}
	p := Principal{KeyID: id, Role: role}
	a.mu.Lock()
	if len(a.cache) >= maxCachedKeys {
		clear(a.cache)
	}
	a.cache[sum] = cachedKey{p: p, expires: now.Add(keyCacheTTL)}
	a.mu.Unlock()
	return p, nil
}

// middleware requires a valid API key on every request it wraps, except
// those that authenticate in their handler (the login flows and session
// routes, see selfAuthenticated), which go to self instead.
func (a *authenticator) middleware(writeErr func(http.ResponseWriter, *http.Request, error), next, self http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if selfAuthenticated(r) {
			self.ServeHTTP(w, r)
			return
		}
		p, err := a.authenticate(r.Context(), r.Header.Get("Authorization"))
		if err != nil {
			if fault.Is(err, fault.Unauthenticated) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="atrium"`)
				a.failures.record(w, r, "missing or invalid API key")
			}
			writeErr(w, r, err)
			return
		}
		ctx := context.WithValue(r.Context(), principalKey{}, p)
		ctx = context.WithValue(ctx, failureLogKey{}, a.failures)
		next.ServeHTTP(w, r.WithContext(audit.WithActor(ctx, requestActor(w, r, "key:"+p.KeyID))))
	})
}
