package admission

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/fault"
)

// fakeClock is a test clock: time moves only when Advance is called, and
// After's channels fire then.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	pending []fakeTimer
}

type fakeTimer struct {
	at time.Time
	c  chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := fakeTimer{c.now.Add(d), make(chan time.Time, 1)}
	c.pending = append(c.pending, t)
	return t.c
}

// Advance moves the clock by d and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.pending[:0]
	for _, t := range c.pending {
		if t.at.After(c.now) {
			kept = append(kept, t)
			continue
		}
		t.c <- c.now
	}
	c.pending = kept
}

func (c *fakeClock) timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

// outcome is what a queued Acquire returned.
type outcome struct {
	name   string
	permit Permit
	err    error
}

// acquireAsync starts an Acquire and waits until it is queued.
func acquireAsync(t *testing.T, l *Limiter, name string, class Class, client string, out chan<- outcome) {
	t.Helper()
	before := l.Stats().Queued
	go func() {
		p, err := l.Acquire(context.Background(), class, client)
		out <- outcome{name, p, err}
	}()
	waitFor(t, func() bool { return l.Stats().Queued == before+1 })
}

// waitFor yields until cond holds. It bounds the number of tries, not the
// time, so a slow machine cannot fail it.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 1_000_000 {
		if cond() {
			return
		}
		runtime.Gosched()
	}
	t.Fatal("condition never held")
}

func mustAcquire(t *testing.T, l *Limiter, class Class, client string) Permit {
	t.Helper()
	p, err := l.Acquire(context.Background(), class, client)
	if err != nil {
		t.Fatalf("Acquire(%v, %q) = %v, want a permit", class, client, err)
	}
	return p
}

// fullLimiter returns a limiter held at a limit of 4 with cfg's other
// settings and a fake clock, its four slots taken by client, and the
// permits that hold them.
func fullLimiter(t *testing.T, cfg Config, client string) (*Limiter, *fakeClock, []Permit) {
	t.Helper()
	clock := newFakeClock()
	cfg.InitialLimit, cfg.MinLimit, cfg.MaxLimit, cfg.Clock = 4, 4, 4, clock
	l := New(cfg)
	var held []Permit
	for range 4 {
		held = append(held, mustAcquire(t, l, Standard, client))
	}
	return l, clock, held
}

func TestAdmitsUpToTheLimitThenQueues(t *testing.T) {
	l, _, held := fullLimiter(t, Config{QueueSize: 4}, "a")
	out := make(chan outcome, 1)
	acquireAsync(t, l, "fifth", Standard, "a", out)
	if s := l.Stats(); s.InFlight != 4 || s.Queued != 1 {
		t.Fatalf("Stats = %d in flight, %d queued; want 4, 1", s.InFlight, s.Queued)
	}
	held[0].Release()
	got := <-out
	if got.err != nil {
		t.Fatalf("queued Acquire = %v after a release, want a permit", got.err)
	}
	got.permit.Release()
	for _, p := range held[1:] {
		p.Release()
	}
	assertIdle(t, l)
}

// TestCriticalServedFirstFromTheQueue: session checks and logins take a
// freed slot before reads, and reads before list and admin calls.
func TestCriticalServedFirstFromTheQueue(t *testing.T) {
	l, _, held := fullLimiter(t, Config{QueueSize: 8}, "a")
	out := make(chan outcome, 3)
	acquireAsync(t, l, "bulk", Bulk, "b", out)
	acquireAsync(t, l, "standard", Standard, "c", out)
	acquireAsync(t, l, "critical", Critical, "d", out)
	for _, want := range []string{"critical", "standard", "bulk"} {
		held[0].Release()
		held = held[1:]
		got := <-out
		if got.name != want || got.err != nil {
			t.Fatalf("after a release, %s got (%v), want %s to get a slot", got.name, got.err, want)
		}
		held = append(held, got.permit)
	}
	for _, p := range held {
		p.Release()
	}
	assertIdle(t, l)
}

