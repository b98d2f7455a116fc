package app

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/atriumid/atrium/internal/admission"
	"github.com/atriumid/atrium/internal/api"
	"github.com/atriumid/atrium/internal/readcache"
	"github.com/atriumid/atrium/internal/sqlstore"
	"github.com/atriumid/atrium/internal/webhook"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics holds the Prometheus series of one App, in a registry of its
// own (not the global one), so that several Apps in one process, as in
// tests, each count their own.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	attempts *prometheus.CounterVec
}

// newMetrics registers the Go runtime and process collectors, the request
// and webhook counters, and the series read from db at each scrape.
func newMetrics(db *sqlstore.DB) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atrium_http_requests_total",
			Help: "HTTP requests served, by route pattern (\"unmatched\" for none) and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "atrium_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by route pattern; event streams count until they end.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atrium_webhook_attempts_total",
			Help: "Webhook delivery attempts by outcome: delivered, retry (failed, to be retried) or dead (failed for the last time).",
		}, []string{"outcome"}),
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.latency, m.attempts, &storeCollector{db: db})
	return m
}

// handler serves the registry in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// attempted counts the outcome of a webhook attempt; it is the Sender's
// Attempted hook.
func (m *metrics) attempted(d webhook.Delivery) {
	outcome := map[string]string{webhook.Delivered: "delivered", webhook.Pending: "retry", webhook.Dead: "dead"}[d.State]
	m.attempts.WithLabelValues(outcome).Inc()
}

