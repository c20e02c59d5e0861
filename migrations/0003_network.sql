-- Walking network (issue 5): nodes and undirected edges with lengths in metres.
-- Replaced as a whole by store::network::save_network; pgRouting reads network_edges
-- directly (id, source, target, length_m as cost and reverse_cost).

CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE network_nodes (
    id        bigint PRIMARY KEY,                 -- OSM node id, or a generated id
    geom      geometry(Point, 4326) NOT NULL,
    component integer NOT NULL DEFAULT 0          -- connected component, 0 = largest
);

CREATE TABLE network_edges (
    id       bigint PRIMARY KEY,
    source   bigint NOT NULL REFERENCES network_nodes (id),
    target   bigint NOT NULL REFERENCES network_nodes (id),
    length_m double precision NOT NULL CHECK (length_m >= 0),  -- haversine length of geom
    highway  text NOT NULL DEFAULT '',
    name     text,
    geom     geometry(LineString, 4326) NOT NULL  -- runs from source to target
);

CREATE INDEX network_nodes_geom_idx ON network_nodes USING gist (geom);
CREATE INDEX network_edges_geom_idx ON network_edges USING gist (geom);
CREATE INDEX network_edges_source_idx ON network_edges (source);
CREATE INDEX network_edges_target_idx ON network_edges (target);
