//! The step of the grid-change transaction that keeps the party cells in line with the grids.

use super::*;

/// The step of the grid-change transaction that keeps the party cells in line: dissolves
/// the cells of deleted grids, creates cells for new grids (and a 大党委 for a community
/// that has none), and reports the members whose cell changed with their building (the
/// triggers of migration 0005 have already moved them). Call it after the buildings are
/// re-assigned.
pub(crate) async fn after_grid_changes(
    tx: &mut Write<'_>,
    moves: &[Move],
    touched: &[i64],
) -> Result<CellsFollowed, StoreError> {
    let dissolved: Vec<String> = sqlx::query_scalar(
        "UPDATE party_orgs o SET dissolved_at = now() WHERE o.grid_id = ANY($1) AND o.dissolved_at IS NULL \
         AND NOT EXISTS (SELECT 1 FROM grid_versions v WHERE v.grid_id = o.grid_id AND v.valid_to IS NULL) \
         RETURNING o.code",
    )
    .bind(touched)
    .fetch_all(&mut **tx)
    .await
    .ctx(FOLLOWING)?;
    let mut created = create_cells(tx, touched).await?;
    created.extend(create_committees(tx, touched).await?);
    let moved = members_moved(tx, moves).await?;
    let followed = CellsFollowed {
        members_moved: moved.len(),
        created,
        dissolved,
    };
    if !moved.is_empty() || !followed.dissolved.is_empty() {
        let region_id: Option<i64> = sqlx::query_scalar(
            "SELECT c.region_id FROM grids g JOIN communities c ON c.id = g.community_id \
             WHERE g.id = ANY($1) ORDER BY g.id LIMIT 1",
        )
        .bind(touched)
        .fetch_optional(&mut **tx)
        .await
        .ctx(FOLLOWING)?;
        let after = json!({
            "members_moved": moved, "created": followed.created, "dissolved": followed.dissolved,
        });
        let entry = Entry::named("follow", "party_cells", "grid change", None, Some(after));
        tx.audit(entry.in_region(region_id)).await?;
    }
    Ok(followed)
}

/// What the step does, for its errors.
const FOLLOWING: &str = "keeping party cells with the grids";

/// Creates the cells of touched grids that have none (new grids); returns their codes.
async fn create_cells(tx: &mut PgConnection, touched: &[i64]) -> Result<Vec<String>, StoreError> {
    let missing: Vec<(i64, String, String, i16, i64)> = sqlx::query_as(
        "SELECT g.id, g.code, g.name, g.level, g.community_id FROM current_grids g \
         WHERE g.id = ANY($1) AND NOT EXISTS \
           (SELECT 1 FROM party_orgs o WHERE o.grid_id = g.id AND o.dissolved_at IS NULL) ORDER BY g.id",
    )
    .bind(touched)
    .fetch_all(&mut *tx)
    .await
    .ctx(FOLLOWING)?;
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let mut codes = Vec::new();
    let mut names = Vec::new();
    let mut kinds = Vec::new();
    let mut forms = Vec::new();
    let mut communities = Vec::new();
    let mut grids = Vec::new();
    for (id, code, name, level, community) in &missing {
        let level = GridLevel::from_number(i64::from(*level)).unwrap_or(GridLevel::Second);
        let kind = OrgKind::of_level(level);
        codes.push(party::cell_org_code(code, level));
        names.push(party::cell_org_name(name, level));
        kinds.push(kind.as_str());
        forms.push(match level {
            GridLevel::First => OrgForm::Branch.as_str(),
            GridLevel::Second => OrgForm::Group.as_str(),
        });
        communities.push(*community);
        grids.push(*id);
    }
    // A code of a dissolved cell (of an earlier grid with this code) gets the grid id.
    sqlx::query_scalar(
        "INSERT INTO party_orgs (code, name, kind, form, community_id, grid_id) \
         SELECT CASE WHEN EXISTS (SELECT 1 FROM party_orgs x WHERE x.code = n.code) \
                THEN n.code || '-' || n.grid ELSE n.code END, n.name, n.kind, n.form, n.community, n.grid \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[]) \
           AS n(code, name, kind, form, community, grid) RETURNING code",
    )
    .bind(&codes)
    .bind(&names)
    .bind(&kinds)
    .bind(&forms)
    .bind(&communities)
    .bind(&grids)
    .fetch_all(&mut *tx)
    .await
    .ctx(FOLLOWING)
}

/// Creates a 大党委 for every community of the touched grids that has none; returns their
/// codes.
async fn create_committees(
    tx: &mut PgConnection,
    touched: &[i64],
) -> Result<Vec<String>, StoreError> {
    let lacking: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT c.id, c.code, c.name FROM communities c WHERE c.id IN \
           (SELECT community_id FROM grids WHERE id = ANY($1)) \
         AND NOT EXISTS (SELECT 1 FROM party_orgs o WHERE o.community_id = c.id \
           AND o.kind = 'community_committee' AND o.dissolved_at IS NULL) ORDER BY c.id",
    )
    .bind(touched)
    .fetch_all(&mut *tx)
    .await
    .ctx(FOLLOWING)?;
    let mut created = Vec::with_capacity(lacking.len());
    for (id, code, name) in lacking {
        let c: String = sqlx::query_scalar(
            "INSERT INTO party_orgs (code, name, kind, form, community_id) \
             VALUES (CASE WHEN EXISTS (SELECT 1 FROM party_orgs x WHERE x.code = $1) THEN $1 || '-' || $4 ELSE $1 END, \
                     $2, $3, 'committee', $4) RETURNING code",
        )
        .bind(party::committee_code(&code))
        .bind(party::committee_name(&name))
        .bind(OrgKind::CommunityCommittee.as_str())
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .ctx(FOLLOWING)?;
        created.push(c);
    }
    Ok(created)
}

/// The codes of the members living in buildings that moved (their cells followed them).
async fn members_moved(tx: &mut PgConnection, moves: &[Move]) -> Result<Vec<String>, StoreError> {
    let moved_buildings: Vec<i64> = moves.iter().map(|m| m.building_id).collect();
    if moved_buildings.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_scalar(
        "SELECT p.code FROM people p JOIN party_assignments a ON a.person_id = p.id \
         WHERE p.home_building_id = ANY($1) ORDER BY p.code",
    )
    .bind(&moved_buildings)
    .fetch_all(&mut *tx)
    .await
    .ctx(FOLLOWING)
}
