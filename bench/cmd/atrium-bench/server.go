package main

import (
	"bufio"
	"bytes"
	"context"
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

// bootstrapMarker starts the text of the one line that atrium serve prints
// to stderr on an empty database; the key is the line's last token.
const bootstrapMarker = "bootstrap admin API key:"

const (
	startTimeout = 30 * time.Second // for the key line and then for /readyz
	stopTimeout  = 10 * time.Second // from SIGTERM to SIGKILL
	maxLogLine   = 1 << 20
	keptLogLines = 40
)

// server is a child process serving HTTP on loopback: the atrium server
// under test, or the baseline.
type server struct {
	name   string // for messages: "atrium serve"
	cmd    *exec.Cmd
	base   string        // "http://127.0.0.1:PORT"
	key    string        // the bootstrap admin API key, for atrium serve
	output *tail         // the end of its stdout and stderr
	exited chan struct{} // closed once the process has exited
	err    error         // its exit status; read only after exited is closed
	keys   chan string   // receives the bootstrap key once
}

// startServer runs bin serve on a new SQLite database in dir, listening on
// a free loopback port, and returns once it has printed its bootstrap key
// and answers /readyz.
func startServer(ctx context.Context, bin, dir string) (*server, error) {
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, fault.Wrap("bench.startServer", fault.Unavailable, err)
	}
	db := "sqlite://" + filepath.Join(dir, "atrium.db")
	cmd := exec.Command(bin, "serve", "--database", db, "--listen", addr)
	return start(ctx, "atrium serve", cmd, addr, "/readyz", true)
}

// start starts cmd, which is to listen on addr, and returns once it answers
// 200 at readyPath and, when wantKey is set, has printed its bootstrap key.
func start(ctx context.Context, name string, cmd *exec.Cmd, addr, readyPath string, wantKey bool) (*server, error) {
	const op = "bench.start"
	s := &server{
		name:   name,
		cmd:    cmd,
		base:   "http://" + addr,
		output: &tail{max: keptLogLines},
		exited: make(chan struct{}),
		keys:   make(chan string, 1),
	}
	s.cmd.Stdout = s.output
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		return nil, fault.Wrap(op, fault.Internal, err)
	}
	if err := s.cmd.Start(); err != nil {
		return nil, &fault.Error{Op: op, Kind: fault.FailedPrecondition, Msg: "cannot start " + name, Err: err}
	}
	go s.watch(stderr)
	if err := s.awaitReady(ctx, readyPath, wantKey); err != nil {
		s.stop()
		return nil, fault.Wrap(op, fault.Unavailable, err)
	}
	return s, nil
}

// freeLoopbackAddr returns a loopback address with a port that was free a
// moment ago. Another process could take it before the server binds it;
// the server then fails to start and says so.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// watch reads the server's stderr to its end, handing over the bootstrap
// key and keeping the last lines, then reaps the process. The pipe must be
// drained for as long as the server runs, or the server would block on a
// full pipe.
func (s *server) watch(stderr io.Reader) {
	sc := bufio.NewScanner(stderr)
	sc.Buffer(make([]byte, 0, 4096), maxLogLine)
	for sc.Scan() {
		line := sc.Text()
		if key, ok := bootstrapKey(line); ok {
			select {
			case s.keys <- key:
			default:
			}
		}
		s.output.add(line) // redacts the key
	}
	if sc.Err() != nil { // an over-long line: keep draining, unread
		s.output.add("[output line too long, rest of stderr discarded]")
		io.Copy(io.Discard, stderr)
	}
	s.err = s.cmd.Wait()
	close(s.exited)
}

// bootstrapKey returns the key of a bootstrap line: its last whitespace-
// separated token, without quoting or brackets a structured logger may have
// put around the message.
func bootstrapKey(line string) (string, bool) {
	if !strings.Contains(line, bootstrapMarker) {
		return "", false
	}
	fields := strings.Fields(line[strings.Index(line, bootstrapMarker)+len(bootstrapMarker):])
	if len(fields) == 0 {
		return "", false
	}
	key := strings.Trim(fields[len(fields)-1], `"'{}[](),;`)
	return key, key != ""
}

func (s *server) awaitReady(ctx context.Context, readyPath string, wantKey bool) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	if wantKey {
		select {
		case s.key = <-s.keys:
		case <-s.exited:
			return s.exitError("exited before printing its bootstrap key")
		case <-ctx.Done():
			return s.exitError("printed no bootstrap key in time")
		}
	}
	client := loadgen.NewClient(1)
	defer client.CloseIdleConnections()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if ready(ctx, client, s.base+readyPath) {
			return nil
		}
		select {
		case <-tick.C:
		case <-s.exited:
			return s.exitError("exited before it was ready")
		case <-ctx.Done():
			return s.exitError(readyPath + " did not answer 200 in time")
		}
	}
}

func ready(ctx context.Context, client *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// exitError describes a server that failed to start, with the end of its
// output (the bootstrap key redacted).
func (s *server) exitError(what string) error {
	return fmt.Errorf("%s %s; its last output:\n%s", s.name, what, s.output)
}

// stop sends SIGTERM, waits for the process to exit and kills it if it has
// not within stopTimeout. It returns the exit status.
func (s *server) stop() error {
	select {
	case <-s.exited:
		return s.err
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.cmd.Process.Kill()
	}
	select {
	case <-s.exited:
		return s.err
	case <-time.After(stopTimeout):
		s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("%s ignored SIGTERM for %v and was killed", s.name, stopTimeout)
	}
}

// tail keeps the last lines written to it.
type tail struct {
	mu    sync.Mutex
	max   int
	lines []string // guarded by mu
	part  []byte   // an unfinished line written through Write; guarded by mu
}

func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.addLocked(line)
}

func (t *tail) addLocked(line string) {
	if strings.Contains(line, bootstrapMarker) {
		line = bootstrapMarker + " [redacted]"
	}
	if len(t.lines) == t.max {
		t.lines = append(t.lines[:0], t.lines[1:]...)
	}
	t.lines = append(t.lines, line)
}

// Write takes raw output, such as the server's stdout, line by line.
func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.part = append(t.part, p...)
	for {
		i := bytes.IndexByte(t.part, '\n')
		if i < 0 {
			break
		}
		t.addLocked(string(t.part[:i]))
		t.part = t.part[i+1:]
	}
	if len(t.part) > maxLogLine {
		t.part = t.part[:0]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}
