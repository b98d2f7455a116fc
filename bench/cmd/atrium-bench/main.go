// Command atrium-bench measures an atrium server against a bare net/http
// baseline in the same run.
//
// It starts the given atrium binary on a temporary SQLite database and a
// free loopback port, reads the bootstrap admin API key from its stderr,
// waits for /readyz, pre-creates a pool of accounts, and then measures, each
// after a warm-up: a bare net/http handler serving a fixed body the size of
// a real account (the baseline), GetAccount on random ids from the pool, and
// CreateAccount with unique usernames. The scenarios run in interleaved
// rounds. It prints a markdown table of the medians over the rounds, whose
// ratios divide each scenario by the baseline, and stops the server with
// SIGTERM. All traffic stays on the loopback interface.
//
// Usage:
//
//	atrium-bench -bin PATH [-n 5000] [-c 16] [-rounds 3] [-accounts 200] [-warmup 200] [-bulk] [-out FILE]
//	atrium-bench -bin PATH -compare 'accounts=10000; accounts=1000000' [-bulk] [-n 5000] [-c 16] [-rounds 3] [-out FILE]
//	atrium-bench -bin PATH -overload [-step 3s] [-n 5000] [-c 16] [-accounts 200] [-warmup 200] [-out FILE]
//
// With -bulk the pool is written into the database before the server
// starts (see bench/seed) instead of through the API. With -compare it
// measures the reads of several server configurations in one run (see
// compare.go); with -overload the overload curve (see overload.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/atriumid/atrium/bench/childproc"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/atriumid/atrium/bench/loadgen"
	"github.com/atriumid/atrium/internal/fault"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var err error
	if baselineRole() {
		err = serveBaseline(ctx)
	} else {
		err = run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "atrium-bench:", err)
		os.Exit(1)
	}
}

// maxRounds bounds -rounds; with -n it bounds the indices of unique names.
const maxRounds = 100

