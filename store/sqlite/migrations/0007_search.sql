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
-- holds of the item, which triggers keep it in step with: the words of the
-- item's searchable properties and content (store.Words, joined by
-- spaces), and its access tokens (store.AccessTokens). The store writes
-- them, and the item's values (item_values), from store.IndexOf under the
-- connection's schema, in the transaction that writes the item, and again
-- for every item of a connection when a registration changes what its
-- schema indexes. Open fills them for the items stored before this
-- migration, in its transaction.

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

-- The full-text index: FTS5 over the search columns of items (external
-- content: it keeps the index, items the text). The text is store.Words
-- already, which unicode61 splits at the spaces only; the tokens of
-- search_acl are hexadecimal. A query restricts each word to its column.
CREATE VIRTUAL TABLE item_text USING fts5(
    search_text, search_acl,
    content = 'items', content_rowid = 'seq',
    tokenize = 'unicode61 remove_diacritics 0'
);

-- Every item has its row in item_text (NULLs until the store indexes it),
-- so that the triggers can always remove the row they find: an external
-- content index removes a row by the text it indexed, which the old row of
-- items holds.
INSERT INTO item_text (item_text) VALUES ('rebuild');

CREATE TRIGGER items_index_insert AFTER INSERT ON items BEGIN
    INSERT INTO item_text (rowid, search_text, search_acl) VALUES (new.seq, new.search_text, new.search_acl);
END;

CREATE TRIGGER items_index_delete AFTER DELETE ON items BEGIN
    INSERT INTO item_text (item_text, rowid, search_text, search_acl) VALUES ('delete', old.seq, old.search_text, old.search_acl);
END;

-- A replace that leaves the text and the access as they were (a connector
-- pushing an item again) leaves the index alone.
CREATE TRIGGER items_index_update AFTER UPDATE OF search_text, search_acl ON items
    WHEN old.search_text IS NOT new.search_text OR old.search_acl IS NOT new.search_acl
BEGIN
    INSERT INTO item_text (item_text, rowid, search_text, search_acl) VALUES ('delete', old.seq, old.search_text, old.search_acl);
    INSERT INTO item_text (rowid, search_text, search_acl) VALUES (new.seq, new.search_text, new.search_acl);
END;

-- The values of the items' queryable and refinable properties
-- (store.IndexValue): str in lower case for matching and grouping, key as
-- an aggregation's bucket shows it, num for numbers, booleans and dates.
-- They go with their item (ON DELETE CASCADE).
CREATE TABLE item_values (
    item          INTEGER NOT NULL REFERENCES items (seq) ON DELETE CASCADE,
    tenant        TEXT    NOT NULL,
    connection_id TEXT    NOT NULL,
    name          TEXT    NOT NULL, -- the property's name, in lower case
    str           TEXT    NOT NULL,
    key           TEXT    NOT NULL,
    num           REAL
) STRICT;

-- An item's values: for its deletion and its aggregations.
CREATE INDEX item_values_by_item ON item_values (item, name);
-- The items with a value: for restrictions (name:value, name:prefix*,
-- name>number).
CREATE INDEX item_values_by_str ON item_values (tenant, connection_id, name, str, item);
CREATE INDEX item_values_by_num ON item_values (tenant, connection_id, name, num, item) WHERE num IS NOT NULL;
