//! Checks of the generated geometry: valid polygons wound per RFC 7946, grids that
//! partition their parents, buildings inside one grid and their compound, and streets that
//! form one network per town.

use super::*;

#[test]
fn polygons_are_valid_and_wound_per_rfc7946() {
    let Some(d) = data() else { return };
    check_polygons(d);
}

pub(super) fn check_polygons(d: &Data) {
    for layer in ["compounds.geojson", "buildings.geojson"] {
        for f in &d.layers[layer] {
            let g = f.geometry.as_ref().expect("geometry");
            assert_eq!(g.value.type_name(), "Polygon", "{layer} {}", s(f, "code"));
        }
    }
    for layer in [
        "regions.geojson",
        "communities.geojson",
        "grids.geojson",
        "compounds.geojson",
        "buildings.geojson",
    ] {
        for f in &d.layers[layer] {
            let mp = mpoly(f);
            assert!(
                mp.is_valid(),
                "{layer} {}: {:?}",
                s(f, "code"),
                mp.validation_errors()
            );
            for p in &mp.0 {
                let ext = Polygon::new(p.exterior().clone(), vec![]);
                assert!(
                    ext.signed_area() > 0.0,
                    "{layer} {}: exterior not CCW",
                    s(f, "code")
                );
                for h in p.interiors() {
                    let hole = Polygon::new(h.clone(), vec![]);
                    assert!(
                        hole.signed_area() < 0.0,
                        "{layer} {}: hole not CW",
                        s(f, "code")
                    );
                }
            }
        }
    }
}

#[test]
fn grids_partition_their_parents_exactly() {
    let Some(d) = data() else { return };
    check_partitions(d);
}

pub(super) fn check_partitions(d: &Data) {
    let grids = &d.layers["grids.geojson"];
    let regions = &d.layers["regions.geojson"];
    let towns: Vec<MultiPolygon> = regions.iter().skip(1).map(mpoly).collect();
    assert_partition(&mpoly(&regions[0]), &towns, "towns of the zone");
    for town in regions.iter().skip(1) {
        let communities: Vec<MultiPolygon> = d.layers["communities.geojson"]
            .iter()
            .filter(|c| s(c, "region_code") == s(town, "code"))
            .map(mpoly)
            .collect();
        assert_partition(&mpoly(town), &communities, s(town, "code"));
    }
    for c in &d.layers["communities.geojson"] {
        let code = s(c, "code");
        let l1: Vec<&Feature> = grids
            .iter()
            .filter(|g| n(g, "level") == 1 && s(g, "parent_code") == code)
            .collect();
        assert!(
            (3..=6).contains(&l1.len()),
            "{code} has {} first-level grids",
            l1.len()
        );
        let shapes: Vec<MultiPolygon> = l1.iter().map(|g| mpoly(g)).collect();
        assert_partition(&mpoly(c), &shapes, code);
        for g in l1 {
            let g1 = s(g, "code");
            assert!(g1.len() == 14 && g1.starts_with(code));
            assert_eq!(s(g, "community_code"), code);
            let l2: Vec<&Feature> = grids
                .iter()
                .filter(|x| n(x, "level") == 2 && s(x, "parent_code") == g1)
                .collect();
            assert!(l2.len() >= 2, "{g1} has {} second-level grids", l2.len());
            for x in &l2 {
                assert!(s(x, "code").len() == 16 && s(x, "code").starts_with(g1));
                assert_eq!(s(x, "community_code"), code);
            }
            let shapes: Vec<MultiPolygon> = l2.iter().map(|x| mpoly(x)).collect();
            assert_partition(&mpoly(g), &shapes, g1);
        }
    }
    assert_eq!(
        grids.len(),
        d.summary.counts.grids_level1 + d.summary.counts.grids_level2
    );
}

/// Second-level grid code of every building, found geometrically.
fn building_grids(d: &Data) -> Vec<&str> {
    let l2: Vec<(&str, MultiPolygon, Rect)> = d.layers["grids.geojson"]
        .iter()
        .filter(|g| n(g, "level") == 2)
        .map(|g| {
            let m = mpoly(g);
            let r = m.bounding_rect().expect("non-empty");
            (s(g, "code"), m, r)
        })
        .collect();
    d.layers["buildings.geojson"]
        .iter()
        .map(|b| {
            let p = poly(b);
            let br = rect_of(&p);
            let hits: Vec<&(&str, MultiPolygon, Rect)> = l2
                .iter()
                .filter(|(_, _, r)| r.intersects(&br))
                .filter(|(_, m, _)| m.intersects(&p))
                .collect();
            assert_eq!(
                hits.len(),
                1,
                "building {} meets {} grids",
                s(b, "code"),
                hits.len()
            );
            let (code, m, _) = hits[0];
            assert!(
                m.contains(&p),
                "building {} not inside {code}",
                s(b, "code")
            );
            // Strictly inside: well clear of every grid ring (8 m is about 7e-5 degrees).
            for pg in &m.0 {
                for ring in std::iter::once(pg.exterior()).chain(pg.interiors()) {
                    let dd = Euclidean.distance(p.exterior(), ring);
                    assert!(
                        dd > 6e-5,
                        "building {} is {dd} deg from {code}'s edge",
                        s(b, "code")
                    );
                }
            }
            *code
        })
        .collect()
}

