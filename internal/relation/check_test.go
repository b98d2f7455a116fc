package relation

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/atriumid/atrium/internal/fault"
	"github.com/google/go-cmp/cmp"
)

// designKinds is the relations part of the kinds document sketched in
// DESIGN.md §1.2.
var designKinds = map[string]string{
	"user":    "",
	"partner": "define member: [user]\ndefine admin: [user]",
	"org": `define owner: [user]
define admin: [user] or owner
define member: [user, partner#member] or admin
define parent: [partner]
# the admins of a parent partner see the org
define viewer: member or admin from parent`,
}

func subject(t testing.TB, s string) Subject {
	t.Helper()
	sub, err := ParseSubject(s)
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

func object(t testing.TB, s string) Object {
	t.Helper()
	o, err := ParseObject(s)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestKindsDocumentExample(t *testing.T) {
	m, err := ParseKindRelations(designKinds)
	if err != nil {
		t.Fatal(err)
	}
	store := mustTuples(t, m,
		"org:acme#owner@user:ann",
		"org:acme#member@partner:p1#member",
		"partner:p1#member@user:bob",
		"org:beta#parent@partner:p1",
		"org:beta#admin@user:cat",
	)
	ctx := context.Background()
	checks := []struct {
		subject, relation, object string
		want                      bool
	}{
		{"user:ann", "admin", "org:acme", true},   // owner ⊂ admin
		{"user:ann", "viewer", "org:acme", true},  // admin ⊂ member ⊂ viewer
		{"user:bob", "member", "org:acme", true},  // through partner:p1#member
		{"user:bob", "admin", "org:acme", false},  //
		{"user:bob", "viewer", "org:beta", false}, // admin from parent: bob is only a member of p1
		{"user:cat", "viewer", "org:beta", true},
		{"partner:p1#member", "member", "org:acme", true},
		{"partner:p1#member", "member", "partner:p1", true}, // a userset contains itself
	}
	for _, c := range checks {
		got, err := Check(ctx, m, store, CheckRequest{Subject: subject(t, c.subject), Relation: c.relation, Object: object(t, c.object)})
		if err != nil || got != c.want {
			t.Errorf("Check(%s %s %s) = %v, %v, want %v", c.subject, c.relation, c.object, got, err, c.want)
		}
	}
	objs, err := ListObjects(ctx, m, store, ListObjectsRequest{Type: "org", Relation: "viewer", Subject: subject(t, "user:ann")})
	if err != nil || !cmp.Equal(objs, []string{"acme"}) {
		t.Errorf("ListObjects(user:ann viewer org) = %v, %v, want [acme]", objs, err)
	}
	subs, err := ListSubjects(ctx, m, store, ListSubjectsRequest{Object: object(t, "org:acme"), Relation: "viewer", Filter: SubjectType{Type: "user"}})
	want := []Subject{{Type: "user", ID: "ann"}, {Type: "user", ID: "bob"}}
	if err != nil || !cmp.Equal(subs, want) {
		t.Errorf("ListSubjects(org:acme viewer user) = %v, %v, want %v", subs, err, want)
	}
	tree, err := Expand(ctx, m, store, ExpandRequest{Object: object(t, "org:acme"), Relation: "member"})
	if err != nil {
		t.Fatal(err)
	}
	wantTree := &Tree{Op: OpUnion, Object: Object{"org", "acme"}, Relation: "member", Children: []*Tree{
		{Op: OpDirect, Object: Object{"org", "acme"}, Relation: "member", Subjects: []Subject{{"partner", "p1", "member"}}},
		{Op: OpComputed, Object: Object{"org", "acme"}, Relation: "admin", Subjects: []Subject{{"org", "acme", "admin"}}},
	}}
	if diff := cmp.Diff(wantTree, tree); diff != "" {
		t.Errorf("Expand(org:acme#member) (-want +got):\n%s", diff)
	}
	tree, err = Expand(ctx, m, store, ExpandRequest{Object: object(t, "org:beta"), Relation: "viewer"})
	if err != nil {
		t.Fatal(err)
	}
	ttu := tree.Children[1]
	if ttu.Op != OpTupleToUser || !cmp.Equal(ttu.Subjects, []Subject{{"partner", "p1", "admin"}}) {
		t.Errorf("Expand(org:beta#viewer).Children[1] = %+v, want the tuple-to-userset leaf partner:p1#admin", ttu)
	}
}

func TestDepthLimit(t *testing.T) {
	m := mustModel(t, "model\n  schema 1.1\ntype user\ntype group\n  relations\n    define member: [user, group#member]\n")
	var ts []string
	const n = 30
	for i := range n {
		ts = append(ts, fmt.Sprintf("group:g%d#member@group:g%d#member", i, i+1))
	}
	ts = append(ts, fmt.Sprintf("group:g%d#member@user:u", n))
	store := mustTuples(t, m, ts...)
	ctx := context.Background()
	req := CheckRequest{Subject: Subject{Type: "user", ID: "u"}, Relation: "member", Object: Object{"group", "g0"}}
	got, err := Check(ctx, m, store, req)
	if got || !fault.Is(err, fault.FailedPrecondition) || !errors.Is(err, ErrDepthExceeded) {
		t.Errorf("Check(chain of %d) = %v, %v, want false and failed_precondition wrapping ErrDepthExceeded", n, got, err)
	}
	req.MaxDepth = n + 5
	if got, err := Check(ctx, m, store, req); !got || err != nil {
		t.Errorf("Check(chain of %d, MaxDepth %d) = %v, %v, want true", n, req.MaxDepth, got, err)
	}
	_, err = ListSubjects(ctx, m, store, ListSubjectsRequest{Object: Object{"group", "g0"}, Relation: "member", Filter: SubjectType{Type: "user"}})
	if !errors.Is(err, ErrDepthExceeded) {
		t.Errorf("ListSubjects(chain of %d) error = %v, want ErrDepthExceeded", n, err)
	}
}

// failingReader fails every read with err.
type failingReader struct{ err error }

func (f failingReader) ReadSubjects(context.Context, string, []string, string, []SubjectQuery) ([]Tuple, error) {
	return nil, f.err
}

func (f failingReader) ReadObjects(context.Context, string, string, Subject) ([]string, error) {
	return nil, f.err
}

func TestFailuresDeny(t *testing.T) {
	m, err := ParseKindRelations(designKinds)
	if err != nil {
		t.Fatal(err)
	}
	req := CheckRequest{Subject: Subject{Type: "user", ID: "ann"}, Relation: "viewer", Object: Object{"org", "acme"}}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		r    TupleReader
		kind fault.Kind
	}{
		{"plain error", context.Background(), failingReader{errors.New("connection reset")}, fault.Unavailable},
		{"classified error", context.Background(), failingReader{fault.E("store", fault.ResourceExhausted, "shed")}, fault.ResourceExhausted},
		{"canceled read", context.Background(), failingReader{context.Canceled}, fault.Canceled},
		{"canceled request", canceled, NewMemoryTuples(), fault.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Check(tc.ctx, m, tc.r, req)
			if got || fault.KindOf(err) != tc.kind {
				t.Errorf("Check = %v, %v, want false and %v", got, err, tc.kind)
			}
			if _, err := ListObjects(tc.ctx, m, tc.r, ListObjectsRequest{Type: "org", Relation: "viewer", Subject: req.Subject}); fault.KindOf(err) != tc.kind {
				t.Errorf("ListObjects error = %v, want %v", err, tc.kind)
			}
			if _, err := ListSubjects(tc.ctx, m, tc.r, ListSubjectsRequest{Object: req.Object, Relation: "viewer", Filter: SubjectType{Type: "user"}}); fault.KindOf(err) != tc.kind {
				t.Errorf("ListSubjects error = %v, want %v", err, tc.kind)
			}
		})
	}
}

