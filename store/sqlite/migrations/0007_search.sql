-- The search index (store.Searcher), written with the items: in the
-- statements that write an item, so that an item and its index never part.
--
-- items gains seq, an INTEGER PRIMARY KEY, by which the index names the
-- item: SQLite's implicit rowid would do, but VACUUM may renumber it, and
-- it keeps an INTEGER PRIMARY KEY. SQLite cannot add one to a table, so
-- items is rebuilt, and activities with it, whose foreign key would
-- otherwise delete them with the old table (ON DELETE CASCADE); the rename
-- carries their foreign key over to the new items, as in 0004_tenant.sql.
-- The rest of the items' columns are as 0006_items.sql made them, with
-- (tenant, connection_id, id) now a UNIQUE key: SQLite kept it as an index
-- beside the rowid before too.
--
-- search_text and search_acl are what the full-text index, item_text,
-- holds of the item, which the store keeps it in step with in the
-- transaction (item_text_changes): the words of the item's searchable
-- properties and content (store.Words, joined by spaces), and its access
-- tokens (store.AccessTokens, joined by spaces). search_values are the values of its
-- queryable and refinable properties, which triggers keep item_values in
-- step with. The store writes the three from store.IndexOf under the
-- connection's schema, with the item, and again for every item of a
-- connection when a registration changes what its schema indexes. Open
-- fills them for the items stored before this migration, in its
-- transaction.

