-- Party organisations (党组织) and their members: the community's 大党委, a branch (党支部)
-- per first-level grid and a group (党小组) per second-level grid, functional organisations
-- (功能党组织) of compounds, commercial buildings and associations; the cell every party
-- member belongs to by where they live; 双报到 units, members, volunteer projects and posts;
-- social organisations (社会组织) with their public-welfare kind.

-- Social organisations registered in a community: service associations (服务协会/社团),
-- public-welfare and volunteer organisations.
CREATE TABLE associations (
    id            bigserial PRIMARY KEY,
    code          text NOT NULL UNIQUE,
    name          text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('service', 'public_welfare', 'volunteer', 'other')),
    community_id  bigint NOT NULL REFERENCES communities (id),
    founded_year  integer CHECK (founded_year BETWEEN 1900 AND 2100),
    geom          geometry(Point, 4326)
);
CREATE INDEX associations_community ON associations (community_id);

-- Residents who are members of an association.
CREATE TABLE association_members (
    association_id  bigint NOT NULL REFERENCES associations (id) ON DELETE CASCADE,
    person_id       bigint NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    PRIMARY KEY (association_id, person_id)
);
CREATE INDEX association_members_person ON association_members (person_id);

-- Party organisations. Grid cells (branch, group) are created and dissolved with their grid
-- in the grid-change transaction; a dissolved organisation keeps its row for history.
CREATE TABLE party_orgs (
    id              bigserial PRIMARY KEY,
    code            text NOT NULL UNIQUE,
    name            text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('community_committee', 'grid_branch', 'grid_group', 'functional')),
    form            text NOT NULL CHECK (form IN ('committee', 'branch', 'group')),
    community_id    bigint NOT NULL REFERENCES communities (id),
    grid_id         bigint REFERENCES grids (id),
    compound_id     bigint REFERENCES compounds (id),
    building_id     bigint REFERENCES buildings (id),
    association_id  bigint REFERENCES associations (id),
    founded_at      timestamptz NOT NULL DEFAULT now(),
    dissolved_at    timestamptz,
    CHECK ((kind IN ('grid_branch', 'grid_group')) = (grid_id IS NOT NULL)),
    CHECK ((kind = 'functional') = (num_nonnulls(compound_id, building_id, association_id) = 1)),
    CHECK (kind = 'functional' OR num_nonnulls(compound_id, building_id, association_id) = 0),
    CHECK (kind <> 'community_committee' OR form = 'committee')
);
CREATE UNIQUE INDEX party_orgs_one_per_grid ON party_orgs (grid_id)
    WHERE dissolved_at IS NULL AND grid_id IS NOT NULL;
CREATE UNIQUE INDEX party_orgs_one_committee ON party_orgs (community_id)
    WHERE dissolved_at IS NULL AND kind = 'community_committee';
CREATE INDEX party_orgs_community ON party_orgs (community_id) WHERE dissolved_at IS NULL;
CREATE INDEX party_orgs_compound ON party_orgs (compound_id) WHERE compound_id IS NOT NULL;
CREATE INDEX party_orgs_building ON party_orgs (building_id) WHERE building_id IS NOT NULL;
CREATE INDEX party_orgs_association ON party_orgs (association_id) WHERE association_id IS NOT NULL;

-- Secretaries, deputies, committee members, part-time committee members (兼职委员) and
-- group leaders. Part-time members may live elsewhere (a person without a home building).
CREATE TABLE party_officers (
    org_id     bigint NOT NULL REFERENCES party_orgs (id) ON DELETE CASCADE,
    person_id  bigint NOT NULL REFERENCES people (id),
    role       text NOT NULL CHECK (role IN ('secretary', 'deputy_secretary', 'committee',
                                            'part_time_committee', 'group_leader')),
    since      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, person_id)
);
CREATE UNIQUE INDEX party_officers_one_secretary ON party_officers (org_id) WHERE role = 'secretary';
CREATE UNIQUE INDEX party_officers_one_leader ON party_officers (org_id) WHERE role = 'group_leader';
CREATE INDEX party_officers_person ON party_officers (person_id);

