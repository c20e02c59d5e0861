-- Which households a patrol reached in a building (issue 14): the doors (household labels,
-- 门牌 within the building, as residents' records give them and the building panel lists
-- them) named by the phone's visit form.
--
-- Kept as an array on the visit rather than a table of (patrol, building, household):
-- households have no table of their own (a label lives in `person_details.household`), a
-- visit's doors are written and read whole with the visit, and a building has few enough
-- households (the server accepts at most 1,000 doors per visit) for an array.
--
-- NULL: the visit was sent as a count only (a client from before doors were named, e.g. a
-- patrol queued offline on the phone); it counts `households` but names no household.
-- When named, the doors are distinct and at most `households` of them: a patrol that sent
-- a count for a building and later named doors there keeps the larger count, so the
-- households it counted beyond the doors it named stay counted without a name.
ALTER TABLE patrol_visits
    ADD COLUMN doors text[],
    ADD CONSTRAINT patrol_visits_doors CHECK (
        doors IS NULL OR (cardinality(doors) BETWEEN 1 AND households
                          AND array_position(doors, NULL) IS NULL));
