//! `import_party`: loading a whole parsed party file in one transaction, after checking it
//! (reading and parsing the file is the top-level `import` module's).

use super::*;
use crate::store::import::{missing, Problems, Table};
use sqlx::postgres::{PgArguments, PgQueryResult};
use sqlx::query::Query;
use sqlx::Postgres;

/// Rows per statement in bulk loads.
const CHUNK: usize = 5_000;

fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

impl Store {
    /// Imports the party data of a district (a parsed `party.json`, see
    /// [`party::PartyFile`]) in one transaction: every problem is reported with its section
    /// and index, and nothing is written unless all pass. Returns the number of records
    /// written.
    pub async fn import_party(
        &self,
        actor: &Actor,
        f: &party::PartyFile,
    ) -> Result<usize, StoreError> {
        let mut p = Problems::default();
        check_file(f, &mut p);
        p.check()?;
        let mut tx = self.begin_write(actor).await?;
        let c = &mut *tx;
        let association_members = load_associations(c, f, &mut p).await?;
        let orgs = OrgGroups::of(f);
        orgs.check(c, &mut p).await?;
        p.check()?;
        orgs.load(c).await?;
        load_officers(c, f, &mut p).await?;
        load_functional_members(c, f, &mut p).await?;
        load_units(c, f, &mut p).await?;
        load_dual_members(c, f, &mut p).await?;
        load_projects(c, f, &mut p).await?;
        load_posts(c, f, &mut p).await?;
        let total = f.associations.len()
            + association_members
            + f.orgs.len()
            + f.officers.len()
            + f.functional_members.len()
            + f.units.len()
            + f.dual_members.len()
            + f.projects.len()
            + f.posts.len();
        let entry = Entry::import("party", total);
        tx.finish(entry, PARTY, "committing party data").await?;
        Ok(total)
    }
}

/// What an import does, for its errors.
const WHAT: &str = "importing party data";

/// The checks of a party file that need no database: kinds, forms, roles, codes, names,
/// dates and years.
fn check_file(f: &party::PartyFile, p: &mut Problems) {
    for (i, a) in f.associations.iter().enumerate() {
        if AssociationKind::parse(&a.kind).is_none() {
            p.add_in(
                "associations",
                i,
                "kind: service, public_welfare, volunteer or other",
            );
        }
        if let Err(e) = check_code(&a.code, "code").and(check_name(&a.name, "name")) {
            p.add_in("associations", i, e);
        }
    }
    for (i, o) in f.orgs.iter().enumerate() {
        let kind = OrgKind::parse(&o.kind);
        if kind.is_none() || OrgForm::parse(&o.form).is_none() {
            p.add_in("orgs", i, "kind or form unknown");
        }
        if let Err(e) = check_code(&o.code, "code").and(check_name(&o.name, "name")) {
            p.add_in("orgs", i, e);
        }
        let attach = o.attached_to.as_ref().map(|a| AttachKind::parse(&a.kind));
        match (kind, attach) {
            (Some(OrgKind::Functional), Some(Some(_))) => {}
            (Some(OrgKind::Functional), _) => {
                p.add_in("orgs", i, "attached_to: compound, building or association");
            }
            (Some(OrgKind::CommunityCommittee), None) if o.community_code.is_some() => {}
            (Some(OrgKind::CommunityCommittee), _) => p.add_in(
                "orgs",
                i,
                "a 大党委 needs community_code and no attached_to",
            ),
            _ => {}
        }
    }
    for (i, o) in f.officers.iter().enumerate() {
        if OfficerRole::parse(&o.role).is_none() {
            p.add_in("officers", i, "role unknown");
        }
    }
    for (i, u) in f.units.iter().enumerate() {
        if parse_date(&u.registered_on).is_none() {
            p.add_in("units", i, "registered_on: YYYY-MM-DD");
        }
        if let Err(e) = check_code(&u.code, "code").and(check_name(&u.name, "name")) {
            p.add_in("units", i, e);
        }
    }
    for (i, d) in f.dual_members.iter().enumerate() {
        if parse_date(&d.registered_on).is_none() {
            p.add_in("dual_members", i, "registered_on: YYYY-MM-DD");
        }
    }
    for (i, v) in f.projects.iter().enumerate() {
        if let Err(e) = check_year(v.year, "year").and(check_code(&v.code, "code")) {
            p.add_in("projects", i, e);
        }
    }
    for (i, v) in f.posts.iter().enumerate() {
        if let Err(e) = check_year(v.year, "year").and(check_name(&v.post, "post")) {
            p.add_in("posts", i, e);
        }
    }
}

