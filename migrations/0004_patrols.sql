-- Weekly grid patrols (issue 6): patrols with their GPS tracks (sent whole or in numbered
-- chunks), households visited, incidents found and their lifecycle, photos.
-- Every patrol, chunk, incident, transition and photo carries an id the client made
-- (UUID), so a re-sent upload finds its earlier self: same body, same answer; another
-- body under the same id is refused. `body_hash` is the SHA-256 of the request as parsed.

CREATE TABLE patrols (
    id             uuid PRIMARY KEY,
    account_id     bigint NOT NULL REFERENCES accounts (id),
    staff_id       bigint REFERENCES staff (id),
    started_at     timestamptz NOT NULL,
    ended_at       timestamptz,
    -- How many chunks the track has, once the client says (with the end, or with a
    -- whole track sent at once).
    chunks         integer CHECK (chunks >= 0),
    crs            text NOT NULL CHECK (crs IN ('wgs84', 'gcj02', 'bd09')),
    notes          text,
    body_hash      bytea NOT NULL,
    end_hash       bytea,
    -- Filled when the patrol is complete: ended, with every chunk of its track.
    complete       boolean NOT NULL DEFAULT false,
    track          geometry(LineString, 4326),
    points         integer,
    length_m       double precision,
    walked_m       double precision,
    max_speed_kmh  double precision,
    -- Segments above the speed limit: [{segment, speed_kmh, distance_m, seconds}].
    speed_flags    jsonb NOT NULL DEFAULT '[]',
    received_at    timestamptz NOT NULL DEFAULT now(),
    completed_at   timestamptz,
    CHECK (ended_at IS NULL OR ended_at >= started_at),
    CHECK (NOT complete OR (ended_at IS NOT NULL AND track IS NOT NULL))
);
CREATE INDEX patrols_started ON patrols (started_at);
CREATE INDEX patrols_account ON patrols (account_id, started_at);
CREATE INDEX patrols_track ON patrols USING gist (track);

-- The grids a patrol was for, and once it is complete how much of its walked length
-- fell inside each (computed against the grid's boundary at that time).
CREATE TABLE patrol_grids (
    patrol_id        uuid NOT NULL REFERENCES patrols (id),
    grid_id          bigint NOT NULL REFERENCES grids (id),
    length_inside_m  double precision,
    share_inside     double precision CHECK (share_inside BETWEEN 0 AND 1.000001),
    PRIMARY KEY (patrol_id, grid_id)
);
CREATE INDEX patrol_grids_grid ON patrol_grids (grid_id);

-- Track chunks, numbered from 0. Coordinates are stored converted to WGS 84.
CREATE TABLE patrol_chunks (
    patrol_id    uuid NOT NULL REFERENCES patrols (id),
    seq          integer NOT NULL CHECK (seq >= 0),
    id           uuid NOT NULL UNIQUE,
    body_hash    bytea NOT NULL,
    lon          double precision[] NOT NULL,
    lat          double precision[] NOT NULL,
    t            timestamptz[] NOT NULL,
    accuracy_m   real[] NOT NULL,
    first_t      timestamptz NOT NULL,
    last_t       timestamptz NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (patrol_id, seq),
    CHECK (cardinality(lon) > 0 AND cardinality(lon) = cardinality(lat)
           AND cardinality(lon) = cardinality(t) AND cardinality(lon) = cardinality(accuracy_m))
);

-- Households reached per building.
CREATE TABLE patrol_visits (
    patrol_id    uuid NOT NULL REFERENCES patrols (id),
    building_id  bigint NOT NULL REFERENCES buildings (id),
    households   integer NOT NULL CHECK (households > 0),
    PRIMARY KEY (patrol_id, building_id)
);

-- Incidents found on patrol (or reported otherwise). `patrol_id` is not a foreign key:
-- an incident queued offline may reach the server before its patrol does.
CREATE TABLE incidents (
    id                 uuid PRIMARY KEY,
    patrol_id          uuid,
    grid_id            bigint NOT NULL REFERENCES grids (id),
    category           text NOT NULL CHECK (category IN ('dispute', 'safety_hazard', 'environment',
                         'facility_damage', 'residents_request', 'other')),
    description        text NOT NULL,
    geom               geometry(Point, 4326) NOT NULL,
    crs                text NOT NULL CHECK (crs IN ('wgs84', 'gcj02', 'bd09')),
    reported_at        timestamptz NOT NULL,
    account_id         bigint NOT NULL REFERENCES accounts (id),
    staff_id           bigint REFERENCES staff (id),
    status             text NOT NULL CHECK (status IN ('reported', 'assigned', 'in_progress',
                         'resolved', 'verified', 'closed')),
    status_at          timestamptz NOT NULL,
    assignee_staff_id  bigint REFERENCES staff (id),
    body_hash          bytea NOT NULL,
    received_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX incidents_grid ON incidents (grid_id, reported_at);
CREATE INDEX incidents_open ON incidents (status) WHERE status NOT IN ('verified', 'closed');
CREATE INDEX incidents_geom ON incidents USING gist (geom);
CREATE INDEX incidents_patrol ON incidents (patrol_id) WHERE patrol_id IS NOT NULL;

-- Every step of an incident's lifecycle: who, when, from what to what. Step 0 is the report.
CREATE TABLE incident_events (
    id                 uuid PRIMARY KEY,
    incident_id        uuid NOT NULL REFERENCES incidents (id),
    step               integer NOT NULL,
    from_status        text,
    to_status          text NOT NULL,
    at                 timestamptz NOT NULL DEFAULT now(),
    account_id         bigint REFERENCES accounts (id),
    actor              text NOT NULL,
    assignee_staff_id  bigint REFERENCES staff (id),
    note               text,
    body_hash          bytea NOT NULL,
    UNIQUE (incident_id, step)
);

-- Photos of incidents, in the database with their SHA-256.
CREATE TABLE incident_photos (
    id            uuid PRIMARY KEY,
    incident_id   uuid NOT NULL REFERENCES incidents (id),
    content_type  text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
    bytes         integer NOT NULL CHECK (bytes > 0),
    sha256        bytea NOT NULL CHECK (length(sha256) = 32),
    data          bytea NOT NULL,
    account_id    bigint NOT NULL REFERENCES accounts (id),
    uploaded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX incident_photos_incident ON incident_photos (incident_id);
