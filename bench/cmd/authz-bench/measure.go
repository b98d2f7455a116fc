package main

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/atriumid/atrium/bench/loadgen"
	"github.com/atriumid/atrium/bench/relworkload"
	"github.com/atriumid/atrium/internal/fault"
)

// loaded is how a server took the tuples.
type loaded struct {
	system  string
	elapsed time.Duration
}

// load writes d's tuples to s in batches of batch, o.loadC at a time.
func (o options) load(ctx context.Context, s *system, d *relworkload.Dataset) (loaded, error) {
	batches := slices.Collect(slices.Chunk(d.Tuples, batch))
	rep, err := loadgen.Run(ctx, loadgen.Plan{
		Requests: len(batches), Concurrency: o.loadC, Timeout: 30 * time.Second, MaxDuration: 10 * time.Minute,
		Build: func(i int) loadgen.Request { return s.write(batches[i]) },
	})
	if err != nil {
		return loaded{}, err
	}
	if rep.OK != len(batches) {
		return loaded{}, fault.E("bench.load", fault.Unavailable, "%s: %d of %d tuple writes failed (%v), %d unsent",
			s.name, rep.Failed(), len(batches), rep.Errors, rep.Unsent)
	}
	return loaded{s.name, rep.Elapsed}, nil
}

// verifySample is how many queries of each scenario are checked against
// the oracle before measuring; verifyBound bounds each pass over them.
const (
	verifySample = 100
	verifyBound  = 3 * time.Minute
)

// verify asks a sample of every pool's queries and returns how many were
// answered and how many answers differ from the oracle. A server whose
// reads lag its writes (SpiceDB serves minimize-latency checks at a
// revision up to its quantization window, 5 s, old) is asked once more
// after that window when it disagrees.
func (o options) verify(ctx context.Context, s *system, pools map[string][]relworkload.Check) (answered, wrong int, err error) {
	o.maxDuration = verifyBound
	for pass := range 2 {
		answered, wrong = 0, 0
		for _, name := range []string{"mixed", "nested", "wide"} {
			pool := pools[name][:min(verifySample, len(pools[name]))]
			rep, w, err := o.checks(ctx, s, pool, 0, len(pool), 8)
			if err != nil {
				return 0, 0, err
			}
			answered += rep.OK
			wrong += w
		}
		if wrong == 0 || pass == 1 {
			break
		}
		time.Sleep(6 * time.Second)
	}
	return answered, wrong, nil
}

// checks runs n checks of pool on s from offset at concurrency c, and
// returns the report and the number of answers that differ from the
// oracle.
func (o options) checks(ctx context.Context, s *system, pool []relworkload.Check, offset, n, c int) (*loadgen.Report, int, error) {
	var wrong atomic.Int64
	rep, err := loadgen.Run(ctx, loadgen.Plan{
		Requests: n, Concurrency: c, Timeout: o.timeout, MaxDuration: o.maxDuration,
		Build: func(i int) loadgen.Request { return s.check(pool[(offset+i)%len(pool)]) },
		Observe: func(i int, body []byte) {
			got, err := s.allowed(body)
			if err != nil || got != pool[(offset+i)%len(pool)].Want {
				wrong.Add(1)
			}
		},
	})
	return rep, int(wrong.Load()), err
}

// scenario is one measured load: a query pool at a concurrency.
type scenario struct {
	name string
	pool string
	c    int
}

func (o options) scenarios() []scenario {
	out := []scenario{
		{fmt.Sprintf("mixed checks, c=%d", o.c), "mixed", o.c},
		{fmt.Sprintf("nested groups (depth 5), c=%d", o.c), "nested", o.c},
		{fmt.Sprintf("wide groups (25 siblings), c=%d", o.c), "wide", o.c},
	}
	for _, c := range o.sweep {
		out = append(out, scenario{fmt.Sprintf("sweep: mixed checks, c=%d", c), "mixed", c})
	}
	return out
}

// outcome is one measured run of one scenario on one server.
type outcome struct {
	rep   *loadgen.Report
	wrong int
}

// result is every round of one scenario on one server.
type result struct {
	scenario scenario
	system   string
	runs     []outcome
}

// measure warms every scenario up on every server, then runs the rounds.
// Within a round each scenario runs on every server in turn, on the same
// queries: run k of every server starts at the same offset in the pool.
func (o options) measure(ctx context.Context, systems []*system, pools map[string][]relworkload.Check, logf func(string, ...any)) ([]*result, error) {
	scs := o.scenarios()
	results := make([]*result, 0, len(scs)*len(systems))
	byKey := map[[2]int]*result{}
	for i, sc := range scs {
		for j, s := range systems {
			r := &result{scenario: sc, system: s.name}
			byKey[[2]int{i, j}] = r
			results = append(results, r)
		}
	}
	offset := 0
	if o.warmup > 0 {
		for _, sc := range scs {
			for _, s := range systems {
				if _, _, err := o.checks(ctx, s, pools[sc.pool], offset, o.warmup, sc.c); err != nil {
					return nil, err
				}
			}
			offset += o.warmup
		}
	}
	for round := range o.rounds {
		for i, sc := range scs {
			for j, s := range systems {
				rep, wrong, err := o.checks(ctx, s, pools[sc.pool], offset, o.n, sc.c)
				if err != nil {
					return nil, err
				}
				byKey[[2]int{i, j}].runs = append(byKey[[2]int{i, j}].runs, outcome{rep, wrong})
				logf("round %d, %s, %s: %.0f checks/s, p50 %v, p99 %v, %d failed, %d wrong", round+1, sc.name, s.name,
					rep.Throughput(), rep.Percentile(50), rep.Percentile(99), rep.Failed()+rep.Aborted+rep.Unsent, wrong)
			}
			offset += o.n
		}
	}
	return results, nil
}
