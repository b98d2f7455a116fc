package authz_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/audit"
	"github.com/atriumid/atrium/internal/authz"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/freshness"
	"github.com/atriumid/atrium/internal/kind"
	"github.com/atriumid/atrium/internal/readcache"
	"github.com/atriumid/atrium/internal/relation"
	"github.com/atriumid/atrium/internal/sqlstore"
	"github.com/atriumid/atrium/internal/testenv"
)

// model is a kinds document whose relations use every operator.
const model = `kinds:
  user:
    id_prefix: usr
    lifecycle: {initial: active}
  team:
    id_prefix: team
    lifecycle: {initial: active}
    relations: |
      define member: [user, team#member]
  org:
    id_prefix: org
    lifecycle: {initial: active}
    relations: |
      define owner: [user]
      define admin: [user, team#member] or owner
      define member: [user, user:*, team#member] or admin
      define blocked: [user]
      define parent: [org]
      define viewer: (member or admin from parent) but not blocked
      define auditor: member and admin
`

type env struct {
	db    *sqlstore.DB
	svc   *authz.Service
	nocch *authz.Service
	kinds *kind.Registry
	codec *freshness.Codec
}

func forEachEngine(t *testing.T, fn func(t *testing.T, e env)) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			db := testenv.OpenDB(t, eng.URL(t))
			set, err := kind.Load([]byte(model), kind.CompileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			codec, _ := freshness.NewCodec([]byte(strings.Repeat("k", 32)))
			reg := kind.NewRegistry(set, 1)
			e := env{db: db, kinds: reg, codec: codec,
				svc:   authz.NewService(authz.Config{Store: db.Tuples(), Kinds: reg, Freshness: codec, Cache: checkCache(t)}),
				nocch: authz.NewService(authz.Config{Store: db.Tuples(), Kinds: reg, Freshness: codec, NoCache: true}),
			}
			fn(t, e)
		})
	}
}

// checkCache returns a read cache's namespace for check results, in
// memory.
func checkCache(t *testing.T) *readcache.Immutable {
	t.Helper()
	c, err := readcache.New(readcache.Options{MaxBytes: 1 << 20, MaxStaleness: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c.Immutable("checks")
}

func tuples(t *testing.T, ss ...string) []relation.Tuple {
	t.Helper()
	var out []relation.Tuple
	for _, s := range ss {
		tp, err := relation.ParseTuple(s)
		if err != nil {
			t.Fatalf("ParseTuple(%q): %v", s, err)
		}
		out = append(out, tp)
	}
	return out
}

func check(t *testing.T, s *authz.Service, subject, rel, object, token string) bool {
	t.Helper()
	sub, _ := relation.ParseSubject(subject)
	obj, _ := relation.ParseObject(object)
	ok, _, err := s.Check(context.Background(), relation.CheckRequest{Subject: sub, Relation: rel, Object: obj}, token)
	if err != nil {
		t.Fatalf("Check(%s %s %s): %v", subject, rel, object, err)
	}
	return ok
}

// TestDifferential compares checks on the SQL store, with and without the
// cache, against the engine on an in-memory copy of the same tuples, over
// random tuple sets and random writes.
func TestDifferential(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e env) {
		ctx := context.Background()
		m, _, err := e.svc.Model()
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		users := []string{"user:u1", "user:u2", "user:u3", "user:*"}
		teams := []string{"team:t1", "team:t2"}
		orgs := []string{"org:o1", "org:o2", "org:o3"}
		pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
		candidates := func() string {
			o := pick(orgs)
			switch rng.IntN(9) {
			case 0:
				return o + "#owner@" + pick(users[:3])
			case 1:
				return o + "#admin@" + pick(users[:3])
			case 2:
				return o + "#admin@" + pick(teams) + "#member"
			case 3:
				return o + "#member@" + pick(users)
			case 4:
				return o + "#member@" + pick(teams) + "#member"
			case 5:
				return o + "#blocked@" + pick(users[:3])
			case 6:
				return o + "#parent@" + pick(orgs)
			case 7:
				return pick(teams) + "#member@" + pick(users[:3])
			default:
				return pick(teams) + "#member@" + pick(teams) + "#member"
			}
		}
		mem := relation.NewMemoryTuples()
		for round := range 40 {
			var w authz.Write
			w.IgnoreDuplicates, w.IgnoreMissing = true, true
			for range 1 + rng.IntN(4) {
				tp := tuples(t, candidates())[0]
				if rng.IntN(3) == 0 {
					w.Deletes = append(w.Deletes, tp)
				} else {
					w.Writes = append(w.Writes, tp)
				}
			}
			token, _, err := e.svc.Write(ctx, w)
			if err != nil {
				t.Fatalf("round %d: Write: %v", round, err)
			}
			mem.Delete(w.Deletes...)
			mem.Write(w.Writes...)
			for _, u := range users[:3] {
				for _, o := range orgs {
					for _, rel := range []string{"owner", "admin", "member", "viewer", "auditor"} {
						sub, _ := relation.ParseSubject(u)
						obj, _ := relation.ParseObject(o)
						want, err := relation.Check(ctx, m, mem, relation.CheckRequest{Subject: sub, Relation: rel, Object: obj})
						if err != nil {
							t.Fatal(err)
						}
						for _, s := range []*authz.Service{e.svc, e.nocch, e.svc} { // the second cached call hits the cache
							if got := check(t, s, u, rel, o, token); got != want {
								t.Fatalf("round %d: Check(%s %s %s) = %v, want %v", round, u, rel, o, got, want)
							}
						}
					}
				}
			}
		}
	})
}