func TestRequestValidation(t *testing.T) {
	m, err := ParseKindRelations(designKinds)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store := NewMemoryTuples()
	user := Subject{Type: "user", ID: "ann"}
	checks := []struct {
		name string
		req  CheckRequest
		is   error
	}{
		{"unknown object type", CheckRequest{Subject: user, Relation: "viewer", Object: Object{"repo", "x"}}, ErrUnknownType},
		{"unknown relation", CheckRequest{Subject: user, Relation: "nope", Object: Object{"org", "x"}}, ErrUnknownRelation},
		{"unknown subject type", CheckRequest{Subject: Subject{Type: "bot", ID: "b"}, Relation: "viewer", Object: Object{"org", "x"}}, ErrUnknownType},
		{"unknown subject relation", CheckRequest{Subject: Subject{"org", "y", "nope"}, Relation: "viewer", Object: Object{"org", "x"}}, ErrUnknownRelation},
		{"bad object id", CheckRequest{Subject: user, Relation: "viewer", Object: Object{"org", "a b"}}, ErrInvalidTuple},
		{"bad contextual tuple", CheckRequest{Subject: user, Relation: "viewer", Object: Object{"org", "x"},
			Contextual: []Tuple{{Object{"org", "x"}, "viewer", user}}}, ErrInvalidTuple},
	}
	for _, tc := range checks {
		if _, err := Check(ctx, m, store, tc.req); !fault.Is(err, fault.Invalid) || !errors.Is(err, tc.is) {
			t.Errorf("Check(%s) = %v, want invalid_argument wrapping %v", tc.name, err, tc.is)
		}
	}
	reqs := make([]CheckRequest, MaxBatch+1)
	if _, err := BatchCheck(ctx, m, store, reqs); !fault.Is(err, fault.Invalid) {
		t.Errorf("BatchCheck(%d requests) = %v, want invalid_argument", len(reqs), err)
	}
	res, err := BatchCheck(ctx, m, store, []CheckRequest{checks[0].req, {Subject: user, Relation: "viewer", Object: Object{"org", "x"}}})
	if err != nil || len(res) != 2 || !errors.Is(res[0].Err, ErrUnknownType) || res[1].Err != nil || res[1].Allowed {
		t.Errorf("BatchCheck = %+v, %v, want an error for the first check only", res, err)
	}
}

