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
// One statement serves up to maxBranches branches, UNION ALL of each other:
// each branch reads, for one relation of one object type, up to
// maxObjectIDs object ids and one subject query of up to maxSubjectIDs
// subject ids, each list padded to the next arity of objectArities or
// subjectArities by repeating its last id (a WHERE clause never yields a
// row twice, and SQLite seeks each distinct value of an IN list once);
// longer lists are read in chunks, and more branches in more statements.
// The branches of one relation read share its bound object ids. Each
// subject query is a branch of its own, so that every branch seeks the
// primary key with all its columns bound (an OR of the queries would scan
// every tuple of the object's relation).
var (
	objectArities  = [...]int{1, 2, 4, 8, 16, 32}
	subjectArities = [...]int{0, 1, 2, 4} // 0: any subject id
)

const (
	maxObjectIDs  = 32
	maxSubjectIDs = 4
	maxBranches   = 8
	revisionQuery = `SELECT revision FROM relation_revision WHERE id = 1`
	objectsQuery  = `SELECT object_id FROM tuples
		WHERE subject_type = $1 AND subject_id = $2 AND subject_relation = $3 AND object_type = $4 AND relation = $5`
)

// readShape names one prepared read: the revision, ReadObjects, or a
// ReadSubjects read of reads relation reads and branches branches. The
// i-th relation read binds objects[i] object ids (0 when all its branches
// look their subjects up by subject).
type readShape struct {
	sql      string // for the revision and ReadObjects reads
	reads    int
	objects  [maxBranches]int
	branches int
	branch   [maxBranches]branchShape
}

// branchShape is one branch of a ReadSubjects read: which relation read it
// serves, and how many subject ids it binds (0: any). A branch with
// bySubject set looks its subjects up by subject, through the subject
// index, and leaves out the object ids: one seek however many objects are
// read, to the few tuples that name those subjects (the caller keeps those
// of the objects asked).
type branchShape struct {
	read      int
	subjects  int
	bySubject bool
}

// bySubjectFrom is how many objects a read must have for a query with
// subject ids other than the wildcard to look them up by subject. Few
// tuples name one subject; many may name the wildcard.
const bySubjectFrom = 8

var (
	revisionShape = readShape{sql: revisionQuery}
	objectsShape  = readShape{sql: objectsQuery}
)