// TestNewEnemy: after a write that removes a relation returns token T, a
// check at T never sees the removed relation, even though the allowed
// answer was cached before.
func TestNewEnemy(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e env) {
		ctx := context.Background()
		for i := range 20 {
			bob := fmt.Sprintf("user:bob%d", i)
			t1, _, err := e.svc.Write(ctx, authz.Write{Writes: tuples(t, "org:doc#member@"+bob)})
			if err != nil {
				t.Fatal(err)
			}
			if !check(t, e.svc, bob, "viewer", "org:doc", t1) {
				t.Fatalf("bob is not a viewer after being added")
			}
			t2, _, err := e.svc.Write(ctx, authz.Write{Deletes: tuples(t, "org:doc#member@"+bob)})
			if err != nil {
				t.Fatal(err)
			}
			if check(t, e.svc, bob, "viewer", "org:doc", t2) {
				t.Fatalf("iteration %d: a check at the removal's token still allows bob", i)
			}
		}
	})
}

// TestRevisionFollowsCommitOrder holds relationship write A open while
// write B runs: B cannot commit before A, its revision is higher, and a
// check at max(A, B) sees both.
func TestRevisionFollowsCommitOrder(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e env) {
		ctx := context.Background()
		holding, release := make(chan struct{}), make(chan struct{})
		var revA int64
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := e.db.Accounts().Update(ctx, func(ctx context.Context, tx account.Tx) (err error) {
				revA, err = tx.WriteTuples(ctx, tuples(t, "org:o#member@user:a"))
				close(holding)
				<-release
				return err
			})
			if err != nil {
				t.Errorf("write A: %v", err)
			}
		}()
		<-holding
		type result struct {
			token string
			rev   int64
			err   error
		}
		bDone := make(chan result, 1)
		go func() {
			tok, rev, err := e.svc.Write(ctx, authz.Write{Writes: tuples(t, "org:o#member@user:b")})
			bDone <- result{tok, rev, err}
		}()
		select {
		case r := <-bDone:
			t.Fatalf("write B committed (revision %d, %v) while A was still open", r.rev, r.err)
		case <-time.After(300 * time.Millisecond):
		}
		close(release)
		wg.Wait()
		b := <-bDone
		if b.err != nil || b.rev <= revA {
			t.Fatalf("write B = revision %d, %v; want a revision above A's %d", b.rev, b.err, revA)
		}
		for _, u := range []string{"user:a", "user:b"} {
			if !check(t, e.svc, u, "member", "org:o", b.token) {
				t.Errorf("%s not visible at max(A, B)", u)
			}
		}
	})
}

func TestWriteRules(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e env) {
		ctx := context.Background()
		tp := tuples(t, "org:o#owner@user:u")
		if _, _, err := e.svc.Write(ctx, authz.Write{Writes: tp}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.Write(ctx, authz.Write{Writes: tp}); !fault.Is(err, fault.Invalid) {
			t.Errorf("duplicate write = %v, want Invalid", err)
		}
		if _, _, err := e.svc.Write(ctx, authz.Write{Writes: tp, IgnoreDuplicates: true}); err != nil {
			t.Errorf("duplicate write, ignored = %v", err)
		}
		missing := tuples(t, "org:o#owner@user:nobody")
		if _, _, err := e.svc.Write(ctx, authz.Write{Deletes: missing, Writes: tuples(t, "org:o#admin@user:x")}); !fault.Is(err, fault.Invalid) {
			t.Errorf("missing delete = %v, want Invalid", err)
		}
		if check(t, e.svc, "user:x", "admin", "org:o", "") {
			t.Errorf("a refused batch wrote part of itself")
		}
		if _, _, err := e.svc.Write(ctx, authz.Write{}); !fault.Is(err, fault.Invalid) {
			t.Errorf("empty write = %v, want Invalid", err)
		}
		if _, err := e.svc.ParseTuples("writes", [][3]string{{"org:o", "boss", "user:u"}, {"planet:p", "owner", "user:u"}, {"org:o", "owner", "team:t"}}); !fault.Is(err, fault.Invalid) {
			t.Errorf("tuples outside the model = %v, want Invalid", err)
		}
		sub, _ := relation.ParseSubject("user:u")
		obj, _ := relation.ParseObject("org:o")
		if _, _, err := e.svc.Check(ctx, relation.CheckRequest{Subject: sub, Relation: "owner", Object: obj}, "forged"); !fault.Is(err, fault.Invalid) {
			t.Errorf("check with a forged token = %v, want Invalid", err)
		}
		future := e.codec.Encode(freshness.Token{Revision: 1 << 40})
		if _, _, err := e.svc.Check(ctx, relation.CheckRequest{Subject: sub, Relation: "owner", Object: obj}, future); !fault.Is(err, fault.Invalid) {
			t.Errorf("check with a token from the future = %v, want Invalid", err)
		}
	})
}

