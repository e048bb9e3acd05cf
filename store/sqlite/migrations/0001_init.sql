CREATE TABLE connections (
    id          TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    state       TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    created     INTEGER NOT NULL, -- Unix nanoseconds, UTC
    modified    INTEGER NOT NULL
) STRICT;

CREATE TABLE operations (
    connection_id TEXT    NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    id            TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    error         TEXT,             -- store.ErrorDetail as JSON; NULL when none
    version       INTEGER NOT NULL,
    created       INTEGER NOT NULL,
    modified      INTEGER NOT NULL,
    PRIMARY KEY (connection_id, id)
) STRICT;