// text returns the SQL text of the read. ReadSubjects binds, for each
// relation read, its object type, relation and object ids, then for each
// branch its subject type, subject relation and subject ids. Each row
// starts with the number of the relation read it answers.
func (sh readShape) text() string {
	if sh.sql != "" {
		return sh.sql
	}
	var b strings.Builder
	first := make([]int, sh.reads) // the first parameter of each relation read
	next := 1
	for i := range sh.reads {
		first[i] = next
		next += 2 + sh.objects[i]
	}
	for i, br := range sh.branch[:sh.branches] {
		if i > 0 {
			b.WriteString("\nUNION ALL\n")
		}
		p := first[br.read]
		b.WriteString(`SELECT ` + itoa(br.read) + `, object_id, subject_type, subject_id, subject_relation FROM tuples WHERE object_type = $` + itoa(p) + ` AND relation = $` + itoa(p+1))
		if !br.bySubject {
			b.WriteString(` AND object_id IN (` + placeholders(p+2, sh.objects[br.read]) + `)`)
		}
		b.WriteString(` AND subject_type = $` + itoa(next) + ` AND subject_relation = $` + itoa(next+1))
		if br.subjects > 0 {
			b.WriteString(` AND subject_id IN (` + placeholders(next+2, br.subjects) + `)`)
		}
		next += 2 + br.subjects
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

func (r *tupleReader) ReadSubjects(ctx context.Context, reads []relation.SubjectRead) ([]relation.Tuple, error) {
	const op = "sqlstore.ReadSubjects"
	// Split each read into parts of at most maxObjectIDs ids, each query
	// into parts of at most maxSubjectIDs ids, and pack the parts into
	// statements of at most maxBranches branches.
	var out []relation.Tuple
	var st statement
	for _, rd := range reads {
		var parts []relation.SubjectQuery
		for _, sq := range rd.Queries {
			switch {
			case sq.IDs == nil:
				parts = append(parts, sq)
			case len(sq.IDs) == 0:
				// Selects nothing: an id no tuple has, as SQL has no
				// empty IN list.
				parts = append(parts, relation.SubjectQuery{Type: sq.Type, Relation: sq.Relation, IDs: []string{""}})
			default:
				for ids := range slices.Chunk(sq.IDs, maxSubjectIDs) {
					parts = append(parts, relation.SubjectQuery{Type: sq.Type, Relation: sq.Relation, IDs: ids})
				}
			}
		}
		for ids := range slices.Chunk(rd.ObjectIDs, maxObjectIDs) {
			for qs := range slices.Chunk(parts, maxBranches) {
				if st.sh.branches+len(qs) > maxBranches {
					var err error
					if out, err = r.run(ctx, out, &st); err != nil {
						return nil, classify(op, err)
					}
				}
				st.add(rd.ObjectType, rd.Relation, ids, qs)
			}
		}
	}
	out, err := r.run(ctx, out, &st)
	if err != nil {
		return nil, classify(op, err)
	}
	return out, nil
}

// statement gathers the relation reads of one ReadSubjects statement.
type statement struct {
	sh    readShape
	reads []relation.SubjectRead // the relation reads, one part each
	// filter[i] is set when a branch of the i-th read looks up by subject:
	// its rows must be kept to the read's objects.
	filter []bool
	args   []any // the subject arguments of the branches
}

// add adds a relation read of objectIDs (at most maxObjectIDs) with one
// branch for each of qs.
func (st *statement) add(objectType, rel string, objectIDs []string, qs []relation.SubjectQuery) {
	n := st.sh.reads
	st.sh.reads++
	st.reads = append(st.reads, relation.SubjectRead{ObjectType: objectType, Relation: rel, ObjectIDs: objectIDs})
	st.filter = append(st.filter, false)
	for _, q := range qs {
		br := branchShape{read: n, subjects: arity(subjectArities[:], len(q.IDs))}
		if len(objectIDs) >= bySubjectFrom && len(q.IDs) > 0 && !slices.Contains(q.IDs, relation.Wildcard) {
			br.bySubject, st.filter[n] = true, true
		} else {
			st.sh.objects[n] = arity(objectArities[:], len(objectIDs))
		}
		st.sh.branch[st.sh.branches] = br
		st.sh.branches++
		st.args = append(st.args, q.Type, q.Relation)
		for k := range br.subjects {
			st.args = append(st.args, q.IDs[min(k, len(q.IDs)-1)])
		}
	}
}

// run runs st, appends its tuples to out and empties st.
func (r *tupleReader) run(ctx context.Context, out []relation.Tuple, st *statement) ([]relation.Tuple, error) {
	if st.sh.branches == 0 {
		return out, nil
	}
	defer func() { *st = statement{} }()
	args := make([]any, 0, len(st.reads)*(2+maxObjectIDs)+len(st.args))
	for i, rd := range st.reads {
		args = append(args, rd.ObjectType, rd.Relation)
		for k := range st.sh.objects[i] {
			args = append(args, rd.ObjectIDs[min(k, len(rd.ObjectIDs)-1)])
		}
	}
	args = append(args, st.args...)
	rows, err := r.query(ctx, st.sh, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var n int
		var t relation.Tuple
		if err := rows.Scan(&n, &t.Object.ID, &t.Subject.Type, &t.Subject.ID, &t.Subject.Relation); err != nil {
			return nil, err
		}
		rd := st.reads[n]
		if st.filter[n] && !slices.Contains(rd.ObjectIDs, t.Object.ID) {
			continue
		}
		t.Object.Type, t.Relation = rd.ObjectType, rd.Relation
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
