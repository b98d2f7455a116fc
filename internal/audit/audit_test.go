package audit_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/audit"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 8000, time.UTC)

// memChain is an audit.Reader over records in memory.
type memChain struct {
	recs []audit.Record
	head audit.Head
	cps  []audit.Checkpoint
}

func (m *memChain) AuditChain(_ context.Context, after int64, limit int) ([]audit.Record, error) {
	var out []audit.Record
	for _, r := range m.recs {
		if r.Seq > after && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}
func (m *memChain) AuditHead(context.Context) (audit.Head, error) { return m.head, nil }
func (m *memChain) AuditCheckpoints(context.Context) ([]audit.Checkpoint, error) {
	return m.cps, nil
}
func (m *memChain) LatestCheckpoint(context.Context) (audit.Checkpoint, bool, error) {
	if len(m.cps) == 0 {
		return audit.Checkpoint{}, false, nil
	}
	return m.cps[len(m.cps)-1], true, nil
}
func (m *memChain) AppendCheckpoint(_ context.Context, c audit.Checkpoint) error {
	m.cps = append(m.cps, c)
	return nil
}

// build returns a chain of n records, sealed as the store seals them.
func build(t *testing.T, n int) *memChain {
	t.Helper()
	m := &memChain{}
	for i := 1; i <= n; i++ {
		e := audit.Entry{
			ID: fmt.Sprintf("aud_%d", i), Type: "atrium.account.created", Account: fmt.Sprintf("usr_%d", i%3),
			Time: t0.Add(time.Duration(i) * time.Second), Data: []byte(`{"kind":"user","version":1}`),
			Actor: audit.Actor{Principal: "key:k1", IP: "192.0.2.7", UserAgent: "curl/8", RequestID: fmt.Sprintf("req%d", i)},
		}
		r, err := audit.Seal(e, int64(i), m.head.Hash)
		if err != nil {
			t.Fatal(err)
		}
		m.recs = append(m.recs, r)
		m.head = audit.Head{Seq: r.Seq, Hash: r.Hash}
	}
	return m
}

// reseal recomputes the hashes of m from index i on, as someone who can
// write the database but not sign checkpoints would after an edit.
func reseal(m *memChain, i int) {
	for ; i < len(m.recs); i++ {
		if i > 0 {
			m.recs[i].PrevHash = m.recs[i-1].Hash
		}
		m.recs[i].Hash = m.recs[i].ComputeHash()
	}
	last := m.recs[len(m.recs)-1]
	m.head = audit.Head{Seq: last.Seq, Hash: last.Hash}
}

func TestVerify(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	tests := []struct {
		name    string
		tamper  func(m *memChain)
		wantSeq int64 // 0: the chain verifies
		reason  string
	}{
		{"intact", func(m *memChain) {}, 0, ""},
		{"forgotten client data still verifies", func(m *memChain) {
			m.recs[2].IP, m.recs[2].UserAgent, m.recs[2].ClientSalt = "", "", nil
		}, 0, ""},
		{"edited data", func(m *memChain) { m.recs[3].Data = []byte(`{"kind":"org","version":1}`) }, 4, "edited"},
		{"edited actor", func(m *memChain) { m.recs[0].Actor = "key:k2" }, 1, "edited"},
		{"edited time", func(m *memChain) { m.recs[5].Time = m.recs[5].Time.Add(time.Microsecond) }, 6, "edited"},
		{"edited IP", func(m *memChain) { m.recs[1].IP = "198.51.100.1" }, 2, "client address"},
		{"forged IP behind a removed salt", func(m *memChain) { m.recs[1].IP, m.recs[1].ClientSalt = "198.51.100.1", nil }, 2, "forgotten record"},
		{"deleted in the middle", func(m *memChain) { m.recs = append(m.recs[:4], m.recs[5:]...) }, 5, "missing"},
		{"deleted and renumbered", func(m *memChain) {
			m.recs = append(m.recs[:4], m.recs[5:]...)
			for i := 4; i < len(m.recs); i++ {
				m.recs[i].Seq--
			}
		}, 5, "link broken"},
		{"deleted at the end", func(m *memChain) { m.recs = m.recs[:len(m.recs)-1] }, 8, "missing"},
		{"deleted at the end with the head moved back", func(m *memChain) {
			m.recs = m.recs[:4]
			m.head = audit.Head{Seq: 4, Hash: m.recs[3].Hash}
		}, 5, "checkpoint"},
		{"inserted", func(m *memChain) {
			forged := m.recs[2]
			forged.ID, forged.Account = "aud_x", "usr_x"
			forged.Hash = forged.ComputeHash()
			m.recs = append(m.recs[:3], append([]audit.Record{forged}, m.recs[3:]...)...)
			for i := 3; i < len(m.recs); i++ {
				m.recs[i].Seq = int64(i + 1)
			}
		}, 4, "link broken"},
		{"appended without moving the head", func(m *memChain) {
			forged, _ := audit.Seal(audit.Entry{ID: "forged", Type: "t", Account: "a", Time: t0, Data: []byte("{}")}, 9, m.head.Hash)
			m.recs = append(m.recs, forged)
		}, 9, "follow"},
		{"swapped", func(m *memChain) {
			m.recs[2], m.recs[3] = m.recs[3], m.recs[2]
			m.recs[2].Seq, m.recs[3].Seq = 3, 4
		}, 3, "link broken"},
		{"out of order", func(m *memChain) { m.recs[2], m.recs[3] = m.recs[3], m.recs[2] }, 3, "missing"},
		{"rewritten after the last checkpoint and resealed", func(m *memChain) {
			m.recs[7].Data = []byte(`{}`)
			reseal(m, 7)
		}, 0, ""},
		{"rewritten before a checkpoint and resealed", func(m *memChain) {
			m.recs[1].Data = []byte(`{}`)
			reseal(m, 1)
		}, 6, "checkpoint"},
		{"forged checkpoint", func(m *memChain) {
			_, other, _ := ed25519.GenerateKey(nil)
			m.cps = append(m.cps, audit.SignCheckpoint(other, "x", m.head, t0))
		}, 8, "signature"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := build(t, 6)
			if ok, err := audit.WriteCheckpoint(context.Background(), m, key, t0); !ok || err != nil {
				t.Fatalf("WriteCheckpoint = %v, %v; want true", ok, err)
			}
			for i := 7; i <= 8; i++ {
				r, _ := audit.Seal(audit.Entry{ID: fmt.Sprint(i), Type: "t", Account: "a", Time: t0, Data: []byte("{}")}, int64(i), m.head.Hash)
				m.recs = append(m.recs, r)
				m.head = audit.Head{Seq: r.Seq, Hash: r.Hash}
			}
			tc.tamper(m)
			rep, err := audit.Verify(context.Background(), m, pub)
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantSeq == 0 {
				if rep.Problem != nil {
					t.Fatalf("Verify = %v, want no problem", rep.Problem)
				}
				return
			}
			if rep.Problem == nil || rep.Problem.Seq != tc.wantSeq || !strings.Contains(rep.Problem.Reason, tc.reason) {
				t.Fatalf("Verify = %v, want a problem at %d mentioning %q", rep.Problem, tc.wantSeq, tc.reason)
			}
		})
	}
}

