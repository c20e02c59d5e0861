//! Importing what stands in the places: compounds, buildings and service stations, in
//! bulk statements of a few thousand rows.

use super::{
    finish_import, geometry, int, opt_f64, opt_text, optional_area, read_features, refuse_unknown,
    required_area, text, unique_violation, Insert, Job, Problems, Table, Written, CHUNK,
};
use crate::domain::{CompoundKind, StationKind};
use crate::spatial::shape::point_from_geojson;
use crate::store::bulk::{self, chunks, Column};
use crate::store::changes::ChangeLayer;
use crate::store::{wkb, DbContext, Store, StoreError};
use geojson::FeatureCollection;

/// Inserts compounds.
const COMPOUNDS: Insert = Insert {
    sql: "INSERT INTO compounds (code, name, kind, occupancy_rate, built_year, community_id, geom) \
         SELECT t.code, t.name, t.kind, t.occ, t.year, c.id, ST_Multi(ST_GeomFromWKB(t.geom, 4326)) \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::int[], $6::text[], $7::bytea[]) \
         AS t(code, name, kind, occ, year, comm, geom) \
         JOIN communities c ON c.code = t.comm",
    field: "properties.code",
    what: "a compound",
};

/// Inserts buildings.
const BUILDINGS: Insert = Insert {
    sql: "INSERT INTO buildings (code, name, address, compound_id, households, residents, employees, floors, geom, grid_id) \
         SELECT t.code, t.name, t.address, c.id, t.h, t.r, t.e, t.f, t.g, \
         (SELECT g.id FROM current_grids g WHERE g.level = 2 AND ST_Covers(g.geom, ST_PointOnSurface(t.g)) ORDER BY g.id LIMIT 1) \
         FROM (SELECT code, name, address, comp, h, r, e, f, ST_Multi(ST_GeomFromWKB(geom, 4326)) AS g \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::int[], $7::int[], $8::int[], $9::bytea[]) \
         AS u(code, name, address, comp, h, r, e, f, geom)) t \
         LEFT JOIN compounds c ON c.code = t.comp",
    field: "properties.code",
    what: "a building",
};

