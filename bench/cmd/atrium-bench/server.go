package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/atriumid/atrium/bench/childproc"
	"github.com/atriumid/atrium/bench/loadgen"
	"github.com/atriumid/atrium/bench/seed"
	"github.com/atriumid/atrium/internal/envelope"
	"github.com/atriumid/atrium/internal/fault"
)

// poolPrefix starts the usernames of the account pool.
const poolPrefix = "pool"

// dbFile returns the path of the SQLite database of a server in dir.
func dbFile(dir string) string { return filepath.Join(dir, "atrium.db") }

// startServer runs bin serve on the SQLite database in dir, new or
// seeded, listening on a free loopback port, with env added to its
// environment and any further flags, and returns once it has printed its
// bootstrap key and answers /readyz.
func startServer(ctx context.Context, bin, dir string, env []string, flags ...string) (*childproc.Process, error) {
	addr, err := childproc.FreeLoopbackAddr()
	if err != nil {
		return nil, fault.Wrap("bench.startServer", fault.Unavailable, err)
	}
	cmd := exec.Command(bin, append([]string{"serve", "--database", "sqlite://" + dbFile(dir), "--listen", addr}, flags...)...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	return childproc.Start(ctx, "atrium serve", cmd, addr, "/readyz", childproc.Options{WantKey: true})
}

// target is a server ready to be measured: its account pool created and a
// baseline started that serves a body the size of its answers.
type target struct {
	srv, baseline *childproc.Process
	atrium        api
	ids           []string // the pool, the username of ids[i] is poolPrefix+i
	body          []byte   // a GetAccount answer, the baseline's body
	dir           string   // holds the database and the baseline's body
}

// prepare starts a server with c's flags on a new SQLite database in dir,
// gives it c's pool (seeded before it starts with -bulk, else created
// through the API) and starts its baseline.
func (o options) prepare(ctx context.Context, dir string, c config, stderr io.Writer) (*target, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fault.Wrap("bench.prepare", fault.Unavailable, err)
	}
	var ids, env []string
	if o.bulk {
		var err error
		if ids, env, err = seedPool(ctx, dbFile(dir), c.accounts, stderr); err != nil {
			return nil, err
		}
	}
	srv, err := startServer(ctx, o.bin, dir, env, strings.Fields(c.serverArgs)...)
	if err != nil {
		return nil, err
	}
	t := &target{srv: srv, atrium: newAPI(srv.Base, srv.Key), ids: ids, dir: dir}
	t.atrium.pick = o.picker()
	if err := t.start(ctx, o, c, stderr); err != nil {
		t.stop(stderr)
		return nil, err
	}
	return t, nil
}

// start creates the pool through the API when it is not seeded, then
// starts the baseline.
func (t *target) start(ctx context.Context, o options, c config, stderr io.Writer) error {
	if t.ids == nil {
		var err error
		if t.ids, err = t.atrium.createPool(ctx, c.accounts, o.c); err != nil {
			return err
		}
	}
	if o.bulk {
		if err := t.atrium.awaitRelays(ctx, relayBound(c.accounts), stderr); err != nil {
			return err
		}
	}
	var err error
	if t.body, err = t.atrium.fetch(ctx, t.ids[0]); err != nil {
		return err
	}
	t.baseline, err = startBaseline(ctx, t.dir, t.body)
	return err
}

// seedPool writes n accounts into a new SQLite database file with a new
// encryption key, and returns their IDs and the environment that gives
// the server the key.
func seedPool(ctx context.Context, file string, n int, stderr io.Writer) (ids, env []string, err error) {
	key, err := envelope.GenerateKey("bench1")
	if err != nil {
		return nil, nil, err
	}
	keys, err := envelope.NewKeyring([]envelope.Key{key})
	if err != nil {
		return nil, nil, err
	}
	start := time.Now()
	ids, err = seed.Pool(ctx, seed.Options{Database: "sqlite://" + file, Keys: keys, Accounts: n, Prefix: poolPrefix})
	if err != nil {
		return nil, nil, err
	}
	took := time.Since(start)
	fmt.Fprintf(stderr, "atrium-bench: seeded %d accounts in %s (%.0f a second); database %s\n",
		n, took.Round(time.Millisecond), float64(n)/took.Seconds(), diskUse(file))
	return ids, []string{"ATRIUM_ENCRYPTION_KEYS=" + key.String()}, nil
}

