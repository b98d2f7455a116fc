// Package childproc runs the servers a benchmark measures as child
// processes on loopback: it starts one, waits until it answers (and, for
// atrium serve, until it has printed its bootstrap key), keeps the end of
// its output with the key redacted for error messages, and stops it with
// SIGTERM, then SIGKILL.
package childproc

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
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/atriumid/atrium/bench/loadgen"
	"github.com/atriumid/atrium/internal/fault"
)

// BootstrapMarker starts the text of the one line that atrium serve prints
// to stderr on an empty database; the key is the line's last token.
const BootstrapMarker = "bootstrap admin API key:"

const (
	defaultStartTimeout = 30 * time.Second // for the key line and then for the ready path
	stopTimeout         = 10 * time.Second // from SIGTERM to SIGKILL
	maxLogLine          = 1 << 20
	keptLogLines        = 40
)

// Options says when a started process counts as ready.
type Options struct {
	WantKey      bool          // wait for the bootstrap key line first
	AnyStatus    bool          // any HTTP answer at the ready path will do, not only 200
	StartTimeout time.Duration // default 30 s
}

// Process is a child process serving HTTP on loopback.
type Process struct {
	Name string // for messages, such as "atrium serve"
	Base string // "http://127.0.0.1:PORT"
	Key  string // the bootstrap admin API key when Options.WantKey; else free for the caller

	cmd    *exec.Cmd
	output *Tail         // the end of its stdout and stderr
	exited chan struct{} // closed once the process has exited
	err    error         // its exit status; read only after exited is closed
	keys   chan string   // receives the bootstrap key once
}

// FreeLoopbackAddr returns a loopback address with a port that was free a
// moment ago. Another process could take it before the server binds it;
// the server then fails to start and says so.
func FreeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Start starts cmd, which is to listen on addr, and returns once it is
// ready per o at readyPath.
func Start(ctx context.Context, name string, cmd *exec.Cmd, addr, readyPath string, o Options) (*Process, error) {
	const op = "childproc.Start"
	if o.StartTimeout <= 0 {
		o.StartTimeout = defaultStartTimeout
	}
	p := &Process{
		Name:   name,
		Base:   "http://" + addr,
		cmd:    cmd,
		output: &Tail{Max: keptLogLines},
		exited: make(chan struct{}),
		keys:   make(chan string, 1),
	}
	p.cmd.Stdout = p.output
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, fault.Wrap(op, fault.Internal, err)
	}
	if err := p.cmd.Start(); err != nil {
		return nil, &fault.Error{Op: op, Kind: fault.FailedPrecondition, Msg: "cannot start " + name, Err: err}
	}
	go p.watch(stderr)
	if err := p.awaitReady(ctx, readyPath, o); err != nil {
		p.Stop()
		return nil, fault.Wrap(op, fault.Unavailable, err)
	}
	return p, nil
}

// Pid returns the process's ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// watch reads the process's stderr to its end, handing over the bootstrap
// key and keeping the last lines, then reaps the process. The pipe must be
// drained for as long as the process runs, or it would block on a full
// pipe.
func (p *Process) watch(stderr io.Reader) {
	sc := bufio.NewScanner(stderr)
	sc.Buffer(make([]byte, 0, 4096), maxLogLine)
	for sc.Scan() {
		line := sc.Text()
		if key, ok := BootstrapKey(line); ok {
			select {
			case p.keys <- key:
			default:
			}
		}
		p.output.Add(line) // redacts the key
	}
	if sc.Err() != nil { // an over-long line: keep draining, unread
		p.output.Add("[output line too long, rest of stderr discarded]")
		io.Copy(io.Discard, stderr)
	}
	p.err = p.cmd.Wait()
	close(p.exited)
}

// BootstrapKey returns the key of a bootstrap line: its last whitespace-
// separated token, without quoting or brackets a structured logger may have
// put around the message.
func BootstrapKey(line string) (string, bool) {
	if !strings.Contains(line, BootstrapMarker) {
		return "", false
	}
	fields := strings.Fields(line[strings.Index(line, BootstrapMarker)+len(BootstrapMarker):])
	if len(fields) == 0 {
		return "", false
	}
	key := strings.Trim(fields[len(fields)-1], `"'{}[](),;`)
	return key, key != ""
}

func (p *Process) awaitReady(ctx context.Context, readyPath string, o Options) error {
	ctx, cancel := context.WithTimeout(ctx, o.StartTimeout)
	defer cancel()
	if o.WantKey {
		select {
		case p.Key = <-p.keys:
		case <-p.exited:
			return p.exitError("exited before printing its bootstrap key")
		case <-ctx.Done():
			return p.exitError("printed no bootstrap key in time")
		}
	}
	client := loadgen.NewClient(1)
	defer client.CloseIdleConnections()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if status, ok := probe(ctx, client, p.Base+readyPath); ok && (o.AnyStatus || status == http.StatusOK) {
			return nil
		}
		select {
		case <-tick.C:
		case <-p.exited:
			return p.exitError("exited before it was ready")
		case <-ctx.Done():
			return p.exitError(readyPath + " did not answer in time")
		}
	}
}

// probe returns the status of a GET of url, and whether anything answered.
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

// exitError describes a process that failed to start, with the end of its
// output (the bootstrap key redacted).
func (p *Process) exitError(what string) error {
	return fmt.Errorf("%s %s; its last output:\n%s", p.Name, what, p.output)
}

// Stop sends SIGTERM, waits for the process to exit and kills it if it has
// not within 10 s. It returns the exit status; an exit by the SIGTERM it
// was sent counts as clean.
func (p *Process) Stop() error {
	select {
	case <-p.exited:
		return p.status()
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.cmd.Process.Kill()
	}
	select {
	case <-p.exited:
		return p.status()
	case <-time.After(stopTimeout):
		p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s ignored SIGTERM for %v and was killed", p.Name, stopTimeout)
	}
}

// status is the exit status, with death by SIGTERM counted as clean.
func (p *Process) status() error {
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
			return nil
		}
	}
	return p.err
}

// Tail keeps the last Max lines written to it, with bootstrap keys
// redacted.
type Tail struct {
	Max int

	mu    sync.Mutex
	lines []string // guarded by mu
	part  []byte   // an unfinished line written through Write; guarded by mu
}

// Add keeps one line.
func (t *Tail) Add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.addLocked(line)
}

func (t *Tail) addLocked(line string) {
	if strings.Contains(line, BootstrapMarker) {
		line = BootstrapMarker + " [redacted]"
	}
	if len(t.lines) == t.Max {
		t.lines = append(t.lines[:0], t.lines[1:]...)
	}
	t.lines = append(t.lines, line)
}

// Write takes raw output, such as a process's stdout, line by line.
func (t *Tail) Write(p []byte) (int, error) {
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

// String returns the kept lines.
func (t *Tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}
