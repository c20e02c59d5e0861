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
        FUNCTIONAL_MEMBERS
            .load(c, &mut p, &f.functional_members)
            .await?;
        UNITS.load(c, &mut p, &f.units).await?;
        DUAL_MEMBERS.load(c, &mut p, &f.dual_members).await?;
        PROJECTS.load(c, &mut p, &f.projects).await?;
        POSTS.load(c, &mut p, &f.posts).await?;
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
    ASSOCIATIONS.check_refs(c, p, a).await?;
    let members: Vec<(&str, &str)> = a
        .iter()
        .flat_map(|a| a.members.iter().map(move |m| (a.code.as_str(), m.as_str())))
        .collect();
    let people: Vec<Option<&str>> = members.iter().map(|m| Some(m.1)).collect();
    for i in missing(c, Table::People, &people).await? {
        let msg = format!("no person {}", members[i].1);
        p.add_in("associations.members", i, msg);
    }
    p.check()?;
    ASSOCIATIONS.insert(c, a).await?;
    let association_members: Section<(&str, &str)> = Section {
        name: "associations.members",
        columns: &[
            Column::Text("a", |m| Some(m.0)),
            Column::Text("p", |m| Some(m.1)),
        ],
        sql: "INSERT INTO association_members (association_id, person_id) SELECT a.id, p.id \
             FROM {rows} JOIN associations a ON a.code = t.a JOIN people p ON p.code = t.p \
             ON CONFLICT DO NOTHING",
        conflict: OnConflict::Skipped,
    };
    association_members.insert(c, &members).await?;
    Ok(members.len())
}

/// Social organisations (their members are written apart).
const ASSOCIATIONS: Section<party::AssociationRecord> = Section {
    name: "associations",
    columns: &[
        Column::Text("code", |x| Some(&x.code)),
        Column::Text("name", |x| Some(x.name.trim())),
        Column::Text("kind", |x| Some(&x.kind)),
        Column::Code("community", COMMUNITY, |x| Some(&x.community_code)),
        Column::Int("year", |x| x.founded_year),
        Column::Point(|x| x.location),
    ],
    sql: "INSERT INTO associations (code, name, kind, community_id, founded_year, geom) \
         SELECT t.code, t.name, t.kind, c.id, t.year, {point} \
         FROM {rows} JOIN communities c ON c.code = t.community",
    conflict: OnConflict::Listed,
};

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
        let indexed = || f.orgs.iter().enumerate();
        let committees = indexed()
            .filter(|(_, o)| o.kind == OrgKind::CommunityCommittee.as_str())
            .collect();
        let functional = indexed()
            .filter_map(|(i, o)| {
                let a = o.attached_to.as_ref()?;
                Some((i, o, AttachKind::parse(&a.kind)?, a.code.as_str()))
            })
            .filter(|(_, o, _, _)| o.kind == OrgKind::Functional.as_str())
            .collect();
        let cells = indexed()
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
    OFFICERS.check_refs(c, p, o).await?;
    p.check()?;
    let orgs: Vec<&str> = o.iter().map(|x| x.org_code.as_str()).collect();
    let people: Vec<&str> = o.iter().map(|x| x.person_code.as_str()).collect();
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT t.i, o.form, p.membership FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(o, p, i) \
         JOIN party_orgs o ON o.code = t.o JOIN people p ON p.code = t.p ORDER BY t.i",
    )
    .bind(orgs)
    .bind(people)
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
    OFFICERS.insert(c, o).await
}

/// Officers (their memberships and roles are checked apart).
const OFFICERS: Section<party::OfficerRecord> = Section {
    name: "officers",
    columns: &[
        Column::Code("o", ORG, |x| Some(&x.org_code)),
        Column::Code("p", PERSON, |x| Some(&x.person_code)),
        Column::Text("role", |x| Some(&x.role)),
    ],
    sql: "INSERT INTO party_officers (org_id, person_id, role) SELECT o.id, p.id, t.role \
         FROM {rows} JOIN party_orgs o ON o.code = t.o JOIN people p ON p.code = t.p",
    conflict: OnConflict::Says(
        "officers: a person holds two offices in one organisation, or it has two secretaries",
    ),
};

