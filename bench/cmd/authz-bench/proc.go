package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/atriumid/atrium/bench/childproc"
	"github.com/atriumid/atrium/internal/fault"
)

// startTimeout bounds how long a server may take to start: OpenFGA and
// SpiceDB are slower than Atrium.
const startTimeout = 60 * time.Second

// twoPorts returns two free loopback addresses, for a server's HTTP and
// gRPC listeners.
func twoPorts() (string, string, error) {
	a, err := childproc.FreeLoopbackAddr()
	if err != nil {
		return "", "", err
	}
	b, err := childproc.FreeLoopbackAddr()
	return a, b, err
}

func randomKey() string {
	b := make([]byte, 24)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// startAtrium runs `atrium serve` on a new SQLite database in dir with the
// workload's kinds document.
func startAtrium(ctx context.Context, bin, dir, kindsFile string) (*childproc.Process, error) {
	addr, err := childproc.FreeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--database", "sqlite://"+dir+"/atrium.db", "--listen", addr, "--kinds", kindsFile)
	return childproc.Start(ctx, "atrium serve", cmd, addr, "/readyz", childproc.Options{WantKey: true, StartTimeout: startTimeout})
}

// startOpenFGA runs `openfga run` on loopback ports, its playground and
// metrics off, with its in-memory datastore or, for engine "sqlite", a
// SQLite database in dir that it first migrates.
func startOpenFGA(ctx context.Context, bin, dir, engine string) (*childproc.Process, error) {
	httpAddr, grpcAddr, err := twoPorts()
	if err != nil {
		return nil, err
	}
	store := []string{"--datastore-engine", "memory"}
	if engine == "sqlite" {
		store = []string{"--datastore-engine", "sqlite", "--datastore-uri", "file:" + filepath.Join(dir, "openfga.db")}
		mctx, cancel := context.WithTimeout(ctx, startTimeout)
		defer cancel()
		if out, err := exec.CommandContext(mctx, bin, append([]string{"migrate"}, store...)...).CombinedOutput(); err != nil {
			return nil, fault.E("bench.startOpenFGA", fault.Unavailable, "openfga migrate: %v: %.2000s", err, out)
		}
	}
	args := append(append([]string{"run"}, store...), "--http-addr", httpAddr, "--grpc-addr", grpcAddr,
		"--playground-enabled=false", "--metrics-enabled=false", "--log-level", "warn")
	return childproc.Start(ctx, "openfga run", exec.Command(bin, args...), httpAddr, "/healthz", childproc.Options{StartTimeout: startTimeout})
}

// startSpiceDB runs `spicedb serve` with its in-memory datastore and its
// HTTP gateway, on loopback ports, telemetry off. The preshared key travels in the
// environment, not on the command line.
func startSpiceDB(ctx context.Context, bin string) (*childproc.Process, error) {
	httpAddr, grpcAddr, err := twoPorts()
	if err != nil {
		return nil, err
	}
	key := randomKey()
	cmd := exec.Command(bin, "serve", "--datastore-engine", "memory",
		"--grpc-addr", grpcAddr, "--http-enabled", "--http-addr", httpAddr,
		"--metrics-enabled=false", "--dispatch-cluster-enabled=false", "--log-level", "warn",
		"--telemetry-endpoint=") // no reports leave the machine
	cmd.Env = append(os.Environ(), "SPICEDB_GRPC_PRESHARED_KEY="+key)
	p, err := childproc.Start(ctx, "spicedb serve", cmd, httpAddr, "/", childproc.Options{AnyStatus: true, StartTimeout: startTimeout})
	if p != nil {
		p.Key = key
	}
	return p, err
}
