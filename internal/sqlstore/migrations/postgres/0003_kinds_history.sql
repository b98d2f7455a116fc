-- Each applied kinds document keeps the changes it made to the previous
-- version, one per line, as `atrium kinds diff` prints them.

ALTER TABLE kinds_documents ADD COLUMN diff TEXT NOT NULL DEFAULT '';
