package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"

	"github.com/atriumid/atrium/bench/loadgen"
	"github.com/atriumid/atrium/bench/seed"
	"github.com/atriumid/atrium/internal/fault"
)

// scenario is one measured load.
type scenario struct {
	name   string
	status int // the status of a successful response
	// build returns request i of the scenario. Indices are never reused
	// within a run: the warm-up takes the first ones and each round the
	// next block, so requests that need unique values never repeat one.
	build func(i int) loadgen.Request
}

// result is a measured scenario: one report per round.
type result struct {
	name   string
	rounds []*loadgen.Report
}

func (o options) plan(sc scenario, n, offset int) loadgen.Plan {
	return loadgen.Plan{
		Requests:    n,
		Concurrency: o.c,
		Timeout:     o.timeout,
		MaxDuration: o.maxDuration,
		Build:       func(i int) loadgen.Request { return sc.build(offset + i) },
		Success:     func(status int) bool { return status == sc.status },
	}
}

// measure runs the warm-up of every scenario, then the rounds, each round
// running every scenario once in order. Interleaving the scenarios exposes
// them alike to changes in the machine's load during the run.
func (o options) measure(ctx context.Context, scenarios []scenario) ([]result, error) {
	results := make([]result, len(scenarios))
	for i, sc := range scenarios {
		results[i].name = sc.name
		if o.warmup == 0 {
			continue
		}
		if _, err := loadgen.Run(ctx, o.plan(sc, o.warmup, 0)); err != nil {
			return nil, err
		}
	}
	for r := range o.rounds {
		for i, sc := range scenarios {
			rep, err := loadgen.Run(ctx, o.plan(sc, o.n, o.warmup+r*o.n))
			if err != nil {
				return nil, err
			}
			results[i].rounds = append(results[i].rounds, rep)
		}
	}
	return results, nil
}

// api builds requests to the server under test.
type api struct {
	base   string // "http://127.0.0.1:PORT"
	header http.Header
	pick   func(n int) int // an index below n; uniform when nil
}

func newAPI(base, key string) api {
	return api{base: base, header: http.Header{
		"Authorization": {"Bearer " + key},
		"Content-Type":  {"application/json"},
	}}
}

// picker returns how reads pick an index below n: uniformly, or with a
// Zipf distribution of skew o.zipf, index 0 the most frequent. The
// order of the pool is the order of creation, unrelated to anything the
// server keeps, so the hot keys are spread over it.
func (o options) picker() func(n int) int {
	if o.zipf == 0 {
		return rand.IntN
	}
	var mu sync.Mutex
	zs := map[int]*rand.Zipf{}
	src := rand.New(rand.NewPCG(1, 2))
	return func(n int) int {
		mu.Lock()
		defer mu.Unlock()
		z, ok := zs[n]
		if !ok {
			z = rand.NewZipf(src, o.zipf, 1, uint64(n-1))
			zs[n] = z
		}
		return int(z.Uint64())
	}
}

func (a api) index(n int) int {
	if a.pick == nil {
		return rand.IntN(n)
	}
	return a.pick(n)
}

// resolve returns a builder of ResolveIdentifier requests for the
// usernames prefix0 … prefix(n-1), picked as get picks accounts.
func (a api) resolve(n int, prefix string) func(int) loadgen.Request {
	return func(int) loadgen.Request {
		return loadgen.Request{URL: fmt.Sprintf("%s/v1/identifiers/username/%s%d", a.base, prefix, a.index(n)), Header: a.header}
	}
}

// create returns a builder of CreateAccount requests whose usernames are
// prefix followed by the request index, unique within a run: the accounts
// that seed.Pool writes with the same prefix.
func (a api) create(prefix string) func(int) loadgen.Request {
	return func(i int) loadgen.Request {
		return loadgen.Request{Method: http.MethodPost, URL: a.base + "/v1/accounts", Header: a.header, Body: seed.NewOrg(prefix, i).JSON()}
	}
}

// get returns a builder of GetAccount requests for ids picked at random.
func (a api) get(ids []string) func(int) loadgen.Request {
	urls := make([]string, len(ids))
	for i, id := range ids {
		urls[i] = a.base + "/v1/accounts/" + url.PathEscape(id)
	}
	return func(int) loadgen.Request {
		return loadgen.Request{URL: urls[a.index(len(urls))], Header: a.header}
	}
}

// createPool creates n accounts and returns their ids.
func (a api) createPool(ctx context.Context, n, concurrency int) ([]string, error) {
	const op = "bench.createPool"
	ids := make([]string, n)
	rep, err := loadgen.Run(ctx, loadgen.Plan{
		Requests:    n,
		Concurrency: concurrency,
		Build:       a.create(poolPrefix),
		Success:     func(status int) bool { return status == http.StatusCreated },
		Observe: func(i int, body []byte) {
			var acc struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(body, &acc) == nil {
				ids[i] = acc.ID // each i is observed once
			}
		},
	})
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if id == "" {
			return nil, fault.E(op, fault.FailedPrecondition,
				"creating the account pool: %d of %d created with an id; errors: %s", countIDs(ids), n, errorSummary(rep))
		}
	}
	return ids, nil
}

func countIDs(ids []string) int {
	n := 0
	for _, id := range ids {
		if id != "" {
			n++
		}
	}
	return n
}

// fetch returns the body of a GetAccount response for id.
func (a api) fetch(ctx context.Context, id string) ([]byte, error) {
	const op = "bench.fetch"
	var body []byte
	rep, err := loadgen.Run(ctx, loadgen.Plan{
		Requests:    1,
		Concurrency: 1,
		Build:       a.get([]string{id}),
		Success:     func(status int) bool { return status == http.StatusOK },
		Observe:     func(_ int, b []byte) { body = append([]byte(nil), b...) },
	})
	if err != nil {
		return nil, err
	}
	if rep.OK != 1 {
		return nil, fault.E(op, fault.FailedPrecondition, "GET of a created account failed: %s", errorSummary(rep))
	}
	return body, nil
}
