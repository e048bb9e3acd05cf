-- The app id of the application that created each connection; '' for the
-- connections created before ownership was recorded, which only callers
-- with ExternalConnection.ReadWrite.All or Read.All see.
ALTER TABLE connections ADD COLUMN owner text COLLATE "C" NOT NULL DEFAULT '';
CREATE INDEX connections_by_owner ON connections (owner, id);
