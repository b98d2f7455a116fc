// Package admission decides which requests the server takes on when it is
// near its capacity, so that a surge is refused at the door instead of
// queueing inside the database until every request times out.
//
// A Limiter holds an adaptive concurrency limit: how many requests may run
// at once. It learns the limit from the latency of the requests it admits
// (see gradient.go): while latency stays near its long-run level the limit
// grows, and when latency climbs, a sign that requests are queueing for the
// database or the CPU, the limit shrinks. A request over the limit waits
// briefly in a bounded queue ordered by priority class, then is shed with an
// error that says when to retry. Requests of the Critical class (session
// checks, logins) are served first and shed last.
package admission

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/throttle"
)

// Class is a request's priority: a lower value is served first from the
// queue and shed last.
type Class uint8

// The priority classes.
const (
	// Critical requests sit on every user's path: session checks, logins
	// and credential checks.
	Critical Class = iota
	// Standard requests read or write one resource.
	Standard
	// Bulk requests list, page, batch or administer. They may hold at most
	// bulkShare of the limit, so that a burst of them leaves room for the
	// others, and are shed first.
	Bulk

	numClasses
)

// String names the class, for metrics and logs.
func (c Class) String() string {
	switch c {
	case Critical:
		return "critical"
	case Standard:
		return "standard"
	case Bulk:
		return "bulk"
	}
	return "unknown"
}

// bulkShare is the part of the limit that Bulk requests may fill.
const bulkShare = 0.75

// Config are a Limiter's settings. Zero values take the defaults.
type Config struct {
	// InitialLimit, MinLimit and MaxLimit bound the concurrency limit and
	// set where it starts. Defaults 32, 8 and 512.
	InitialLimit, MinLimit, MaxLimit int
	// QueueSize bounds the requests waiting for a slot; default 256. Zero
	// takes the default; a negative value means no queue.
	QueueSize int
	// MaxWait bounds how long a request waits in the queue; default
	// 100 ms. The queue is managed as in Facebook's "controlled delay with
	// adaptive LIFO": while it empties now and then, it absorbs bursts, and
	// a request waits up to MaxWait, oldest served first. Once it has stayed
	// non-empty for standingAfter the server is overloaded rather than
	// bursty: a newcomer then waits at most twice a typical request's run
	// time (5 ms at least), and the newest is served first, so that what is
	// admitted has waited little and what waited long is shed.
	MaxWait time.Duration
	// ClientShare is the part of the queue one client may hold besides
	// the whole limit. A client over it is shed with ResourceExhausted
	// (429): the overload is of its making. Other shed requests get
	// Unavailable (503). Default 0.5.
	ClientShare float64
	// RetryAfter is the wait shed requests are told to keep before they
	// retry; default 1 s.
	RetryAfter time.Duration
	// Clock tells the time and runs the queue's timers; nil is the system
	// clock.
	Clock Clock
}

// Clock is the time source of a Limiter.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