/// One column of a section's records, bound as an array and named in `{rows}` (see
/// [`Section`]) by its alias.
enum Column<T> {
    /// Text (its reader trims a name).
    Text(&'static str, fn(&T) -> Option<&str>),
    /// The code of a row of another table, checked before writing: `(field, table)` name
    /// the record's field and the table.
    Code(&'static str, (&'static str, Table), fn(&T) -> Option<&str>),
    /// A whole number (a year).
    Int(&'static str, fn(&T) -> Option<i32>),
    /// A `YYYY-MM-DD` date, checked before (none is left out).
    Date(&'static str, fn(&T) -> &str),
    /// A `[lon, lat]` location: two arrays, `lon` then `lat`.
    Point(fn(&T) -> Option<[f64; 2]>),
}

impl<T> Column<T> {
    /// The aliases and array types of this column in `unnest`.
    fn unnested(&self) -> Vec<(&'static str, &'static str)> {
        match self {
            Column::Text(alias, _) | Column::Code(alias, _, _) => vec![(alias, "text")],
            Column::Int(alias, _) => vec![(alias, "int")],
            Column::Date(alias, _) => vec![(alias, "date")],
            Column::Point(_) => vec![("lon", "float8"), ("lat", "float8")],
        }
    }

    /// Binds this column of `rows` to `q`.
    fn bind<'a>(
        &self,
        q: Query<'a, Postgres, PgArguments>,
        rows: &'a [T],
    ) -> Query<'a, Postgres, PgArguments> {
        match self {
            Column::Text(_, of) | Column::Code(_, _, of) => {
                q.bind(rows.iter().map(of).collect::<Vec<_>>())
            }
            Column::Int(_, of) => q.bind(rows.iter().map(of).collect::<Vec<_>>()),
            Column::Date(_, of) => {
                let days: Vec<NaiveDate> = rows.iter().filter_map(|r| parse_date(of(r))).collect();
                q.bind(days)
            }
            Column::Point(of) => {
                let points: Vec<Option<[f64; 2]>> = rows.iter().map(of).collect();
                q.bind(points.iter().map(|l| l.map(|l| l[0])).collect::<Vec<_>>())
                    .bind(points.iter().map(|l| l.map(|l| l[1])).collect::<Vec<_>>())
            }
        }
    }
}

/// What a duplicate key (or a reference that went away) in a section's statement means.
#[derive(Clone, Copy)]
enum OnConflict {
    /// A code is listed twice or already exists (the message names the section).
    Listed,
    /// What this message says.
    Says(&'static str),
    /// Nothing: the statement skips duplicates, so any error is the database's.
    Skipped,
}

/// A section of a party file written by one statement a chunk: its name (for problems and
/// conflicts), the columns it binds in order, the statement (where `{rows}` stands for the
/// chunk's records as `t`, one array per column), and what a conflict means.
struct Section<'s, T> {
    name: &'static str,
    columns: &'s [Column<T>],
    sql: &'static str,
    conflict: OnConflict,
}

/// A `[lon, lat]` column pair of `t` as a point (or NULL).
const POINT: &str =
    "CASE WHEN t.lon IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4326) END";

impl<T> Section<'_, T> {
    /// Notes every code of `rows` that no row of its table answers.
    async fn check_refs(
        &self,
        c: &mut PgConnection,
        p: &mut Problems,
        rows: &[T],
    ) -> Result<(), StoreError> {
        for column in self.columns {
            if let Column::Code(_, (field, table), of) = column {
                let codes: Vec<Option<&str>> = rows.iter().map(of).collect();
                p.refs(c, (self.name, field), *table, &codes).await?;
            }
        }
        Ok(())
    }

    /// The statement, with `{rows}` spelt out and `{point}` as [`POINT`].
    fn statement(&self) -> String {
        let unnested: Vec<_> = self.columns.iter().flat_map(Column::unnested).collect();
        let arrays: Vec<String> = unnested
            .iter()
            .enumerate()
            .map(|(i, (_, ty))| format!("${}::{ty}[]", i + 1))
            .collect();
        let aliases: Vec<&str> = unnested.iter().map(|(alias, _)| *alias).collect();
        let rows = format!("unnest({}) AS t({})", arrays.join(", "), aliases.join(", "));
        self.sql.replace("{rows}", &rows).replace("{point}", POINT)
    }

    /// Writes `rows` in statements of at most [`CHUNK`] rows.
    async fn insert(&self, c: &mut PgConnection, rows: &[T]) -> Result<(), StoreError> {
        let sql = self.statement();
        for chunk in rows.chunks(CHUNK) {
            let q = self
                .columns
                .iter()
                .fold(sqlx::query(&sql), |q, column| column.bind(q, chunk));
            let res = q.execute(&mut *c).await;
            match self.conflict {
                OnConflict::Listed => added(res, self.name),
                OnConflict::Says(msg) => conflict_on_reference(res, WHAT, || msg.to_string()),
                OnConflict::Skipped => res.ctx(WHAT),
            }?;
        }
        Ok(())
    }

    /// Checks the codes of `rows`, stops at any problem, and writes them.
    async fn load(
        &self,
        c: &mut PgConnection,
        p: &mut Problems,
        rows: &[T],
    ) -> Result<(), StoreError> {
        self.check_refs(c, p, rows).await?;
        p.check()?;
        self.insert(c, rows).await
    }
}

