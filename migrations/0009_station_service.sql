-- A station's service facts for residents (issue 14): its opening hours as posted at the
-- door (free text, e.g. "周一至周五 8:30-17:30") and its service phone (服务电话), the
-- station's own public number. Neither is personal data: both are shown to every account
-- that sees the station.
ALTER TABLE stations ADD COLUMN opening_hours text;
ALTER TABLE stations ADD COLUMN phone text;

COMMENT ON COLUMN stations.opening_hours IS 'opening hours as posted at the door (free text), public';
COMMENT ON COLUMN stations.phone IS 'service phone (服务电话) of the station, public';
