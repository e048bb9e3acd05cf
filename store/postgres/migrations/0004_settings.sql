-- The connection's other properties of today's Graph shape (configuration,
-- activitySettings, searchSettings, connectorId, contentCategory...), as one
-- JSON object of the properties whose value is not null
-- (store.Connection.Settings). The connections stored before have none; a
-- constant default adds the column without rewriting the table.
ALTER TABLE connections ADD COLUMN settings jsonb NOT NULL DEFAULT '{}';
