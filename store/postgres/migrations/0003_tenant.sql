-- Every connection belongs to a tenant, and its id is unique within the
-- tenant only, as in Graph: the keys become (tenant, id), and the operations
-- and the schema of a connection carry its tenant in their keys and foreign
-- keys. The connections stored before tenants were recorded go to the
-- development tenant (auth.DevTenantID); the default serves those rows
-- only, and goes once they have it. Replicas of an older graphconn, which
-- know connections by id alone, cannot run on these tables: stop them
-- before the upgrade.

ALTER TABLE schemas DROP CONSTRAINT schemas_connection_id_fkey;
ALTER TABLE operations DROP CONSTRAINT operations_connection_id_fkey;

ALTER TABLE connections ADD COLUMN tenant text COLLATE "C" NOT NULL DEFAULT '00000000-0000-4000-8000-00000000c0de';
ALTER TABLE operations ADD COLUMN tenant text COLLATE "C" NOT NULL DEFAULT '00000000-0000-4000-8000-00000000c0de';
ALTER TABLE schemas ADD COLUMN tenant text COLLATE "C" NOT NULL DEFAULT '00000000-0000-4000-8000-00000000c0de';
ALTER TABLE connections ALTER COLUMN tenant DROP DEFAULT;
ALTER TABLE operations ALTER COLUMN tenant DROP DEFAULT;
ALTER TABLE schemas ALTER COLUMN tenant DROP DEFAULT;

ALTER TABLE connections DROP CONSTRAINT connections_pkey, ADD PRIMARY KEY (tenant, id);
ALTER TABLE operations DROP CONSTRAINT operations_pkey, ADD PRIMARY KEY (tenant, connection_id, id),
    ADD FOREIGN KEY (tenant, connection_id) REFERENCES connections (tenant, id) ON DELETE CASCADE;
ALTER TABLE schemas DROP CONSTRAINT schemas_pkey, ADD PRIMARY KEY (tenant, connection_id),
    ADD FOREIGN KEY (tenant, connection_id) REFERENCES connections (tenant, id) ON DELETE CASCADE;

DROP INDEX connections_by_owner;
CREATE INDEX connections_by_owner ON connections (tenant, owner, id);
DROP INDEX operations_by_age;
CREATE INDEX operations_by_age ON operations (tenant, connection_id, created, id);
-- At most one registration in progress per connection (see 0001_init.sql).
DROP INDEX operations_one_registration;
CREATE UNIQUE INDEX operations_one_registration ON operations (tenant, connection_id)
    WHERE due IS NOT NULL AND status NOT IN ('completed', 'failed');