func TestWriteCheckpointOnlyWhenMoved(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	m := build(t, 0)
	if ok, _ := audit.WriteCheckpoint(context.Background(), m, key, t0); ok {
		t.Error("WriteCheckpoint on an empty chain = true, want false")
	}
	m = build(t, 2)
	audit.WriteCheckpoint(context.Background(), m, key, t0)
	if ok, _ := audit.WriteCheckpoint(context.Background(), m, key, t0); ok {
		t.Error("WriteCheckpoint at an unchanged head = true, want false")
	}
}

func TestSealKeepsNoRawClientDataInHash(t *testing.T) {
	e := audit.Entry{ID: "a", Type: "t", Account: "usr_1", Time: t0, Data: []byte("{}"),
		Actor: audit.Actor{Principal: "account:usr_1", IP: "203.0.113.9", UserAgent: "Mozilla/5.0", RequestID: "r"}}
	r, err := audit.Seal(e, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := string(r.Canonical())
	for _, s := range []string{e.Actor.IP, e.Actor.UserAgent} {
		if strings.Contains(c, s) {
			t.Errorf("Canonical() contains %q; the chain must not hold it", s)
		}
	}
	long := strings.Repeat("é", audit.MaxUserAgent)
	e.Actor.UserAgent = long
	if r, _ := audit.Seal(e, 1, nil); len(r.UserAgent) > audit.MaxUserAgent || !strings.HasPrefix(long, r.UserAgent) {
		t.Errorf("Seal kept a user agent of %d bytes, want at most %d on a rune boundary", len(r.UserAgent), audit.MaxUserAgent)
	}
}

func TestActorFrom(t *testing.T) {
	if got := audit.ActorFrom(context.Background()).Principal; got != audit.System {
		t.Errorf("ActorFrom(empty).Principal = %q, want %q", got, audit.System)
	}
	a := audit.Actor{Principal: "key:k", IP: "192.0.2.1"}
	if got := audit.ActorFrom(audit.WithActor(context.Background(), a)); got != a {
		t.Errorf("ActorFrom = %+v, want %+v", got, a)
	}
}