/// A community code.
const COMMUNITY: (&str, Table) = ("community_code", Table::Communities);
/// A person code.
const PERSON: (&str, Table) = ("person_code", Table::People);
/// An organisation code.
const ORG: (&str, Table) = ("org_code", Table::PartyOrgs);
/// A 双报到 unit code.
const UNIT: (&str, Table) = ("unit_code", Table::DualUnits);

/// Members of functional organisations.
const FUNCTIONAL_MEMBERS: Section<party::MemberRecord> = Section {
    name: "functional_members",
    columns: &[
        Column::Code("o", ORG, |x| Some(&x.org_code)),
        Column::Code("p", PERSON, |x| Some(&x.person_code)),
    ],
    sql: "INSERT INTO functional_members (person_id, org_id) SELECT p.id, o.id FROM {rows} \
         JOIN party_orgs o ON o.code = t.o AND o.kind = 'functional' JOIN people p ON p.code = t.p",
    conflict: OnConflict::Says("functional_members: a member is in two functional organisations"),
};

/// 双报到 units.
const UNITS: Section<party::UnitRecord> = Section {
    name: "units",
    columns: &[
        Column::Text("code", |x| Some(&x.code)),
        Column::Text("name", |x| Some(x.name.trim())),
        Column::Text("org", |x| x.party_org_name.as_deref()),
        Column::Code("community", COMMUNITY, |x| Some(&x.community_code)),
        Column::Date("day", |x| &x.registered_on),
        Column::Point(|x| x.location),
    ],
    sql: "INSERT INTO dual_units (code, name, party_org_name, community_id, registered_on, geom) \
         SELECT t.code, t.name, t.org, c.id, t.day, {point} \
         FROM {rows} JOIN communities c ON c.code = t.community",
    conflict: OnConflict::Listed,
};

/// 双报到 members: in-service members registered with a community (and their unit).
const DUAL_MEMBERS: Section<party::DualRecord> = Section {
    name: "dual_members",
    columns: &[
        Column::Code("p", PERSON, |x| Some(&x.person_code)),
        Column::Code("u", UNIT, |x| x.unit_code.as_deref()),
        Column::Code("c", COMMUNITY, |x| Some(&x.community_code)),
        Column::Date("day", |x| &x.registered_on),
    ],
    sql: "INSERT INTO dual_members (person_id, unit_id, community_id, registered_on) \
         SELECT p.id, u.id, c.id, t.day FROM {rows} JOIN people p ON p.code = t.p \
         JOIN communities c ON c.code = t.c LEFT JOIN dual_units u ON u.code = t.u",
    conflict: OnConflict::Listed,
};

/// Volunteer projects of units or communities.
const PROJECTS: Section<party::ProjectRecord> = Section {
    name: "projects",
    columns: &[
        Column::Text("code", |x| Some(&x.code)),
        Column::Text("name", |x| Some(x.name.trim())),
        Column::Code("c", COMMUNITY, |x| Some(&x.community_code)),
        Column::Code("u", UNIT, |x| x.unit_code.as_deref()),
        Column::Int("year", |x| Some(x.year)),
    ],
    sql: "INSERT INTO volunteer_projects (code, name, community_id, unit_id, year) \
         SELECT t.code, t.name, c.id, u.id, t.year FROM {rows} \
         JOIN communities c ON c.code = t.c LEFT JOIN dual_units u ON u.code = t.u",
    conflict: OnConflict::Listed,
};

/// Volunteer posts members hold in a year.
const POSTS: Section<party::PostRecord> = Section {
    name: "posts",
    columns: &[
        Column::Code("p", PERSON, |x| Some(&x.person_code)),
        Column::Int("year", |x| Some(x.year)),
        Column::Text("post", |x| Some(x.post.trim())),
        Column::Code("v", ("project_code", Table::Projects), |x| {
            x.project_code.as_deref()
        }),
    ],
    sql: "INSERT INTO volunteer_posts (person_id, year, post, project_id) \
         SELECT p.id, t.year, t.post, v.id FROM {rows} JOIN people p ON p.code = t.p \
         LEFT JOIN volunteer_projects v ON v.code = t.v",
    conflict: OnConflict::Listed,
};

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