impl Store {
    pub(super) async fn import_compounds(&self, job: &Job<'_>, fc: FeatureCollection) -> Written {
        let (mut code, mut name, mut kind, mut occ, mut year, mut comm, mut geom) =
            (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        read_features(fc, |p, areas, i, f| {
            let Some(g) = p.take(i, optional_area(areas, i, f)) else {
                return;
            };
            let k = opt_text(f, "kind").and_then(|k| CompoundKind::parse(&k));
            let o = opt_f64(f, "occupancy_rate");
            if o.is_some_and(|o| !(0.0..=1.0).contains(&o)) {
                p.add(i, "properties.occupancy_rate: must be between 0 and 1");
            }
            match (
                text(f, "code"),
                text(f, "name"),
                text(f, "community_code"),
                k,
            ) {
                (Ok(c), Ok(n), Ok(cc), Some(k)) => {
                    code.push(c);
                    name.push(n);
                    kind.push(k.as_str().to_string());
                    occ.push(o);
                    year.push(
                        int(f, "built_year", Some(0))
                            .ok()
                            .filter(|y| *y > 0)
                            .map(|y| y as i32),
                    );
                    comm.push(cc);
                    geom.push(g);
                }
                (a, b, c, k) => {
                    p.add_errors(i, [a.err(), b.err(), c.err()]);
                    if k.is_none() {
                        p.add(
                            i,
                            "properties.kind: must be residential, commercial or other",
                        );
                    }
                }
            }
        })
        .await?;
        let mut tx = self.begin_write(job.actor).await?;
        let total = code.len();
        for r in chunks(total, CHUNK) {
            let field = "properties.community_code";
            refuse_unknown(&mut tx, Table::Communities, &comm, r.clone(), field).await?;
            let columns: [&dyn Column; 7] = [&code, &name, &kind, &occ, &year, &comm, &geom];
            COMPOUNDS
                .chunk(&mut tx, &columns, r, (job.progress, total))
                .await?;
        }
        let layer = ("compounds", ChangeLayer::All);
        finish_import(tx, layer, total, "committing compounds").await
    }

    pub(super) async fn import_buildings(&self, job: &Job<'_>, fc: FeatureCollection) -> Written {
        let mut cols = BuildingColumns::default();
        read_features(fc, |p, areas, i, f| {
            let Some(g) = p.take(i, required_area(areas, i, f)) else {
                return;
            };
            let numbers = (
                int(f, "households", Some(0)),
                int(f, "residents", Some(0)),
                int(f, "employees", Some(0)),
            );
            match (text(f, "code"), numbers) {
                (Ok(code), (Ok(h), Ok(r), Ok(e))) => {
                    cols.code.push(code);
                    cols.name.push(opt_text(f, "name"));
                    cols.address.push(opt_text(f, "address"));
                    cols.compound.push(opt_text(f, "compound_code"));
                    cols.households.push(h as i32);
                    cols.residents.push(r as i32);
                    cols.employees.push(e as i32);
                    cols.floors.push(
                        int(f, "floors", Some(0))
                            .ok()
                            .filter(|x| *x > 0)
                            .map(|x| x as i32),
                    );
                    cols.geom.push(wkb::encode_area(&g));
                }
                (c, (h, r, e)) => p.add_errors(i, [c.err(), h.err(), r.err(), e.err()]),
            }
        })
        .await?;
        let mut tx = self.begin_write(job.actor).await?;
        let total = cols.code.len();
        for r in chunks(total, CHUNK) {
            let field = "properties.compound_code";
            refuse_unknown(&mut tx, Table::Compounds, &cols.compound, r.clone(), field).await?;
            // Each building goes to the lowest-id second-level grid covering its anchor.
            let orphans: Vec<(i64, String)> = sqlx::query_as(
                "SELECT t.n, t.code FROM unnest($1::bytea[], $2::text[]) WITH ORDINALITY AS t(geom, code, n) \
                 WHERE NOT EXISTS (SELECT 1 FROM current_grids g WHERE g.level = 2 \
                   AND ST_Covers(g.geom, ST_PointOnSurface(ST_GeomFromWKB(t.geom, 4326)))) \
                 ORDER BY t.n LIMIT 100",
            )
            .bind(&cols.geom[r.clone()])
            .bind(&cols.code[r.clone()])
            .fetch_all(&mut *tx)
            .await
            .ctx("placing buildings in grids")?;
            if !orphans.is_empty() {
                return Err(StoreError::Items(
                    orphans
                        .into_iter()
                        .map(|(n, code)| {
                            (
                                r.start + n as usize - 1,
                                format!("building {code} lies outside every second-level grid"),
                            )
                        })
                        .collect(),
                ));
            }
            BUILDINGS
                .chunk(&mut tx, &cols.all(), r, (job.progress, total))
                .await?;
        }
        let layer = ("buildings", ChangeLayer::Buildings);
        finish_import(tx, layer, total, "committing buildings").await
    }

    pub(super) async fn import_stations(&self, job: &Job<'_>, fc: FeatureCollection) -> Written {
        let mut p = Problems::default();
        let (mut code, mut name, mut kind, mut comm, mut prog, mut addr, mut geom) =
            (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        for (i, f) in fc.features.iter().enumerate() {
            let pt = geometry(f).and_then(|g| {
                point_from_geojson(g).map_err(|e| format!("geometry: {e} at {}", e.path))
            });
            let Some(pt) = p.take(i, pt) else {
                continue;
            };
            let k = opt_text(f, "kind").and_then(|k| StationKind::parse(&k));
            match (text(f, "code"), text(f, "name"), k) {
                (Ok(c), Ok(n), Some(k)) => {
                    code.push(c);
                    name.push(n);
                    kind.push(k.as_str().to_string());
                    comm.push(opt_text(f, "community_code"));
                    prog.push(int(f, "programmes", Some(0)).ok().map(|x| x as i32));
                    addr.push(opt_text(f, "address"));
                    geom.push(wkb::encode_point(pt));
                }
                (a, b, k) => {
                    p.add_errors(i, [a.err(), b.err()]);
                    if k.is_none() {
                        p.add(i, "properties.kind: not a known station kind");
                    }
                }
            }
        }
        p.check()?;
        let mut tx = self.begin_write(job.actor).await?;
        let columns: [&dyn Column; 7] = [&code, &name, &kind, &comm, &prog, &addr, &geom];
        let res = bulk::execute(
            &mut tx,
            "INSERT INTO stations (code, name, kind, community_id, programmes, address, geom) \
             SELECT t.code, t.name, t.kind, c.id, t.prog, t.addr, ST_GeomFromWKB(t.geom, 4326) \
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::bytea[]) \
               AS t(code, name, kind, comm, prog, addr, geom) \
             LEFT JOIN communities c ON c.code = t.comm",
            &columns,
            0..code.len(),
        )
        .await;
        unique_violation(res, 0, "properties.code", "a station")?;
        let layer = ("stations", ChangeLayer::Stations);
        finish_import(tx, layer, code.len(), "committing stations").await
    }
}

/// Buildings read from the features, as columns (one entry per building in each).
#[derive(Default)]
struct BuildingColumns {
    code: Vec<String>,
    name: Vec<Option<String>>,
    address: Vec<Option<String>>,
    compound: Vec<Option<String>>,
    households: Vec<i32>,
    residents: Vec<i32>,
    employees: Vec<i32>,
    floors: Vec<Option<i32>>,
    geom: Vec<Vec<u8>>,
}

impl BuildingColumns {
    /// Every column, in the order of the insert's parameters.
    fn all(&self) -> [&dyn Column; 9] {
        [
            &self.code,
            &self.name,
            &self.address,
            &self.compound,
            &self.households,
            &self.residents,
            &self.employees,
            &self.floors,
            &self.geom,
        ]
    }
}
