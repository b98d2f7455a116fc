package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/atriumid/atrium/internal/authz"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/relation"
)

// Tuples returns the relationship store over db.
func (db *DB) Tuples() authz.Store { return tupleStore{db} }

type tupleStore struct{ db *DB }

func (s tupleStore) Write(ctx context.Context, w authz.Write) (int64, error) {
	var rev int64
	err := s.db.update(ctx, func(q queryer) (err error) {
		if rev, err = writeTuples(ctx, q, w); err != nil {
			return err
		}
		// Events, then audit: the order every transaction takes these
		// locks in.
		for _, e := range w.Events {
			if err := appendEvent(ctx, q, e); err != nil {
				return err
			}
		}
		for _, a := range w.Audit {
			if err := appendAudit(ctx, q, a); err != nil {
				return err
			}
		}
		return nil
	})
	return rev, err
}

func (s tupleStore) Snapshot(ctx context.Context, fn func(ctx context.Context, rev int64, r relation.TupleReader) error) error {
	// Prepared before the transaction begins: preparing on a pool waits
	// for a free connection, which must never happen while holding one.
	st := s.db.reads.prepare(ctx, s.db.r)
	return s.db.view(ctx, func(q queryer) error {
		r := &tupleReader{q: q, st: st}
		if st != nil {
			r.tx, _ = q.(*sql.Tx)
		}
		rev, err := r.revision(ctx)
		if err != nil {
			return err
		}
		return fn(ctx, rev, r)
	})
}

