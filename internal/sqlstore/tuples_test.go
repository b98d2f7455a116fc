package sqlstore_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/authz"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/relation"
	"github.com/atriumid/atrium/internal/testenv"
)

// TestReadSubjectsShapes reads many objects and many subject ids at once,
// more than one prepared statement binds, with lists that are padded and
// lists that are chunked, and compares every answer with the in-memory
// reader over the same tuples, on every engine.
func TestReadSubjectsShapes(t *testing.T) {
	ctx := context.Background()
	var ts []relation.Tuple
	var groups, users []string
	for g := range 70 {
		groups = append(groups, fmt.Sprintf("g%d", g))
	}
	for u := range 9 {
		users = append(users, fmt.Sprintf("u%d", u))
	}
	for g, id := range groups {
		obj := relation.Object{Type: "group", ID: id}
		for u, uid := range users {
			if (g+u)%3 == 0 {
				ts = append(ts, relation.Tuple{Object: obj, Relation: "member", Subject: relation.Subject{Type: "user", ID: uid}})
			}
		}
		if g%4 == 0 {
			ts = append(ts, relation.Tuple{Object: obj, Relation: "member", Subject: relation.Subject{Type: "user", ID: "*"}})
		}
		if g%5 == 0 {
			ts = append(ts, relation.Tuple{Object: obj, Relation: "member", Subject: relation.Subject{Type: "group", ID: groups[(g+1)%len(groups)], Relation: "member"}})
		}
		if g%7 == 0 {
			ts = append(ts, relation.Tuple{Object: obj, Relation: "owner", Subject: relation.Subject{Type: "user", ID: users[0]}})
		}
	}
	mem := relation.NewMemoryTuples(ts...)
	queries := map[string][]relation.SubjectQuery{
		"usersets":             {{Type: "group", Relation: "member"}},
		"any user":             {{Type: "user"}},
		"one user":             {{Type: "user", IDs: []string{"u3"}}},
		"user and wildcard":    {{Type: "user", IDs: []string{"u3", "*"}}},
		"three users":          {{Type: "user", IDs: []string{"u1", "u2", "u5"}}},
		"users in two chunks":  {{Type: "user", IDs: users}},
		"users and usersets":   {{Type: "user", IDs: []string{"u0", "*"}}, {Type: "group", Relation: "member"}},
		"no id selects none":   {{Type: "user", IDs: []string{}}},
		"unknown subject type": {{Type: "team", Relation: "member"}},
	}
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			store := testenv.OpenDB(t, e.URL(t)).Tuples()
			for batch := range slices.Chunk(ts, authz.MaxTuplesPerWrite) {
				if _, err := store.Write(ctx, authz.Write{Writes: batch}); err != nil {
					t.Fatal(err)
				}
			}
			for _, n := range []int{1, 2, 3, 5, 25, 32, 33, 70} {
				for name, qs := range queries {
					for _, rel := range []string{"member", "owner"} {
						ids := groups[len(groups)-n:]
						want, _ := mem.ReadSubjects(ctx, "group", ids, rel, qs)
						var got []relation.Tuple
						err := store.Snapshot(ctx, func(ctx context.Context, _ int64, r relation.TupleReader) (err error) {
							got, err = r.ReadSubjects(ctx, "group", ids, rel, qs)
							return err
						})
						if err != nil {
							t.Fatalf("%d objects, %s, %s: %v", n, name, rel, err)
						}
						if g, w := sorted(got), sorted(want); !slices.Equal(g, w) {
							t.Errorf("%d objects, %s, %s:\n got %v\nwant %v", n, name, rel, g, w)
						}
					}
				}
			}
		})
	}
}

// TestReadSubjectsConcurrent runs more snapshots at once than the read
// pool has connections, each needing statements not prepared yet: a
// snapshot that holds a connection must never wait for one that prepares.
func TestReadSubjectsConcurrent(t *testing.T) {
	ctx := context.Background()
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			store := testenv.OpenDB(t, e.URL(t)).Tuples()
			tp := relation.Tuple{Object: relation.Object{Type: "group", ID: "g1"}, Relation: "member", Subject: relation.Subject{Type: "user", ID: "u1"}}
			if _, err := store.Write(ctx, authz.Write{Writes: []relation.Tuple{tp}}); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for i := range 64 {
				wg.Go(func() {
					ids := []string{"g1"}
					for k := range i % 40 {
						ids = append(ids, fmt.Sprintf("x%d", k))
					}
					qs := []relation.SubjectQuery{{Type: "user", IDs: []string{"u1", "*"}}}
					for range i % 4 {
						qs = append(qs, relation.SubjectQuery{Type: "group", Relation: fmt.Sprintf("r%d", len(qs))})
					}
					errs <- store.Snapshot(ctx, func(ctx context.Context, _ int64, r relation.TupleReader) error {
						for range 3 {
							got, err := r.ReadSubjects(ctx, "group", ids, "member", qs)
							if err != nil {
								return err
							}
							if len(got) != 1 || got[0] != tp {
								return fmt.Errorf("%d ids, %d queries: got %v, want %v", len(ids), len(qs), got, tp)
							}
						}
						return nil
					})
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestSnapshotHonoursItsContext ends a snapshot's context between two
// reads: the next read fails as canceled (or timed out), on every engine.
// Nothing is left holding a connection: a later snapshot still reads.
func TestSnapshotHonoursItsContext(t *testing.T) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			store := testenv.OpenDB(t, e.URL(t)).Tuples()
			tp := relation.Tuple{Object: relation.Object{Type: "group", ID: "g1"}, Relation: "member", Subject: relation.Subject{Type: "user", ID: "u1"}}
			if _, err := store.Write(context.Background(), authz.Write{Writes: []relation.Tuple{tp}}); err != nil {
				t.Fatal(err)
			}
			qs := []relation.SubjectQuery{{Type: "user", IDs: []string{"u1"}}}
			for _, end := range []struct {
				name string
				kind fault.Kind
				ctx  func() (context.Context, context.CancelFunc)
			}{
				{"cancel", fault.Canceled, func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }},
				{"deadline", fault.DeadlineExceeded, func() (context.Context, context.CancelFunc) {
					return context.WithTimeout(context.Background(), time.Second)
				}},
			} {
				ctx, stop := end.ctx()
				reads := 0
				err := store.Snapshot(ctx, func(ctx context.Context, _ int64, r relation.TupleReader) error {
					if _, err := r.ReadSubjects(ctx, "group", []string{"g1"}, "member", qs); err != nil {
						return err
					}
					reads++
					if end.kind == fault.Canceled {
						stop()
					}
					<-ctx.Done() // the deadline passes, or the cancel has
					_, err := r.ReadSubjects(ctx, "group", []string{"g1"}, "member", qs)
					return err
				})
				stop()
				if reads != 1 || !fault.Is(err, end.kind) {
					t.Errorf("%s: %d reads, then %v; want one read, then %v", end.name, reads, err, end.kind)
				}
			}
			err := store.Snapshot(context.Background(), func(ctx context.Context, _ int64, r relation.TupleReader) error {
				got, err := r.ReadSubjects(ctx, "group", []string{"g1"}, "member", qs)
				if err == nil && len(got) != 1 {
					err = fmt.Errorf("got %v, want %v", got, tp)
				}
				return err
			})
			if err != nil {
				t.Errorf("snapshot after the ended ones: %v", err)
			}
		})
	}
}

func sorted(ts []relation.Tuple) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.String()
	}
	slices.SortFunc(out, strings.Compare)
	return out
}
