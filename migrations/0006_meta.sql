-- Small facts about the stored data, e.g. where the walking network came from
-- (`network_source` = `osm` when drawn from OpenStreetMap, which must then be credited).
CREATE TABLE meta (
    key    text PRIMARY KEY,
    value  text NOT NULL
);
