-- The connection's other properties of today's Graph shape (configuration,
-- activitySettings, searchSettings, connectorId, contentCategory...), as one
-- JSON object of the properties whose value is not null
-- (store.Connection.Settings). The connections stored before have none.
ALTER TABLE connections ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
