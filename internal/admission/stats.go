package admission

// Stats are a Limiter's counters, for metrics. Counts are totals since the
// Limiter was made, indexed by Class.
type Stats struct {
	Limit    int // the concurrency limit now
	InFlight int // requests running now
	Queued   int // requests waiting now
	// LatencyNanos is the long-run mean latency of admitted requests that
	// the limit is steered by.
	LatencyNanos int64
	Admitted     [numClasses]uint64 // requests admitted, at once or from the queue
	Waited       [numClasses]uint64 // requests that entered the queue
	ShedOverload [numClasses]uint64 // shed with Unavailable: the server was over its limit
	ShedClient   [numClasses]uint64 // shed with ResourceExhausted: the client was over its share
}

// Classes lists the priority classes, most important first, to range over
// the arrays of Stats.
func Classes() []Class { return []Class{Critical, Standard, Bulk} }

// Shed returns the requests shed for either reason.
func (s Stats) Shed() uint64 {
	var n uint64
	for c := range numClasses {
		n += s.ShedOverload[c] + s.ShedClient[c]
	}
	return n
}

// Stats returns the current counters.
func (l *Limiter) Stats() Stats {
	var s Stats
	for c := range numClasses {
		s.Admitted[c] = l.admitted[c].Load()
		s.Waited[c] = l.waited[c].Load()
		s.ShedOverload[c] = l.shedOverload[c].Load()
		s.ShedClient[c] = l.shedClient[c].Load()
	}
	l.mu.Lock()
	s.Limit, s.InFlight, s.Queued = l.gradient.limitInt(), l.inflight, l.queued
	s.LatencyNanos = int64(l.gradient.typical())
	l.mu.Unlock()
	return s
}
