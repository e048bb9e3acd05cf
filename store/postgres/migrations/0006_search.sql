-- The search index (store.Searcher), as SQLite's 0007_search.sql: written
-- in the statement that writes an item, so that an item and its index
-- never part.
--
-- seq names the item in the index (item_values); it is also the order of
-- creation, by which unranked hits come, the newest first. search holds
-- the item's words (store.Words), with their positions, and its access
-- tokens (store.AccessTokens), which no word is: one GIN index finds the
-- items that have a query's words and that the searcher may see, as
-- SQLite's FTS5 index does, with no visit of the items that it leaves
-- out. The store writes search as a tsvector literal, so that no text
-- search configuration, parser or locale changes it, and matches it with
-- tsqueries it writes the same way. The store indexes the items stored
-- before this migration in its transaction.
ALTER TABLE items
    ADD COLUMN seq    bigint GENERATED ALWAYS AS IDENTITY,
    ADD COLUMN search tsvector NOT NULL DEFAULT '',
    ADD CONSTRAINT items_seq_key UNIQUE (seq);

CREATE INDEX items_search ON items USING gin (search);

-- The values of the items' queryable and refinable properties
-- (store.IndexValue): str in lower case for matching and grouping, key as
-- an aggregation's bucket shows it, num for numbers, booleans and dates.
-- They go with their item (ON DELETE CASCADE). The "C" collation orders
-- and compares them by bytes, as SQLite does.
CREATE TABLE item_values (
    item          bigint NOT NULL REFERENCES items (seq) ON DELETE CASCADE,
    tenant        text COLLATE "C" NOT NULL,
    connection_id text COLLATE "C" NOT NULL,
    name          text COLLATE "C" NOT NULL, -- the property's name, in lower case
    str           text COLLATE "C" NOT NULL,
    key           text COLLATE "C" NOT NULL,
    num           double precision
);

-- An item's values: for its deletion and its aggregations.
CREATE INDEX item_values_by_item ON item_values (item, name);
-- The items with a value: for restrictions (name:value, name:prefix*,
-- name>number); LIKE 'prefix%' uses the first, as its collation is "C".
CREATE INDEX item_values_by_str ON item_values (tenant, connection_id, name, str, item);
CREATE INDEX item_values_by_num ON item_values (tenant, connection_id, name, num, item) WHERE num IS NOT NULL;

-- The principals that the entries of a connection's ACLs grant or deny
-- (or did: a row stays when its items go), as store.PrincipalOf and
-- store.AccessOf see them: a search makes the access tokens of only those
-- of the searcher's principals that are here, so that a user in thousands
-- of groups searches as one in the few that the connection's ACLs name.
-- The store adds an item's when it writes its ACL.
CREATE TABLE acl_principals (
    tenant        text COLLATE "C" NOT NULL,
    kind          text COLLATE "C" NOT NULL, -- everyone, user, group or externalGroup
    value         text COLLATE "C" NOT NULL, -- '' for everyone
    connection_id text COLLATE "C" NOT NULL,
    access        text COLLATE "C" NOT NULL, -- grant or deny
    PRIMARY KEY (tenant, kind, value, connection_id, access),
    FOREIGN KEY (tenant, connection_id) REFERENCES connections (tenant, id) ON DELETE CASCADE
);

CREATE INDEX acl_principals_by_connection ON acl_principals (tenant, connection_id);