// TestFullQueueEvictsLessImportant: when the queue is full, a more
// important request takes the place of the newest less important one,
// which is shed; a request with nothing less important to evict is shed
// at once.
func TestFullQueueEvictsLessImportant(t *testing.T) {
	l, _, held := fullLimiter(t, Config{QueueSize: 1}, "a")
	out := make(chan outcome, 2)
	acquireAsync(t, l, "bulk", Bulk, "b", out)
	go func() {
		p, err := l.Acquire(context.Background(), Critical, "c")
		out <- outcome{"critical", p, err}
	}()
	got := <-out
	if got.name != "bulk" || !fault.Is(got.err, fault.Unavailable) {
		t.Fatalf("%s got %v, want bulk shed with Unavailable", got.name, got.err)
	}
	waitFor(t, func() bool { return l.Stats().Queued == 1 })
	if _, err := l.Acquire(context.Background(), Standard, "d"); !fault.Is(err, fault.Unavailable) {
		t.Fatalf("Acquire(Standard) with a queue full of Critical = %v, want Unavailable", err)
	}
	held[0].Release()
	if got := <-out; got.name != "critical" || got.err != nil {
		t.Fatalf("%s got %v, want critical admitted", got.name, got.err)
	}
	s := l.Stats()
	if s.ShedOverload[Bulk] != 1 || s.ShedOverload[Standard] != 1 || s.Waited[Critical] != 1 {
		t.Errorf("Stats = %+v, want one Bulk and one Standard shed, one Critical waited", s)
	}
}

// TestWaitIsBounded: a queued request that gets no slot within MaxWait
// is shed with Unavailable and a Retry-After.
func TestWaitIsBounded(t *testing.T) {
	l, clock, _ := fullLimiter(t, Config{MaxWait: 50 * time.Millisecond, RetryAfter: 1500 * time.Millisecond}, "a")
	out := make(chan outcome, 1)
	acquireAsync(t, l, "waiter", Critical, "b", out)
	waitFor(t, func() bool { return clock.timers() == 1 })
	clock.Advance(49 * time.Millisecond)
	if q := l.Stats().Queued; q != 1 {
		t.Fatalf("%d queued before MaxWait passed, want 1", q)
	}
	clock.Advance(time.Millisecond)
	got := <-out
	if !fault.Is(got.err, fault.Unavailable) {
		t.Fatalf("Acquire after its wait = %v, want Unavailable", got.err)
	}
	ra, ok := errors.AsType[interface {
		error
		RetryAfter() string
	}](got.err)
	if !ok || ra.RetryAfter() != "2" {
		t.Fatalf("shed error %v has no RetryAfter of 2 seconds", got.err)
	}
	if s := l.Stats(); s.Queued != 0 || s.ShedOverload[Critical] != 1 {
		t.Errorf("Stats = %+v, want an empty queue and one Critical shed", s)
	}
}

// TestStandingQueue: once the queue has stayed non-empty for
// standingAfter, newcomers wait only briefly and the newest is served
// first, so that admitted requests have waited little.
func TestStandingQueue(t *testing.T) {
	l, clock, held := fullLimiter(t, Config{MaxWait: time.Hour}, "a")
	out := make(chan outcome, 3)
	acquireAsync(t, l, "oldest", Standard, "b", out)
	clock.Advance(standingAfter)
	acquireAsync(t, l, "brief", Standard, "c", out)
	waitFor(t, func() bool { return clock.timers() == 2 })
	clock.Advance(minWaitFloor) // no latency known yet: the floor
	if got := <-out; got.name != "brief" || !fault.Is(got.err, fault.Unavailable) {
		t.Fatalf("%s got %v, want the newcomer to a standing queue shed after %v", got.name, got.err, minWaitFloor)
	}
	acquireAsync(t, l, "newest", Standard, "d", out)
	held[0].Release()
	if got := <-out; got.name != "newest" || got.err != nil {
		t.Fatalf("%s got %v, want the newest waiter admitted first from a standing queue", got.name, got.err)
	}
}

// TestClientOverItsShareGets429: one client may fill the limit and half
// the queue; past that it is refused with ResourceExhausted while another
// client still finds room.
func TestClientOverItsShareGets429(t *testing.T) {
	l, _, _ := fullLimiter(t, Config{QueueSize: 4}, "greedy")
	out := make(chan outcome, 3)
	acquireAsync(t, l, "greedy-1", Standard, "greedy", out)
	acquireAsync(t, l, "greedy-2", Standard, "greedy", out)
	_, err := l.Acquire(context.Background(), Standard, "greedy")
	if !fault.Is(err, fault.ResourceExhausted) {
		t.Fatalf("Acquire by a client over its share = %v, want ResourceExhausted", err)
	}
	if ra, ok := errors.AsType[interface {
		error
		RetryAfter() string
	}](err); !ok || ra.RetryAfter() != "1" {
		t.Errorf("client-share error %v has no RetryAfter of 1 second", err)
	}
	acquireAsync(t, l, "other", Standard, "other", out)
	if s := l.Stats(); s.ShedClient[Standard] != 1 || s.ShedOverload[Standard] != 0 {
		t.Errorf("Stats = %+v, want one request shed as the client's", s)
	}
}