#[test]
fn buildings_lie_strictly_inside_one_grid_and_their_compound() {
    let Some(d) = data() else { return };
    check_buildings(d);
}

pub(super) fn check_buildings(d: &Data) {
    let compounds = by_code(d, "compounds.geojson");
    let grids = by_code(d, "grids.geojson");
    let at = building_grids(d);
    let buildings = &d.layers["buildings.geojson"];
    let mut households: BTreeMap<&str, u64> = BTreeMap::new();
    for (b, g) in buildings.iter().zip(&at) {
        let c = compounds[s(b, "compound_code")];
        assert!(
            mpoly(c).contains(&poly(b)),
            "building {} outside its compound",
            s(b, "code")
        );
        assert_eq!(s(c, "community_code"), s(grids[g], "community_code"));
        *households.entry(g).or_default() += n(b, "households");
    }
    // 300-500 households in every second-level grid.
    for g in d.layers["grids.geojson"]
        .iter()
        .filter(|g| n(g, "level") == 2)
    {
        let h = households.get(s(g, "code")).copied().unwrap_or(0);
        assert!(
            (300..=500).contains(&h),
            "grid {} has {h} households",
            s(g, "code")
        );
    }
    // Buildings do not overlap each other and no street runs through one.
    let polys: Vec<(Polygon, Rect)> = buildings
        .iter()
        .map(|b| {
            let p = poly(b);
            let r = rect_of(&p);
            (p, r)
        })
        .collect();
    let tree = rstar::RTree::bulk_load(
        polys
            .iter()
            .enumerate()
            .map(|(i, (_, r))| {
                rstar::primitives::GeomWithData::new(
                    rstar::primitives::Rectangle::from_corners(
                        [r.min().x, r.min().y],
                        [r.max().x, r.max().y],
                    ),
                    i,
                )
            })
            .collect(),
    );
    for (i, (p, r)) in polys.iter().enumerate() {
        let env = rstar::AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]);
        for o in tree.locate_in_envelope_intersecting(&env) {
            if o.data > i {
                assert!(
                    !p.intersects(&polys[o.data].0),
                    "buildings {i} and {} overlap",
                    o.data
                );
            }
        }
    }
    for st in &d.layers["streets.geojson"] {
        let g = st.geometry.as_ref().expect("geometry");
        let line = LineString::try_from(&g.value).expect("LineString");
        let r = line.bounding_rect().expect("non-empty");
        let env = rstar::AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]);
        for o in tree.locate_in_envelope_intersecting(&env) {
            assert!(
                !line.intersects(&polys[o.data].0),
                "street {:?} crosses a building",
                st.property("id")
            );
        }
    }
}

#[test]
fn streets_meet_at_shared_coordinates_and_form_one_network() {
    let Some(d) = data() else { return };
    check_streets(d);
}

/// One connected walking network per town, segments meeting only at shared end points.
pub(super) fn check_streets(d: &Data) {
    let key = |c: Coord| (c.x.to_bits(), c.y.to_bits());
    let mut ids: BTreeMap<(u64, u64), usize> = BTreeMap::new();
    let mut parent: Vec<usize> = Vec::new();
    fn find(p: &mut [usize], x: usize) -> usize {
        let mut r = x;
        while p[r] != r {
            r = p[r];
        }
        p[x] = r;
        r
    }
    let mut lines = Vec::new();
    for st in &d.layers["streets.geojson"] {
        let g = st.geometry.as_ref().expect("geometry");
        let line = LineString::try_from(&g.value).expect("LineString");
        assert!(line.0.len() >= 2);
        let hw = s(st, "highway");
        assert!([
            "secondary",
            "tertiary",
            "residential",
            "service",
            "footway",
            "steps"
        ]
        .contains(&hw));
        if matches!(hw, "secondary" | "tertiary") {
            assert!(
                st.property("name").and_then(JsonValue::as_str).is_some(),
                "unnamed main road"
            );
        }
        let ends = [line.0[0], line.0[line.0.len() - 1]];
        let e: Vec<usize> = ends
            .iter()
            .map(|&c| {
                let next = ids.len();
                let id = *ids.entry(key(c)).or_insert(next);
                if id == parent.len() {
                    parent.push(id);
                }
                id
            })
            .collect();
        let (a, b) = (find(&mut parent, e[0]), find(&mut parent, e[1]));
        parent[a] = b;
        lines.push(line);
    }
    let roots: BTreeSet<usize> = (0..parent.len()).map(|x| find(&mut parent, x)).collect();
    let towns = d.layers["regions.geojson"].len() - 1;
    assert_eq!(
        roots.len(),
        towns,
        "the walking network falls apart into {} pieces",
        roots.len()
    );
    // No T-junctions: an end point never lies inside another segment.
    let ends: Vec<Point> = ids
        .keys()
        .map(|&(x, y)| Point::new(f64::from_bits(x), f64::from_bits(y)))
        .collect();
    for l in &lines {
        for p in &ends {
            if l.0.iter().any(|c| key(*c) == key(p.0)) {
                continue;
            }
            assert!(
                Euclidean.distance(p, l) > 1e-6,
                "street end {p:?} on another street's middle"
            );
        }
    }
    let footways = d.layers["streets.geojson"]
        .iter()
        .filter(|f| s(f, "highway") == "footway")
        .count();
    assert!(footways > 0, "no footways through blocks");
}