/// Social organisations and their members; returns how many memberships were written.
async fn load_associations(
    c: &mut PgConnection,
    f: &party::PartyFile,
    p: &mut Problems,
) -> Result<usize, StoreError> {
    let a = &f.associations;
    let communities = col(a, |x| Some(x.community_code.as_str()));
    p.refs(
        c,
        ("associations", "community_code"),
        Table::Communities,
        &communities,
    )
    .await?;
    let members: Vec<(&str, &str)> = a
        .iter()
        .flat_map(|a| a.members.iter().map(move |m| (a.code.as_str(), m.as_str())))
        .collect();
    let people = col(&members, |m| Some(m.1));
    for i in missing(c, Table::People, &people).await? {
        let msg = format!("no person {}", members[i].1);
        p.add_in("associations.members", i, msg);
    }
    p.check()?;
    insert_chunks(c, a, |res| added(res, "associations"), |a| {
        sqlx::query(
            "INSERT INTO associations (code, name, kind, community_id, founded_year, geom) \
             SELECT t.code, t.name, t.kind, c.id, t.year, \
               CASE WHEN t.lon IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4326) END \
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::float8[], $7::float8[]) \
               AS t(code, name, kind, community, year, lon, lat) JOIN communities c ON c.code = t.community",
        )
        .bind(col(a, |x| x.code.as_str()))
        .bind(col(a, |x| x.name.trim()))
        .bind(col(a, |x| x.kind.as_str()))
        .bind(col(a, |x| x.community_code.as_str()))
        .bind(col(a, |x| x.founded_year))
        .bind(col(a, |x| x.location.map(|l| l[0])))
        .bind(col(a, |x| x.location.map(|l| l[1])))
    })
    .await?;
    insert_chunks(c, &members, |res| res.ctx(WHAT), |m| {
        sqlx::query(
            "INSERT INTO association_members (association_id, person_id) \
             SELECT a.id, p.id FROM unnest($1::text[], $2::text[]) AS t(a, p) \
             JOIN associations a ON a.code = t.a JOIN people p ON p.code = t.p ON CONFLICT DO NOTHING",
        )
        .bind(col(m, |m| m.0))
        .bind(col(m, |m| m.1))
    })
    .await?;
    Ok(members.len())
}

