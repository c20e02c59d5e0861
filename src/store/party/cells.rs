//! Cells and member counts: the members per cell and building, the cells' organisations and
//! grid chiefs, the facts the party rules read, and the members' cell assignments.

use super::units::{associations_in, units_in};
use super::*;
use crate::domain::party::Facts;
use crate::store::changes::ChangeLayer;

impl Store {
    /// Party members (full and probationary counts) per cell, for the given second-level
    /// grids or all.
    pub async fn cell_counts(
        &self,
        grids: Option<&[i64]>,
    ) -> Result<HashMap<i64, (i64, i64)>, StoreError> {
        let q = sqlx::query_as(
            "SELECT a.grid_id, count(*), count(*) FILTER (WHERE p.membership = 'full') \
             FROM party_assignments a JOIN people p ON p.id = a.person_id \
             WHERE $1::bigint[] IS NULL OR a.grid_id = ANY($1) GROUP BY 1",
        );
        let counted = |(g, m, f): (i64, i64, i64)| (g, (m, f));
        read_all(q.bind(grids), &self.pool, "counting party members", counted).await
    }

    /// Party members (all, full) living in each of the given buildings.
    pub async fn building_member_counts(
        &self,
        buildings: &[i64],
    ) -> Result<HashMap<i64, (i64, i64)>, StoreError> {
        let q = sqlx::query_as(
            "SELECT home_building_id, count(*), count(*) FILTER (WHERE membership = 'full') \
             FROM people WHERE home_building_id = ANY($1) AND membership <> 'none' GROUP BY 1",
        );
        let counted = |(b, m, f): (i64, i64, i64)| (b, (m, f));
        read_all(
            q.bind(buildings),
            &self.pool,
            "counting party members",
            counted,
        )
        .await
    }

    /// The party members living in the given buildings.
    pub async fn members_in_buildings(
        &self,
        buildings: &[i64],
    ) -> Result<Vec<MemberRow>, StoreError> {
        let sql = format!(
            "{MEMBER} WHERE p.home_building_id = ANY($1) AND p.membership <> 'none' ORDER BY p.code"
        );
        let q = sqlx::query_as::<_, MemberFields>(&sql).bind(buildings);
        read_all(q, &self.pool, "reading party members", MemberRow::from).await
    }

    /// The active cell organisation of each grid.
    pub async fn cell_orgs(&self, grids: Option<&[i64]>) -> Result<HashMap<i64, Org>, StoreError> {
        let sql = format!(
            "{ORG} WHERE o.dissolved_at IS NULL AND o.grid_id IS NOT NULL \
             AND ($1::bigint[] IS NULL OR o.grid_id = ANY($1))"
        );
        let q = sqlx::query_as::<_, Org>(&sql).bind(grids);
        let cell = |o: Org| (o.grid_id.unwrap_or_default(), o);
        read_all(q, &self.pool, "reading party cells", cell).await
    }

    /// The chief of each grid, with the chief's membership and committee seat.
    pub async fn grid_chiefs(
        &self,
        grids: Option<&[i64]>,
    ) -> Result<HashMap<i64, ChiefFacts>, StoreError> {
        let q = sqlx::query_as(
            "SELECT a.grid_id, s.code, s.name, p.membership, s.committee FROM staff_assignments a \
             JOIN staff s ON s.id = a.staff_id LEFT JOIN people p ON p.id = s.person_id \
             WHERE a.until IS NULL AND a.role = 'chief' AND ($1::bigint[] IS NULL OR a.grid_id = ANY($1))",
        );
        let chief = |(g, code, name, m, committee): (i64, String, String, Option<String>, bool)| {
            let membership = m.as_deref().map(membership);
            let facts = ChiefFacts {
                code,
                name,
                membership,
                committee,
            };
            (g, facts)
        };
        read_all(q.bind(grids), &self.pool, "reading grid chiefs", chief).await
    }

