package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/atriumid/atrium/bench/loadgen"
	"github.com/atriumid/atrium/internal/fault"
)

const (
	startTimeout = 60 * time.Second
	stopTimeout  = 10 * time.Second
	keptLines    = 30
	keyMarker    = "bootstrap admin API key:"
)

// process is one server under test, a child process listening on a
// loopback port.
type process struct {
	name   string
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:PORT of its HTTP API
	key    string // the bearer key its API wants, if any
	mu     sync.Mutex
	last   []string // its last output lines, keys redacted; guarded by mu
	keys   chan string
	exited chan struct{}
	err    error // exit status, read after exited is closed
}

// freePort returns a loopback address whose port was free a moment ago.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// twoPorts returns two free loopback addresses, for a server's HTTP and
// gRPC listeners.
func twoPorts() (string, string, error) {
	a, err := freePort()
	if err != nil {
		return "", "", err
	}
	b, err := freePort()
	return a, b, err
}

func randomKey() string {
	b := make([]byte, 24)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// startProcess starts cmd, whose HTTP API will listen on httpAddr, and
// returns once readyPath answers ready (any status when anyStatus is set,
// else 200) and, for Atrium, once it has printed its bootstrap key.
func startProcess(ctx context.Context, name string, cmd *exec.Cmd, httpAddr, readyPath string, wantKey, anyStatus bool) (*process, error) {
	const op = "bench.startProcess"
	p := &process{name: name, cmd: cmd, base: "http://" + httpAddr, keys: make(chan string, 1), exited: make(chan struct{})}
	out, err := cmd.StderrPipe()
	if err != nil {
		return nil, fault.Wrap(op, fault.Internal, err)
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		return nil, &fault.Error{Op: op, Kind: fault.FailedPrecondition, Msg: "cannot start " + name, Err: err}
	}
	go p.drain(out)
	if err := p.awaitReady(ctx, readyPath, wantKey, anyStatus); err != nil {
		p.stop()
		return nil, fault.Wrap(op, fault.Unavailable, err)
	}
	return p, nil
}

// drain reads the process's output to its end (a full pipe would block
// it), keeps the last lines and hands over a bootstrap key, then reaps it.
func (p *process) drain(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, keyMarker); i >= 0 {
			if f := strings.Fields(line[i+len(keyMarker):]); len(f) > 0 {
				select {
				case p.keys <- strings.Trim(f[len(f)-1], `"'{}[](),;`):
				default:
				}
			}
			line = keyMarker + " [redacted]"
		}
		p.mu.Lock()
		p.last = append(p.last, line)
		if len(p.last) > keptLines {
			p.last = p.last[1:]
		}
		p.mu.Unlock()
	}
	io.Copy(io.Discard, r)
	p.err = p.cmd.Wait()
	close(p.exited)
}

func (p *process) failure(what string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Errorf("%s %s; its last output:\n%s", p.name, what, strings.Join(p.last, "\n"))
}

func (p *process) awaitReady(ctx context.Context, path string, wantKey, anyStatus bool) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	if wantKey {
		select {
		case p.key = <-p.keys:
		case <-p.exited:
			return p.failure("exited before printing its bootstrap key")
		case <-ctx.Done():
			return p.failure("printed no bootstrap key in time")
		}
	}
	client := loadgen.NewClient(1)
	defer client.CloseIdleConnections()
	for {
		if status, ok := probe(ctx, client, p.base+path); ok && (anyStatus || status == http.StatusOK) {
			return nil
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-p.exited:
			return p.failure("exited before it was ready")
		case <-ctx.Done():
			return p.failure(path + " did not answer in time")
		}
	}
}

func probe(ctx context.Context, client *http.Client, url string) (int, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, false
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, false
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	return resp.StatusCode, true
}

// stop sends SIGTERM, and SIGKILL after stopTimeout.
func (p *process) stop() error {
	select {
	case <-p.exited:
		return p.err
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.cmd.Process.Kill()
	}
	select {
	case <-p.exited:
		return nil // a server stopped by a signal has no clean exit status to report
	case <-time.After(stopTimeout):
		p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s ignored SIGTERM for %v and was killed", p.name, stopTimeout)
	}
}

// startAtrium runs `atrium serve` on a new SQLite database in dir with the
// workload's kinds document.
func startAtrium(ctx context.Context, bin, dir, kindsFile string) (*process, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--database", "sqlite://"+dir+"/atrium.db", "--listen", addr, "--kinds", kindsFile)
	return startProcess(ctx, "atrium serve", cmd, addr, "/readyz", true, false)
}

// startOpenFGA runs `openfga run` on loopback ports, its playground and
// metrics off, with its in-memory datastore or, for engine "sqlite", a
// SQLite database in dir that it first migrates.
func startOpenFGA(ctx context.Context, bin, dir, engine string) (*process, error) {
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
	return startProcess(ctx, "openfga run", exec.Command(bin, args...), httpAddr, "/healthz", false, false)
}

// startSpiceDB runs `spicedb serve` with its in-memory datastore and its
// HTTP gateway, on loopback ports, telemetry off. The preshared key travels in the
// environment, not on the command line.
func startSpiceDB(ctx context.Context, bin string) (*process, error) {
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
	p, err := startProcess(ctx, "spicedb serve", cmd, httpAddr, "/", false, true)
	if p != nil {
		p.key = key
	}
	return p, err
}