func (s tupleStore) Read(ctx context.Context, f authz.Filter) ([]relation.Tuple, int64, error) {
	const op = "sqlstore.ReadTuples"
	var out []relation.Tuple
	var rev int64
	err := s.db.view(ctx, func(q queryer) (err error) {
		if rev, err = revision(ctx, q); err != nil {
			return err
		}
		var where []string
		var args []any
		add := func(cond string, v any) {
			args = append(args, v)
			where = append(where, strings.ReplaceAll(cond, "?", "$"+itoa(len(args))))
		}
		add("object_type = ?", f.ObjectType)
		if f.ObjectID != "" {
			add("object_id = ?", f.ObjectID)
		}
		if f.Relation != "" {
			add("relation = ?", f.Relation)
		}
		if f.Subject != nil {
			add("subject_type = ?", f.Subject.Type)
			add("subject_id = ?", f.Subject.ID)
			add("subject_relation = ?", f.Subject.Relation)
		}
		if a := f.After; a != nil {
			args = append(args, a.Object.Type, a.Object.ID, a.Relation, a.Subject.Type, a.Subject.Relation, a.Subject.ID)
			n := len(args)
			where = append(where, "(object_type, object_id, relation, subject_type, subject_relation, subject_id) > ("+placeholders(n-5, 6)+")")
		}
		args = append(args, f.Limit)
		rows, err := q.QueryContext(ctx, `SELECT object_type, object_id, relation, subject_type, subject_id, subject_relation FROM tuples WHERE `+
			strings.Join(where, " AND ")+` ORDER BY object_type, object_id, relation, subject_type, subject_relation, subject_id LIMIT $`+itoa(len(args)), args...)
		if err != nil {
			return classify(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			var t relation.Tuple
			if err := rows.Scan(&t.Object.Type, &t.Object.ID, &t.Relation, &t.Subject.Type, &t.Subject.ID, &t.Subject.Relation); err != nil {
				return classify(op, err)
			}
			out = append(out, t)
		}
		return classify(op, rows.Err())
	})
	return out, rev, err
}

const revisionQuery = `SELECT revision FROM relation_revision WHERE id = 1`

// revision reads the relationship revision that the current snapshot holds.
func revision(ctx context.Context, q queryer) (int64, error) {
	var rev int64
	err := q.QueryRowContext(ctx, revisionQuery).Scan(&rev)
	return rev, classify("sqlstore.revision", err)
}

// writeTuples applies w in the current transaction and returns the new
// relationship revision. Deletes apply before writes, so a batch may
// replace a tuple. The revision row is locked until the transaction ends,
// which orders relationship writes by commit.
func writeTuples(ctx context.Context, q queryer, w authz.Write) (int64, error) {
	const op = "sqlstore.WriteTuples"
	var rev int64
	if err := q.QueryRowContext(ctx, `UPDATE relation_revision SET revision = revision + 1 WHERE id = 1 RETURNING revision`).Scan(&rev); err != nil {
		return 0, classify(op, err)
	}
	for _, t := range w.Deletes {
		res, err := q.ExecContext(ctx, `DELETE FROM tuples WHERE object_type = $1 AND object_id = $2 AND relation = $3 AND subject_type = $4 AND subject_id = $5 AND subject_relation = $6`,
			t.Object.Type, t.Object.ID, t.Relation, t.Subject.Type, t.Subject.ID, t.Subject.Relation)
		if err != nil {
			return 0, classify(op, err)
		}
		if n, _ := res.RowsAffected(); n == 0 && !w.IgnoreMissing {
			return 0, fault.Invalidf(op, []fault.Violation{{Field: "deletes", Reason: "no such relationship: " + t.String()}}, "cannot delete a relationship that does not exist")
		}
	}
	for _, t := range w.Writes {
		res, err := q.ExecContext(ctx, `INSERT INTO tuples (object_type, object_id, relation, subject_type, subject_id, subject_relation, revision)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
			t.Object.Type, t.Object.ID, t.Relation, t.Subject.Type, t.Subject.ID, t.Subject.Relation, rev)
		if err != nil {
			return 0, classify(op, err)
		}
		if n, _ := res.RowsAffected(); n == 0 && !w.IgnoreDuplicates {
			return 0, fault.Invalidf(op, []fault.Violation{{Field: "writes", Reason: "already exists: " + t.String()}}, "cannot write a relationship that already exists")
		}
	}
	return rev, nil
}

// deleteTuplesOf deletes every tuple in which the object typ:id appears,
// as object or as subject, and moves the revision. It locks the revision
// row first, as writeTuples does, so the two never deadlock.
func deleteTuplesOf(ctx context.Context, q queryer, typ, id string) error {
	const op = "sqlstore.deleteTuplesOf"
	if _, err := q.ExecContext(ctx, `UPDATE relation_revision SET revision = revision + 1 WHERE id = 1`); err != nil {
		return classify(op, err)
	}
	for _, stmt := range []string{
		`DELETE FROM tuples WHERE object_type = $1 AND object_id = $2`,
		`DELETE FROM tuples WHERE subject_type = $1 AND subject_id = $2`,
	} {
		if _, err := q.ExecContext(ctx, stmt, typ, id); err != nil {
			return classify(op, err)
		}
	}
	return nil
}

// The reads of the relationship engine have a few fixed shapes, so that
// each is parsed and planned once per connection rather than once per read:
// ReadSubjects binds up to maxObjectIDs object ids and up to maxSubjectIDs
// subject ids, each list padded to the next arity of objectArities and
// subjectArities by repeating its last id (a WHERE clause never yields a
// row twice, and SQLite seeks each distinct value of an IN list once);
// longer lists are read in chunks.
var (
	objectArities  = [...]int{1, 2, 4, 8, 16, 32}
	subjectArities = [...]int{0, 1, 2, 4}
)

const (
	maxObjectIDs     = 32
	maxSubjectIDs    = 4
	readObjectsQuery = `SELECT object_id FROM tuples
		WHERE subject_type = $1 AND subject_id = $2 AND subject_relation = $3 AND object_type = $4 AND relation = $5`
)

// readSubjectsQuery returns the SQL text of a ReadSubjects read with n
// object ids and m subject ids (m = 0: any subject id). One query kind per
// read lets every engine seek the primary key with all its columns bound.
func readSubjectsQuery(n, m int) string {
	q := `SELECT object_id, subject_type, subject_id, subject_relation FROM tuples
		WHERE object_type = $1 AND relation = $2 AND subject_type = $3 AND subject_relation = $4 AND object_id IN (` + placeholders(5, n) + `)`
	if m > 0 {
		q += ` AND subject_id IN (` + placeholders(5+n, m) + `)`
	}
	return q
}

// arity returns the index in arities of the smallest arity that holds n.
func arity(arities []int, n int) int {
	for i, a := range arities {
		if a >= n {
			return i
		}
	}
	return len(arities) - 1
}

// tupleStatements are the relationship reads prepared on the read pool.
// database/sql prepares each again, once, on every connection that runs it
// (Tx.StmtContext), and keeps it there.
type tupleStatements struct {
	mu       sync.Mutex
	ready    bool                                               // guarded by mu
	subjects [len(objectArities)][len(subjectArities)]*sql.Stmt // set once, with ready
	objects  *sql.Stmt
	revision *sql.Stmt
}

// prepare prepares the statements on pool the first time it succeeds and
// returns them, or nil when they could not be prepared (the reads then send
// their SQL text; the next snapshot tries again).
func (t *tupleStatements) prepare(ctx context.Context, pool *sql.DB) *tupleStatements {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ready {
		return t
	}
	var all []*sql.Stmt
	prep := func(q string) *sql.Stmt {
		st, err := pool.PrepareContext(ctx, q)
		if err != nil {
			return nil
		}
		all = append(all, st)
		return st
	}
	ok := true
	for i, n := range objectArities {
		for j, m := range subjectArities {
			t.subjects[i][j] = prep(readSubjectsQuery(n, m))
			ok = ok && t.subjects[i][j] != nil
		}
	}
	t.objects, t.revision = prep(readObjectsQuery), prep(revisionQuery)
	if !ok || t.objects == nil || t.revision == nil {
		for _, st := range all {
			st.Close()
		}
		return nil
	}
	t.ready = true
	return t
}

// tupleReader implements relation.TupleReader over one snapshot. With
// prepared statements and the snapshot's transaction, it runs them on the
// transaction's connection; otherwise it sends their SQL text.
type tupleReader struct {
	q     queryer
	tx    *sql.Tx
	st    *tupleStatements
	bound map[*sql.Stmt]*sql.Stmt // st's statements bound to tx
}

// query runs the statement that pick chooses among the prepared ones on
// the snapshot's transaction, or sends text() when there are none.
func (r *tupleReader) query(ctx context.Context, pick func(*tupleStatements) *sql.Stmt, text func() string, args ...any) (*sql.Rows, error) {
	if r.tx == nil {
		return r.q.QueryContext(ctx, text(), args...)
	}
	return r.bind(ctx, pick(r.st)).QueryContext(ctx, args...)
}

// revision reads the relationship revision that the snapshot holds.
func (r *tupleReader) revision(ctx context.Context) (int64, error) {
	if r.tx == nil {
		return revision(ctx, r.q)
	}
	var rev int64
	err := r.bind(ctx, r.st.revision).QueryRowContext(ctx).Scan(&rev)
	return rev, classify("sqlstore.revision", err)
}

// bind returns the prepared statement s bound to the snapshot's
// transaction, binding it on first use.
func (r *tupleReader) bind(ctx context.Context, s *sql.Stmt) *sql.Stmt {
	b, ok := r.bound[s]
	if !ok {
		if r.bound == nil {
			r.bound = map[*sql.Stmt]*sql.Stmt{}
		}
		b = r.tx.StmtContext(ctx, s)
		r.bound[s] = b
	}
	return b
}

func (r *tupleReader) ReadSubjects(ctx context.Context, objectType string, objectIDs []string, rel string, queries []relation.SubjectQuery) ([]relation.Tuple, error) {
	const op = "sqlstore.ReadSubjects"
	var out []relation.Tuple
	for ids := range slices.Chunk(objectIDs, maxObjectIDs) {
		for _, sq := range queries {
			if sq.IDs != nil && len(sq.IDs) == 0 {
				continue
			}
			subjectIDs := [][]string{nil}
			if sq.IDs != nil {
				subjectIDs = slices.Collect(slices.Chunk(sq.IDs, maxSubjectIDs))
			}
			for _, sids := range subjectIDs {
				var err error
				if out, err = r.readSubjects(ctx, out, objectType, ids, rel, sq, sids); err != nil {
					return nil, classify(op, err)
				}
			}
		}
	}
	return out, nil
}

// readSubjects runs one ReadSubjects read of at most maxObjectIDs object
// ids and maxSubjectIDs subject ids (none: any id) and appends its tuples
// to out.
func (r *tupleReader) readSubjects(ctx context.Context, out []relation.Tuple, objectType string, objectIDs []string, rel string, sq relation.SubjectQuery, subjectIDs []string) ([]relation.Tuple, error) {
	i, j := arity(objectArities[:], len(objectIDs)), arity(subjectArities[:], len(subjectIDs))
	n, m := objectArities[i], subjectArities[j]
	args := make([]any, 0, 4+n+m)
	args = append(args, objectType, rel, sq.Type, sq.Relation)
	for k := range n {
		args = append(args, objectIDs[min(k, len(objectIDs)-1)])
	}
	for k := range m {
		args = append(args, subjectIDs[min(k, len(subjectIDs)-1)])
	}
	rows, err := r.query(ctx, func(st *tupleStatements) *sql.Stmt { return st.subjects[i][j] },
		func() string { return readSubjectsQuery(n, m) }, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		t := relation.Tuple{Object: relation.Object{Type: objectType}, Relation: rel}
		if err := rows.Scan(&t.Object.ID, &t.Subject.Type, &t.Subject.ID, &t.Subject.Relation); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func (r *tupleReader) ReadObjects(ctx context.Context, objectType, rel string, s relation.Subject) ([]string, error) {
	const op = "sqlstore.ReadObjects"
	rows, err := r.query(ctx, func(st *tupleStatements) *sql.Stmt { return st.objects },
		func() string { return readObjectsQuery }, s.Type, s.ID, s.Relation, objectType, rel)
	if err != nil {
		return nil, classify(op, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, classify(op, err)
		}
		out = append(out, id)
	}
	return out, classify(op, rows.Err())
}

func itoa(n int) string { return strconv.Itoa(n) }
