//! Importing the places of the hierarchy: regions (zones, towns, street offices),
//! communities and first- and second-level grids, each checked against its parent.

use super::{
    finish_import, id_by_code, int, item, opt_text, optional_area, read_features, required_area,
    text, unique_violation, Job, Written,
};
use crate::domain::hierarchy::check_community_code;
use crate::domain::{GridLevel, RegionKind};
use crate::store::audit::Actor;
use crate::store::changes::ChangeLayer;
use crate::store::grids::{GridChange, NewGrid};
use crate::store::{wkb, Store, StoreError};
use geojson::FeatureCollection;

/// Finds a region by its code.
const REGION: &str = "SELECT id FROM regions WHERE code = $1";

impl Store {
    pub(super) async fn import_grids(
        &self,
        actor: &Actor,
        fc: FeatureCollection,
        tolerance_m2: f64,
    ) -> Result<usize, StoreError> {
        let mut batch = Vec::with_capacity(fc.features.len());
        read_features(fc, |p, areas, i, f| {
            let Ok(Some(level)) = int(f, "level", None).map(GridLevel::from_number) else {
                p.add(i, "properties.level: must be 1 or 2");
                return;
            };
            let Some(geom) = p.take(i, required_area(areas, i, f)) else {
                return;
            };
            match (text(f, "code"), text(f, "name"), text(f, "parent_code")) {
                (Ok(code), Ok(name), Ok(parent_code)) => batch.push(GridChange::Create(NewGrid {
                    code,
                    name,
                    level,
                    parent_code,
                    geom,
                })),
                (a, b, c) => p.add_errors(i, [a.err(), b.err(), c.err()]),
            }
        })
        .await?;
        // First-level grids before their children.
        let mut order: Vec<usize> = (0..batch.len()).collect();
        order.sort_by_key(|&i| match &batch[i] {
            GridChange::Create(g) => g.level.number(),
            _ => 0,
        });
        let sorted: Vec<GridChange> = order.iter().map(|&i| batch[i].clone()).collect();
        let n = sorted.len();
        self.apply_grid_changes(sorted, tolerance_m2, actor)
            .await
            .map_err(|e| match e {
                StoreError::Items(items) => {
                    StoreError::Items(items.into_iter().map(|(i, m)| (order[i], m)).collect())
                }
                other => other,
            })?;
        Ok(n)
    }

    pub(super) async fn import_regions(&self, job: &Job<'_>, fc: FeatureCollection) -> Written {
        let mut rows = Vec::new();
        read_features(fc, |p, areas, i, f| {
            let kind = opt_text(f, "kind").and_then(|k| RegionKind::parse(&k));
            let Some(geom) = p.take(i, optional_area(areas, i, f)) else {
                return;
            };
            match (text(f, "code"), text(f, "name"), kind) {
                (Ok(code), Ok(name), Some(kind)) => {
                    rows.push((code, name, kind, opt_text(f, "parent_code"), geom));
                }
                (a, b, k) => {
                    p.add_errors(i, [a.err(), b.err()]);
                    if k.is_none() {
                        p.add(i, "properties.kind: must be zone, town or street_office");
                    }
                }
            }
        })
        .await?;
        let mut tx = self.begin_write(job.actor).await?;
        for (i, (code, name, kind, parent, geom)) in rows.iter().enumerate() {
            let parent_id: Option<i64> = match parent {
                None => None,
                Some(pc) => Some(
                    id_by_code(&mut tx, REGION, pc, "finding a parent region")
                        .await?
                        .ok_or_else(|| {
                            item(i, format!("properties.parent_code: no region {pc}"))
                        })?,
                ),
            };
            let res = sqlx::query(
                "INSERT INTO regions (code, name, kind, parent_id, geom) \
                 VALUES ($1, $2, $3, $4, ST_Multi(ST_GeomFromWKB($5, 4326)))",
            )
            .bind(code)
            .bind(name)
            .bind(kind.as_str())
            .bind(parent_id)
            .bind(geom)
            .execute(&mut *tx)
            .await;
            unique_violation(res, i, "properties.code", code)?;
        }
        let layer = ("regions", ChangeLayer::All);
        finish_import(tx, layer, rows.len(), "committing regions").await
    }

    pub(super) async fn import_communities(&self, job: &Job<'_>, fc: FeatureCollection) -> Written {
        let mut rows = Vec::new();
        read_features(fc, |p, areas, i, f| {
            let Some(geom) = p.take(i, required_area(areas, i, f)) else {
                return;
            };
            match (text(f, "code"), text(f, "name"), text(f, "region_code")) {
                (Ok(code), Ok(name), Ok(region)) => {
                    if let Err(e) = check_community_code(&code, "properties.code") {
                        p.add(i, e.to_string());
                    }
                    rows.push((code, name, region, wkb::encode_area(&geom)));
                }
                (a, b, c) => p.add_errors(i, [a.err(), b.err(), c.err()]),
            }
        })
        .await?;
        let mut tx = self.begin_write(job.actor).await?;
        for (i, (code, name, region, geom)) in rows.iter().enumerate() {
            let region_id = id_by_code(&mut tx, REGION, region, "finding a region")
                .await?
                .ok_or_else(|| item(i, format!("properties.region_code: no region {region}")))?;
            let res = sqlx::query(
                "INSERT INTO communities (code, name, region_id, geom) VALUES ($1, $2, $3, ST_Multi(ST_GeomFromWKB($4, 4326)))",
            )
            .bind(code)
            .bind(name)
            .bind(region_id)
            .bind(geom)
            .execute(&mut *tx)
            .await;
            unique_violation(res, i, "properties.code", code)?;
        }
        let layer = ("communities", ChangeLayer::Communities);
        finish_import(tx, layer, rows.len(), "committing communities").await
    }
}
