-- Every connection belongs to a tenant, and its id is unique within the
-- tenant only, as in Graph: the keys become (tenant, id), and the operations
-- and the schema of a connection carry its tenant in their keys and foreign
-- keys. The connections stored before tenants were recorded go to the
-- development tenant (auth.DevTenantID).
--
-- SQLite cannot change a primary key in place: the tables are rebuilt, the
-- children's foreign keys pointing at the new parent, which its rename
-- carries over to the new name.

CREATE TABLE connections_new (
    tenant      TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    state       TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    created     INTEGER NOT NULL, -- Unix nanoseconds, UTC
    modified    INTEGER NOT NULL,
    owner       TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (tenant, id)
) STRICT;

CREATE TABLE operations_new (
    tenant          TEXT    NOT NULL,
    connection_id   TEXT    NOT NULL,
    id              TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    error           TEXT,             -- store.ErrorDetail as JSON; NULL when none
    version         INTEGER NOT NULL,
    created         INTEGER NOT NULL,
    modified        INTEGER NOT NULL,
    pending_schema  TEXT,
    pending_failure TEXT,
    due             INTEGER,
    PRIMARY KEY (tenant, connection_id, id),
    FOREIGN KEY (tenant, connection_id) REFERENCES connections_new (tenant, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE schemas_new (
    tenant        TEXT    NOT NULL,
    connection_id TEXT    NOT NULL,
    schema        TEXT    NOT NULL, -- store.Schema as JSON
    registered    INTEGER NOT NULL,
    PRIMARY KEY (tenant, connection_id),
    FOREIGN KEY (tenant, connection_id) REFERENCES connections_new (tenant, id) ON DELETE CASCADE
) STRICT;

INSERT INTO connections_new (tenant, id, name, description, state, version, created, modified, owner)
    SELECT '00000000-0000-4000-8000-00000000c0de', id, name, description, state, version, created, modified, owner
    FROM connections;
INSERT INTO operations_new (tenant, connection_id, id, status, error, version, created, modified, pending_schema, pending_failure, due)
    SELECT '00000000-0000-4000-8000-00000000c0de', connection_id, id, status, error, version, created, modified, pending_schema, pending_failure, due
    FROM operations;
INSERT INTO schemas_new (tenant, connection_id, schema, registered)
    SELECT '00000000-0000-4000-8000-00000000c0de', connection_id, schema, registered
    FROM schemas;

-- The children first, so that dropping the parent deletes nothing through
-- the old foreign keys.
DROP TABLE schemas;
DROP TABLE operations;
DROP TABLE connections;
ALTER TABLE connections_new RENAME TO connections;
ALTER TABLE operations_new RENAME TO operations;
ALTER TABLE schemas_new RENAME TO schemas;

CREATE INDEX connections_by_owner ON connections (tenant, owner, id);
CREATE INDEX operations_due ON operations (due) WHERE due IS NOT NULL;
CREATE INDEX operations_by_age ON operations (tenant, connection_id, created, id);
