package natsbus_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/natsbus"
	"github.com/atriumid/atrium/internal/outbox"
	"github.com/atriumid/atrium/internal/testenv"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var t0 = time.Date(2026, 7, 8, 9, 10, 11, 0, time.UTC)

// testStream is a stream and subject prefix of a test's own, and a
// connection of its own to read them.
type testStream struct {
	name, prefix string
	js           jetstream.JetStream
}

// testBus connects a Bus to the test NATS through url, with a stream and
// subject prefix of its own, deleted when t ends.
func testBus(t *testing.T, natsURL, url string) (*natsbus.Bus, testStream) {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "t" + hex.EncodeToString(b)
	ts := testStream{name: strings.ToUpper(prefix), prefix: prefix}
	bus, err := natsbus.Connect(url, natsbus.Options{Stream: ts.name, Prefix: prefix, AckWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bus.Close)
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if ts.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ts.js.DeleteStream(context.Background(), ts.name) })
	return bus, ts
}

// messages returns the stream's messages in stream order.
func (ts testStream) messages(t *testing.T) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	s, err := ts.js.Stream(ctx, ts.name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("GetMsg(%d): %v", seq, err)
		}
		out = append(out, m)
	}
	return out
}

func TestPublishDedupes(t *testing.T) {
	url := testenv.NatsURL(t)
	bus, s := testBus(t, url, url)
	e := outbox.Record{Pos: 1, Event: outbox.New("atrium.account.created", "usr_1", t0, map[string]any{"kind": "user"})}
	for range 3 {
		if err := bus.Publish(context.Background(), e); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	msgs := s.messages(t)
	if len(msgs) != 1 {
		t.Fatalf("stream holds %d messages after 3 publishes of one event, want 1", len(msgs))
	}
	m := msgs[0]
	if want := s.prefix + ".account.created"; m.Subject != want {
		t.Errorf("subject = %q, want %q", m.Subject, want)
	}
	if got := m.Header.Get(nats.MsgIdHdr); got != e.ID {
		t.Errorf("Nats-Msg-Id = %q, want %q", got, e.ID)
	}
	var ce outbox.CloudEvent
	if err := json.Unmarshal(m.Data, &ce); err != nil || ce.ID != e.ID || ce.SpecVersion != "1.0" || ce.Subject != "usr_1" {
		t.Errorf("message = %s (%v), want the CloudEvent of %s", m.Data, err, e.ID)
	}
}

func TestSubject(t *testing.T) {
	for _, typ := range []string{"atrium.account.created", "atrium.relationship.written"} {
		if got, err := natsbus.Subject(typ); err != nil || got != typ {
			t.Errorf("Subject(%q) = %q, %v", typ, got, err)
		}
	}
	for _, typ := range []string{"", "atrium", "atrium.", "atrium..x", "atrium.*.x", "atrium.>", "other.a.b", "atrium.a b"} {
		if _, err := natsbus.Subject(typ); !fault.Is(err, fault.Internal) {
			t.Errorf("Subject(%q) = %v, want Internal", typ, err)
		}
	}
}

// proxy forwards TCP connections to target until cut, and again once
// restored, on the same address: a NATS server that stops and returns.
type proxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: ln.Addr().String(), target: target}
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) restore(t *testing.T) {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// TestRelayThroughOutage relays to JetStream while writers write, stops
// NATS (a proxy in front of it) in the middle, and shows that writes keep
// succeeding and that the backlog drains, in order per account, once NATS
// is back.
func TestRelayThroughOutage(t *testing.T) {
	natsURL := testenv.NatsURL(t)
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			db := testenv.OpenDB(t, e.URL(t))
			p := newProxy(t, strings.TrimPrefix(natsURL, "nats://"))
			bus, stream := testBus(t, natsURL, "nats://"+p.addr)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			relay := &outbox.Relay{Name: "nats", Holder: "test", Log: db.Events(), Publisher: bus, Poll: 5 * time.Millisecond, Lease: time.Second}
			relayDone := make(chan struct{})
			go func() { relay.Run(ctx); close(relayDone) }()

			accts := testenv.Accounts(t, db, 4)
			var written atomic.Int64
			writeFor := func(d time.Duration) {
				var wg sync.WaitGroup
				stop := time.Now().Add(d)
				for w := range len(accts) {
					wg.Go(func() {
						for time.Now().Before(stop) {
							if err := testenv.Touch(context.Background(), db, accts[w]); err != nil {
								t.Errorf("write: %v", err)
								return
							}
							written.Add(1)
						}
					})
				}
				wg.Wait()
			}
			writeFor(300 * time.Millisecond)
			p.cut()
			before := written.Load()
			writeFor(700 * time.Millisecond)
			if written.Load() == before {
				t.Fatal("no write succeeded while NATS was down")
			}
			p.restore(t)
			writeFor(200 * time.Millisecond)

			deadline := time.Now().Add(30 * time.Second)
			var msgs []*jetstream.RawStreamMsg
			for time.Now().Before(deadline) {
				if msgs = stream.messages(t); int64(len(msgs)) >= written.Load() {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			cancel()
			<-relayDone
			if int64(len(msgs)) != written.Load() {
				t.Fatalf("stream holds %d events, %d were written", len(msgs), written.Load())
			}
			last := map[string]float64{}
			for _, m := range msgs {
				var ce struct {
					Subject string
					Data    struct{ Version float64 }
				}
				json.Unmarshal(m.Data, &ce)
				if ce.Data.Version <= last[ce.Subject] {
					t.Fatalf("account %s: version %v after %v", ce.Subject, ce.Data.Version, last[ce.Subject])
				}
				last[ce.Subject] = ce.Data.Version
			}
			t.Logf("%d events relayed, %d written while NATS was down", len(msgs), written.Load()-before)
		})
	}
}
