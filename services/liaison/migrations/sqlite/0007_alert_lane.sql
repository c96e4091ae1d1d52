-- The lane and risk of the assessment that raised each alert: WatchAlerts filters on them,
-- not on the shipment's assessment when the alert is read (a shipment re-assessed GREEN
-- since would leave a RED watcher's stream). NULL for alerts raised before: read as the
-- shipment's current assessment.
ALTER TABLE alerts ADD COLUMN lane INTEGER;
ALTER TABLE alerts ADD COLUMN risk REAL;