/// The organisations of a party file by what an import does with them: 大党委 (one may
/// exist already, made with the grids), functional organisations (with what they are
/// attached to), and cells (made with their grids: only renamed), each with its index.
struct OrgGroups<'f> {
    committees: Vec<(usize, &'f party::OrgRecord)>,
    functional: Vec<(usize, &'f party::OrgRecord, AttachKind, &'f str)>,
    cells: Vec<(usize, &'f party::OrgRecord)>,
}

impl<'f> OrgGroups<'f> {
    /// The organisations of `f`, grouped.
    fn of(f: &'f party::PartyFile) -> Self {
        let committees = f
            .orgs
            .iter()
            .enumerate()
            .filter(|(_, o)| o.kind == OrgKind::CommunityCommittee.as_str())
            .collect();
        let functional = f
            .orgs
            .iter()
            .enumerate()
            .filter_map(|(i, o)| {
                let a = o.attached_to.as_ref()?;
                Some((i, o, AttachKind::parse(&a.kind)?, a.code.as_str()))
            })
            .filter(|(_, o, _, _)| o.kind == OrgKind::Functional.as_str())
            .collect();
        let cells = f
            .orgs
            .iter()
            .enumerate()
            .filter(|(_, o)| {
                o.kind == OrgKind::GridBranch.as_str() || o.kind == OrgKind::GridGroup.as_str()
            })
            .collect();
        OrgGroups {
            committees,
            functional,
            cells,
        }
    }

    /// Notes every reference of the organisations that no row answers.
    async fn check(&self, c: &mut PgConnection, p: &mut Problems) -> Result<(), StoreError> {
        let (committees, functional, cells) = (&self.committees, &self.functional, &self.cells);

        let codes: Vec<Option<&str>> = committees
            .iter()
            .map(|(_, o)| o.community_code.as_deref())
            .collect();
        for i in missing(c, Table::Communities, &codes).await? {
            p.add_in("orgs", committees[i].0, "community_code: no such community");
        }
        for (kind, table) in [
            (AttachKind::Compound, Table::Compounds),
            (AttachKind::Building, Table::Buildings),
            (AttachKind::Association, Table::Associations),
        ] {
            let these: Vec<&(usize, &party::OrgRecord, AttachKind, &str)> =
                functional.iter().filter(|x| x.2 == kind).collect();
            let codes: Vec<Option<&str>> = these.iter().map(|x| Some(x.3)).collect();
            for i in missing(c, table, &codes).await? {
                p.add_in(
                    "orgs",
                    these[i].0,
                    format!("attached_to: no {}", table.name()),
                );
            }
        }
        let codes: Vec<Option<&str>> = cells.iter().map(|(_, o)| Some(o.code.as_str())).collect();
        for i in missing(c, Table::PartyOrgs, &codes).await? {
            p.add_in(
                "orgs",
                cells[i].0,
                "a cell is made with its grid: no such cell",
            );
        }
        Ok(())
    }

    /// Writes the organisations.
    async fn load(&self, c: &mut PgConnection) -> Result<(), StoreError> {
        let (committees, functional, cells) = (&self.committees, &self.functional, &self.cells);
        for (_, o) in committees {
            let res = sqlx::query(
                "INSERT INTO party_orgs (code, name, kind, form, community_id) \
                 SELECT $1, $2, 'community_committee', 'committee', c.id FROM communities c WHERE c.code = $3 \
                 ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name",
            )
            .bind(&o.code)
            .bind(o.name.trim())
            .bind(&o.community_code)
            .execute(&mut *c)
            .await;
            conflict_on_reference(res, WHAT, || {
                format!("orgs: the community of {} already has a 大党委", o.code)
            })?;
        }
        for (_, o, kind, attach) in functional {
            let sql = match kind {
                AttachKind::Compound => {
                    "INSERT INTO party_orgs (code, name, kind, form, community_id, compound_id) \
                     SELECT $1, $2, 'functional', $3, x.community_id, x.id FROM compounds x WHERE x.code = $4"
                }
                AttachKind::Building => {
                    "INSERT INTO party_orgs (code, name, kind, form, community_id, building_id) \
                     SELECT $1, $2, 'functional', $3, g.community_id, x.id FROM buildings x \
                     JOIN grids g ON g.id = x.grid_id WHERE x.code = $4"
                }
                AttachKind::Association => {
                    "INSERT INTO party_orgs (code, name, kind, form, community_id, association_id) \
                     SELECT $1, $2, 'functional', $3, x.community_id, x.id FROM associations x WHERE x.code = $4"
                }
            };
            let res = sqlx::query(sql)
                .bind(&o.code)
                .bind(o.name.trim())
                .bind(&o.form)
                .bind(attach)
                .execute(&mut *c)
                .await;
            conflict_on_reference(res, WHAT, || {
                format!("orgs: {} is already used, or its form does not fit", o.code)
            })?;
        }
        for (_, o) in cells {
            sqlx::query("UPDATE party_orgs SET name = $2 WHERE code = $1")
                .bind(&o.code)
                .bind(o.name.trim())
                .execute(&mut *c)
                .await
                .ctx(WHAT)?;
        }

        Ok(())
    }
}

/// Officers: full members, in roles that fit the organisation's form.
async fn load_officers(
    c: &mut PgConnection,
    f: &party::PartyFile,
    p: &mut Problems,
) -> Result<(), StoreError> {
    let o = &f.officers;
    let refs = [
        (
            "org_code",
            Table::PartyOrgs,
            col(o, |x| Some(x.org_code.as_str())),
        ),
        (
            "person_code",
            Table::People,
            col(o, |x| Some(x.person_code.as_str())),
        ),
    ];
    check_refs(c, p, "officers", &refs).await?;
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT t.i, o.form, p.membership FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(o, p, i) \
         JOIN party_orgs o ON o.code = t.o JOIN people p ON p.code = t.p ORDER BY t.i",
    )
    .bind(col(o, |x| x.org_code.as_str()))
    .bind(col(o, |x| x.person_code.as_str()))
    .fetch_all(&mut *c)
    .await
    .ctx(WHAT)?;
    let mut by_org: HashMap<&str, (OrgForm, Vec<OfficerRole>)> = HashMap::new();
    for (i, form, m) in rows {
        let i = (i - 1) as usize;
        let officer = &o[i];
        if !party::may_hold_office(membership(&m)) {
            let msg = format!("{} is not a full member", officer.person_code);
            p.add_in("officers", i, msg);
        }
        let e = by_org
            .entry(officer.org_code.as_str())
            .or_insert((OrgForm::parse(&form).unwrap_or(OrgForm::Branch), vec![]));
        e.1.extend(OfficerRole::parse(&officer.role));
    }
    for (code, (form, roles)) in &by_org {
        if let Err(e) = check_officers(*form, roles) {
            let i = o.iter().position(|x| x.org_code == *code).unwrap_or(0);
            p.add_in("officers", i, format!("{code}: {e}"));
        }
    }
    p.check()?;
    let twice = || {
        "officers: a person holds two offices in one organisation, or it has two secretaries"
            .to_string()
    };
    insert_chunks(c, o, |res| conflict_on_reference(res, WHAT, twice), |o| {
        sqlx::query(
            "INSERT INTO party_officers (org_id, person_id, role) \
             SELECT o.id, p.id, t.role FROM unnest($1::text[], $2::text[], $3::text[]) AS t(o, p, role) \
             JOIN party_orgs o ON o.code = t.o JOIN people p ON p.code = t.p",
        )
        .bind(col(o, |x| x.org_code.as_str()))
        .bind(col(o, |x| x.person_code.as_str()))
        .bind(col(o, |x| x.role.as_str()))
    })
    .await
}