-- The cell of every party member: the second-level grid of their home building (its
-- first-level parent is the branch). Kept equal to buildings.grid_id by the triggers below,
-- in the transaction that changes a person or a building's grid.
CREATE TABLE party_assignments (
    person_id  bigint PRIMARY KEY REFERENCES people (id) ON DELETE CASCADE,
    grid_id    bigint NOT NULL REFERENCES grids (id),
    since      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX party_assignments_grid ON party_assignments (grid_id);

-- Membership in a functional organisation: at most one per member.
CREATE TABLE functional_members (
    person_id  bigint PRIMARY KEY REFERENCES people (id) ON DELETE CASCADE,
    org_id     bigint NOT NULL REFERENCES party_orgs (id) ON DELETE CASCADE,
    since      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX functional_members_org ON functional_members (org_id);

-- 双报到: units whose party organisation registered with a community.
CREATE TABLE dual_units (
    id              bigserial PRIMARY KEY,
    code            text NOT NULL UNIQUE,
    name            text NOT NULL,
    party_org_name  text,
    community_id    bigint NOT NULL REFERENCES communities (id),
    registered_on   date NOT NULL,
    geom            geometry(Point, 4326)
);
CREATE INDEX dual_units_community ON dual_units (community_id);

-- 双报到: in-service members registered with the community where they live.
CREATE TABLE dual_members (
    person_id      bigint PRIMARY KEY REFERENCES people (id) ON DELETE CASCADE,
    unit_id        bigint REFERENCES dual_units (id) ON DELETE SET NULL,
    community_id   bigint NOT NULL REFERENCES communities (id),
    registered_on  date NOT NULL
);
CREATE INDEX dual_members_community ON dual_members (community_id);
CREATE INDEX dual_members_unit ON dual_members (unit_id);

-- Volunteer projects a unit (or the community itself) takes on for a year.
CREATE TABLE volunteer_projects (
    id            bigserial PRIMARY KEY,
    code          text NOT NULL UNIQUE,
    name          text NOT NULL,
    community_id  bigint NOT NULL REFERENCES communities (id),
    unit_id       bigint REFERENCES dual_units (id) ON DELETE CASCADE,
    year          integer NOT NULL CHECK (year BETWEEN 2000 AND 2100)
);
CREATE INDEX volunteer_projects_unit ON volunteer_projects (unit_id, year);

-- Volunteer posts (志愿服务岗位) members take on for a year.
CREATE TABLE volunteer_posts (
    person_id   bigint NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    year        integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    post        text NOT NULL,
    project_id  bigint REFERENCES volunteer_projects (id) ON DELETE SET NULL,
    PRIMARY KEY (person_id, year, post)
);

-- Party members whose home or membership changed get the cell of their building's grid.
CREATE FUNCTION party_assign_people() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM party_assignments a USING changed_people c
     WHERE a.person_id = c.id AND (c.membership = 'none' OR c.home_building_id IS NULL);
    INSERT INTO party_assignments (person_id, grid_id)
    SELECT c.id, b.grid_id FROM changed_people c JOIN buildings b ON b.id = c.home_building_id
     WHERE c.membership <> 'none'
    ON CONFLICT (person_id) DO UPDATE SET grid_id = EXCLUDED.grid_id, since = now()
     WHERE party_assignments.grid_id <> EXCLUDED.grid_id;
    RETURN NULL;
END $$;

CREATE TRIGGER people_party_insert AFTER INSERT ON people
    REFERENCING NEW TABLE AS changed_people
    FOR EACH STATEMENT EXECUTE FUNCTION party_assign_people();
CREATE TRIGGER people_party_update AFTER UPDATE ON people
    REFERENCING NEW TABLE AS changed_people
    FOR EACH STATEMENT EXECUTE FUNCTION party_assign_people();

-- Members of buildings whose grid changed follow their building.
CREATE FUNCTION party_follow_buildings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE party_assignments a SET grid_id = b.grid_id, since = now()
      FROM people p JOIN changed_buildings b ON b.id = p.home_building_id
     WHERE a.person_id = p.id AND a.grid_id <> b.grid_id;
    RETURN NULL;
END $$;

CREATE TRIGGER buildings_party_update AFTER UPDATE ON buildings
    REFERENCING NEW TABLE AS changed_buildings
    FOR EACH STATEMENT EXECUTE FUNCTION party_follow_buildings();

-- A database that had grids and people before this migration gets their cells and
-- assignments now (codes and names as domain::party::cell_org_code and cell_org_name make
-- them; later grids get theirs in the grid-change transaction).
INSERT INTO party_orgs (code, name, kind, form, community_id, grid_id)
SELECT g.code || CASE g.level WHEN 1 THEN '-ZB' ELSE '-XZ' END,
       g.name || CASE g.level WHEN 1 THEN '党支部' ELSE '党小组' END,
       CASE g.level WHEN 1 THEN 'grid_branch' ELSE 'grid_group' END,
       CASE g.level WHEN 1 THEN 'branch' ELSE 'group' END,
       g.community_id, g.id
FROM current_grids g;

INSERT INTO party_orgs (code, name, kind, form, community_id)
SELECT c.code || '-DW', c.name || '党委', 'community_committee', 'committee', c.id
FROM communities c WHERE EXISTS (SELECT 1 FROM grids g WHERE g.community_id = c.id);

INSERT INTO party_assignments (person_id, grid_id)
SELECT p.id, b.grid_id FROM people p JOIN buildings b ON b.id = p.home_building_id
WHERE p.membership <> 'none';