// instrument counts and times every request by the pattern of the route
// that served it, never by raw path, which any client can vary without
// end.
func (m *metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var route string
		r = r.WithContext(api.WithRoute(r.Context(), &route))
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		switch {
		case route != "": // the API's route
		case r.Pattern != "":
			route = r.Pattern // the outer route: GET /healthz, or /v1/ for a request refused before routing
		default:
			route = "unmatched"
		}
		m.requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
		m.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// statusWriter remembers the status code written through it.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer, for
// flushing event streams and HTTP/2 full duplex.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush flushes the underlying writer, for event streams.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// storeCollector reads the outbox, relay cursors, webhook deliveries and
// audit chain at each scrape: a handful of indexed reads.
type storeCollector struct{ db *sqlstore.DB }

var (
	relayLagDesc = prometheus.NewDesc("atrium_relay_lag_events",
		"Events committed but not yet delivered by each relay (its cursor's distance from the last event).", []string{"relay"}, nil)
	relayLeaseDesc = prometheus.NewDesc("atrium_relay_lease_expiry_timestamp_seconds",
		"When each relay cursor's lease runs out; in the past when no relay holds it.", []string{"relay"}, nil)
	outboxLastDesc = prometheus.NewDesc("atrium_outbox_last_position",
		"Position of the last event committed to the outbox.", nil, nil)
	outboxRetainedDesc = prometheus.NewDesc("atrium_outbox_retained_events",
		"Events kept in the outbox (not yet pruned).", nil, nil)
	deliveriesDesc = prometheus.NewDesc("atrium_webhook_deliveries",
		"Webhook deliveries kept, by state: pending, delivered or dead (dead letters, waiting for redelivery).", []string{"state"}, nil)
	auditRecordsDesc = prometheus.NewDesc("atrium_audit_records",
		"Records in the audit chain.", nil, nil)
	checkpointAgeDesc = prometheus.NewDesc("atrium_audit_checkpoint_age_seconds",
		"Age of the latest signed audit checkpoint; absent before the first.", nil, nil)
	scrapeErrorDesc = prometheus.NewDesc("atrium_metrics_store_up",
		"1 when the last scrape read the database, 0 when it failed.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{relayLagDesc, relayLeaseDesc, outboxLastDesc, outboxRetainedDesc, deliveriesDesc,
		auditRecordsDesc, checkpointAgeDesc, scrapeErrorDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A failing database makes
// atrium_metrics_store_up 0 and leaves out the series it could not read.
func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	var last int64
	reads := []func() error{
		func() error { // the outbox
			first, l, err := c.db.Events().Bounds(ctx)
			if err != nil {
				return err
			}
			retained := int64(0)
			if first > 0 { // (0, 0): no event yet; (last+1, last): all pruned
				retained = l - first + 1
			}
			last = l
			gauge(outboxLastDesc, float64(last))
			gauge(outboxRetainedDesc, float64(retained))
			return nil
		},
		func() error { // the relays
			cursors, err := c.db.Events().Cursors(ctx)
			if err != nil {
				return err
			}
			for _, cur := range cursors {
				gauge(relayLagDesc, float64(max(last-cur.Pos, 0)), cur.Name)
				gauge(relayLeaseDesc, float64(cur.LeaseUntil.UnixMicro())/1e6, cur.Name)
			}
			return nil
		},
		func() error { // webhook deliveries
			counts, err := c.db.Webhooks().DeliveryCounts(ctx)
			if err != nil {
				return err
			}
			for _, st := range []string{webhook.Pending, webhook.Delivered, webhook.Dead} {
				gauge(deliveriesDesc, float64(counts[st]), st)
			}
			return nil
		},
		func() error { // the audit chain
			head, err := c.db.Audit().AuditHead(ctx)
			if err == nil {
				gauge(auditRecordsDesc, float64(head.Seq))
			}
			return err
		},
		func() error { // its checkpoints
			cp, ok, err := c.db.Audit().LatestCheckpoint(ctx)
			if ok {
				gauge(checkpointAgeDesc, time.Since(cp.Time).Seconds())
			}
			return err
		},
	}
	for _, read := range reads {
		if err := read(); err != nil {
			gauge(scrapeErrorDesc, 0)
			return
		}
	}
	gauge(scrapeErrorDesc, 1)
}

// cacheCollector reads the read cache's counts at each scrape.
type cacheCollector struct {
	cache  *readcache.Cache
	checks *readcache.Immutable
}

var (
	cacheReadsDesc = prometheus.NewDesc("atrium_read_cache_reads_total",
		"Reads through the read cache by entries (records: accounts and identifiers; checks: relationship check results) and where they were answered: memory, redis or database (a miss; for checks, evaluated).",
		[]string{"entries", "from"}, nil)
	cacheRedisErrorsDesc = prometheus.NewDesc("atrium_read_cache_redis_errors_total",
		"Redis calls of the read cache that failed, and shared entries that did not open.", nil, nil)
	cacheBytesDesc = prometheus.NewDesc("atrium_read_cache_bytes",
		"Memory that the read cache's entries take, approximately.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- cacheReadsDesc
	ch <- cacheRedisErrorsDesc
	ch <- cacheBytesDesc
}

// Collect implements prometheus.Collector.
func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	for entries, s := range map[string]readcache.Stats{"records": c.cache.Stats(), "checks": c.checks.Stats()} {
		for from, n := range map[string]int64{"memory": s.Hits, "redis": s.Shared, "database": s.Misses} {
			ch <- prometheus.MustNewConstMetric(cacheReadsDesc, prometheus.CounterValue, float64(n), entries, from)
		}
	}
	s := c.cache.Stats()
	ch <- prometheus.MustNewConstMetric(cacheRedisErrorsDesc, prometheus.CounterValue, float64(s.RemoteErrors))
	ch <- prometheus.MustNewConstMetric(cacheBytesDesc, prometheus.GaugeValue, float64(s.Bytes))
}

// admissionCollector reads the admission limiter's state and counts at
// each scrape.
type admissionCollector struct{ limiter *admission.Limiter }

var (
	admissionLimitDesc = prometheus.NewDesc("atrium_admission_limit",
		"The adaptive limit on requests running at once.", nil, nil)
	admissionInFlightDesc = prometheus.NewDesc("atrium_admission_in_flight",
		"Requests running now.", nil, nil)
	admissionQueuedDesc = prometheus.NewDesc("atrium_admission_queued",
		"Requests waiting for a slot now.", nil, nil)
	admissionLatencyDesc = prometheus.NewDesc("atrium_admission_typical_latency_seconds",
		"The long-run mean run time of admitted requests, which steers the limit.", nil, nil)
	admissionRequestsDesc = prometheus.NewDesc("atrium_admission_requests_total",
		"Requests by priority class and outcome: admitted (at once or from the queue), queued (entered the queue), shed_overload (503: over the limit) or shed_client (429: the client over its share).",
		[]string{"class", "outcome"}, nil)
)

// Describe implements prometheus.Collector.
func (c admissionCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{admissionLimitDesc, admissionInFlightDesc, admissionQueuedDesc, admissionLatencyDesc, admissionRequestsDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c admissionCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.limiter.Stats()
	ch <- prometheus.MustNewConstMetric(admissionLimitDesc, prometheus.GaugeValue, float64(s.Limit))
	ch <- prometheus.MustNewConstMetric(admissionInFlightDesc, prometheus.GaugeValue, float64(s.InFlight))
	ch <- prometheus.MustNewConstMetric(admissionQueuedDesc, prometheus.GaugeValue, float64(s.Queued))
	ch <- prometheus.MustNewConstMetric(admissionLatencyDesc, prometheus.GaugeValue, time.Duration(s.LatencyNanos).Seconds())
	for _, class := range admission.Classes() {
		for outcome, n := range map[string]uint64{"admitted": s.Admitted[class], "queued": s.Waited[class],
			"shed_overload": s.ShedOverload[class], "shed_client": s.ShedClient[class]} {
			ch <- prometheus.MustNewConstMetric(admissionRequestsDesc, prometheus.CounterValue, float64(n), class.String(), outcome)
		}
	}
}

// countStreams exports the event streams that l admits: those open now,
// and those refused so far.
func (m *metrics) countStreams(l *api.StreamLimit) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "atrium_event_streams",
			Help: "Server-sent event streams being served.",
		}, func() float64 { return float64(l.Open()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "atrium_event_streams_refused_total",
			Help: "Server-sent event streams refused with 503 because --max-event-streams or --max-event-streams-per-key was reached.",
		}, func() float64 { return float64(l.Refused()) }),
	)
}
