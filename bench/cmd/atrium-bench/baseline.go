package main

import (
	"context"
	"github.com/atriumid/atrium/bench/childproc"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/atriumid/atrium/bench/loadgen"
	"github.com/atriumid/atrium/internal/fault"
)

// The baseline is a bare net/http handler that serves a fixed JSON body, the
// reference every scenario is divided by. It runs in a child process of its
// own, this same executable started with baselineAddrEnv set, so that it
// meets the load generator exactly as the server under test does: across
// loopback, from another process with its own Go runtime and its own share
// of the CPUs. Inside the generator's process it would compete with the
// generator for one scheduler, and on a busy machine get about half the CPU
// time that a separate server process gets, which skews every ratio.
const (
	baselineAddrEnv = "ATRIUM_BENCH_BASELINE_ADDR" // the loopback address to listen on
	baselineBodyEnv = "ATRIUM_BENCH_BASELINE_BODY" // the file holding the body to serve
)

// startBaseline starts the baseline server serving body, and returns once it
// answers.
func startBaseline(ctx context.Context, dir string, body []byte) (*childproc.Process, error) {
	const op = "bench.startBaseline"
	exe, err := os.Executable()
	if err != nil {
		return nil, fault.Wrap(op, fault.FailedPrecondition, err)
	}
	addr, err := childproc.FreeLoopbackAddr()
	if err != nil {
		return nil, fault.Wrap(op, fault.Unavailable, err)
	}
	file := filepath.Join(dir, "baseline.json")
	if err := os.WriteFile(file, body, 0o600); err != nil {
		return nil, fault.Wrap(op, fault.Unavailable, err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), baselineAddrEnv+"="+addr, baselineBodyEnv+"="+file)
	return childproc.Start(ctx, "the baseline server", cmd, addr, "/", childproc.Options{})
}

// baselineRole reports whether this process was started as the baseline
// server.
func baselineRole() bool { return os.Getenv(baselineAddrEnv) != "" }

// serveBaseline is the main function of the baseline server: it serves the
// body to every request until ctx ends, then shuts down gracefully.
func serveBaseline(ctx context.Context) error {
	const op = "bench.serveBaseline"
	addr := os.Getenv(baselineAddrEnv)
	if err := loadgen.CheckTarget("http://" + addr + "/"); err != nil {
		return err
	}
	body, err := os.ReadFile(os.Getenv(baselineBodyEnv))
	if err != nil {
		return fault.Wrap(op, fault.FailedPrecondition, err)
	}
	if len(body) > loadgen.DefaultMaxBody {
		return fault.E(op, fault.TooLarge, "the baseline body is over %d bytes", loadgen.DefaultMaxBody)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fault.Wrap(op, fault.Unavailable, err)
	}
	srv := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write(body)
		}),
	}
	go srv.Serve(ln)
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
