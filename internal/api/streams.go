package api

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/atriumid/atrium/internal/fault"
)

// streamRetryAfter is the wait a refused event stream is told to keep
// before it reconnects.
const streamRetryAfter = 5 * time.Second

// StreamLimit bounds the server-sent event streams served at once, in all
// and per API key. Streams are exempt from admission control (they are
// long by design), so without it every open connection would hold a
// goroutine and a poll of the outbox for as long as its client likes. It
// is safe for concurrent use; a nil *StreamLimit admits every stream.
type StreamLimit struct {
	total, perKey int // 0: no limit

	mu    sync.Mutex
	open  int            // guarded by mu
	byKey map[string]int // guarded by mu

	refused atomic.Int64
}

// NewStreamLimit returns a limit of total streams at once, and perKey of
// one API key; zero leaves either unbounded.
func NewStreamLimit(total, perKey int) *StreamLimit {
	return &StreamLimit{total: total, perKey: perKey, byKey: map[string]int{}}
}

// errStreamsFull and errStreamsPerKey refuse a stream; both carry a
// Retry-After.
var (
	errStreamsFull = &fault.Error{Op: "api.events", Kind: fault.Unavailable,
		Msg: "too many event streams open; retry later", Err: streamRetry{}}
	errStreamsPerKey = &fault.Error{Op: "api.events", Kind: fault.Unavailable,
		Msg: "too many event streams open for this API key; retry later", Err: streamRetry{}}
)

// streamRetry names the wait of a refused stream.
type streamRetry struct{}

func (streamRetry) Error() string { return "event streams full" }

// RetryAfter returns the wait in whole seconds, as Retry-After carries it.
func (streamRetry) RetryAfter() string { return strconv.Itoa(int(streamRetryAfter / time.Second)) }

// acquire takes a slot for a stream of key, or returns fault.Unavailable
// when none is free. Call release exactly once when the stream ends.
func (l *StreamLimit) acquire(key string) (release func(), err error) {
	if l == nil {
		return func() {}, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.total > 0 && l.open >= l.total:
		l.refused.Add(1)
		return nil, errStreamsFull
	case l.perKey > 0 && l.byKey[key] >= l.perKey:
		l.refused.Add(1)
		return nil, errStreamsPerKey
	}
	l.open++
	l.byKey[key]++
	return sync.OnceFunc(func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.open--
		if l.byKey[key]--; l.byKey[key] == 0 {
			delete(l.byKey, key)
		}
	}), nil
}

// Open returns the number of streams being served.
func (l *StreamLimit) Open() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// Refused returns the number of streams refused so far.
func (l *StreamLimit) Refused() int64 {
	if l == nil {
		return 0
	}
	return l.refused.Load()
}