// diskUse returns the size of the SQLite database file with its journal
// files, in MB.
func diskUse(file string) string {
	var size int64
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if fi, err := os.Stat(file + suffix); err == nil {
			size += fi.Size()
		}
	}
	return fmt.Sprintf("%.1f MB", float64(size)/1e6)
}

// reads returns the read scenarios of t: its baseline, GetAccount and
// ResolveIdentifier. The baseline gets the same paths and headers as
// GetAccount, so that requests and responses have the same size on the
// wire.
func (t *target) reads(o options) []scenario {
	return []scenario{
		{fmt.Sprintf("baseline: bare net/http, %d-byte JSON", len(t.body)), http.StatusOK, newAPI(t.baseline.Base, t.srv.Key).get(t.ids)},
		{"GetAccount (" + o.picking() + ")", http.StatusOK, t.atrium.get(t.ids)},
		{"ResolveIdentifier (" + o.picking() + ")", http.StatusOK, t.atrium.resolve(len(t.ids), poolPrefix)},
	}
}

// stop stops the baseline, if started, and the server.
func (t *target) stop(stderr io.Writer) {
	if t.baseline != nil {
		stopped(t.baseline, stderr)
	}
	stopped(t.srv, stderr)
}

// relayPoll is how often awaitRelays asks for the relays' lag.
const relayPoll = 500 * time.Millisecond

// relayBound bounds the wait for the relays to go through the events of a
// seeded pool of n accounts: a minute, and a millisecond an account.
func relayBound(n int) time.Duration { return time.Minute + time.Duration(n)*time.Millisecond }

// awaitRelays waits until the server's event relays have caught up with
// the outbox, as /metrics reports (atrium_relay_lag_events), for at most
// bound. A seeded pool leaves every account's created event for the
// relays to go through when the server starts, where through the API they
// go through them while the pool is made; measuring before they finish
// would charge that work to the reads.
func (a api) awaitRelays(ctx context.Context, bound time.Duration, stderr io.Writer) error {
	const op = "bench.awaitRelays"
	start, said := time.Now(), time.Time{}
	for {
		var body []byte
		rep, err := loadgen.Run(ctx, loadgen.Plan{
			Requests: 1, Concurrency: 1,
			Build:   func(int) loadgen.Request { return loadgen.Request{URL: a.base + "/metrics", Header: a.header} },
			Success: func(status int) bool { return status == http.StatusOK },
			Observe: func(_ int, b []byte) { body = append([]byte(nil), b...) },
		})
		if err != nil {
			return err
		}
		if rep.OK != 1 {
			return fault.E(op, fault.FailedPrecondition, "GET /metrics failed: %s", errorSummary(rep))
		}
		lag, ok := relayLag(body)
		if ok && lag == 0 {
			fmt.Fprintf(stderr, "atrium-bench: the event relays caught up in %s\n", time.Since(start).Round(time.Millisecond))
			return nil
		}
		if time.Since(start) > bound {
			return fault.E(op, fault.DeadlineExceeded, "the event relays did not catch up within %s (lag %d)", bound, lag)
		}
		if time.Since(said) >= 10*time.Second {
			fmt.Fprintf(stderr, "atrium-bench: waiting for the event relays to catch up (%d events behind)\n", lag)
			said = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(relayPoll):
		}
	}
}

// relayLag returns the sum of the atrium_relay_lag_events series in a
// Prometheus text exposition, and whether there was any.
func relayLag(metrics []byte) (lag int64, ok bool) {
	for line := range strings.Lines(string(metrics)) {
		rest, found := strings.CutPrefix(line, "atrium_relay_lag_events{")
		if !found {
			continue
		}
		_, value, found := strings.Cut(rest, "} ")
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if !found || err != nil {
			continue
		}
		lag += int64(v)
		ok = true
	}
	return lag, ok
}
