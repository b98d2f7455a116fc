// Command authz-bench measures relationship checks on Atrium, OpenFGA and
// SpiceDB in one run, with the same model, the same tuples and the same
// check queries, each server on loopback with an in-memory or embedded
// datastore (Atrium: SQLite in a temporary folder; OpenFGA and SpiceDB:
// their in-memory datastores).
//
// It generates the workload of package relworkload (about 112,000 tuples
// over organisations, partners, groups and users), starts each server it
// is given a binary for, installs the model, writes the tuples in batches
// of 100 through each server's HTTP API, checks that every server answers
// a sample of queries as the workload's oracle does, and then measures
// closed-loop check throughput and latency for mixed checks, nested groups
// and wide groups at a fixed concurrency, and mixed checks over a sweep of
// concurrencies. The runs are interleaved in rounds (each round runs every
// scenario on every server in turn), so that a change in the machine's
// load hits every server alike; the tables show medians over the rounds
// and the ratios of Atrium to OpenFGA and to SpiceDB. Every answer is
// compared with the oracle; a wrong answer counts as an error.
//
// Usage:
//
//	authz-bench -atrium PATH [-openfga PATH] [-spicedb PATH] [-n 2000] [-c 16] [-rounds 3] [-sweep 1,4,16,64] [-out FILE]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/atriumid/atrium/bench/loadgen"
	"github.com/atriumid/atrium/bench/relworkload"
	"github.com/atriumid/atrium/internal/fault"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "authz-bench:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	atrium, openfga, spicedb string // binaries; empty skips that server (not Atrium)
	openfgaStore             string // OpenFGA's datastore engine: memory or sqlite
	n, c, rounds, warmup     int
	sweep                    []int
	pool                     int // distinct queries per scenario
	loadC                    int // concurrency of the tuple writes
	timeout, maxDuration     time.Duration
	out                      string
}

const (
	maxRounds = 20
	maxPool   = 200_000
	batch     = 100 // tuples per write request, the limit of all three APIs
)

