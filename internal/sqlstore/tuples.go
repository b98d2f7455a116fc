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
	// Before the transaction begins: preparing on a pool waits for a free
	// connection, which must never happen while holding one.
	s.db.reads.prepareWanted(ctx, s.db.r)
	return s.db.view(ctx, func(q queryer) error {
		r := &tupleReader{q: q, st: &s.db.reads}
		r.tx, _ = q.(*sql.Tx)
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
// each is parsed and planned once per connection rather than once per read.
// A ReadSubjects read binds up to maxObjectIDs object ids and, for each of
// up to maxQueries subject queries, up to maxSubjectIDs subject ids, each
// list padded to the next arity of objectArities or subjectArities by
// repeating its last id (a WHERE clause never yields a row twice, and
// SQLite seeks each distinct value of an IN list once); longer lists are
// read in chunks. Each query is one branch of a UNION ALL, so that every
// branch seeks the primary key with all its columns bound (an OR of the
// queries would scan every tuple of the object's relation).
var (
	objectArities  = [...]int{1, 2, 4, 8, 16, 32}
	subjectArities = [...]int{0, 1, 2, 4} // 0: any subject id
)

const (
	maxObjectIDs  = 32
	maxSubjectIDs = 4
	maxQueries    = 4
	revisionQuery = `SELECT revision FROM relation_revision WHERE id = 1`
	objectsQuery  = `SELECT object_id FROM tuples
		WHERE subject_type = $1 AND subject_id = $2 AND subject_relation = $3 AND object_type = $4 AND relation = $5`
)

// readShape names one prepared read: the revision, ReadObjects, or a
// ReadSubjects read of objects object ids and queries subject queries, the
// i-th with subjects[i] subject ids. A query with bySubject set looks its
// subjects up by subject, through the subject index, and leaves out the
// object ids: one seek however many objects are read, to the few tuples
// that name those subjects (the caller keeps those of the objects asked).
type readShape struct {
	sql       string // for the revision and ReadObjects reads
	objects   int
	queries   int
	subjects  [maxQueries]int
	bySubject [maxQueries]bool
}

// bySubjectFrom is how many objects a read must have for a query with
// subject ids other than the wildcard to look them up by subject. Few
// tuples name one subject; many may name the wildcard.
const bySubjectFrom = 8

var (
	revisionShape = readShape{sql: revisionQuery}
	objectsShape  = readShape{sql: objectsQuery}
)

// text returns the SQL text of the read. ReadSubjects binds $1 object
// type, $2 relation, then the object ids, then for each query its subject
// type, subject relation and subject ids.
func (sh readShape) text() string {
	if sh.sql != "" {
		return sh.sql
	}
	var b strings.Builder
	objects := placeholders(3, sh.objects)
	next := 3 + sh.objects
	for i := range sh.queries {
		if i > 0 {
			b.WriteString("\nUNION ALL\n")
		}
		b.WriteString(`SELECT object_id, subject_type, subject_id, subject_relation FROM tuples WHERE object_type = $1 AND relation = $2`)
		if !sh.bySubject[i] {
			b.WriteString(` AND object_id IN (` + objects + `)`)
		}
		b.WriteString(` AND subject_type = $` + itoa(next) + ` AND subject_relation = $` + itoa(next+1))
		if m := sh.subjects[i]; m > 0 {
			b.WriteString(` AND subject_id IN (` + placeholders(next+2, m) + `)`)
		}
		next += 2 + sh.subjects[i]
	}
	return b.String()
}

// arity returns the smallest of arities that holds n.
func arity(arities []int, n int) int {
	for _, a := range arities {
		if a >= n {
			return a
		}
	}
	return arities[len(arities)-1]
}

// tupleStatements are the relationship reads prepared on the read pool,
// by shape. A read whose shape is not prepared yet sends its SQL text and
// asks for it to be prepared before the next snapshot begins. database/sql
// prepares each statement again, once, on every connection that runs it
// (Tx.Stmt), and keeps it there.
type tupleStatements struct {
	mu       sync.RWMutex
	prepared map[readShape]*sql.Stmt // guarded by mu
	wanted   map[readShape]bool      // guarded by mu
}

// get returns the prepared statement of sh, or nil after noting it as
// wanted.
func (t *tupleStatements) get(sh readShape) *sql.Stmt {
	t.mu.RLock()
	st, ok := t.prepared[sh]
	want := t.wanted[sh]
	t.mu.RUnlock()
	if ok || want {
		return st
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.wanted == nil {
		t.wanted = map[readShape]bool{}
	}
	t.wanted[sh] = true
	return nil
}

// prepareWanted prepares the wanted shapes on pool. It must be called
// while holding no connection of pool, and prepares without holding mu:
// a snapshot that holds a connection may be waiting for mu. A shape that
// fails to prepare stays wanted, for the next snapshot.
func (t *tupleStatements) prepareWanted(ctx context.Context, pool *sql.DB) {
	t.mu.RLock()
	var todo []readShape
	for sh := range t.wanted {
		todo = append(todo, sh)
	}
	t.mu.RUnlock()
	for _, sh := range todo {
		st, err := pool.PrepareContext(ctx, sh.text())
		if err != nil {
			continue
		}
		t.mu.Lock()
		if _, dup := t.prepared[sh]; dup { // prepared meanwhile by another snapshot
			st.Close()
		} else {
			if t.prepared == nil {
				t.prepared = map[readShape]*sql.Stmt{}
			}
			t.prepared[sh] = st
		}
		delete(t.wanted, sh)
		t.mu.Unlock()
	}
}

// tupleReader implements relation.TupleReader over one snapshot: it runs
// the prepared statements on the snapshot's transaction.
type tupleReader struct {
	q     queryer
	tx    *sql.Tx // nil when q is not a transaction: reads send their text
	st    *tupleStatements
	bound map[readShape]*sql.Stmt // statements bound to tx
}

// query runs the read of shape sh.
func (r *tupleReader) query(ctx context.Context, sh readShape, args ...any) (*sql.Rows, error) {
	if st := r.stmt(sh); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return r.q.QueryContext(ctx, sh.text(), args...)
}

// stmt returns the prepared statement of sh bound to the snapshot's
// transaction, or nil when it is not prepared.
func (r *tupleReader) stmt(sh readShape) *sql.Stmt {
	if r.tx == nil {
		return nil
	}
	if b, ok := r.bound[sh]; ok {
		return b
	}
	st := r.st.get(sh)
	if st == nil {
		return nil
	}
	if r.bound == nil {
		r.bound = map[readShape]*sql.Stmt{}
	}
	b := r.tx.Stmt(st)
	r.bound[sh] = b
	return b
}

// revision reads the relationship revision that the snapshot holds.
func (r *tupleReader) revision(ctx context.Context) (int64, error) {
	st := r.stmt(revisionShape)
	if st == nil {
		return revision(ctx, r.q)
	}
	var rev int64
	err := st.QueryRowContext(ctx).Scan(&rev)
	return rev, classify("sqlstore.revision", err)
}

func (r *tupleReader) ReadSubjects(ctx context.Context, objectType string, objectIDs []string, rel string, queries []relation.SubjectQuery) ([]relation.Tuple, error) {
	const op = "sqlstore.ReadSubjects"
	// Split each query into parts of at most maxSubjectIDs ids.
	var parts []relation.SubjectQuery
	for _, sq := range queries {
		switch {
		case sq.IDs == nil:
			parts = append(parts, sq)
		default:
			for ids := range slices.Chunk(sq.IDs, maxSubjectIDs) {
				parts = append(parts, relation.SubjectQuery{Type: sq.Type, Relation: sq.Relation, IDs: ids})
			}
		}
	}
	var out []relation.Tuple
	for ids := range slices.Chunk(objectIDs, maxObjectIDs) {
		for qs := range slices.Chunk(parts, maxQueries) {
			var err error
			if out, err = r.readSubjects(ctx, out, objectType, ids, rel, qs); err != nil {
				return nil, classify(op, err)
			}
		}
	}
	return out, nil
}

// readSubjects runs one ReadSubjects read of at most maxObjectIDs object
// ids and maxQueries queries of at most maxSubjectIDs subject ids each
// (none: any id), and appends its tuples to out.
func (r *tupleReader) readSubjects(ctx context.Context, out []relation.Tuple, objectType string, objectIDs []string, rel string, qs []relation.SubjectQuery) ([]relation.Tuple, error) {
	sh := readShape{queries: len(qs)}
	filter, byObject := false, false
	for i := range qs {
		if qs[i].IDs != nil && len(qs[i].IDs) == 0 {
			// Selects nothing: an id no tuple has, as SQL has no empty
			// IN list.
			qs[i].IDs = []string{""}
		}
		if len(objectIDs) >= bySubjectFrom && len(qs[i].IDs) > 0 && !slices.Contains(qs[i].IDs, relation.Wildcard) {
			sh.bySubject[i], filter = true, true
		} else {
			byObject = true
		}
		sh.subjects[i] = arity(subjectArities[:], len(qs[i].IDs))
	}
	if byObject { // else no branch binds object ids
		sh.objects = arity(objectArities[:], len(objectIDs))
	}
	args := make([]any, 0, 2+sh.objects+len(qs)*(2+maxSubjectIDs))
	args = append(args, objectType, rel)
	for k := range sh.objects {
		args = append(args, objectIDs[min(k, len(objectIDs)-1)])
	}
	for i, sq := range qs {
		args = append(args, sq.Type, sq.Relation)
		for k := range sh.subjects[i] {
			args = append(args, sq.IDs[min(k, len(sq.IDs)-1)])
		}
	}
	rows, err := r.query(ctx, sh, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		t := relation.Tuple{Object: relation.Object{Type: objectType}, Relation: rel}
		if err := rows.Scan(&t.Object.ID, &t.Subject.Type, &t.Subject.ID, &t.Subject.Relation); err != nil {
			return nil, err
		}
		if filter && !slices.Contains(objectIDs, t.Object.ID) {
			continue
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func (r *tupleReader) ReadObjects(ctx context.Context, objectType, rel string, s relation.Subject) ([]string, error) {
	const op = "sqlstore.ReadObjects"
	rows, err := r.query(ctx, objectsShape, s.Type, s.ID, s.Relation, objectType, rel)
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