func (c Config) withDefaults() Config {
	if c.MinLimit <= 0 {
		c.MinLimit = 8
	}
	if c.MaxLimit <= 0 {
		c.MaxLimit = 512
	}
	c.MaxLimit = max(c.MaxLimit, c.MinLimit)
	if c.InitialLimit <= 0 {
		c.InitialLimit = 32
	}
	c.InitialLimit = min(max(c.InitialLimit, c.MinLimit), c.MaxLimit)
	switch {
	case c.QueueSize == 0:
		c.QueueSize = 256
	case c.QueueSize < 0:
		c.QueueSize = 0
	}
	if c.MaxWait <= 0 {
		c.MaxWait = 100 * time.Millisecond
	}
	if c.ClientShare <= 0 || c.ClientShare > 1 {
		c.ClientShare = 0.5
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = time.Second
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	return c
}

// Limiter admits requests up to an adaptive concurrency limit. It is safe
// for concurrent use.
type Limiter struct {
	cfg                    Config
	errOverload, errClient error // returned to shed requests, built once
	admitted, shedOverload [numClasses]atomic.Uint64
	shedClient, waited     [numClasses]atomic.Uint64

	mu       sync.Mutex
	gradient gradient              // guarded by mu
	inflight int                   // guarded by mu
	bulk     int                   // Bulk requests in flight; guarded by mu
	queue    [numClasses][]*waiter // per class, in arrival order; guarded by mu
	queued   int                   // waiters in queue; guarded by mu
	clients  map[string]int        // in flight or queued per client, zero entries removed; guarded by mu
	// busySince is when the queue last went from empty to not; guarded
	// by mu.
	busySince time.Time
}

// standingAfter is how long the queue must stay non-empty to count as a
// standing queue: a sign of overload, not of a burst (CoDel's interval).
const standingAfter = 100 * time.Millisecond

// standing reports whether the queue has been non-empty for standingAfter.
func (l *Limiter) standing(now time.Time) bool {
	return l.queued > 0 && now.Sub(l.busySince) >= standingAfter
}

// waiter is a queued request. ready is closed when it is granted a slot
// (granted true) or evicted by a more important request (granted false).
type waiter struct {
	class   Class
	ready   chan struct{}
	granted bool // guarded by the Limiter's mu
}

// New returns a Limiter with the settings of cfg.
func New(cfg Config) *Limiter {
	cfg = cfg.withDefaults()
	ra := &throttle.RetryError{After: cfg.RetryAfter}
	return &Limiter{
		cfg:         cfg,
		errOverload: &fault.Error{Op: "admission", Kind: fault.Unavailable, Msg: "server overloaded; retry later", Err: ra},
		errClient:   &fault.Error{Op: "admission", Kind: fault.ResourceExhausted, Msg: "too many concurrent requests from this client; retry later", Err: ra},
		gradient:    newGradient(cfg, cfg.Clock.Now()),
		clients:     map[string]int{},
	}
}

// Permit is an admitted request's slot. Release it exactly once, when the
// request's work is done.
type Permit struct {
	l      *Limiter
	start  time.Time
	client string
	class  Class
}

// Acquire admits a request of class from client (an address or other key
// of the caller), waiting in the queue when the limit is reached. It
// returns Unavailable when the server is over its limit, ResourceExhausted
// when client holds more than its share; both carry a RetryAfter method.
// When ctx ends while waiting it returns the context's error.
func (l *Limiter) Acquire(ctx context.Context, class Class, client string) (Permit, error) {
	if class >= numClasses {
		class = Bulk
	}
	l.mu.Lock()
	if l.clients[client] >= l.clientCap() {
		err := l.shed(class, l.errClient)
		l.mu.Unlock()
		return Permit{}, err
	}
	if l.fits(class) && !l.waitingFrom(class) {
		p := l.admitLocked(class, client)
		l.mu.Unlock()
		return p, nil
	}
	w, err := l.enqueueLocked(class)
	if err != nil {
		l.mu.Unlock()
		return Permit{}, err
	}
	l.clients[client]++
	wait := l.cfg.MaxWait
	if l.standing(l.cfg.Clock.Now()) {
		wait = min(max(2*l.gradient.typical(), minWaitFloor), l.cfg.MaxWait)
	}
	l.mu.Unlock()
	l.waited[class].Add(1)

	select {
	case <-w.ready:
	case <-l.cfg.Clock.After(wait):
	case <-ctx.Done():
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if w.granted {
		// grantLocked counted the request in flight; the client's count
		// carries over from the queue.
		return Permit{l: l, start: l.cfg.Clock.Now(), client: client, class: class}, nil
	}
	l.release(client)
	l.removeLocked(w)
	if err := ctx.Err(); err != nil {
		return Permit{}, err
	}
	return Permit{}, l.shed(class, l.errOverload)
}

// clientCap is how many requests one client may hold, in flight and
// queued: the whole limit, so that the only client (or a proxy in front of
// all of them) can use all of the capacity, and its share of the queue, so
// that others still find room in it.
func (l *Limiter) clientCap() int {
	return l.gradient.limitInt() + max(1, int(l.cfg.ClientShare*float64(l.cfg.QueueSize)))
}

// waitingFrom reports whether a request of class or a more important one
// is queued: a newcomer of class must not overtake it.
func (l *Limiter) waitingFrom(class Class) bool {
	for c := Critical; c <= class; c++ {
		if len(l.queue[c]) > 0 {
			return true
		}
	}
	return false
}

// fits reports whether a request of class may start now.
func (l *Limiter) fits(class Class) bool {
	limit := l.gradient.limitInt()
	if class == Bulk && l.bulk+1 > max(1, int(bulkShare*float64(limit))) {
		return false
	}
	return l.inflight < limit
}

func (l *Limiter) admitLocked(class Class, client string) Permit {
	l.inflight++
	if class == Bulk {
		l.bulk++
	}
	l.clients[client]++
	l.gradient.inflight(l.inflight)
	l.admitted[class].Add(1)
	return Permit{l: l, start: l.cfg.Clock.Now(), client: client, class: class}
}

// enqueueLocked adds a waiter of class to the queue. When the queue is
// full it evicts the newest waiter of a less important class, or, if there
// is none, sheds the newcomer.
func (l *Limiter) enqueueLocked(class Class) (*waiter, error) {
	if l.queued >= l.cfg.QueueSize {
		victim := l.newestBelow(class)
		if victim == nil {
			return nil, l.shed(class, l.errOverload)
		}
		l.removeLocked(victim)
		close(victim.ready) // not granted: it sheds itself
	}
	l.gradient.pressure()
	if l.queued == 0 {
		l.busySince = l.cfg.Clock.Now()
	}
	w := &waiter{class: class, ready: make(chan struct{})}
	l.queue[class] = append(l.queue[class], w)
	l.queued++
	return w, nil
}

// newestBelow returns the most recently queued waiter of the least
// important class below class, or nil.
func (l *Limiter) newestBelow(class Class) *waiter {
	for c := numClasses - 1; c > class; c-- {
		if q := l.queue[c]; len(q) > 0 {
			return q[len(q)-1]
		}
	}
	return nil
}

// removeLocked takes w out of the queue if it is still there.
func (l *Limiter) removeLocked(w *waiter) {
	q := l.queue[w.class]
	for i, x := range q {
		if x == w {
			l.queue[w.class] = append(q[:i], q[i+1:]...)
			l.queued--
			return
		}
	}
}

// release forgets one request of client.
func (l *Limiter) release(client string) {
	if n := l.clients[client] - 1; n > 0 {
		l.clients[client] = n
	} else {
		delete(l.clients, client)
	}
}

// shed counts a shed request of class; the caller holds mu.
func (l *Limiter) shed(class Class, err error) error {
	l.gradient.pressure()
	if err == l.errClient {
		l.shedClient[class].Add(1)
	} else {
		l.shedOverload[class].Add(1)
	}
	return err
}

// Release ends the permit's request, feeding its latency to the limit and
// handing its slot to the most important waiter. A zero Permit's Release
// does nothing.
func (p Permit) Release() {
	l := p.l
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Clock.Now()
	l.gradient.sample(now, now.Sub(p.start))
	l.inflight--
	if p.class == Bulk {
		l.bulk--
	}
	l.release(p.client)
	l.grantLocked()
}

// grantLocked hands free slots to waiters, most important class first;
// within a class oldest first, or newest first when the queue is standing.
func (l *Limiter) grantLocked() {
	lifo := l.standing(l.cfg.Clock.Now())
	for c := range numClasses {
		for len(l.queue[c]) > 0 && l.fits(c) {
			var w *waiter
			if q := l.queue[c]; lifo {
				w, l.queue[c] = q[len(q)-1], q[:len(q)-1]
			} else {
				w, l.queue[c] = q[0], q[1:]
			}
			l.queued--
			l.inflight++
			if c == Bulk {
				l.bulk++
			}
			l.gradient.inflight(l.inflight)
			l.admitted[c].Add(1)
			w.granted = true
			close(w.ready)
		}
	}
}
