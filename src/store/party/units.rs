//! Social organisations, 双报到 units and members, volunteer projects and posts: reads and
//! audited writes.

use super::*;
use serde_json::Value;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::Postgres;

impl Store {
    /// The years that have volunteer projects or posts on record, latest first, at most
    /// `limit` of them (the years whose party rules an office may ask for).
    pub async fn party_record_years(&self, limit: i64) -> Result<Vec<i32>, StoreError> {
        sqlx::query_scalar(
            "SELECT year FROM (SELECT year FROM volunteer_projects UNION SELECT year FROM volunteer_posts) y \
             ORDER BY year DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .ctx("reading the years of volunteer records")
    }

    /// Social organisations of the given communities, one page by code (byte order).
    pub async fn associations(
        &self,
        communities: &[i64],
        page: Page<'_>,
    ) -> Result<Vec<Association>, StoreError> {
        let mut conn = self.pool.acquire().await.ctx("connecting")?;
        associations_in(&mut conn, communities, None, page).await
    }

    /// Social organisations and their members counted per community:
    /// (community, organisations, members).
    pub async fn association_counts(
        &self,
        communities: &[i64],
    ) -> Result<Vec<(i64, i64, i64)>, StoreError> {
        sqlx::query_as(
            "SELECT a.community_id, count(DISTINCT a.id), count(m.person_id) \
             FROM associations a LEFT JOIN association_members m ON m.association_id = a.id \
             WHERE a.community_id = ANY($1) GROUP BY 1 ORDER BY 1",
        )
        .bind(communities)
        .fetch_all(&self.pool)
        .await
        .ctx("counting social organisations")
    }

    /// 双报到 units of the given communities with their projects of `year`, one page by
    /// code (byte order).
    pub async fn dual_units(
        &self,
        communities: &[i64],
        year: i32,
        page: Page<'_>,
    ) -> Result<Vec<Unit>, StoreError> {
        let mut conn = self.pool.acquire().await.ctx("connecting")?;
        units_in(&mut conn, communities, year, page).await
    }

    /// 双报到 units registered by `year` counted per community, with their members and
    /// their projects of the year: (community, units, members, projects).
    pub async fn unit_counts(
        &self,
        communities: &[i64],
        year: i32,
    ) -> Result<Vec<(i64, i64, i64, i64)>, StoreError> {
        sqlx::query_as(
            "SELECT u.community_id, count(*), \
               COALESCE(sum((SELECT count(*) FROM dual_members m WHERE m.unit_id = u.id)), 0)::bigint, \
               COALESCE(sum((SELECT count(*) FROM volunteer_projects v WHERE v.unit_id = u.id AND v.year = $2)), 0)::bigint \
             FROM dual_units u WHERE u.community_id = ANY($1) AND extract(year FROM u.registered_on) <= $2 \
             GROUP BY 1 ORDER BY 1",
        )
        .bind(communities)
        .bind(year)
        .fetch_all(&self.pool)
        .await
        .ctx("counting 双报到 units")
    }

    /// 双报到 members of the given communities with their posts of `year`.
    /// The 双报到 members of these communities as (person id, person code, community id,
    /// home grid, whether they hold a post in `year`): what counting and paging need, without
    /// the details of each.
    pub async fn dual_member_keys(
        &self,
        communities: &[i64],
        year: i32,
    ) -> Result<Vec<DualKey>, StoreError> {
        sqlx::query_as(
            "SELECT p.id, p.code, m.community_id, b.grid_id, \
               EXISTS (SELECT 1 FROM volunteer_posts v WHERE v.person_id = p.id AND v.year = $2) \
             FROM dual_members m JOIN people p ON p.id = m.person_id \
             LEFT JOIN buildings b ON b.id = p.home_building_id \
             WHERE m.community_id = ANY($1)",
        )
        .bind(communities)
        .bind(year)
        .fetch_all(&self.pool)
        .await
        .ctx("reading 双报到 members")
    }

    /// The 双报到 members of these communities (of these people only, if given), by code.
    pub async fn dual_members(
        &self,
        communities: &[i64],
        year: i32,
    ) -> Result<Vec<DualMember>, StoreError> {
        self.dual_members_of(communities, year, None).await
    }

    /// Like [`Self::dual_members`], of the people `only` (ids) when given.
    pub async fn dual_members_of(
        &self,
        communities: &[i64],
        year: i32,
        only: Option<&[i64]>,
    ) -> Result<Vec<DualMember>, StoreError> {
        sqlx::query_as(
            "SELECT p.id AS person_id, p.code, d.name, u.code AS unit_code, m.community_id, c.code AS community_code, \
               b.grid_id, m.registered_on, \
               ARRAY(SELECT v.post FROM volunteer_posts v WHERE v.person_id = p.id AND v.year = $2 ORDER BY v.post) AS posts \
             FROM dual_members m JOIN people p ON p.id = m.person_id JOIN person_details d ON d.person_id = p.id \
             JOIN communities c ON c.id = m.community_id LEFT JOIN dual_units u ON u.id = m.unit_id \
             LEFT JOIN buildings b ON b.id = p.home_building_id \
             WHERE m.community_id = ANY($1) AND ($3::bigint[] IS NULL OR p.id = ANY($3)) ORDER BY p.code",
        )
        .bind(communities)
        .bind(year)
        .bind(only)
        .fetch_all(&self.pool)
        .await
        .ctx("reading 双报到 members")
    }
}

pub(super) async fn associations_in(
    conn: &mut PgConnection,
    communities: &[i64],
    year: Option<i32>,
    page: Page<'_>,
) -> Result<Vec<Association>, StoreError> {
    let q = sqlx::query_as(
        "SELECT a.id, a.code, a.name, a.kind, a.community_id, c.code AS community_code, a.founded_year, \
           (SELECT count(*) FROM association_members m WHERE m.association_id = a.id) AS members, \
           (SELECT count(*) FROM association_members m JOIN people p ON p.id = m.person_id \
             WHERE m.association_id = a.id AND p.membership = 'full') AS full_members, \
           (SELECT o.code FROM party_orgs o WHERE o.association_id = a.id AND o.dissolved_at IS NULL ORDER BY o.id LIMIT 1) AS party_org, \
           ST_AsBinary(a.geom) AS point \
         FROM associations a JOIN communities c ON c.id = a.community_id \
         WHERE a.community_id = ANY($1) AND ($2::int IS NULL OR a.founded_year IS NULL OR a.founded_year <= $2) \
           AND ($3::text IS NULL OR a.code COLLATE \"C\" > $3) \
         ORDER BY a.code COLLATE \"C\" LIMIT $4",
    );
    let q = q
        .bind(communities)
        .bind(year)
        .bind(page.after)
        .bind(page.limit);
    let what = "reading social organisations";
    read_all::<_, _, Result<_, _>>(q, conn, what, AssociationRow::association).await?
}

pub(super) async fn units_in(
    conn: &mut PgConnection,
    communities: &[i64],
    year: i32,
    page: Page<'_>,
) -> Result<Vec<Unit>, StoreError> {
    let what = "reading 双报到 units";
    let rows: Vec<UnitRow> = sqlx::query_as(
        "SELECT u.id, u.code, u.name, u.party_org_name, u.community_id, c.code AS community_code, \
           u.registered_on, (SELECT count(*) FROM dual_members m WHERE m.unit_id = u.id) AS members, \
           ST_AsBinary(u.geom) AS point \
         FROM dual_units u JOIN communities c ON c.id = u.community_id \
         WHERE u.community_id = ANY($1) AND extract(year FROM u.registered_on) <= $2 \
           AND ($3::text IS NULL OR u.code COLLATE \"C\" > $3) \
         ORDER BY u.code COLLATE \"C\" LIMIT $4",
    )
    .bind(communities)
    .bind(year)
    .bind(page.after)
    .bind(page.limit)
    .fetch_all(&mut *conn)
    .await
    .ctx(what)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let projects: Vec<(i64, String, String, i32)> = sqlx::query_as(
        "SELECT v.unit_id, v.code, v.name, v.year FROM volunteer_projects v \
         WHERE v.unit_id = ANY($1) AND v.year = $2 ORDER BY v.code",
    )
    .bind(&ids)
    .bind(year)
    .fetch_all(&mut *conn)
    .await
    .ctx(what)?;
    let mut by_unit: HashMap<i64, Vec<Project>> = HashMap::new();
    for (u, code, name, year) in projects {
        by_unit
            .entry(u)
            .or_default()
            .push(Project { code, name, year });
    }
    rows.into_iter()
        .map(|r| {
            let projects = by_unit.remove(&r.id).unwrap_or_default();
            r.unit(projects)
        })
        .collect()
}

/// A row of [`associations_in`]' query.
#[derive(sqlx::FromRow)]
struct AssociationRow {
    id: i64,
    code: String,
    name: String,
    kind: String,
    community_id: i64,
    community_code: String,
    founded_year: Option<i32>,
    members: i64,
    full_members: i64,
    party_org: Option<String>,
    point: Option<Vec<u8>>,
}

impl AssociationRow {
    fn association(self) -> Result<Association, StoreError> {
        Ok(Association {
            point: point(self.point, "reading social organisations")?,
            kind: AssociationKind::parse(&self.kind).unwrap_or(AssociationKind::Other),
            id: self.id,
            code: self.code,
            name: self.name,
            community_id: self.community_id,
            community_code: self.community_code,
            founded_year: self.founded_year,
            members: self.members,
            full_members: self.full_members,
            party_org: self.party_org,
        })
    }
}

/// A row of [`units_in`]' query.
#[derive(sqlx::FromRow)]
struct UnitRow {
    id: i64,
    code: String,
    name: String,
    party_org_name: Option<String>,
    community_id: i64,
    community_code: String,
    registered_on: NaiveDate,
    members: i64,
    point: Option<Vec<u8>>,
}

impl UnitRow {
    fn unit(self, projects: Vec<Project>) -> Result<Unit, StoreError> {
        Ok(Unit {
            point: point(self.point, "reading 双报到 units")?,
            id: self.id,
            code: self.code,
            name: self.name,
            party_org_name: self.party_org_name,
            community_id: self.community_id,
            community_code: self.community_code,
            registered_on: self.registered_on,
            projects,
            members: self.members,
        })
    }
}

impl Store {
    /// Creates or replaces a social organisation (and its members, when given).
    pub async fn put_association(
        &self,
        a: &AssociationInput,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        check_code(&a.code, "code")?;
        check_name(&a.name, "name")?;
        if let Some(y) = a.founded_year {
            check_year(y, "founded_year").or_else(|_| {
                if (1900..2000).contains(&y) {
                    Ok(())
                } else {
                    Err(FieldError::new(
                        "founded_year",
                        "a year between 1900 and 2100",
                    ))
                }
            })?;
        }
        let mut tx = self.begin_write(actor).await?;
        let community = community_id(&mut tx, &a.community_code, "community_code").await?;
        let before = ASSOCIATION.read(&mut tx, &a.code).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO associations (code, name, kind, community_id, founded_year, geom) \
             VALUES ($1, $2, $3, $4, $5, ST_GeomFromWKB($6, 4326)) \
             ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind, \
               community_id = EXCLUDED.community_id, founded_year = EXCLUDED.founded_year, geom = EXCLUDED.geom \
             RETURNING id",
        )
        .bind(&a.code)
        .bind(a.name.trim())
        .bind(a.kind.as_str())
        .bind(community)
        .bind(a.founded_year)
        .bind(a.point.map(wkb::encode_point))
        .fetch_one(&mut *tx)
        .await
        .ctx(ASSOCIATION.writing.0)?;
        if let Some(members) = &a.members {
            let mut ids = Vec::with_capacity(members.len());
            for (i, p) in members.iter().enumerate() {
                ids.push(person_of(&mut tx, p, &format!("members[{i}]")).await?.0);
            }
            sqlx::query("DELETE FROM association_members WHERE association_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .ctx("replacing association members")?;
            sqlx::query(
                "INSERT INTO association_members (association_id, person_id) SELECT $1, unnest($2::bigint[]) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(&ids)
            .execute(&mut *tx)
            .await
            .ctx("replacing association members")?;
        }
        ASSOCIATION.commit_put(tx, &a.code, before, community).await
    }

    /// Deletes a social organisation (refused while a party organisation is attached to it).
    pub async fn delete_association(&self, code: &str, actor: &Actor) -> Result<(), StoreError> {
        ASSOCIATION
            .delete(self.begin_write(actor).await?, code)
            .await
    }

    /// Creates or replaces a 双报到 unit.
    pub async fn put_dual_unit(&self, u: &UnitInput, actor: &Actor) -> Result<(), StoreError> {
        check_code(&u.code, "code")?;
        check_name(&u.name, "name")?;
        if let Some(n) = &u.party_org_name {
            check_name(n, "party_org_name")?;
        }
        let mut tx = self.begin_write(actor).await?;
        let community = community_id(&mut tx, &u.community_code, "community_code").await?;
        let write = sqlx::query(
            "INSERT INTO dual_units (code, name, party_org_name, community_id, registered_on, geom) \
             VALUES ($1, $2, $3, $4, $5, ST_GeomFromWKB($6, 4326)) \
             ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, party_org_name = EXCLUDED.party_org_name, \
               community_id = EXCLUDED.community_id, registered_on = EXCLUDED.registered_on, geom = EXCLUDED.geom",
        )
        .bind(&u.code)
        .bind(u.name.trim())
        .bind(u.party_org_name.as_deref().map(str::trim))
        .bind(community)
        .bind(u.registered_on)
        .bind(u.point.map(wkb::encode_point));
        UNIT.put(tx, &u.code, community, write).await
    }

    /// Deletes a 双报到 unit with its projects (its members stay registered on their own).
    pub async fn delete_dual_unit(&self, code: &str, actor: &Actor) -> Result<(), StoreError> {
        UNIT.delete(self.begin_write(actor).await?, code).await
    }

    /// Registers (or changes the registration of) an in-service party member with a
    /// community: the one given, else the community of their home.
    pub async fn put_dual_member(
        &self,
        person: &str,
        unit_code: Option<&str>,
        community_code: Option<&str>,
        registered_on: NaiveDate,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write(actor).await?;
        let pid = member_of(&mut tx, person).await?;
        let unit = match unit_code {
            None => None,
            Some(u) => Some(unit_of(&mut tx, u).await?.0),
        };
        let community = match community_code {
            Some(c) => community_id(&mut tx, c, "community_code").await?,
            None => sqlx::query_scalar(
                "SELECT g.community_id FROM people p JOIN buildings b ON b.id = p.home_building_id \
                 JOIN grids g ON g.id = b.grid_id WHERE p.id = $1",
            )
            .bind(pid)
            .fetch_optional(&mut *tx)
            .await
            .ctx("finding a person's community")?
            .ok_or_else(|| {
                FieldError::new(
                    "community_code",
                    "the person has no home building: name the community",
                )
            })?,
        };
        let write = sqlx::query(
            "INSERT INTO dual_members (person_id, unit_id, community_id, registered_on) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (person_id) DO UPDATE SET unit_id = EXCLUDED.unit_id, community_id = EXCLUDED.community_id, \
               registered_on = EXCLUDED.registered_on",
        )
        .bind(pid)
        .bind(unit)
        .bind(community)
        .bind(registered_on);
        DUAL_MEMBER.put(tx, person, community, write).await
    }

    /// Ends a member's 双报到 registration.
    pub async fn delete_dual_member(&self, person: &str, actor: &Actor) -> Result<(), StoreError> {
        let mut tx = self.begin_write(actor).await?;
        person_of(&mut tx, person, "person_code").await?;
        DUAL_MEMBER.delete(tx, person).await
    }

    /// Creates or replaces a volunteer project.
    pub async fn put_project(&self, p: &ProjectInput, actor: &Actor) -> Result<(), StoreError> {
        check_code(&p.code, "code")?;
        check_name(&p.name, "name")?;
        check_year(p.year, "year")?;
        let mut tx = self.begin_write(actor).await?;
        let unit = match &p.unit_code {
            None => None,
            Some(u) => Some(unit_of(&mut tx, u).await?),
        };
        let community = match (&p.community_code, unit) {
            (Some(c), _) => community_id(&mut tx, c, "community_code").await?,
            (None, Some((_, c))) => c,
            (None, None) => {
                return Err(FieldError::new(
                    "community_code",
                    "a project needs a community or a unit",
                )
                .into())
            }
        };
        let write = sqlx::query(
            "INSERT INTO volunteer_projects (code, name, community_id, unit_id, year) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, community_id = EXCLUDED.community_id, \
               unit_id = EXCLUDED.unit_id, year = EXCLUDED.year",
        )
        .bind(&p.code)
        .bind(p.name.trim())
        .bind(community)
        .bind(unit.map(|u| u.0))
        .bind(p.year);
        PROJECT.put(tx, &p.code, community, write).await
    }

    /// Deletes a volunteer project (posts taken on it stay, without the link).
    pub async fn delete_project(&self, code: &str, actor: &Actor) -> Result<(), StoreError> {
        PROJECT.delete(self.begin_write(actor).await?, code).await
    }

    /// Replaces the volunteer posts a member holds in `year` (post name, project code).
    pub async fn set_posts(
        &self,
        person: &str,
        year: i32,
        posts: &[(String, Option<String>)],
        actor: &Actor,
    ) -> Result<(), StoreError> {
        check_year(year, "year")?;
        let mut tx = self.begin_write(actor).await?;
        let pid = member_of(&mut tx, person).await?;
        let mut names = Vec::with_capacity(posts.len());
        let mut projects = Vec::with_capacity(posts.len());
        let mut seen = HashSet::new();
        for (i, (post, project)) in posts.iter().enumerate() {
            check_name(post, &format!("posts[{i}].post"))?;
            if !seen.insert(post.trim().to_string()) {
                return Err(FieldError::new(
                    format!("posts[{i}].post"),
                    "the same post is listed twice",
                )
                .into());
            }
            names.push(post.trim().to_string());
            projects.push(match project {
                None => None,
                Some(c) => Some(
                    sqlx::query_scalar::<_, i64>(
                        "SELECT id FROM volunteer_projects WHERE code = $1 AND year = $2",
                    )
                    .bind(c)
                    .bind(year)
                    .fetch_optional(&mut *tx)
                    .await
                    .ctx("finding a project")?
                    .ok_or_else(|| {
                        FieldError::new(
                            format!("posts[{i}].project_code"),
                            format!("no volunteer project {c} in {year}"),
                        )
                    })?,
                ),
            });
        }
        let community: Option<i64> = sqlx::query_scalar(
            "SELECT COALESCE(m.community_id, g.community_id) FROM people p \
             LEFT JOIN dual_members m ON m.person_id = p.id LEFT JOIN buildings b ON b.id = p.home_building_id \
             LEFT JOIN grids g ON g.id = b.grid_id WHERE p.id = $1",
        )
        .bind(pid)
        .fetch_one(&mut *tx)
        .await
        .ctx("finding a person's community")?;
        let before: Vec<String> = sqlx::query_scalar(
            "WITH gone AS (DELETE FROM volunteer_posts WHERE person_id = $1 AND year = $2 RETURNING post) \
             SELECT post FROM gone ORDER BY post",
        )
        .bind(pid)
        .bind(year)
        .fetch_all(&mut *tx)
        .await
        .ctx("replacing posts")?;
        sqlx::query(
            "INSERT INTO volunteer_posts (person_id, year, post, project_id) \
             SELECT $1, $2, n.post, n.project FROM unnest($3::text[], $4::bigint[]) AS n(post, project)",
        )
        .bind(pid)
        .bind(year)
        .bind(&names)
        .bind(&projects)
        .execute(&mut *tx)
        .await
        .ctx("replacing posts")?;
        let key = format!("{person}/{year}");
        names.sort();
        let entry = Entry::assigned("volunteer_posts", &key, &before, &names);
        let entry = match community {
            Some(c) => entry.in_community(c),
            None => entry,
        };
        tx.finish(entry, PARTY, "committing posts").await?;
        Ok(())
    }
}

/// The person `code` (named by the request's `person_code`) if they are a party member.
async fn member_of(tx: &mut PgConnection, code: &str) -> Result<i64, StoreError> {
    let (pid, m) = person_of(tx, code, "person_code").await?;
    if !m.is_member() {
        let msg = format!("{code} is not a party member");
        return Err(FieldError::new("person_code", msg).into());
    }
    Ok(pid)
}

/// The 双报到 unit `code` (named by the request's `unit_code`): its id and community.
async fn unit_of(tx: &mut PgConnection, code: &str) -> Result<(i64, i64), StoreError> {
    let sql = "SELECT id, community_id FROM dual_units WHERE code = $1";
    let missing = || FieldError::new("unit_code", format!("no 双报到 unit {code}"));
    id_and_community(tx, sql, code, "finding a unit", missing).await
}

/// A kind of party record written one at a time by its code: what the audit log calls
/// it, how it is read for its entries, how it is deleted.
struct Recorded {
    /// The audit log's entity name.
    entity: &'static str,
    /// What one is called when it is not found.
    noun: &'static str,
    /// Its JSON for the audit log, by code (`$1`); no row when there is none.
    json: &'static str,
    /// Deletes it by code (`$1`), returning its community.
    delete: &'static str,
    /// What reading it and deleting it do, for errors.
    doing: (&'static str, &'static str),
    /// What a create or replace does, and the name of its commit, for errors.
    writing: (&'static str, &'static str),
    /// What a deletion refused by a reference to the record says, when one can be.
    in_use: Option<fn(&str) -> String>,
}

impl Recorded {
    /// The record `code` as the audit log shows it, if there is one.
    async fn read(&self, tx: &mut PgConnection, code: &str) -> Result<Option<Value>, StoreError> {
        sqlx::query_scalar(self.json)
            .bind(code)
            .fetch_optional(&mut *tx)
            .await
            .ctx(self.doing.0)
    }

