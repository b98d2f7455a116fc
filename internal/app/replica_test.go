package app_test

import (
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/config"
	"github.com/atriumid/atrium/internal/testenv"
)

// TestReadsFromADatabaseReplica is R-34 with --database-replica: reads
// without a token go to a PostgreSQL streaming replica, and stop going
// there once it is farther behind than half the staleness bound; reads
// with a token that the replica has not reached go to the primary, whatever
// the replica's lag. The replica is a real one, started on loopback, and
// the test stops its replay to make the lag as large as it likes.
func TestReadsFromADatabaseReplica(t *testing.T) {
	const bound = 6 * time.Second // the replica serves while under 3 s behind
	primary := testenv.PostgresURL(t)
	replica := testenv.StartReplica(t, primary)
	srv := testenv.StartServer(t, primary, func(c *config.Config) {
		c.DatabaseReplica, c.CacheBytes, c.CacheMaxStaleness = replica, 0, bound // no cache: every read shows where it went
	})
	c := newClient(t, srv)
	rdb, err := sql.Open("pgx", replica)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()

	st, _, acc := c.do("POST", "/v1/accounts", "", map[string]any{"kind": "user", "fragments": map[string]any{"profile": map[string]any{"display_name": "v0"}}})
	if st != 201 {
		t.Fatalf("create: %d %v", st, acc)
	}
	id := acc["id"].(string)
	path := "/v1/accounts/" + id + "/fragments/profile"
	put := func(i int) (int64, string, time.Time) {
		st, h, body := c.do("PUT", path, "", map[string]any{"display_name": fmt.Sprint("v", i)})
		if st != 200 {
			t.Fatalf("write: %d %v", st, body)
		}
		return etag(h), h.Get("Atrium-Freshness"), time.Now()
	}

	// Concurrent writers, each reading its writes back with their tokens
	// while the replica streams behind: never older than the write.
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 150 {
				v, tok, _ := put(w*1000 + i)
				if st, h, _ := c.do("GET", path, tok, nil); st != 200 || etag(h) < v {
					t.Errorf("read with the token of version %d returned %d (status %d)", v, etag(h), st)
				}
			}
		})
	}
	wg.Wait()

	// Stop the replica's replay: it keeps its data, and falls behind.
	if _, err := rdb.Exec(`SELECT pg_wal_replay_pause()`); err != nil {
		t.Fatal(err)
	}
	defer rdb.Exec(`SELECT pg_wal_replay_resume()`)
	before := etagOf(t, c, path, "")
	v, tok, acked := put(-1)
	if st, h, _ := c.do("GET", path, tok, nil); st != 200 || etag(h) != v {
		t.Fatalf("with the token of version %d, the paused replica's lag showed: got %d (status %d)", v, etag(h), st)
	}
	name := fmt.Sprintf("replica%d", time.Now().UnixNano())
	st, h, _ := c.do("POST", "/v1/accounts/"+id+"/identifiers", "", map[string]any{"type": "username", "value": name})
	if st != 201 {
		t.Fatalf("add identifier: %d", st)
	}
	if st, _, got := c.do("GET", "/v1/identifiers/username/"+name, h.Get("Atrium-Freshness"), nil); st != 200 || got["id"] != id {
		t.Fatalf("resolve with the token of the addition: status %d, %v", st, got["id"])
	}
	// Without a token: the replica answers with what it has, until it is
	// too far behind; then the primary answers.
	servedByReplica := false
	for {
		start := time.Now()
		got := etagOf(t, c, path, "")
		if got < v {
			servedByReplica = true
			if start.After(acked.Add(bound)) {
				t.Fatalf("a read %v after the write returned version %d, older than %d: over the bound of %v", start.Sub(acked), got, v, bound)
			}
		} else {
			break
		}
		if time.Since(acked) > 4*bound {
			t.Fatalf("the primary never took over from the paused replica")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !servedByReplica || before >= v {
		t.Fatalf("no read without a token went to the replica (before %d, written %d)", before, v)
	}
}

// etagOf reads a path and returns the version in its ETag.
func etagOf(t *testing.T, c *client, path, tok string) int64 {
	t.Helper()
	st, h, body := c.do("GET", path, tok, nil)
	if st != 200 {
		t.Fatalf("GET %s: %d %v", path, st, body)
	}
	return etag(h)
}
