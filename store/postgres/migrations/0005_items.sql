-- A connection's items, its external groups and their members, and the
-- activities on its items (store.ItemStore), as in SQLite's
-- 0006_items.sql. Each belongs to its connection's tenant and goes with
-- the connection (ON DELETE CASCADE); an item's activities go with the
-- item, a group's members with the group. Times and versions are Unix
-- nanoseconds in bigint, ids use the "C" collation, as in the other tables.

-- The number of the connection's items, which PutItem (when it creates an
-- item) and DeleteItem keep in the transaction that adds or deletes it. A
-- constant default adds the column without rewriting the table.
ALTER TABLE connections ADD COLUMN item_count bigint NOT NULL DEFAULT 0;

-- properties and label are text, not jsonb: the store returns the bytes
-- it was given, which jsonb would not keep (it reorders and respaces).
CREATE TABLE items (
    tenant        text COLLATE "C" NOT NULL,
    connection_id text COLLATE "C" NOT NULL,
    id            text COLLATE "C" NOT NULL,
    acl           jsonb  NOT NULL, -- []store.ACE
    properties    text   NOT NULL, -- the client's JSON, byte for byte
    content_type  text,            -- NULL when the item has no content
    content_value text,
    label         text,            -- the client's JSON; NULL when none
    version       bigint NOT NULL,
    created       bigint NOT NULL,
    modified      bigint NOT NULL,
    PRIMARY KEY (tenant, connection_id, id),
    FOREIGN KEY (tenant, connection_id) REFERENCES connections (tenant, id) ON DELETE CASCADE
);

CREATE TABLE external_groups (
    tenant        text COLLATE "C" NOT NULL,
    connection_id text COLLATE "C" NOT NULL,
    id            text COLLATE "C" NOT NULL,
    display_name  text   NOT NULL,
    description   text   NOT NULL DEFAULT '',
    version       bigint NOT NULL,
    created       bigint NOT NULL,
    modified      bigint NOT NULL,
    PRIMARY KEY (tenant, connection_id, id),
    FOREIGN KEY (tenant, connection_id) REFERENCES connections (tenant, id) ON DELETE CASCADE
);

-- A member that is an external group (type externalGroup) names it by id,
-- with no foreign key: groups may nest and form cycles, and deleting a
-- group leaves the rows of the groups it is a member of, as ACLs that name
-- it stay.
CREATE TABLE group_members (
    tenant          text COLLATE "C" NOT NULL,
    connection_id   text COLLATE "C" NOT NULL,
    group_id        text COLLATE "C" NOT NULL,
    member_id       text COLLATE "C" NOT NULL,
    type            text NOT NULL,             -- user, group or externalGroup
    identity_source text NOT NULL DEFAULT '', -- '' when the client did not send it
    PRIMARY KEY (tenant, connection_id, group_id, member_id),
    FOREIGN KEY (tenant, connection_id, group_id) REFERENCES external_groups (tenant, connection_id, id) ON DELETE CASCADE
);

-- Which groups have a member: the way up from a user to the external
-- groups that hold it, directly or through other groups.
CREATE INDEX group_members_by_member ON group_members (tenant, connection_id, member_id);

CREATE TABLE activities (
    seq                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- the order they were recorded in
    tenant              text COLLATE "C" NOT NULL,
    connection_id       text COLLATE "C" NOT NULL,
    item_id             text COLLATE "C" NOT NULL,
    type                text   NOT NULL,
    start_time          bigint NOT NULL,
    performed_by_type   text   NOT NULL,
    performed_by_id     text   NOT NULL,
    performed_by_source text   NOT NULL DEFAULT '',
    FOREIGN KEY (tenant, connection_id, item_id) REFERENCES items (tenant, connection_id, id) ON DELETE CASCADE
);

-- Deleting an item finds its activities by this index, not by a scan.
CREATE INDEX activities_by_item ON activities (tenant, connection_id, item_id);
