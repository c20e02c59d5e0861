-- The annual assessment (科学化考评体系, issue 15): 一述三评 of each community party
-- organisation and its secretary (the report on the year and satisfaction ratings in
-- layers), 四诺两考 of the members of the community's two committees (their pledges and
-- the annual and term assessment of each), the 双报到 evaluation (the community rates each
-- registered unit, community and unit rate each registered member, projects completed,
-- the year-start lists), and the settings of a year. Every row belongs to a year; the party
-- tables are read, never altered.

-- The settings of one year's assessment; a year without a row uses the defaults of
-- `domain::assess::settings` (docs/domain.md lists them).
CREATE TABLE assess_settings (
    year                    integer PRIMARY KEY CHECK (year BETWEEN 2000 AND 2100),
    -- 一述三评: the weight of each layer of ratings (summing to 1).
    weight_members          double precision NOT NULL CHECK (weight_members BETWEEN 0 AND 1),
    weight_residents        double precision NOT NULL CHECK (weight_residents BETWEEN 0 AND 1),
    weight_street           double precision NOT NULL CHECK (weight_street BETWEEN 0 AND 1),
    -- The lowest weighted score (0-100) of the grades 好, 较好 and 一般; below: 差.
    grade_good              double precision NOT NULL,
    grade_fair              double precision NOT NULL,
    grade_average           double precision NOT NULL,
    -- A layer rated below this is a warning (预警).
    warn_layer_below        double precision NOT NULL,
    -- 双报到: a unit or member rated below this is named in the 约谈 list (units) or
    -- among the poor members; at or above `notice_from` a unit is commended in the 通报.
    talk_below              double precision NOT NULL,
    notice_from             double precision NOT NULL,
    -- The scorecard's indicator weights (relative; those without data are left out).
    weight_patrol           double precision NOT NULL CHECK (weight_patrol >= 0),
    weight_visits           double precision NOT NULL CHECK (weight_visits >= 0),
    weight_incidents        double precision NOT NULL CHECK (weight_incidents >= 0),
    weight_coverage         double precision NOT NULL CHECK (weight_coverage >= 0),
    weight_findings         double precision NOT NULL CHECK (weight_findings >= 0),
    weight_dual             double precision NOT NULL CHECK (weight_dual >= 0),
    -- Points (of 100) the findings indicator loses per open party rule finding.
    points_per_finding      double precision NOT NULL CHECK (points_per_finding >= 0)
);

-- 一述三评, the report (述职) of a community party organisation's secretary on the year.
CREATE TABLE assess_reports (
    community_id  bigint NOT NULL REFERENCES communities (id),
    year          integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    secretary     text,
    document      text NOT NULL,
    summary       text NOT NULL,
    reported_on   date,
    PRIMARY KEY (community_id, year)
);

-- 一述三评, the satisfaction ratings of one layer (分层满意度测评): the mean score (0-100)
-- of the layer's raters and how many rated.
CREATE TABLE assess_ratings (
    community_id  bigint NOT NULL REFERENCES communities (id),
    year          integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    layer         text NOT NULL CHECK (layer IN ('members', 'residents', 'street')),
    score         double precision NOT NULL CHECK (score BETWEEN 0 AND 100),
    raters        integer NOT NULL CHECK (raters > 0),
    PRIMARY KEY (community_id, year, layer)
);

-- 四诺两考: a pledge of a member of the two committees for the year, with the annual and
-- the term assessment of its target (met / partly / not met, with a note).
CREATE TABLE assess_pledges (
    person_id      bigint NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    community_id   bigint NOT NULL REFERENCES communities (id),
    year           integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    kind           text NOT NULL CHECK (kind IN ('term', 'annual', 'resignation', 'integrity')),
    target         text NOT NULL,
    annual_result  text CHECK (annual_result IN ('met', 'partly', 'not_met')),
    annual_note    text,
    term_result    text CHECK (term_result IN ('met', 'partly', 'not_met')),
    term_note      text,
    PRIMARY KEY (person_id, year, kind)
);
CREATE INDEX assess_pledges_community ON assess_pledges (community_id, year);

-- 双报到: the community's rating (0-100) of a registered unit for the year.
CREATE TABLE assess_unit_ratings (
    unit_id  bigint NOT NULL REFERENCES dual_units (id) ON DELETE CASCADE,
    year     integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    score    double precision NOT NULL CHECK (score BETWEEN 0 AND 100),
    note     text,
    PRIMARY KEY (unit_id, year)
);

-- 双报到: the rating (0-100) of a registered member by the community or by their unit.
CREATE TABLE assess_member_ratings (
    person_id  bigint NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    year       integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    rater      text NOT NULL CHECK (rater IN ('community', 'unit')),
    score      double precision NOT NULL CHECK (score BETWEEN 0 AND 100),
    note       text,
    PRIMARY KEY (person_id, year, rater)
);

-- 双报到: a volunteer project completed (not only claimed), beside the claim in
-- volunteer_projects (whose year it shares).
CREATE TABLE assess_project_completions (
    project_id    bigint PRIMARY KEY REFERENCES volunteer_projects (id) ON DELETE CASCADE,
    completed_on  date NOT NULL,
    note          text
);

-- 双报到: the lists a community draws up at the start of a year (项目清单, 岗位清单 and
-- the activity plan), one item a row in its order.
CREATE TABLE assess_year_lists (
    community_id  bigint NOT NULL REFERENCES communities (id),
    year          integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    list          text NOT NULL CHECK (list IN ('projects', 'posts', 'activities')),
    position      integer NOT NULL CHECK (position >= 0),
    item          text NOT NULL,
    PRIMARY KEY (community_id, year, list, position)
);
