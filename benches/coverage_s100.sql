-- The database's side of benches/coverage_s100.sh: the coverage of one station kind for the
-- whole zone, done by PostGIS and pgRouting at their best on the same data.
--
-- Run once (not timed): every building's nearest network node and its straight access leg,
-- kept in a table, as the server keeps its snaps in memory. Then, timed, the work of one
-- `GET /api/coverage?kind=KIND&minutes=10`: one multi-source pgr_drivingDistance from the
-- stations' nearest nodes within the cutoff (500 m, the ten-minute preset), joined to the
-- buildings and summed per second-level grid. A what-if move is the same query with one
-- start node changed, so it costs the same. Snapping to nodes instead of edges makes this
-- slightly less work than the server does.
--
--   psql "$DATABASE_URL" -v kind=elderly_care -v cutoff=500 -f benches/coverage_s100.sql

\set ON_ERROR_STOP on
CREATE EXTENSION IF NOT EXISTS pgrouting;

CREATE UNLOGGED TABLE IF NOT EXISTS bench_building_node AS
SELECT b.id, b.grid_id, b.residents, n.id AS node,
       ST_Distance(b.anchor::geography, n.geom::geography) AS leg
  FROM buildings b
  CROSS JOIN LATERAL (SELECT id, geom FROM network_nodes ORDER BY geom <-> b.anchor LIMIT 1) n;
CREATE INDEX IF NOT EXISTS bench_building_node_node ON bench_building_node (node);
ANALYZE bench_building_node;

CREATE UNLOGGED TABLE IF NOT EXISTS bench_station_node AS
SELECT s.id, s.kind, n.id AS node
  FROM stations s
  CROSS JOIN LATERAL (SELECT id FROM network_nodes ORDER BY geom <-> s.geom LIMIT 1) n;

PREPARE coverage(text, float8) AS
WITH reached AS (
  SELECT node, agg_cost FROM pgr_drivingDistance(
    'SELECT id, source, target, length_m AS cost, length_m AS reverse_cost FROM network_edges',
    (SELECT array_agg(DISTINCT node) FROM bench_station_node WHERE kind = $1),
    $2, directed => false, equicost => true)
)
SELECT b.grid_id, count(*) AS buildings,
       count(*) FILTER (WHERE r.agg_cost + b.leg <= $2) AS covered,
       sum(b.residents) FILTER (WHERE r.agg_cost + b.leg <= $2) AS residents_covered
  FROM bench_building_node b LEFT JOIN reached r ON r.node = b.node
 GROUP BY b.grid_id;

\timing on
\o /dev/null
EXECUTE coverage(:'kind', :cutoff);
EXECUTE coverage(:'kind', :cutoff);
EXECUTE coverage(:'kind', :cutoff);
EXECUTE coverage(:'kind', :cutoff);
EXECUTE coverage(:'kind', :cutoff);
\o