func TestListsAndRead(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e env) {
		ctx := context.Background()
		var ws []string
		for i := range 25 {
			ws = append(ws, fmt.Sprintf("org:o%02d#member@user:u", i))
		}
		ws = append(ws, "org:o00#owner@user:boss", "org:o00#member@team:t#member", "team:t#member@user:v")
		tok, _, err := e.svc.Write(ctx, authz.Write{Writes: tuples(t, ws...)})
		if err != nil {
			t.Fatal(err)
		}
		sub, _ := relation.ParseSubject("user:u")
		var got []string
		after := ""
		for {
			page, more, _, err := e.svc.ListObjects(ctx, relation.ListObjectsRequest{Type: "org", Relation: "viewer", Subject: sub}, tok, after, 10)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, page...)
			if !more {
				break
			}
			after = page[len(page)-1]
		}
		if len(got) != 25 || got[0] != "o00" || got[24] != "o24" {
			t.Errorf("ListObjects paged = %v, want o00…o24", got)
		}
		obj, _ := relation.ParseObject("org:o00")
		subs, _, _, err := e.svc.ListSubjects(ctx, relation.ListSubjectsRequest{Object: obj, Relation: "member", Filter: relation.SubjectType{Type: "user"}}, tok, "", 100)
		var names []string
		for _, s := range subs {
			names = append(names, s.String())
		}
		if err != nil || strings.Join(names, ",") != "user:boss,user:u,user:v" {
			t.Errorf("ListSubjects = %v, %v; want boss, u, v", names, err)
		}
		tree, _, err := e.svc.Expand(ctx, relation.ExpandRequest{Object: obj, Relation: "admin"}, tok)
		if err != nil || tree.Op != relation.OpUnion {
			t.Errorf("Expand(admin) = %+v, %v; want a union", tree, err)
		}
		read, _, err := e.svc.Read(ctx, authz.Filter{ObjectType: "org", ObjectID: "o00", Limit: 10}, tok)
		if err != nil || len(read) != 3 {
			t.Errorf("Read(org:o00) = %v, %v; want 3 tuples", read, err)
		}
		after2 := read[0]
		rest, _, err := e.svc.Read(ctx, authz.Filter{ObjectType: "org", After: &after2, Limit: 100}, "")
		if err != nil || len(rest) != 26 {
			t.Errorf("Read(after first) = %d tuples, %v; want 26", len(rest), err)
		}
	})
}

// TestWritesAreEventsAndAudit: every tuple written or deleted is one event
// and one audit record, in the write's transaction; a refused batch leaves
// neither.
func TestWritesAreEventsAndAudit(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e env) {
		ctx := audit.WithActor(context.Background(), audit.Actor{Principal: "key_test"})
		if _, _, err := e.svc.Write(ctx, authz.Write{Writes: tuples(t, "org:o#owner@user:u", "org:o#member@user:v")}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.Write(ctx, authz.Write{Deletes: tuples(t, "org:o#member@user:v", "org:o#member@user:nobody")}); err == nil {
			t.Fatal("a delete of a missing tuple succeeded")
		}
		if _, _, err := e.svc.Write(ctx, authz.Write{Deletes: tuples(t, "org:o#member@user:v")}); err != nil {
			t.Fatal(err)
		}
		evs, err := e.db.Events().After(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range evs {
			got = append(got, r.Type+" "+r.Subject)
		}
		want := []string{"atrium.relationship.written org:o", "atrium.relationship.written org:o", "atrium.relationship.deleted org:o"}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("events = %v, want %v", got, want)
		}
		recs, err := e.db.Audit().Records(ctx, audit.Query{Type: "atrium.relationship.deleted", Limit: 10})
		if err != nil || len(recs) != 1 || recs[0].Actor != "key_test" {
			t.Errorf("audit records of the delete = %+v, %v; want one by key_test", recs, err)
		}
	})
}
