-- Schema registration runs in the background: a pending registration keeps
-- its schema, and the failure it will end with (NULL to complete), on its
-- operation until the worker finishes it at due.
ALTER TABLE operations ADD COLUMN pending_schema TEXT;
ALTER TABLE operations ADD COLUMN pending_failure TEXT;
ALTER TABLE operations ADD COLUMN due INTEGER;

CREATE INDEX operations_due ON operations (due) WHERE due IS NOT NULL;
CREATE INDEX operations_by_age ON operations (connection_id, created, id);

CREATE TABLE schemas (
    connection_id TEXT    NOT NULL PRIMARY KEY REFERENCES connections (id) ON DELETE CASCADE,
    schema        TEXT    NOT NULL, -- store.Schema as JSON
    registered    INTEGER NOT NULL
) STRICT;
