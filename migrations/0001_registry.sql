-- The grid registry: the hierarchy from development zone down to buildings, the service
-- stations, people (with personal data split off) and grid staff.
-- All geometry is WGS 84 longitude/latitude (EPSG:4326) with a GiST index.

CREATE EXTENSION IF NOT EXISTS postgis;

-- Development zones, towns and street offices.
CREATE TABLE regions (
    id          bigserial PRIMARY KEY,
    code        text NOT NULL UNIQUE,
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('zone', 'town', 'street_office')),
    parent_id   bigint REFERENCES regions (id),
    geom        geometry(MultiPolygon, 4326)
);
CREATE INDEX regions_geom ON regions USING gist (geom);

-- Communities (社区), identified by their 12-digit statistical code.
CREATE TABLE communities (
    id          bigserial PRIMARY KEY,
    code        text NOT NULL UNIQUE CHECK (code ~ '^[0-9]{12}$'),
    name        text NOT NULL,
    region_id   bigint NOT NULL REFERENCES regions (id),
    geom        geometry(MultiPolygon, 4326) NOT NULL
);
CREATE INDEX communities_geom ON communities USING gist (geom);

-- A grid's identity; what it looks like over time is in grid_versions.
CREATE TABLE grids (
    id            bigserial PRIMARY KEY,
    community_id  bigint NOT NULL REFERENCES communities (id),
    level         smallint NOT NULL CHECK (level IN (1, 2)),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Every version of every grid. The current version has valid_to NULL; an edit closes the
-- current row and opens a new one; a deletion only closes it.
CREATE TABLE grid_versions (
    grid_id     bigint NOT NULL REFERENCES grids (id),
    version     integer NOT NULL CHECK (version >= 1),
    code        text NOT NULL,
    name        text NOT NULL,
    parent_id   bigint REFERENCES grids (id),
    geom        geometry(MultiPolygon, 4326) NOT NULL,
    valid_from  timestamptz NOT NULL,
    valid_to    timestamptz,
    changed_by  text,
    PRIMARY KEY (grid_id, version),
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
CREATE UNIQUE INDEX grid_versions_current_code ON grid_versions (code) WHERE valid_to IS NULL;
CREATE UNIQUE INDEX grid_versions_current_grid ON grid_versions (grid_id) WHERE valid_to IS NULL;
CREATE INDEX grid_versions_geom ON grid_versions USING gist (geom);
CREATE INDEX grid_versions_current_geom ON grid_versions USING gist (geom) WHERE valid_to IS NULL;
CREATE INDEX grid_versions_parent ON grid_versions (parent_id) WHERE valid_to IS NULL;
CREATE INDEX grid_versions_code ON grid_versions (code, valid_from);

-- The grids as they are now, with their level and community.
CREATE VIEW current_grids AS
SELECT g.id, g.level, g.community_id, v.parent_id, v.code, v.name, v.version, v.geom,
       v.valid_from
FROM grids g
JOIN grid_versions v ON v.grid_id = g.id AND v.valid_to IS NULL;

-- Compounds (小区/院落).
CREATE TABLE compounds (
    id              bigserial PRIMARY KEY,
    code            text NOT NULL UNIQUE,
    name            text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('residential', 'commercial', 'other')),
    occupancy_rate  double precision CHECK (occupancy_rate BETWEEN 0 AND 1),
    built_year      integer,
    community_id    bigint NOT NULL REFERENCES communities (id),
    geom            geometry(MultiPolygon, 4326)
);
CREATE INDEX compounds_geom ON compounds USING gist (geom);

-- Buildings (楼栋). `anchor` is the point on the footprint's surface that decides which
-- second-level grid the building belongs to; grid_id is kept equal to that grid by every
-- write of a building or a grid, in the same transaction.
CREATE TABLE buildings (
    id           bigserial PRIMARY KEY,
    code         text NOT NULL UNIQUE,
    name         text,
    address      text,
    compound_id  bigint REFERENCES compounds (id),
    households   integer NOT NULL DEFAULT 0 CHECK (households >= 0),
    residents    integer NOT NULL DEFAULT 0 CHECK (residents >= 0),
    employees    integer NOT NULL DEFAULT 0 CHECK (employees >= 0),
    floors       integer CHECK (floors >= 0),
    geom         geometry(MultiPolygon, 4326) NOT NULL,
    anchor       geometry(Point, 4326) GENERATED ALWAYS AS (ST_PointOnSurface(geom)) STORED,
    grid_id      bigint NOT NULL REFERENCES grids (id)
);
CREATE INDEX buildings_geom ON buildings USING gist (geom);
CREATE INDEX buildings_anchor ON buildings USING gist (anchor);
CREATE INDEX buildings_grid ON buildings (grid_id);
CREATE INDEX buildings_compound ON buildings (compound_id);

-- Service stations: the "1+8" system and other facilities planners care about.
CREATE TABLE stations (
    id            bigserial PRIMARY KEY,
    code          text NOT NULL UNIQUE,
    name          text NOT NULL,
    kind          text NOT NULL CHECK (kind IN (
                    'party_mass_centre', 'convenience', 'new_resident_training',
                    'elderly_care', 'youth', 'hardship_relief', 'volunteer', 'culture',
                    'social_org_incubation', 'clinic', 'kindergarten', 'school', 'market',
                    'park', 'police_post')),
    community_id  bigint REFERENCES communities (id),
    programmes    integer CHECK (programmes >= 0),
    address       text,
    geom          geometry(Point, 4326) NOT NULL
);
CREATE INDEX stations_geom ON stations USING gist (geom);
CREATE INDEX stations_kind ON stations (kind);

-- People: residents and party members. Only what aggregates need lives here; everything
-- that identifies a person is in person_details, which access rules keep from most roles.
CREATE TABLE people (
    id                bigserial PRIMARY KEY,
    code              text NOT NULL UNIQUE,
    home_building_id  bigint REFERENCES buildings (id),
    birth_year        integer,
    sex               text CHECK (sex IN ('M', 'F')),
    membership        text NOT NULL DEFAULT 'none'
                      CHECK (membership IN ('full', 'probationary', 'none'))
);
CREATE INDEX people_building ON people (home_building_id);
CREATE INDEX people_party ON people (home_building_id) WHERE membership <> 'none';

-- Personal data (name, phone, work unit, household), one row per person.
CREATE TABLE person_details (
    person_id  bigint PRIMARY KEY REFERENCES people (id) ON DELETE CASCADE,
    name       text NOT NULL,
    phone      text,
    work_unit  text,
    household  text
);

-- Grid staff: grid chiefs (网格长) and grid members (网格员). Their name and duty phone
-- are public (they are posted on grid notice boards); the link to a resident record is not.
CREATE TABLE staff (
    id         bigserial PRIMARY KEY,
    code       text NOT NULL UNIQUE,
    name       text NOT NULL,
    phone      text,
    person_id  bigint REFERENCES people (id),
    committee  boolean NOT NULL DEFAULT false
);

CREATE TABLE staff_assignments (
    id        bigserial PRIMARY KEY,
    grid_id   bigint NOT NULL REFERENCES grids (id),
    staff_id  bigint NOT NULL REFERENCES staff (id),
    role      text NOT NULL CHECK (role IN ('chief', 'member')),
    since     timestamptz NOT NULL DEFAULT now(),
    until     timestamptz
);
CREATE UNIQUE INDEX staff_one_chief ON staff_assignments (grid_id)
    WHERE role = 'chief' AND until IS NULL;
CREATE UNIQUE INDEX staff_once_per_grid ON staff_assignments (grid_id, staff_id)
    WHERE until IS NULL;

-- Every committed change, numbered; the number is announced on the `wangge_changes`
-- channel so that every server process can refresh its in-memory index.
CREATE TABLE changes (
    seq     bigserial PRIMARY KEY,
    layer   text NOT NULL,
    ids     bigint[] NOT NULL DEFAULT '{}',
    bbox    double precision[],
    at      timestamptz NOT NULL DEFAULT now()
);
