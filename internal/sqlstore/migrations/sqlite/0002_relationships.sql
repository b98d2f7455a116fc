-- Relationship tuples object#relation@subject, and the relationship
-- revision: a single counter that every relationship write increments in
-- its transaction. The row lock it takes is held until commit, so
-- revisions are assigned in commit order (a sequence is not: its values are
-- handed out before commit), and a snapshot that reads revision R holds
-- exactly the writes up to R.

CREATE TABLE tuples (
    object_type      TEXT NOT NULL,
    object_id        TEXT NOT NULL,
    relation         TEXT NOT NULL,
    subject_type     TEXT NOT NULL,
    subject_id       TEXT NOT NULL,
    subject_relation TEXT NOT NULL,
    revision         BIGINT NOT NULL,
    PRIMARY KEY (object_type, object_id, relation, subject_type, subject_relation, subject_id)
);
CREATE INDEX tuples_by_subject ON tuples (subject_type, subject_id, subject_relation, object_type, relation, object_id);

CREATE TABLE relation_revision (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL
);
INSERT INTO relation_revision (id, revision) VALUES (1, 0);
