package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/config"
	"github.com/atriumid/atrium/internal/testenv"
)

// client talks REST to one server.
type client struct {
	t    *testing.T
	base string
	key  string
	http *http.Client
}

func newClient(t *testing.T, s *testenv.Server) *client {
	return &client{t: t, base: s.URL, key: s.Key, http: &http.Client{Timeout: 30 * time.Second}}
}

// do sends a request and returns its status, headers and decoded body.
func (c *client) do(method, path, token string, body any) (int, http.Header, map[string]any) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, r)
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Atrium-Freshness", token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Errorf("%s %s: %v", method, path, err)
		return 0, nil, nil
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, res.Header, out
}

// etag returns the version in a response's ETag.
func etag(h http.Header) int64 {
	v, _ := strconv.Unquote(h.Get("ETag"))
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

// number reads a JSON number that protojson may have written as a string.
func number(v any) int64 {
	switch x := v.(type) {
	case float64:
		return int64(x)
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return -1
}

// acks records when each write of a fragment was acknowledged.
type acks struct {
	mu sync.Mutex
	at map[string]time.Time // "account/version" → acknowledgement
}

func (a *acks) put(id string, v int64, at time.Time) {
	a.mu.Lock()
	a.at[fmt.Sprintf("%s/%d", id, v)] = at
	a.mu.Unlock()
}

func (a *acks) get(id string, v int64) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.at[fmt.Sprintf("%s/%d", id, v)]
	return t, ok
}

// TestFreshnessTokensAcrossReplicas is R-34 for account reads through the
// read cache: two replicas of one deployment on one database, writes
// through A, reads carrying the write's freshness token through B, while
// token-less readers keep B's cache (memory, and Redis on PostgreSQL) full
// of older entries and other writers write the same accounts through B.
// No read with a token may return data older than its write; reads
// without a token may, but never by more than the staleness bound.
func TestFreshnessTokensAcrossReplicas(t *testing.T) {
	const (
		workers    = 4
		iterations = 500 // per worker: 2,000 token reads per engine
		bound      = 500 * time.Millisecond
	)
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			configure := func(c *config.Config) { c.CacheMaxStaleness = bound }
			if e.Name == "postgres" {
				url, prefix := testenv.RedisURL(t)
				configure = func(c *config.Config) {
					c.CacheMaxStaleness, c.RedisURL, c.RedisPrefix = bound, url, prefix
				}
			}
			srvA := testenv.StartServer(t, e.URL(t), configure)
			srvB := testenv.StartPeer(t, srvA, configure)
			a, b := newClient(t, srvA), newClient(t, srvB)

			ids := make([]string, workers)
			for i := range ids {
				st, _, acc := a.do("POST", "/v1/accounts", "", map[string]any{"kind": "user",
					"fragments": map[string]any{"profile": map[string]any{"display_name": "v0"}, "contact": map[string]any{"email": "a@example.com"}}})
				if st != 201 {
					t.Fatalf("create: %d %v", st, acc)
				}
				ids[i] = acc["id"].(string)
			}
			written := &acks{at: map[string]time.Time{}}
			var stale, checked, tokenless, staleTokenless atomic.Int64
			var worst atomic.Int64 // nanoseconds

			write := func(c *client, id string, i int) (int64, string) {
				st, h, body := c.do("PUT", "/v1/accounts/"+id+"/fragments/profile", "", map[string]any{"display_name": fmt.Sprint("v", i)})
				if st != 200 {
					t.Errorf("write: %d %v", st, body)
					return 0, ""
				}
				v := etag(h)
				written.put(id, v, time.Now())
				return v, h.Get("Atrium-Freshness")
			}

			done := make(chan struct{})
			var bg sync.WaitGroup
			// Token-less readers through B: they fill B's cache, and
			// measure how old what they get is.
			for r := range 2 {
				bg.Go(func() {
					for n := 0; ; n++ {
						select {
						case <-done:
							return
						default:
						}
						id := ids[(n+r)%workers]
						start := time.Now()
						st, h, _ := b.do("GET", "/v1/accounts/"+id+"/fragments/profile", "", nil)
						if st != 200 {
							continue
						}
						tokenless.Add(1)
						// The read is stale if the next version was
						// acknowledged before the read began.
						if next, ok := written.get(id, etag(h)+1); ok && next.Before(start) {
							staleTokenless.Add(1)
							if d := int64(start.Sub(next)); d > worst.Load() {
								worst.Store(d)
							}
						}
					}
				})
			}
			// Another writer of the same accounts, through B. (Not on
			// SQLite, where replicas on one file queue for its one write
			// lock with sleeps between tries.)
			bg.Go(func() {
				if e.Name == "sqlite" {
					return
				}
				for n := 0; ; n++ {
					select {
					case <-done:
						return
					default:
					}
					write(b, ids[n%workers], -n)
				}
			})

			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					id := ids[w]
					for i := 1; i <= iterations; i++ {
						v, tok := write(a, id, i)
						if tok == "" {
							return
						}
						checked.Add(1)
						st, h, body := b.do("GET", "/v1/accounts/"+id+"/fragments/profile", tok, nil)
						if st != 200 || etag(h) < v {
							stale.Add(1)
							t.Errorf("fragment read with the token of version %d returned %d (status %d, %v)", v, etag(h), st, body)
						}
						if i%10 == 0 {
							st, _, acc := b.do("GET", "/v1/accounts/"+id, tok, nil)
							versions, _ := acc["fragmentVersions"].(map[string]any)
							if got := number(versions["profile"]); st != 200 || got < v {
								stale.Add(1)
								t.Errorf("account read with the token of fragment version %d returned %d (status %d)", v, got, st)
							}
						}
						if i%25 == 0 {
							// B remembers that nobody holds the name, then
							// A adds it: B must find it with the token.
							name := fmt.Sprintf("n%dw%di%d", time.Now().UnixNano()%1_000_000, w, i)
							if st, _, _ := b.do("GET", "/v1/identifiers/username/"+name, "", nil); st != 404 {
								t.Errorf("unknown name: status %d, want 404", st)
							}
							st, h, _ := a.do("POST", "/v1/accounts/"+id+"/identifiers", "", map[string]any{"type": "username", "value": name})
							if st != 201 {
								t.Errorf("add identifier: %d", st)
								continue
							}
							st, _, acc := b.do("GET", "/v1/identifiers/username/"+name, h.Get("Atrium-Freshness"), nil)
							if st != 200 || acc["id"] != id {
								stale.Add(1)
								t.Errorf("resolve with the token of its addition: status %d, account %v; want %s", st, acc["id"], id)
							}
						}
					}
				})
			}
			wg.Wait()
			close(done)
			bg.Wait()
			t.Logf("%d reads with a token, %d stale; %d token-less reads, %d of them behind a write, the oldest by %v (bound %v)",
				checked.Load(), stale.Load(), tokenless.Load(), staleTokenless.Load(), time.Duration(worst.Load()), bound)
			if stale.Load() != 0 {
				t.Fatalf("%d stale reads with a token", stale.Load())
			}
			if d := time.Duration(worst.Load()); d > bound {
				t.Fatalf("a token-less read was %v behind, over the bound of %v", d, bound)
			}
		})
	}
}