/// Members of functional organisations.
async fn load_functional_members(
    c: &mut PgConnection,
    f: &party::PartyFile,
    p: &mut Problems,
) -> Result<(), StoreError> {
    let m = &f.functional_members;
    let refs = [
        (
            "org_code",
            Table::PartyOrgs,
            col(m, |x| Some(x.org_code.as_str())),
        ),
        (
            "person_code",
            Table::People,
            col(m, |x| Some(x.person_code.as_str())),
        ),
    ];
    check_refs(c, p, "functional_members", &refs).await?;
    let twice = || "functional_members: a member is in two functional organisations".to_string();
    insert_chunks(c, m, |res| conflict_on_reference(res, WHAT, twice), |m| {
        sqlx::query(
            "INSERT INTO functional_members (person_id, org_id) \
             SELECT p.id, o.id FROM unnest($1::text[], $2::text[]) AS t(o, p) \
             JOIN party_orgs o ON o.code = t.o AND o.kind = 'functional' JOIN people p ON p.code = t.p",
        )
        .bind(col(m, |x| x.org_code.as_str()))
        .bind(col(m, |x| x.person_code.as_str()))
    })
    .await
}

/// 双报到 units.
async fn load_units(
    c: &mut PgConnection,
    f: &party::PartyFile,
    p: &mut Problems,
) -> Result<(), StoreError> {
    let u = &f.units;
    let refs = [(
        "community_code",
        Table::Communities,
        col(u, |x| Some(x.community_code.as_str())),
    )];
    check_refs(c, p, "units", &refs).await?;
    insert_chunks(c, u, |res| added(res, "units"), |u| {
        sqlx::query(
            "INSERT INTO dual_units (code, name, party_org_name, community_id, registered_on, geom) \
             SELECT t.code, t.name, t.org, c.id, t.day, \
               CASE WHEN t.lon IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4326) END \
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::date[], $6::float8[], $7::float8[]) \
               AS t(code, name, org, community, day, lon, lat) JOIN communities c ON c.code = t.community",
        )
        .bind(col(u, |x| x.code.as_str()))
        .bind(col(u, |x| x.name.trim()))
        .bind(col(u, |x| x.party_org_name.as_deref()))
        .bind(col(u, |x| x.community_code.as_str()))
        .bind(dates(u, |x| &x.registered_on))
        .bind(col(u, |x| x.location.map(|l| l[0])))
        .bind(col(u, |x| x.location.map(|l| l[1])))
    })
    .await
}

/// 双报到 members: in-service members registered with a community (and their unit).
async fn load_dual_members(
    c: &mut PgConnection,
    f: &party::PartyFile,
    p: &mut Problems,
) -> Result<(), StoreError> {
    let d = &f.dual_members;
    let refs = [
        (
            "person_code",
            Table::People,
            col(d, |x| Some(x.person_code.as_str())),
        ),
        (
            "unit_code",
            Table::DualUnits,
            col(d, |x| x.unit_code.as_deref()),
        ),
        (
            "community_code",
            Table::Communities,
            col(d, |x| Some(x.community_code.as_str())),
        ),
    ];
    check_refs(c, p, "dual_members", &refs).await?;
    insert_chunks(c, d, |res| added(res, "dual_members"), |d| {
        sqlx::query(
            "INSERT INTO dual_members (person_id, unit_id, community_id, registered_on) \
             SELECT p.id, u.id, c.id, t.day FROM unnest($1::text[], $2::text[], $3::text[], $4::date[]) \
               AS t(p, u, c, day) JOIN people p ON p.code = t.p JOIN communities c ON c.code = t.c \
             LEFT JOIN dual_units u ON u.code = t.u",
        )
        .bind(col(d, |x| x.person_code.as_str()))
        .bind(col(d, |x| x.unit_code.as_deref()))
        .bind(col(d, |x| x.community_code.as_str()))
        .bind(dates(d, |x| &x.registered_on))
    })
    .await
}