    /// The facts the party rules read from the database for `year` in the given
    /// communities (compounds, buildings with employees, social organisations and 双报到
    /// registrations; not the cells nor the communities), with the public-welfare
    /// organisations of each community.
    pub async fn party_rule_data(
        &self,
        communities: &[i64],
        year: i32,
    ) -> Result<(Facts, HashMap<i64, i64>), StoreError> {
        let mut conn = self.pool.acquire().await.ctx("connecting")?;
        let mut data = Facts {
            year,
            compounds: compound_facts(&mut conn, communities).await?,
            buildings: building_facts(&mut conn, communities).await?,
            ..Facts::default()
        };
        for a in associations_in(&mut conn, communities, Some(year), Page::ALL).await? {
            data.associations.push(AssociationFacts {
                id: a.id,
                code: a.code,
                name: a.name,
                kind: a.kind,
                community_id: a.community_id,
                full: a.full_members,
                has_org: a.party_org.is_some(),
                point: a.point,
            });
        }
        for u in units_in(&mut conn, communities, year, Page::ALL).await? {
            data.units.push(UnitFacts {
                id: u.id,
                code: u.code,
                name: u.name,
                community_id: u.community_id,
                projects: u.projects.len() as i64,
                point: u.point,
            });
        }
        data.members = dual_member_facts(&mut conn, communities, year).await?;
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT community_id, count(*) FROM associations WHERE community_id = ANY($1) AND kind = ANY($2) \
             AND (founded_year IS NULL OR founded_year <= $3) GROUP BY 1",
        )
        .bind(communities)
        .bind(welfare_kinds())
        .bind(year)
        .fetch_all(&mut *conn)
        .await
        .ctx(RULE_DATA)?;
        Ok((data, rows.into_iter().collect()))
    }

    /// Every party member with a home building, as (person id, building id), by person id:
    /// the input of a full re-assignment.
    pub async fn party_member_homes(&self) -> Result<Vec<(i64, i64)>, StoreError> {
        sqlx::query_as(
            "SELECT id, home_building_id FROM people WHERE membership <> 'none' \
             AND home_building_id IS NOT NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("reading party members' homes")
    }

    /// The stored cell of every party member, by person id.
    pub async fn party_assignments(&self) -> Result<Vec<(i64, i64)>, StoreError> {
        sqlx::query_as("SELECT person_id, grid_id FROM party_assignments ORDER BY person_id")
            .fetch_all(&self.pool)
            .await
            .ctx("reading party assignments")
    }

    /// The same assignment as [`crate::spatial::assign::assign_members`], computed by
    /// PostGIS with a spatial join: each member's home building anchor against the current
    /// second-level grids (lowest id on a shared boundary). The baseline of the benchmark and
    /// the reference of the tests.
    pub async fn assign_members_in_postgis(&self) -> Result<Vec<(i64, Option<i64>)>, StoreError> {
        sqlx::query_as(
            "SELECT p.id, g.id FROM people p JOIN buildings b ON b.id = p.home_building_id \
             LEFT JOIN LATERAL (SELECT c.id FROM current_grids c WHERE c.level = 2 \
               AND ST_Covers(c.geom, b.anchor) ORDER BY c.id LIMIT 1) g ON true \
             WHERE p.membership <> 'none' ORDER BY p.id",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("assigning members in PostGIS")
    }

    /// Writes the cells the index computed where they differ from the stored ones (and the
    /// member's building still is where the index has it); returns how many were fixed.
    pub async fn repair_assignments(
        &self,
        fixes: &[(i64, i64)],
        actor: &Actor,
    ) -> Result<usize, StoreError> {
        if fixes.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin_write(actor).await?;
        let (people, grids): (Vec<i64>, Vec<i64>) = fixes.iter().copied().unzip();
        let fixed: Vec<String> = sqlx::query_scalar(
            "WITH f AS (SELECT * FROM unnest($1::bigint[], $2::bigint[]) AS f(person_id, grid_id)), \
             ins AS (INSERT INTO party_assignments (person_id, grid_id) \
               SELECT f.person_id, f.grid_id FROM f JOIN people p ON p.id = f.person_id \
               WHERE p.membership <> 'none' \
               ON CONFLICT (person_id) DO UPDATE SET grid_id = EXCLUDED.grid_id, since = now() \
               WHERE party_assignments.grid_id <> EXCLUDED.grid_id RETURNING person_id) \
             SELECT p.code FROM ins JOIN people p ON p.id = ins.person_id ORDER BY 1",
        )
        .bind(&people)
        .bind(&grids)
        .fetch_all(&mut *tx)
        .await
        .ctx("repairing party assignments")?;
        if !fixed.is_empty() {
            // Counts only: an entry without a region is read by every region's
            // administrators.
            let after = json!({ "members_fixed": fixed.len() });
            let entry = Entry::named("repair", "party_assignments", "all", None, Some(after));
            tx.audit(entry).await?;
        }
        tx.commit(ChangeLayer::Party, &[], "committing repaired assignments")
            .await?;
        Ok(fixed.len())
    }
}

/// What reading the rules' facts does, for its errors.
const RULE_DATA: &str = "reading facts for the party rules";

/// The residential (and other) compounds of the communities, with their residents and full
/// members, whether they have an organisation, and a point.
async fn compound_facts(
    conn: &mut PgConnection,
    communities: &[i64],
) -> Result<Vec<CompoundFacts>, StoreError> {
    let q = sqlx::query_as(
        "WITH cs AS (SELECT * FROM compounds WHERE community_id = ANY($1)), \
         bs AS (SELECT b.compound_id, sum(b.residents)::bigint AS residents, min(b.id) AS first \
             FROM buildings b JOIN cs ON cs.id = b.compound_id GROUP BY 1), \
         fm AS (SELECT b.compound_id, count(*) AS n_full FROM people p JOIN buildings b ON b.id = p.home_building_id \
             JOIN cs ON cs.id = b.compound_id WHERE p.membership = 'full' GROUP BY 1) \
         SELECT c.id, c.code, c.name, c.kind, c.occupancy_rate, c.built_year, c.community_id, \
           COALESCE(bs.residents, 0) AS residents, COALESCE(fm.n_full, 0) AS n_full, fb.grid_id, \
           c.id IN (SELECT compound_id FROM party_orgs WHERE compound_id IS NOT NULL AND dissolved_at IS NULL) AS has_org, \
           ST_AsBinary(COALESCE(ST_PointOnSurface(c.geom), fb.anchor)) AS point \
         FROM cs c LEFT JOIN bs ON bs.compound_id = c.id LEFT JOIN fm ON fm.compound_id = c.id \
         LEFT JOIN buildings fb ON fb.id = bs.first ORDER BY c.code",
    );
    let q = q.bind(communities);
    q.fetch_all(conn).await.ctx(RULE_DATA)
}

/// The buildings of the communities with employees, whether they (or their compound)
/// have an organisation, and their anchor.
async fn building_facts(
    conn: &mut PgConnection,
    communities: &[i64],
) -> Result<Vec<BuildingFacts>, StoreError> {
    let q = sqlx::query_as(
        "SELECT b.id, b.code, COALESCE(b.name, b.code) AS name, b.employees::bigint AS employees, \
           COALESCE(c.kind = 'commercial', false) AS commercial, g.community_id, b.grid_id, \
           (b.id IN (SELECT building_id FROM party_orgs WHERE building_id IS NOT NULL AND dissolved_at IS NULL) \
            OR COALESCE(b.compound_id IN (SELECT compound_id FROM party_orgs \
              WHERE compound_id IS NOT NULL AND dissolved_at IS NULL), false)) AS has_org, \
           ST_AsBinary(b.anchor) AS point \
         FROM buildings b JOIN grids g ON g.id = b.grid_id LEFT JOIN compounds c ON c.id = b.compound_id \
         WHERE b.employees > 0 AND g.community_id = ANY($1) ORDER BY b.code",
    );
    let q = q.bind(communities);
    q.fetch_all(conn).await.ctx(RULE_DATA)
}

/// The 双报到 members registered with the communities by `year`, with their posts of the
/// year and their welfare organisations.
async fn dual_member_facts(
    conn: &mut PgConnection,
    communities: &[i64],
    year: i32,
) -> Result<Vec<DualMemberFacts>, StoreError> {
    let q = sqlx::query_as(
        "SELECT p.id, p.code, d.name, m.community_id, b.grid_id, \
           (SELECT count(*) FROM volunteer_posts v WHERE v.person_id = p.id AND v.year = $2) AS posts, \
           (SELECT count(*) FROM association_members am JOIN associations a ON a.id = am.association_id \
             WHERE am.person_id = p.id AND a.kind = ANY($3)) AS welfare_orgs, \
           ST_AsBinary(b.anchor) AS point \
         FROM dual_members m JOIN people p ON p.id = m.person_id JOIN person_details d ON d.person_id = p.id \
         LEFT JOIN buildings b ON b.id = p.home_building_id \
         WHERE m.community_id = ANY($1) AND extract(year FROM m.registered_on) <= $2 ORDER BY p.code",
    );
    let q = q.bind(communities).bind(year).bind(welfare_kinds());
    q.fetch_all(conn).await.ctx(RULE_DATA)
}

from_row! {
    CompoundFacts |r| {
        id, code, name, built_year, community_id, grid_id, residents, has_org;
        point: wkb_point(r)?,
        kind: CompoundKind::parse(r.try_get("kind")?).unwrap_or(CompoundKind::Other),
        occupancy: r.try_get("occupancy_rate")?,
        full: r.try_get("n_full")?
    }
    BuildingFacts |r| {
        id, code, name, employees, commercial, community_id, grid_id, has_org;
        point: wkb_point(r)?
    }
    DualMemberFacts |r| {
        code, name, community_id, grid_id, posts, welfare_orgs;
        point: wkb_point(r)?,
        person_id: r.try_get("id")?
    }
}