CREATE TABLE items_new (
    seq           INTEGER PRIMARY KEY,
    tenant        TEXT    NOT NULL,
    connection_id TEXT    NOT NULL,
    id            TEXT    NOT NULL,
    acl           TEXT    NOT NULL, -- []store.ACE as JSON
    properties    TEXT    NOT NULL, -- the client's JSON, byte for byte
    content_type  TEXT,             -- NULL when the item has no content
    content_value TEXT,
    label         TEXT,             -- the client's JSON; NULL when none
    version       INTEGER NOT NULL,
    created       INTEGER NOT NULL,
    modified      INTEGER NOT NULL,
    search_text   TEXT,             -- the words that item_text holds of the item
    search_acl    TEXT,             -- the access tokens that item_text holds
    search_values TEXT,             -- item_values' rows of the item, as JSON; NULL for none
    UNIQUE (tenant, connection_id, id),
    FOREIGN KEY (tenant, connection_id) REFERENCES connections (tenant, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE activities_new (
    seq                 INTEGER PRIMARY KEY, -- the order they were recorded in
    tenant              TEXT    NOT NULL,
    connection_id       TEXT    NOT NULL,
    item_id             TEXT    NOT NULL,
    type                TEXT    NOT NULL,
    start_time          INTEGER NOT NULL,
    performed_by_type   TEXT    NOT NULL,
    performed_by_id     TEXT    NOT NULL,
    performed_by_source TEXT    NOT NULL DEFAULT '',
    FOREIGN KEY (tenant, connection_id, item_id) REFERENCES items_new (tenant, connection_id, id) ON DELETE CASCADE
) STRICT;

INSERT INTO items_new (seq, tenant, connection_id, id, acl, properties, content_type, content_value, label, version, created, modified)
    SELECT rowid, tenant, connection_id, id, acl, properties, content_type, content_value, label, version, created, modified
    FROM items;
INSERT INTO activities_new (seq, tenant, connection_id, item_id, type, start_time, performed_by_type, performed_by_id, performed_by_source)
    SELECT seq, tenant, connection_id, item_id, type, start_time, performed_by_type, performed_by_id, performed_by_source
    FROM activities;

DROP TABLE activities;
DROP TABLE items;
ALTER TABLE items_new RENAME TO items;
ALTER TABLE activities_new RENAME TO activities;

CREATE INDEX activities_by_item ON activities (tenant, connection_id, item_id);

-- The principals that the entries of a connection's ACLs grant or deny
-- (or did: a row stays when its items go), as store.PrincipalOf and
-- store.AccessOf see them (item_principals): a search hashes the access
-- tokens of only those of the searcher's principals that are here, so
-- that a user in thousands of groups searches as one in the few that the
-- connection's ACLs name. Triggers add an item's.
CREATE TABLE acl_principals (
    tenant        TEXT NOT NULL,
    kind          TEXT NOT NULL, -- everyone, user, group or externalGroup
    value         TEXT NOT NULL, -- '' for everyone
    connection_id TEXT NOT NULL,
    access        TEXT NOT NULL, -- grant or deny
    PRIMARY KEY (tenant, kind, value, connection_id, access),
    FOREIGN KEY (tenant, connection_id) REFERENCES connections (tenant, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE INDEX acl_principals_by_connection ON acl_principals (tenant, connection_id);

-- The principals of the entries of the items' ACLs: everyone (and
-- everyoneExceptGuests) with value '', users, groups and external groups
-- that the entries grant or deny; the other entries are ignored.
CREATE VIEW item_principals (seq, tenant, connection_id, kind, value, access) AS
    SELECT i.seq, i.tenant, i.connection_id,
        CASE WHEN e.value ->> 'type' IN ('everyone', 'everyoneExceptGuests') THEN 'everyone' ELSE e.value ->> 'type' END,
        CASE WHEN e.value ->> 'type' IN ('everyone', 'everyoneExceptGuests') THEN '' ELSE e.value ->> 'value' END,
        e.value ->> 'accessType'
    FROM items AS i, json_each(i.acl) AS e
    WHERE e.value ->> 'type' IN ('everyone', 'everyoneExceptGuests', 'user', 'group', 'externalGroup')
        AND e.value ->> 'accessType' IN ('grant', 'deny');

INSERT OR IGNORE INTO acl_principals (tenant, kind, value, connection_id, access)
    SELECT tenant, kind, value, connection_id, access FROM item_principals;

CREATE TRIGGER items_principals_insert AFTER INSERT ON items BEGIN
    INSERT OR IGNORE INTO acl_principals (tenant, kind, value, connection_id, access)
        SELECT tenant, kind, value, connection_id, access FROM item_principals WHERE seq = new.seq;
END;

CREATE TRIGGER items_principals_update AFTER UPDATE OF acl ON items
    WHEN old.acl IS NOT new.acl
BEGIN
    INSERT OR IGNORE INTO acl_principals (tenant, kind, value, connection_id, access)
        SELECT tenant, kind, value, connection_id, access FROM item_principals WHERE seq = new.seq;
END;

-- The full-text index: FTS5 over the search columns of items (external
-- content: it keeps the index, items the text). The text is store.Words
-- already, which unicode61 splits at the spaces only. The access tokens
-- have a '_', a character of tokens here (tokenchars), which no word has:
-- a word never matches an access token, in whichever column, but for a
-- prefix, which a query restricts to search_text.
CREATE VIRTUAL TABLE item_text USING fts5(
    search_text, search_acl,
    content = 'items', content_rowid = 'seq',
    tokenize = "unicode61 remove_diacritics 0 tokenchars '_'"
);

-- Every item has its row in item_text (NULLs until the store indexes it),
-- so that the index can always remove the row it finds: an external
-- content index removes a row by the text it indexed.
INSERT INTO item_text (item_text) VALUES ('rebuild');

-- The items whose search columns a transaction changes, with what
-- item_text holds of them (old_text and old_acl, when indexed): triggers
-- fill it, and the store applies it to item_text (syncText) before the
-- transaction commits, in two statements, then empties it. FTS5 writes the
-- index's pending changes at every savepoint (a statement with triggers
-- has one): written by the triggers, item by item, each item of a batch
-- of PutItems would be a segment of the index of its own, to write and to
-- merge.
CREATE TABLE item_text_changes (
    seq      INTEGER PRIMARY KEY, -- the item's
    indexed  INTEGER NOT NULL,    -- 1 when item_text holds a row of it
    old_text TEXT,
    old_acl  TEXT
) STRICT;

-- INSERT OR IGNORE keeps what item_text holds, the first time the
-- transaction changes the item.
CREATE TRIGGER items_text_insert AFTER INSERT ON items BEGIN
    INSERT OR IGNORE INTO item_text_changes (seq, indexed) VALUES (new.seq, 0);
END;

-- A replace that leaves the text and the access as they were (a connector
-- pushing an item again) leaves the index alone.
CREATE TRIGGER items_text_update AFTER UPDATE OF search_text, search_acl ON items
    WHEN old.search_text IS NOT new.search_text OR old.search_acl IS NOT new.search_acl
BEGIN
    INSERT OR IGNORE INTO item_text_changes (seq, indexed, old_text, old_acl) VALUES (old.seq, 1, old.search_text, old.search_acl);
END;

CREATE TRIGGER items_text_delete AFTER DELETE ON items BEGIN
    INSERT OR IGNORE INTO item_text_changes (seq, indexed, old_text, old_acl) VALUES (old.seq, 1, old.search_text, old.search_acl);
END;

-- The values of the items' queryable and refinable properties
-- (store.IndexValue), which triggers write from items.search_values (a
-- JSON array of [name, str, key, num]): str in lower case for matching and
-- grouping, key as an aggregation's bucket shows it, num for numbers,
-- booleans and dates. They go with their item (ON DELETE CASCADE).
-- Clustered by item and name: an item's values are together, for its
-- deletion and for the aggregations of its property's values.
CREATE TABLE item_values (
    item          INTEGER NOT NULL REFERENCES items (seq) ON DELETE CASCADE,
    tenant        TEXT    NOT NULL,
    connection_id TEXT    NOT NULL,
    name          TEXT    NOT NULL, -- the property's name, in lower case
    str           TEXT    NOT NULL,
    key           TEXT    NOT NULL,
    num           REAL,             -- follows from str
    PRIMARY KEY (item, name, str, key)
) STRICT, WITHOUT ROWID;

-- The items with a value: for restrictions (name:value, name:prefix*,
-- name>number).
CREATE INDEX item_values_by_str ON item_values (tenant, connection_id, name, str, item);
CREATE INDEX item_values_by_num ON item_values (tenant, connection_id, name, num, item) WHERE num IS NOT NULL;

CREATE TRIGGER items_values_insert AFTER INSERT ON items WHEN new.search_values IS NOT NULL BEGIN
    INSERT INTO item_values (item, tenant, connection_id, name, str, key, num)
        SELECT new.seq, new.tenant, new.connection_id, value ->> 0, value ->> 1, value ->> 2, value ->> 3
        FROM json_each(new.search_values);
END;

-- A replace that leaves the values as they were leaves them alone.
CREATE TRIGGER items_values_update AFTER UPDATE OF search_values ON items
    WHEN old.search_values IS NOT new.search_values
BEGIN
    DELETE FROM item_values WHERE item = old.seq;
    INSERT INTO item_values (item, tenant, connection_id, name, str, key, num)
        SELECT new.seq, new.tenant, new.connection_id, value ->> 0, value ->> 1, value ->> 2, value ->> 3
        FROM json_each(new.search_values);
END;
