-- A connection's items, its external groups and their members, and the
-- activities on its items (store.ItemStore). Each belongs to its
-- connection's tenant and goes with the connection (ON DELETE CASCADE);
-- an item's activities go with the item, a group's members with the group.
-- Times and versions are Unix nanoseconds, UTC, as in the other tables.

-- The number of the connection's items, which PutItem (when it creates an
-- item) and DeleteItem keep in the transaction that adds or deletes it.
-- The connections stored before have none.
ALTER TABLE connections ADD COLUMN item_count INTEGER NOT NULL DEFAULT 0;

CREATE TABLE items (
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
    PRIMARY KEY (tenant, connection_id, id),
    FOREIGN KEY (tenant, connection_id) REFERENCES connections (tenant, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE external_groups (
    tenant        TEXT    NOT NULL,
    connection_id TEXT    NOT NULL,
    id            TEXT    NOT NULL,
    display_name  TEXT    NOT NULL,
    description   TEXT    NOT NULL DEFAULT '',
    version       INTEGER NOT NULL,
    created       INTEGER NOT NULL,
    modified      INTEGER NOT NULL,
    PRIMARY KEY (tenant, connection_id, id),
    FOREIGN KEY (tenant, connection_id) REFERENCES connections (tenant, id) ON DELETE CASCADE
) STRICT;

-- A member that is an external group (type externalGroup) names it by id,
-- with no foreign key: groups may nest and form cycles, and deleting a
-- group leaves the rows of the groups it is a member of, as ACLs that name
-- it stay.
CREATE TABLE group_members (
    tenant          TEXT NOT NULL,
    connection_id   TEXT NOT NULL,
    group_id        TEXT NOT NULL,
    member_id       TEXT NOT NULL,
    type            TEXT NOT NULL,             -- user, group or externalGroup
    identity_source TEXT NOT NULL DEFAULT '', -- '' when the client did not send it
    PRIMARY KEY (tenant, connection_id, group_id, member_id),
    FOREIGN KEY (tenant, connection_id, group_id) REFERENCES external_groups (tenant, connection_id, id) ON DELETE CASCADE
) STRICT;

-- Which groups have a member: the way up from a user to the external
-- groups that hold it, directly or through other groups.
CREATE INDEX group_members_by_member ON group_members (tenant, connection_id, member_id);

CREATE TABLE activities (
    seq                 INTEGER PRIMARY KEY, -- the order they were recorded in
    tenant              TEXT    NOT NULL,
    connection_id       TEXT    NOT NULL,
    item_id             TEXT    NOT NULL,
    type                TEXT    NOT NULL,
    start_time          INTEGER NOT NULL,
    performed_by_type   TEXT    NOT NULL,
    performed_by_id     TEXT    NOT NULL,
    performed_by_source TEXT    NOT NULL DEFAULT '',
    FOREIGN KEY (tenant, connection_id, item_id) REFERENCES items (tenant, connection_id, id) ON DELETE CASCADE
) STRICT;

-- Deleting an item finds its activities by this index, not by a scan.
CREATE INDEX activities_by_item ON activities (tenant, connection_id, item_id);