/// Volunteer projects of units or communities.
async fn load_projects(
    c: &mut PgConnection,
    f: &party::PartyFile,
    p: &mut Problems,
) -> Result<(), StoreError> {
    let v = &f.projects;
    let refs = [
        (
            "community_code",
            Table::Communities,
            col(v, |x| Some(x.community_code.as_str())),
        ),
        (
            "unit_code",
            Table::DualUnits,
            col(v, |x| x.unit_code.as_deref()),
        ),
    ];
    check_refs(c, p, "projects", &refs).await?;
    insert_chunks(c, v, |res| added(res, "projects"), |v| {
        sqlx::query(
            "INSERT INTO volunteer_projects (code, name, community_id, unit_id, year) \
             SELECT t.code, t.name, c.id, u.id, t.year FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[]) \
               AS t(code, name, c, u, year) JOIN communities c ON c.code = t.c LEFT JOIN dual_units u ON u.code = t.u",
        )
        .bind(col(v, |x| x.code.as_str()))
        .bind(col(v, |x| x.name.trim()))
        .bind(col(v, |x| x.community_code.as_str()))
        .bind(col(v, |x| x.unit_code.as_deref()))
        .bind(col(v, |x| x.year))
    })
    .await
}

/// Volunteer posts members hold in a year.
async fn load_posts(
    c: &mut PgConnection,
    f: &party::PartyFile,
    p: &mut Problems,
) -> Result<(), StoreError> {
    let v = &f.posts;
    let refs = [
        (
            "person_code",
            Table::People,
            col(v, |x| Some(x.person_code.as_str())),
        ),
        (
            "project_code",
            Table::Projects,
            col(v, |x| x.project_code.as_deref()),
        ),
    ];
    check_refs(c, p, "posts", &refs).await?;
    insert_chunks(c, v, |res| added(res, "posts"), |v| {
        sqlx::query(
            "INSERT INTO volunteer_posts (person_id, year, post, project_id) \
             SELECT p.id, t.year, t.post, v.id FROM unnest($1::text[], $2::int[], $3::text[], $4::text[]) \
               AS t(p, year, post, v) JOIN people p ON p.code = t.p LEFT JOIN volunteer_projects v ON v.code = t.v",
        )
        .bind(col(v, |x| x.person_code.as_str()))
        .bind(col(v, |x| x.year))
        .bind(col(v, |x| x.post.trim()))
        .bind(col(v, |x| x.project_code.as_deref()))
    })
    .await
}

/// One column of a section's records, to bind as an array.
fn col<'a, T, U>(rows: &'a [T], of: impl Fn(&'a T) -> U) -> Vec<U> {
    rows.iter().map(of).collect()
}

/// The dates of a section's records (checked before: none is left out).
fn dates<'a, T>(rows: &'a [T], of: impl Fn(&'a T) -> &'a String) -> Vec<NaiveDate> {
    rows.iter().filter_map(|r| parse_date(of(r))).collect()
}

/// Notes every reference (field, table, codes) of a section's records that no row answers,
/// and stops the import at any problem.
async fn check_refs(
    c: &mut PgConnection,
    p: &mut Problems,
    section: &str,
    refs: &[(&str, Table, Vec<Option<&str>>)],
) -> Result<(), StoreError> {
    for (field, table, codes) in refs {
        p.refs(c, (section, field), *table, codes).await?;
    }
    p.check()
}

/// Writes a section's records in statements of at most [`CHUNK`] rows: `insert` makes
/// the statement of a chunk, `checked` turns its outcome into the import's.
async fn insert_chunks<'a, T>(
    c: &mut PgConnection,
    rows: &'a [T],
    checked: impl Fn(Result<PgQueryResult, sqlx::Error>) -> Result<PgQueryResult, StoreError>,
    insert: impl Fn(&'a [T]) -> Query<'a, Postgres, PgArguments>,
) -> Result<(), StoreError> {
    for s in (0..rows.len()).step_by(CHUNK) {
        let chunk = &rows[s..(s + CHUNK).min(rows.len())];
        checked(insert(chunk).execute(&mut *c).await)?;
    }
    Ok(())
}

/// A duplicate key in an import section is a conflict that names the section.
fn added(
    res: Result<PgQueryResult, sqlx::Error>,
    section: &str,
) -> Result<PgQueryResult, StoreError> {
    res.map_err(|e| match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(format!(
            "{section}: a code is listed twice or already exists: {}",
            d.message()
        )),
        source => StoreError::db(WHAT, source),
    })
}
