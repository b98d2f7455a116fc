package sqlstore_test

import (
	"context"
	"testing"

	"github.com/atriumid/atrium/internal/authz"
	"github.com/atriumid/atrium/internal/relation"
	"github.com/atriumid/atrium/internal/relation/relationtest"
	"github.com/atriumid/atrium/internal/sqlstore"
	"github.com/atriumid/atrium/internal/testenv"
)

// sqlTuples adapts the SQL tuple store to the OpenFGA conformance suite:
// writes go through the store, and every read runs in a snapshot of its
// own, as the relationship service's reads do.
type sqlTuples struct {
	db      *sqlstore.DB
	written []relation.Tuple
}

func (s *sqlTuples) Write(ctx context.Context, ts ...relation.Tuple) error {
	for len(ts) > 0 {
		n := min(len(ts), authz.MaxTuplesPerWrite)
		if _, err := s.db.Tuples().Write(ctx, authz.Write{Writes: ts[:n], IgnoreDuplicates: true}); err != nil {
			return err
		}
		s.written, ts = append(s.written, ts[:n]...), ts[n:]
	}
	return nil
}

// clear deletes what the previous test wrote, so each test starts empty
// without a new database.
func (s *sqlTuples) clear(t *testing.T) {
	for len(s.written) > 0 {
		n := min(len(s.written), authz.MaxTuplesPerWrite)
		if _, err := s.db.Tuples().Write(context.Background(), authz.Write{Deletes: s.written[:n], IgnoreMissing: true}); err != nil {
			t.Fatalf("clearing tuples: %v", err)
		}
		s.written = s.written[n:]
	}
}

func (s *sqlTuples) ReadSubjects(ctx context.Context, typ string, ids []string, rel string, qs []relation.SubjectQuery) (out []relation.Tuple, err error) {
	err = s.db.Tuples().Snapshot(ctx, func(ctx context.Context, _ int64, r relation.TupleReader) error {
		out, err = r.ReadSubjects(ctx, typ, ids, rel, qs)
		return err
	})
	return out, err
}

func (s *sqlTuples) ReadObjects(ctx context.Context, typ, rel string, sub relation.Subject) (out []string, err error) {
	err = s.db.Tuples().Snapshot(ctx, func(ctx context.Context, _ int64, r relation.TupleReader) error {
		out, err = r.ReadObjects(ctx, typ, rel, sub)
		return err
	})
	return out, err
}

// TestOpenFGAOnSQL runs OpenFGA's conformance suites with the tuples in
// SQLite and PostgreSQL.
func TestOpenFGAOnSQL(t *testing.T) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			store := &sqlTuples{db: testenv.OpenDB(t, e.URL(t))}
			for _, suite := range relationtest.Suites {
				t.Run(suite, func(t *testing.T) {
					relationtest.RunOpenFGA(t, suite, func(t *testing.T) relationtest.Store {
						store.clear(t)
						return store
					})
				})
			}
		})
	}
}