func TestMemoryTuplesDelete(t *testing.T) {
	m, err := ParseKindRelations(designKinds)
	if err != nil {
		t.Fatal(err)
	}
	store := mustTuples(t, m, "org:acme#owner@user:ann", "org:acme#owner@user:bob")
	tp, _ := ParseTuple("org:acme#owner@user:ann")
	store.Delete(tp, tp)
	if store.Len() != 1 || store.Tuples()[0].Subject.ID != "bob" {
		t.Fatalf("after Delete: %v", store.Tuples())
	}
	ctx := context.Background()
	if ok, err := Check(ctx, m, store, CheckRequest{Subject: tp.Subject, Relation: "owner", Object: tp.Object}); ok || err != nil {
		t.Errorf("Check(deleted tuple) = %v, %v, want false", ok, err)
	}
	if ids, err := ListObjects(ctx, m, store, ListObjectsRequest{Type: "org", Relation: "owner", Subject: tp.Subject}); len(ids) != 0 || err != nil {
		t.Errorf("ListObjects(deleted tuple) = %v, %v, want none", ids, err)
	}
}

// TestConcurrentQueries runs queries on one model and store from several
// goroutines while tuples are written, for the race detector: a Model is
// immutable and MemoryTuples locks.
func TestConcurrentQueries(t *testing.T) {
	m, err := ParseKindRelations(designKinds)
	if err != nil {
		t.Fatal(err)
	}
	store := mustTuples(t, m, "org:acme#owner@user:ann", "org:acme#member@partner:p1#member")
	ctx := context.Background()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			store.Write(Tuple{Object{"partner", "p1"}, "member", Subject{Type: "user", ID: fmt.Sprintf("u%d", i)}})
		}
	}()
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			for range 50 {
				ok, err := Check(ctx, m, store, CheckRequest{Subject: Subject{Type: "user", ID: "ann"}, Relation: "viewer", Object: Object{"org", "acme"}})
				if err == nil && !ok {
					err = errors.New("ann lost access")
				}
				if err == nil {
					_, err = ListSubjects(ctx, m, store, ListSubjectsRequest{Object: Object{"org", "acme"}, Relation: "viewer", Filter: SubjectType{Type: "user"}})
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	<-done
}

// countingReader counts the reads made through it and the objects they
// read.
type countingReader struct {
	TupleReader
	reads, objects int
}

func (c *countingReader) ReadSubjects(ctx context.Context, typ string, ids []string, rel string, qs []SubjectQuery) ([]Tuple, error) {
	c.reads++
	c.objects += len(ids)
	return c.TupleReader.ReadSubjects(ctx, typ, ids, rel, qs)
}

// TestWideUsersetsReadAhead checks an org whose members are 70 groups,
// more than one read-ahead batch: the answer is the same wherever the
// subject sits, siblings are read a batch at a time rather than one by
// one, and a subject found in the first batch does not make the engine read
// the others.
func TestWideUsersetsReadAhead(t *testing.T) {
	m, err := ParseModel("model\n  schema 1.1\ntype user\ntype group\n  relations\n    define member: [user, group#member]\n" +
		"type org\n  relations\n    define member: [user, group#member]\n")
	if err != nil {
		t.Fatal(err)
	}
	const groups = 70
	mem := NewMemoryTuples()
	for g := range groups {
		gid := fmt.Sprintf("g%d", g)
		mem.Write(Tuple{Object{"org", "wide"}, "member", Subject{"group", gid, "member"}},
			Tuple{Object{"group", gid}, "member", Subject{Type: "user", ID: "u" + gid}})
	}
	// g69 holds a nested group that holds ann.
	mem.Write(Tuple{Object{"group", "g69"}, "member", Subject{"group", "deep", "member"}},
		Tuple{Object{"group", "deep"}, "member", Subject{Type: "user", ID: "ann"}})
	ctx := context.Background()
	for _, tc := range []struct {
		user           string
		want           bool
		reads, objects int
	}{
		{"ug0", true, 2, 33},     // the org, then the first batch
		{"ug31", true, 2, 33},    // the last of the first batch
		{"ug32", true, 3, 65},    // the first of the second batch
		{"ug69", true, 4, 71},    // in the last batch
		{"ann", true, 5, 72},     // every batch, then the nested group
		{"nobody", false, 5, 72}, // the org, every batch and the nested group
	} {
		r := &countingReader{TupleReader: mem}
		got, err := Check(ctx, m, r, CheckRequest{Subject: Subject{Type: "user", ID: tc.user}, Relation: "member", Object: Object{"org", "wide"}})
		if err != nil || got != tc.want {
			t.Errorf("Check(%s member org:wide) = %v, %v; want %v", tc.user, got, err, tc.want)
		}
		if r.reads != tc.reads || r.objects != tc.objects {
			t.Errorf("Check(%s member org:wide) made %d reads of %d objects, want %d of %d", tc.user, r.reads, r.objects, tc.reads, tc.objects)
		}
	}
}