func TestCanceledWhileWaiting(t *testing.T) {
	l, _, held := fullLimiter(t, Config{}, "a")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := l.Acquire(ctx, Standard, "b")
		errc <- err
	}()
	waitFor(t, func() bool { return l.Stats().Queued == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire with a canceled context = %v, want context.Canceled", err)
	}
	for _, p := range held {
		p.Release()
	}
	assertIdle(t, l)
}

// TestBulkLeavesRoom: list and admin calls fill at most three quarters of
// the limit; the rest stays free for the others.
func TestBulkLeavesRoom(t *testing.T) {
	clock := newFakeClock()
	l := New(Config{InitialLimit: 8, MinLimit: 8, MaxLimit: 8, QueueSize: -1, Clock: clock})
	for range 6 {
		mustAcquire(t, l, Bulk, "a")
	}
	if _, err := l.Acquire(context.Background(), Bulk, "b"); !fault.Is(err, fault.Unavailable) {
		t.Fatalf("seventh Bulk Acquire of 8 = %v, want Unavailable", err)
	}
	mustAcquire(t, l, Critical, "c")
	mustAcquire(t, l, Standard, "c")
}

// TestConcurrentUseKeepsCounts: under many goroutines, every permit
// released leaves the limiter empty, and never more requests run than the
// largest limit.
func TestConcurrentUseKeepsCounts(t *testing.T) {
	l := New(Config{InitialLimit: 8, MinLimit: 2, MaxLimit: 16, QueueSize: 8, MaxWait: time.Second})
	var mu sync.Mutex
	running, most := 0, 0
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := range 200 {
				p, err := l.Acquire(context.Background(), Class((g+i)%3), string(rune('a'+g%4)))
				if err != nil {
					continue
				}
				mu.Lock()
				running++
				most = max(most, running)
				mu.Unlock()
				runtime.Gosched()
				mu.Lock()
				running--
				mu.Unlock()
				p.Release()
			}
		})
	}
	wg.Wait()
	if most > 16 {
		t.Errorf("%d requests ran at once, more than the largest limit 16", most)
	}
	if most == 0 {
		t.Errorf("no request was admitted")
	}
	assertIdle(t, l)
}

func TestZeroPermitReleaseIsHarmless(t *testing.T) {
	Permit{}.Release()
}

// assertIdle checks that nothing is in flight or queued and that no
// client is still counted.
func assertIdle(t *testing.T, l *Limiter) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inflight != 0 || l.queued != 0 || l.bulk != 0 || len(l.clients) != 0 {
		t.Errorf("limiter not idle: %d in flight, %d queued, %d bulk, clients %v", l.inflight, l.queued, l.bulk, l.clients)
	}
}

// TestCriticalPassesQueuedBulk: Bulk requests queued for want of their
// share do not hold up a more important request while the limit has room.
func TestCriticalPassesQueuedBulk(t *testing.T) {
	clock := newFakeClock()
	l := New(Config{InitialLimit: 4, MinLimit: 4, MaxLimit: 4, QueueSize: 4, Clock: clock})
	for range 3 {
		mustAcquire(t, l, Bulk, "a")
	}
	out := make(chan outcome, 1)
	acquireAsync(t, l, "bulk", Bulk, "b", out)
	mustAcquire(t, l, Critical, "c")
	if s := l.Stats(); s.InFlight != 4 || s.Queued != 1 {
		t.Errorf("Stats = %d in flight, %d queued; want 4, 1", s.InFlight, s.Queued)
	}
}

// A limit of one still admits a bulk request when nothing else runs.
func TestBulkAtLimitOne(t *testing.T) {
	l := New(Config{InitialLimit: 1, MinLimit: 1, MaxLimit: 1})
	p := mustAcquire(t, l, Bulk, "a")
	p.Release()
	assertIdle(t, l)
}
