package relworkload_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atriumid/atrium/bench/loadgen"
	"github.com/atriumid/atrium/bench/relworkload"
	"github.com/atriumid/atrium/internal/authz"
	"github.com/atriumid/atrium/internal/freshness"
	"github.com/atriumid/atrium/internal/kind"
	"github.com/atriumid/atrium/internal/readcache"
	"github.com/atriumid/atrium/internal/relation"
	"github.com/atriumid/atrium/internal/testenv"
)

// loadBatch is how many tuples one bulk-load transaction writes. The
// service caps API writes at authz.MaxTuplesPerWrite; the store itself
// takes any batch, and bigger transactions make set-up fast.
const loadBatch = 5000

// BenchmarkCheck measures one in-process Check through authz.Service on
// each engine (SQLite, and PostgreSQL when ATRIUM_TEST_POSTGRES_URL is
// set), over the default dataset (about 112,000 tuples), with the
// cross-request check cache off (every check evaluated against the
// database) and on (the query pools repeat, so after the first pass the
// cache answers: the hot path). Each sub-benchmark reports the median and
// 99th percentile of the single-check latencies and the process's CPU time
// per check, and fails on any answer that differs from the dataset's
// oracle.
func BenchmarkCheck(b *testing.B) {
	d := relworkload.Generate(relworkload.DefaultConfig())
	sets := []struct {
		name   string
		checks []relworkload.Check
	}{
		{"mixed", d.Mixed(2000, 7)},
		{"nested", d.Nested(500, 8)},
		{"wide", d.Wide(500, 9)},
	}
	for _, eng := range testenv.Engines() {
		b.Run(eng.Name, func(b *testing.B) {
			store := load(b, eng, d)
			for _, cache := range []struct {
				name string
				off  bool
			}{{"cache=off", true}, {"cache=on", false}} {
				svc := newService(b, store, cache.off)
				for _, s := range sets {
					reqs := requests(b, s.checks)
					b.Run(cache.name+"/"+s.name, func(b *testing.B) { measure(b, svc, reqs, s.checks) })
				}
				b.Run(cache.name+"/mixed-parallel", func(b *testing.B) { measureParallel(b, svc, requests(b, sets[0].checks)) })
			}
		})
	}
}

// load opens a fresh database of eng and writes d's tuples into it in
// large transactions.
func load(b *testing.B, eng testenv.Engine, d *relworkload.Dataset) authz.Store {
	b.Helper()
	start := time.Now()
	store := testenv.OpenDB(b, eng.URL(b)).Tuples()
	ts := make([]relation.Tuple, len(d.Tuples))
	for i, t := range d.Tuples {
		var err error
		if ts[i], err = relation.NewTuple(t.Object, t.Relation, t.Subject); err != nil {
			b.Fatalf("NewTuple(%s): %v", t, err)
		}
	}
	for batch := range slices.Chunk(ts, loadBatch) {
		if _, err := store.Write(context.Background(), authz.Write{Writes: batch}); err != nil {
			b.Fatalf("Write: %v", err)
		}
	}
	b.Logf("%s: loaded %d tuples in %v", eng.Name, len(ts), time.Since(start).Round(time.Millisecond))
	return store
}

func newService(b *testing.B, store authz.Store, noCache bool) *authz.Service {
	b.Helper()
	set, err := kind.Load([]byte(relworkload.KindsDocument), kind.CompileOptions{})
	if err != nil {
		b.Fatalf("kind.Load: %v", err)
	}
	codec, err := freshness.NewCodec([]byte(strings.Repeat("k", 32)))
	if err != nil {
		b.Fatal(err)
	}
	cache, err := readcache.New(readcache.Options{MaxBytes: 64 << 20, MaxStaleness: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	return authz.NewService(authz.Config{Store: store, Kinds: kind.NewRegistry(set, 1), Freshness: codec,
		Cache: cache.Immutable("checks"), NoCache: noCache})
}

func requests(b *testing.B, checks []relworkload.Check) []relation.CheckRequest {
	b.Helper()
	out := make([]relation.CheckRequest, len(checks))
	for i, c := range checks {
		s, err := relation.ParseSubject(c.Subject)
		if err != nil {
			b.Fatal(err)
		}
		o, err := relation.ParseObject(c.Object)
		if err != nil {
			b.Fatal(err)
		}
		out[i] = relation.CheckRequest{Subject: s, Relation: c.Relation, Object: o}
	}
	return out
}

// measure runs the checks one after another, cycling through the pool,
// and reports the latency percentiles of single checks. One untimed pass
// over the pool comes first: it fills the check cache when there is one,
// so that cache=on measures the hot path, and the database's page cache in
// every case.
func measure(b *testing.B, svc *authz.Service, reqs []relation.CheckRequest, checks []relworkload.Check) {
	ctx := context.Background()
	for _, r := range reqs {
		if _, _, err := svc.Check(ctx, r, ""); err != nil {
			b.Fatal(err)
		}
	}
	var lat []time.Duration
	i := 0
	cpu0, cpuOK := processCPU()
	for b.Loop() {
		k := i % len(reqs)
		start := time.Now()
		got, _, err := svc.Check(ctx, reqs[k], "")
		lat = append(lat, time.Since(start))
		if err != nil {
			b.Fatalf("Check(%v): %v", checks[k], err)
		}
		if got != checks[k].Want {
			b.Fatalf("Check(%s %s %s) = %v, want %v", checks[k].Subject, checks[k].Relation, checks[k].Object, got, checks[k].Want)
		}
		i++
	}
	cpu1, _ := processCPU()
	slices.Sort(lat)
	b.ReportMetric(micros(loadgen.Percentile(lat, 50)), "p50-µs")
	b.ReportMetric(micros(loadgen.Percentile(lat, 99)), "p99-µs")
	if cpuOK {
		// CPU time of the whole process (garbage collector included) per
		// check: unlike latencies, it hardly grows when other processes
		// compete for the cores.
		b.ReportMetric(micros(cpu1-cpu0)/float64(len(lat)), "cpu-µs/op")
	}
}

// measureParallel runs the checks from GOMAXPROCS goroutines at once: its
// ns/op is the inverse of the throughput of one process. Like measure, it
// makes one untimed pass over the pool first.
func measureParallel(b *testing.B, svc *authz.Service, reqs []relation.CheckRequest) {
	ctx := context.Background()
	for _, r := range reqs {
		if _, _, err := svc.Check(ctx, r, ""); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, _, err := svc.Check(ctx, reqs[i%len(reqs)], ""); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
