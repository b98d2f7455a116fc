package sqlstore

import (
	"context"
	"strconv"
	"strings"

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
	return s.db.view(ctx, func(q queryer) error {
		rev, err := revision(ctx, q)
		if err != nil {
			return err
		}
		return fn(ctx, rev, tupleReader{q})
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
	err := q.QueryRowContext(ctx, `SELECT revision FROM relation_revision WHERE id = 1`).Scan(&rev)
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

// tupleReader implements relation.TupleReader over one snapshot.
type tupleReader struct{ q queryer }

func (r tupleReader) ReadSubjects(ctx context.Context, obj relation.Object, rel string, queries []relation.SubjectQuery) ([]relation.Subject, error) {
	const op = "sqlstore.ReadSubjects"
	args := []any{obj.Type, obj.ID, rel}
	var ors []string
	for _, sq := range queries {
		args = append(args, sq.Type, sq.Relation)
		cond := "(subject_type = $" + itoa(len(args)-1) + " AND subject_relation = $" + itoa(len(args))
		if sq.IDs != nil {
			if len(sq.IDs) == 0 {
				continue
			}
			cond += " AND subject_id IN (" + placeholders(len(args)+1, len(sq.IDs)) + ")"
			for _, id := range sq.IDs {
				args = append(args, id)
			}
		}
		ors = append(ors, cond+")")
	}
	if len(ors) == 0 {
		return nil, nil
	}
	rows, err := r.q.QueryContext(ctx, `SELECT subject_type, subject_id, subject_relation FROM tuples
		WHERE object_type = $1 AND object_id = $2 AND relation = $3 AND (`+strings.Join(ors, " OR ")+`)`, args...)
	if err != nil {
		return nil, classify(op, err)
	}
	defer rows.Close()
	var out []relation.Subject
	for rows.Next() {
		var s relation.Subject
		if err := rows.Scan(&s.Type, &s.ID, &s.Relation); err != nil {
			return nil, classify(op, err)
		}
		out = append(out, s)
	}
	return out, classify(op, rows.Err())
}

func (r tupleReader) ReadObjects(ctx context.Context, objectType, rel string, s relation.Subject) ([]string, error) {
	const op = "sqlstore.ReadObjects"
	rows, err := r.q.QueryContext(ctx, `SELECT object_id FROM tuples
		WHERE subject_type = $1 AND subject_id = $2 AND subject_relation = $3 AND object_type = $4 AND relation = $5`,
		s.Type, s.ID, s.Relation, objectType, rel)
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
