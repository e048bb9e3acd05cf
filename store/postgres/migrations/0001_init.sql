-- graphconn's tables, the same as SQLite's after all of its migrations.
-- Times and versions are Unix nanoseconds (UTC) in bigint, as in SQLite, so
-- that page tokens and ETags mean the same on both stores. Ids use the "C"
-- collation: byte order, as SQLite's, whatever the database's locale.

CREATE TABLE connections (
    id          text COLLATE "C" NOT NULL PRIMARY KEY,
    name        text   NOT NULL,
    description text   NOT NULL DEFAULT '',
    state       text   NOT NULL,
    version     bigint NOT NULL,
    created     bigint NOT NULL,
    modified    bigint NOT NULL
);

-- A pending schema registration keeps its schema, and the failure it will
-- end with (NULL to complete), on its operation until FinishDue finishes it
-- at due.
CREATE TABLE operations (
    connection_id   text COLLATE "C" NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    id              text COLLATE "C" NOT NULL,
    status          text   NOT NULL,
    error           jsonb,           -- store.ErrorDetail; NULL when none
    version         bigint NOT NULL,
    created         bigint NOT NULL,
    modified        bigint NOT NULL,
    pending_schema  jsonb,
    pending_failure jsonb,
    due             bigint,
    PRIMARY KEY (connection_id, id)
);

CREATE INDEX operations_due ON operations (due)
    WHERE due IS NOT NULL AND status NOT IN ('completed', 'failed');
CREATE INDEX operations_by_age ON operations (connection_id, created, id);

-- At most one registration in progress per connection, whatever the number
-- of replicas: RegisterSchema also locks the connection's row to report
-- which operation is in the way, and this index is the guarantee.
CREATE UNIQUE INDEX operations_one_registration ON operations (connection_id)
    WHERE due IS NOT NULL AND status NOT IN ('completed', 'failed');

CREATE TABLE schemas (
    connection_id text COLLATE "C" NOT NULL PRIMARY KEY REFERENCES connections (id) ON DELETE CASCADE,
    schema        jsonb  NOT NULL, -- store.Schema
    registered    bigint NOT NULL
);