func parseFlags(args []string, stderr io.Writer) (options, error) {
	const op = "bench.flags"
	var o options
	var sweep string
	fs := flag.NewFlagSet("authz-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.atrium, "atrium", "", "path of the atrium binary (required)")
	fs.StringVar(&o.openfga, "openfga", "", "path of the openfga binary; empty leaves OpenFGA out")
	fs.StringVar(&o.openfgaStore, "openfga-datastore", "sqlite", `OpenFGA's datastore: "sqlite", or "memory" (whose reads and writes scan every tuple: impractical beyond some 10,000 tuples)`)
	fs.StringVar(&o.spicedb, "spicedb", "", "path of the spicedb binary; empty leaves SpiceDB out")
	fs.IntVar(&o.n, "n", 2000, "measured checks per scenario, server and round")
	fs.IntVar(&o.c, "c", 16, "concurrency of the mixed, nested and wide scenarios")
	fs.IntVar(&o.rounds, "rounds", 3, "measured rounds; the tables show medians")
	fs.IntVar(&o.warmup, "warmup", 200, "unmeasured checks before each scenario")
	fs.StringVar(&sweep, "sweep", "1,4,16,64", "concurrencies of the mixed-checks sweep, comma-separated; empty for none")
	fs.IntVar(&o.pool, "pool", 20000, "distinct queries per scenario; checks cycle through them")
	fs.IntVar(&o.loadC, "load-c", 4, "concurrency of the tuple writes")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "timeout of each request")
	fs.DurationVar(&o.maxDuration, "max", 2*time.Minute, "bound on each measured run; what is left is reported unsent")
	fs.StringVar(&o.out, "out", "", "also write the markdown report to this file")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	for _, f := range strings.FieldsFunc(sweep, func(r rune) bool { return r == ',' }) {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 1 || c > loadgen.MaxConcurrency {
			return o, fault.E(op, fault.Invalid, "-sweep: %q is not a concurrency between 1 and %d", f, loadgen.MaxConcurrency)
		}
		o.sweep = append(o.sweep, c)
	}
	switch {
	case fs.NArg() > 0:
		return o, fault.E(op, fault.Invalid, "unexpected arguments %q", fs.Args())
	case o.openfgaStore != "memory" && o.openfgaStore != "sqlite":
		return o, fault.E(op, fault.Invalid, `-openfga-datastore must be "memory" or "sqlite"`)
	case o.atrium == "":
		return o, fault.E(op, fault.Invalid, "-atrium is required")
	case o.n < 1 || o.c < 1 || o.rounds < 1 || o.warmup < 0 || o.pool < 1 || o.loadC < 1:
		return o, fault.E(op, fault.Invalid, "-n, -c, -rounds, -pool and -load-c must be at least 1, -warmup at least 0")
	case o.n > loadgen.MaxRequests || o.warmup > loadgen.MaxRequests || o.rounds > maxRounds || o.pool > maxPool ||
		o.c > loadgen.MaxConcurrency || o.loadC > loadgen.MaxConcurrency:
		return o, fault.E(op, fault.Invalid, "-n and -warmup at most %d, -rounds at most %d, -pool at most %d, -c and -load-c at most %d",
			loadgen.MaxRequests, maxRounds, maxPool, loadgen.MaxConcurrency)
	case o.timeout <= 0 || o.maxDuration <= 0:
		return o, fault.E(op, fault.Invalid, "-timeout and -max must be positive")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "authz-bench-")
	if err != nil {
		return fault.Wrap("bench.run", fault.Unavailable, err)
	}
	defer os.RemoveAll(dir)
	kindsFile := filepath.Join(dir, "kinds.yaml")
	if err := os.WriteFile(kindsFile, []byte(relworkload.KindsDocument), 0o600); err != nil {
		return fault.Wrap("bench.run", fault.Unavailable, err)
	}

	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "authz-bench: "+format+"\n", args...) }
	systems, err := o.startAll(ctx, dir, kindsFile, logf)
	defer func() {
		for _, s := range systems {
			if err := s.proc.Stop(); err != nil {
				logf("%v", err)
			}
		}
	}()
	if err != nil {
		return err
	}
	d := relworkload.Generate(relworkload.DefaultConfig())
	rep := &report{opts: o, tuples: len(d.Tuples), loadBefore: loadAverage(), started: time.Now()}
	for _, s := range systems {
		lr, err := o.load(ctx, s, d)
		if err != nil {
			return err
		}
		logf("%s: %d tuples written in %v", s.name, len(d.Tuples), lr.elapsed.Round(time.Millisecond))
		rep.loads = append(rep.loads, lr)
	}
	pools := map[string][]relworkload.Check{
		"mixed":  d.Mixed(o.pool, 11),
		"nested": d.Nested(o.pool, 12),
		"wide":   d.Wide(o.pool, 13),
	}
	for _, s := range systems {
		answered, wrong, err := o.verify(ctx, s, pools)
		if err != nil {
			return err
		}
		rep.verified = append(rep.verified, verified{s.name, answered, wrong})
		logf("%s: %d of %d sample checks answered, %d wrong", s.name, answered, 3*verifySample, wrong)
	}
	rep.results, err = o.measure(ctx, systems, pools, logf)
	if err != nil {
		return err
	}
	rep.loadAfter = loadAverage()
	md := rep.markdown()
	if _, err := io.WriteString(stdout, md); err != nil {
		return err
	}
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(md), 0o644); err != nil {
			return fault.Wrap("bench.run", fault.Unavailable, err)
		}
	}
	return nil
}

// startAll starts the servers, Atrium first, and returns those started
// (also on error, so that the caller stops them).
func (o options) startAll(ctx context.Context, dir, kindsFile string, logf func(string, ...any)) ([]*system, error) {
	var out []*system
	p, err := startAtrium(ctx, o.atrium, dir, kindsFile)
	if err != nil {
		return out, err
	}
	out = append(out, atriumSystem(p))
	if o.openfga != "" {
		p, err := startOpenFGA(ctx, o.openfga, dir, o.openfgaStore)
		if err != nil {
			return out, err
		}
		out = append(out, openfgaSystem(p))
	}
	if o.spicedb != "" {
		p, err := startSpiceDB(ctx, o.spicedb)
		if err != nil {
			return out, err
		}
		out = append(out, spicedbSystem(p))
	}
	for _, s := range out {
		if err := s.setupWithRetry(ctx); err != nil {
			return out, err
		}
		logf("%s: ready at %s", s.name, s.proc.Base)
	}
	return out, nil
}

// setupWithRetry installs the model, retrying for a while: a server may
// accept connections a moment before its API is up.
func (s *system) setupWithRetry(ctx context.Context) error {
	deadline := time.Now().Add(startTimeout)
	for {
		err := s.setup(ctx)
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// loadAverage returns the first three fields of /proc/loadavg, or "" where
// there is none.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
