package outbox_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/outbox"
	"github.com/atriumid/atrium/internal/sqlstore"
	"github.com/atriumid/atrium/internal/testenv"
)

// The child relay's settings travel in the environment.
const (
	childDB     = "ATRIUM_RELAY_CHILD_DB"
	childOut    = "ATRIUM_RELAY_CHILD_OUT"
	childHolder = "ATRIUM_RELAY_CHILD_HOLDER"
)

// filePublisher appends one line per delivery to a file, with one write
// each: a process killed at any point leaves whole lines only, and the
// line is there before the relay goes on to advance its cursor.
type filePublisher struct{ f *os.File }

func (p filePublisher) Publish(_ context.Context, e outbox.Record) error {
	_, err := fmt.Fprintf(p.f, "%d\t%s\t%s\t%s\n", e.Pos, e.ID, e.Subject, e.Data)
	return err
}

// TestRelayChild is the relay process that TestRelaySurvivesSIGKILL
// starts and kills; it does nothing on its own.
func TestRelayChild(t *testing.T) {
	url := os.Getenv(childDB)
	if url == "" {
		t.Skip("runs only as TestRelaySurvivesSIGKILL's child")
	}
	db, err := sqlstore.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(os.Getenv(childOut), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := &outbox.Relay{Name: "test", Holder: os.Getenv(childHolder), Log: db.Events(), Publisher: filePublisher{f},
		Lease: 60 * time.Millisecond, Poll: 2 * time.Millisecond, Batch: 1 + rand.IntN(8)}
	os.WriteFile(readyFile(os.Getenv(childOut), r.Holder), nil, 0o600)
	// Until killed; the deadline only stops a child whose parent died.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r.Run(ctx)
}

// TestRelaySurvivesSIGKILL runs the relay as a separate process and kills
// it with SIGKILL at random points, while writers keep writing and a
// standby process races it for the lease. No event is lost, every event is
// first delivered in outbox order, and the only duplicates are
// redeliveries.
func TestRelaySurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts many processes")
	}
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			url := e.URL(t)
			db := testenv.OpenDB(t, url)
			out := filepath.Join(t.TempDir(), "deliveries")
			if err := os.WriteFile(out, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			written, stopWriters := startWriters(t, db, testenv.Accounts(t, db, 6))
			var wg sync.WaitGroup
			start := func(i int) *exec.Cmd {
				cmd := exec.Command(os.Args[0], "-test.run=^TestRelayChild$", "-test.count=1")
				cmd.Env = append(os.Environ(), childDB+"="+url, childOut+"="+out, childHolder+"=child-"+strconv.Itoa(i))
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				wg.Go(func() { cmd.Wait() })
				t.Cleanup(func() { cmd.Process.Kill() })
				// Wait until it runs, so that each kill hits a relay at work
				// rather than one still starting.
				for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
					if _, err := os.Stat(readyFile(out, "child-"+strconv.Itoa(i))); err == nil {
						break
					}
				}
				return cmd
			}
			const kills = 10 // each costs a process start; TestRelaySurvivesKills kills 50 in-process
			prev := start(0)
			for i := 1; i <= kills; i++ {
				next := start(i) // a standby, racing the holder for the lease
				time.Sleep(time.Duration(rand.IntN(60)) * time.Millisecond)
				prev.Process.Kill() // SIGKILL: no release, no cleanup
				prev = next
			}
			stopWriters()
			deadline := time.Now().Add(30 * time.Second)
			var all []outbox.Record
			for time.Now().Before(deadline) {
				if all = readDeliveries(t, out); int64(len(firstDeliveries(all))) >= written.Load() {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			prev.Process.Kill()
			wg.Wait()
			first := checkDeliveries(t, readDeliveries(t, out), written.Load())
			if len(first) < 100 {
				t.Errorf("only %d events were written; the test proves little", len(first))
			}
			all = readDeliveries(t, out)
			t.Logf("%d SIGKILLs: %d events, %d deliveries (%d redelivered)", kills, len(first), len(all), len(all)-len(first))
		})
	}
}

// readyFile is where child holder says it is running.
func readyFile(out, holder string) string { return out + ".ready." + holder }

func readDeliveries(t *testing.T, path string) []outbox.Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []outbox.Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), "\t", 4)
		if len(parts) != 4 || !json.Valid([]byte(parts[3])) {
			t.Fatalf("torn delivery line %q", sc.Text())
		}
		pos, _ := strconv.ParseInt(parts[0], 10, 64)
		out = append(out, outbox.Record{Pos: pos, Event: outbox.Event{ID: parts[1], Subject: parts[2], Data: []byte(parts[3])}})
	}
	return out
}