// options are the command's flags.
type options struct {
	bin         string
	n           int // measured requests per scenario
	c           int // concurrency
	accounts    int // size of the GetAccount pool
	warmup      int // unmeasured requests before each scenario
	rounds      int // measured runs of each scenario
	timeout     time.Duration
	maxDuration time.Duration // per run
	out         string
	overload    bool          // measure the overload curve instead of the scenarios
	step        time.Duration // length of each step of the overload curve
	zipf        float64       // skew of the keys that reads pick; 0: uniform
	serverArgs  string        // more flags for atrium serve, space-separated
	bulk        bool          // seed the pool before the server starts instead of through the API
	compare     []config      // the configurations to compare; none: measure one server
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	const op = "bench.flags"
	var o options
	fs := flag.NewFlagSet("atrium-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.bin, "bin", "", "path of the atrium binary to measure (required)")
	fs.IntVar(&o.n, "n", 5000, "measured requests per scenario and round")
	fs.IntVar(&o.rounds, "rounds", 3, "measured runs of each scenario, interleaved; the table shows medians")
	fs.IntVar(&o.c, "c", 16, "requests in flight (concurrency)")
	fs.IntVar(&o.accounts, "accounts", 200, "accounts to create before measuring, the pool of GetAccount ids")
	fs.IntVar(&o.warmup, "warmup", 200, "unmeasured requests before each scenario")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "timeout of each request")
	fs.DurationVar(&o.maxDuration, "max", 5*time.Minute, "bound on each scenario's run; what is left is reported unsent")
	fs.StringVar(&o.out, "out", "", "also write the markdown report to this file")
	fs.BoolVar(&o.overload, "overload", false, "measure the overload curve: GetAccount offered at 0.5× to 4× the capacity, with load shedding on and off")
	fs.DurationVar(&o.step, "step", 3*time.Second, "how long each step of the overload curve offers its load")
	fs.Float64Var(&o.zipf, "zipf", 0, "pick the accounts that reads ask for with a Zipf distribution of this skew (above 1); 0 picks uniformly")
	fs.StringVar(&o.serverArgs, "server-args", "", "more flags for atrium serve, space-separated, such as \"--cache-size 0\"")
	fs.BoolVar(&o.bulk, "bulk", false, "write the account pool into the database before the server starts, many accounts per transaction, instead of through the API")
	compare := fs.String("compare", "", "measure the reads of several server configurations in one run: \"accounts=N, server-args=FLAGS; …\"; "+
		"a configuration takes -accounts and -server-args for what it leaves out")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if *compare != "" {
		var err error
		if o.compare, err = parseCompare(*compare, config{accounts: o.accounts, serverArgs: o.serverArgs}); err != nil {
			return o, err
		}
	}
	switch {
	case fs.NArg() > 0:
		return o, fault.E(op, fault.Invalid, "unexpected arguments %q", fs.Args())
	case o.bin == "":
		return o, fault.E(op, fault.Invalid, "-bin is required: the atrium binary to measure")
	case o.n < 1 || o.c < 1 || o.accounts < 1 || o.rounds < 1 || o.warmup < 0:
		return o, fault.E(op, fault.Invalid, "-n, -c, -accounts and -rounds must be at least 1, -warmup at least 0")
	case o.n > loadgen.MaxRequests || o.warmup > loadgen.MaxRequests || o.accounts > loadgen.MaxRequests ||
		o.rounds > maxRounds || o.c > loadgen.MaxConcurrency:
		return o, fault.E(op, fault.Invalid, "-n, -warmup and -accounts must be at most %d, -rounds at most %d, -c at most %d",
			loadgen.MaxRequests, maxRounds, loadgen.MaxConcurrency)
	case o.timeout <= 0 || o.maxDuration <= 0 || o.step <= 0:
		return o, fault.E(op, fault.Invalid, "-timeout, -max and -step must be positive")
	case o.zipf != 0 && (o.zipf <= 1 || o.zipf > 10):
		return o, fault.E(op, fault.Invalid, "-zipf must be 0 or between 1 and 10, exclusive of 1")
	case o.overload && (o.compare != nil || o.bulk):
		return o, fault.E(op, fault.Invalid, "-overload takes neither -compare nor -bulk")
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
	dir, err := os.MkdirTemp("", "atrium-bench-")
	if err != nil {
		return fault.Wrap("bench.run", fault.Unavailable, err)
	}
	defer os.RemoveAll(dir)

	var md string
	switch {
	case o.overload:
		md, err = o.overloadReport(ctx, dir, stderr)
	case o.compare != nil:
		md, err = o.compareReport(ctx, dir, stderr)
	default:
		md, err = o.scenarioReport(ctx, dir, stderr)
	}
	if err != nil {
		return err
	}
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

// scenarioReport measures the scenarios against the baseline and renders
// them.
func (o options) scenarioReport(ctx context.Context, dir string, stderr io.Writer) (string, error) {
	t, err := o.prepare(ctx, dir, config{accounts: o.accounts, serverArgs: o.serverArgs}, stderr)
	if err != nil {
		return "", err
	}
	defer t.stop(stderr)
	scenarios := append(t.reads(o), scenario{"CreateAccount (unique username)", http.StatusCreated, t.atrium.create("load")})
	results, err := o.measure(ctx, scenarios)
	if err != nil {
		return "", err
	}
	return markdown(o, time.Now(), results), nil
}

// stopped stops srv, reporting an unclean exit on stderr: the figures stand,
// but the server's shutdown deserves a look.
func stopped(srv *childproc.Process, stderr io.Writer) {
	if err := srv.Stop(); err != nil {
		fmt.Fprintf(stderr, "atrium-bench: %s did not exit cleanly: %v\n", srv.Name, err)
	}
}

// picking says how reads pick their accounts.
func (o options) picking() string {
	if o.zipf == 0 {
		return "uniform over the pool"
	}
	return fmt.Sprintf("Zipf s=%g over the pool", o.zipf)
}