    /// Creates or replaces record `code` in `community` by the statement `write`: reads
    /// it before and after, audits and commits.
    async fn put(
        &self,
        mut tx: Write<'_>,
        code: &str,
        community: i64,
        write: Query<'_, Postgres, PgArguments>,
    ) -> Result<(), StoreError> {
        let before = self.read(&mut tx, code).await?;
        write.execute(&mut *tx).await.ctx(self.writing.0)?;
        self.commit_put(tx, code, before, community).await
    }

    /// Ends a create or replace of record `code` (`before` it, in `community`): reads it
    /// after, audits and commits.
    async fn commit_put(
        &self,
        mut tx: Write<'_>,
        code: &str,
        before: Option<Value>,
        community: i64,
    ) -> Result<(), StoreError> {
        let after = self.read(&mut tx, code).await?;
        let entry = Entry::record(self.entity, code, before, after).in_community(community);
        tx.finish(entry, PARTY, self.writing.1).await
    }

    /// Deletes record `code` in the write `tx`, auditing what it was.
    async fn delete(&self, mut tx: Write<'_>, code: &str) -> Result<(), StoreError> {
        let before = self.read(&mut tx, code).await?;
        let before = before.ok_or_else(|| StoreError::NotFound(format!("{} {code}", self.noun)))?;
        let res = sqlx::query_scalar(self.delete)
            .bind(code)
            .fetch_one(&mut *tx)
            .await;
        let community: i64 = match self.in_use {
            Some(says) => conflict_on_reference(res, self.doing.1, || says(code))?,
            None => res.ctx(self.doing.1)?,
        };
        let entry = Entry::record(self.entity, code, Some(before), None).in_community(community);
        tx.finish(entry, PARTY, "committing a deletion").await
    }
}

/// Social organisations.
const ASSOCIATION: Recorded = Recorded {
    entity: "association",
    noun: "social organisation",
    json: "SELECT json_build_object('code', a.code, 'name', a.name, 'kind', a.kind, 'community_code', c.code, \
             'founded_year', a.founded_year, 'members', \
             ARRAY(SELECT p.code FROM association_members m JOIN people p ON p.id = m.person_id \
                   WHERE m.association_id = a.id ORDER BY p.code)) \
           FROM associations a JOIN communities c ON c.id = a.community_id WHERE a.code = $1",
    delete: "DELETE FROM associations WHERE code = $1 RETURNING community_id",
    doing: ("reading a social organisation", "deleting a social organisation"),
    writing: (
        "writing a social organisation",
        "committing a social organisation",
    ),
    in_use: Some(attached_to),
};

/// Why a social organisation is not deleted.
fn attached_to(code: &str) -> String {
    format!("a party organisation is (or was) attached to {code}; it is kept for history")
}

/// 双报到 units (deleted with their projects).
const UNIT: Recorded = Recorded {
    entity: "dual_unit",
    noun: "双报到 unit",
    json: "SELECT json_build_object('code', u.code, 'name', u.name, 'party_org_name', u.party_org_name, \
             'community_code', c.code, 'registered_on', u.registered_on) \
           FROM dual_units u JOIN communities c ON c.id = u.community_id WHERE u.code = $1",
    delete: "DELETE FROM dual_units WHERE code = $1 RETURNING community_id",
    doing: ("reading a 双报到 unit", "deleting a 双报到 unit"),
    writing: ("writing a 双报到 unit", "committing a 双报到 unit"),
    in_use: None,
};

/// 双报到 registrations, by the member's person code.
const DUAL_MEMBER: Recorded = Recorded {
    entity: "dual_member",
    noun: "双报到 member",
    json: "SELECT json_build_object('unit_code', u.code, 'community_code', c.code, 'registered_on', m.registered_on) \
           FROM dual_members m JOIN communities c ON c.id = m.community_id LEFT JOIN dual_units u ON u.id = m.unit_id \
           WHERE m.person_id = (SELECT id FROM people WHERE code = $1)",
    delete: "DELETE FROM dual_members WHERE person_id = (SELECT id FROM people WHERE code = $1) \
             RETURNING community_id",
    doing: ("reading a 双报到 registration", "ending a 双报到 registration"),
    writing: ("registering a 双报到 member", "committing a 双报到 member"),
    in_use: None,
};

/// Volunteer projects (posts taken on one stay, without the link).
const PROJECT: Recorded = Recorded {
    entity: "volunteer_project",
    noun: "volunteer project",
    json: "SELECT json_build_object('code', v.code, 'name', v.name, 'community_code', c.code, \
             'unit_code', u.code, 'year', v.year) \
           FROM volunteer_projects v JOIN communities c ON c.id = v.community_id \
           LEFT JOIN dual_units u ON u.id = v.unit_id WHERE v.code = $1",
    delete: "DELETE FROM volunteer_projects WHERE code = $1 RETURNING community_id",
    doing: (
        "reading a volunteer project",
        "deleting a volunteer project",
    ),
    writing: (
        "writing a volunteer project",
        "committing a volunteer project",
    ),
    in_use: None,
};
