// Package idempotency makes POST requests safe to retry. A client that
// sends an Idempotency-Key header gets, for every retry with the same key
// and the same request, the response of the first attempt, replayed from
// storage; the same key with a different request is refused.
//
// Records are scoped to the authenticated caller, expire after a TTL (24 h
// by default), and are written in three steps: claim the key (pending),
// run the request, store its response. Server errors (5xx) are not stored,
// so a retry after one runs again. A pending claim older than the lease is
// taken over, so a process that died mid-request does not block its key
// until it expires.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/atriumid/atrium/internal/fault"
)

// Header is the request header that carries the key.
const Header = "Idempotency-Key"

// Limits.
const (
	MaxKeyLen      = 255
	MaxStoredBytes = 1 << 20 // larger responses are not stored (and not replayable)
	Lease          = 60 * time.Second
)

// Record is a stored attempt. Status 0 means the first attempt is still
// running (or died).
type Record struct {
	Hash       []byte
	Status     int
	Response   []byte
	CreateTime time.Time
}

// Store keeps idempotency records.
type Store interface {
	// Claim stores a pending record for (principal, key) unless one exists
	// and has not expired, and returns the existing record when there is
	// one (nil when the claim succeeded). A pending record older than
	// staleBefore is taken over: Claim resets it and returns nil.
	Claim(ctx context.Context, principal, key string, hash []byte, now, expire, staleBefore time.Time) (*Record, error)
	// Complete stores the response of the claim made at claimed (the now
	// given to Claim). A claim taken over by another attempt since is left
	// alone.
	Complete(ctx context.Context, principal, key string, claimed time.Time, status int, response []byte) error
	// Release deletes the claim made at claimed, for a request that failed
	// with a server error; a claim taken over since is left alone.
	Release(ctx context.Context, principal, key string, claimed time.Time) error
}

// stored is the replayable form of a response.
type stored struct {
	Header http.Header `json:"h"`
	Body   []byte      `json:"b"`
}

// replayedHeaders are the response headers that are stored and replayed.
var replayedHeaders = []string{"Content-Type", "ETag", "Atrium-Freshness", "Location"}

// Middleware returns middleware that honours Idempotency-Key on POST
// requests. principal names the caller (already authenticated); ttl is how
// long a key is remembered. writeErr writes an error response.
func Middleware(store Store, principal func(*http.Request) string, ttl time.Duration, now func() time.Time,
	writeErr func(http.ResponseWriter, *http.Request, error), log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key := r.Header.Get(Header)
			if r.Method != http.MethodPost || key == "" {
				next.ServeHTTP(w, r)
				return
			}
			const op = "idempotency"
			if !validKey(key) {
				writeErr(w, r, fault.Invalidf(op, []fault.Violation{{Field: Header, Reason: "1 to 255 printable ASCII characters"}}, "bad Idempotency-Key"))
				return
			}
			body, err := io.ReadAll(r.Body)
			if err != nil {
				writeErr(w, r, err)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			h := sha256.New()
			io.WriteString(h, r.Method+" "+r.URL.RequestURI()+"\n")
			h.Write(body)
			hash := h.Sum(nil)

			who, t := principal(r), now()
			rec, err := store.Claim(r.Context(), who, key, hash, t, t.Add(ttl), t.Add(-Lease))
			if err != nil {
				writeErr(w, r, err)
				return
			}
			if rec != nil {
				replay(w, r, rec, hash, writeErr)
				return
			}
			rw := &recorder{ResponseWriter: w, status: http.StatusOK}
			completed := false
			defer func() {
				if !completed { // a panic below: let the next attempt run
					store.Release(context.WithoutCancel(r.Context()), who, key, t)
				}
			}()
			next.ServeHTTP(rw, r)
			completed = true
			ctx := context.WithoutCancel(r.Context())
			if rw.status >= 500 || rw.overflow {
				if err := store.Release(ctx, who, key, t); err != nil {
					log.ErrorContext(ctx, "releasing idempotency key", "err", err)
				}
				return
			}
			s := stored{Header: http.Header{}, Body: rw.body.Bytes()}
			for _, name := range replayedHeaders {
				if v := rw.Header().Values(name); len(v) > 0 {
					s.Header[name] = v
				}
			}
			b, _ := json.Marshal(s) // headers and bytes: cannot fail
			if err := store.Complete(ctx, who, key, t, rw.status, b); err != nil {
				log.ErrorContext(ctx, "storing idempotent response", "err", err)
			}
		})
	}
}

// validKey reports whether k is 1 to MaxKeyLen printable ASCII characters.
func validKey(k string) bool {
	if len(k) == 0 || len(k) > MaxKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// replay answers a retry from rec.
func replay(w http.ResponseWriter, r *http.Request, rec *Record, hash []byte, writeErr func(http.ResponseWriter, *http.Request, error)) {
	const op = "idempotency"
	switch {
	case !bytes.Equal(rec.Hash, hash):
		writeErr(w, r, fault.Invalidf(op, []fault.Violation{{Field: Header, Reason: "already used with a different request"}},
			"Idempotency-Key was already used with a different request"))
	case rec.Status == 0:
		writeErr(w, r, fault.E(op, fault.Aborted, "a request with this Idempotency-Key is in progress; retry later"))
	default:
		var s stored
		if err := json.Unmarshal(rec.Response, &s); err != nil {
			writeErr(w, r, fault.Wrap(op, fault.Internal, err))
			return
		}
		for k, v := range s.Header {
			w.Header()[k] = v
		}
		w.Header().Set("Idempotent-Replayed", "true")
		w.WriteHeader(rec.Status)
		w.Write(s.Body)
	}
}

// recorder copies a response as it is written, up to MaxStoredBytes.
type recorder struct {
	http.ResponseWriter
	status   int
	body     bytes.Buffer
	overflow bool
	wrote    bool
}

func (rw *recorder) WriteHeader(code int) {
	if !rw.wrote {
		rw.status, rw.wrote = code, true
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *recorder) Write(b []byte) (int, error) {
	rw.wrote = true
	if rw.body.Len()+len(b) > MaxStoredBytes {
		rw.overflow = true
	} else {
		rw.body.Write(b)
	}
	return rw.ResponseWriter.Write(b)
}
