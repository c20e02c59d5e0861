//! Party organisations, their officers and functional members: reads and audited writes.

use super::*;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::Postgres;

impl Store {
    /// Every active party organisation, by code (byte order).
    pub async fn party_orgs_active(&self) -> Result<Vec<Org>, StoreError> {
        let sql = format!("{ORG} WHERE o.dissolved_at IS NULL ORDER BY o.code COLLATE \"C\"");
        let q = sqlx::query_as::<_, Org>(&sql);
        q.fetch_all(&self.pool)
            .await
            .ctx("reading party organisations")
    }

    /// Active party organisations of the given communities counted per (community, kind).
    pub async fn party_org_counts(
        &self,
        communities: &[i64],
    ) -> Result<HashMap<(i64, String), i64>, StoreError> {
        let q = sqlx::query_as(
            "SELECT community_id, kind, count(*) FROM party_orgs \
             WHERE dissolved_at IS NULL AND community_id = ANY($1) GROUP BY 1, 2",
        );
        let counted = |(c, k, n): (i64, String, i64)| ((c, k), n);
        let what = "counting party organisations";
        read_all(q.bind(communities), &self.pool, what, counted).await
    }

    /// One organisation by code (dissolved ones too).
    pub async fn party_org(&self, code: &str) -> Result<Option<Org>, StoreError> {
        let sql = format!("{ORG} WHERE o.code = $1");
        let q = sqlx::query_as::<_, Org>(&sql).bind(code);
        q.fetch_optional(&self.pool)
            .await
            .ctx("reading a party organisation")
    }

    /// The officers of an organisation, secretary first.
    pub async fn party_officers(&self, org_id: i64) -> Result<Vec<Officer>, StoreError> {
        let q = sqlx::query_as(
            "SELECT p.code, d.name, f.role, f.since FROM party_officers f JOIN people p ON p.id = f.person_id \
             JOIN person_details d ON d.person_id = p.id WHERE f.org_id = $1 \
             ORDER BY array_position(ARRAY['secretary','deputy_secretary','committee','part_time_committee','group_leader'], f.role), p.code",
        );
        let officer =
            |(person_code, name, role, since): (String, String, String, DateTime<Utc>)| {
                let role = OfficerRole::parse(&role).unwrap_or(OfficerRole::Committee);
                Officer {
                    person_code,
                    name,
                    role,
                    since,
                }
            };
        read_all(q.bind(org_id), &self.pool, "reading officers", officer).await
    }

    /// The members of an organisation: of a group its cell, of a branch its groups' cells,
    /// of a committee every cell of the community, of a functional organisation its list.
    pub async fn party_org_members(&self, org: &Org) -> Result<Vec<MemberRow>, StoreError> {
        let (filter, id) = match org.kind {
            OrgKind::GridGroup => ("a.grid_id = $1", org.grid_id),
            OrgKind::GridBranch => (
                "a.grid_id IN (SELECT id FROM current_grids WHERE parent_id = $1)",
                org.grid_id,
            ),
            OrgKind::CommunityCommittee => (
                "a.grid_id IN (SELECT id FROM current_grids WHERE community_id = $1)",
                Some(org.community_id),
            ),
            OrgKind::Functional => (
                "p.id IN (SELECT person_id FROM functional_members WHERE org_id = $1)",
                Some(org.id),
            ),
        };
        let sql = format!("{MEMBER} WHERE {filter} ORDER BY p.code");
        let q = sqlx::query_as::<_, MemberFields>(&sql).bind(id);
        read_all(q, &self.pool, "reading party members", MemberRow::from).await
    }

    /// Creates or changes a party organisation. Cells follow their grids: they may be
    /// renamed, not created; a 大党委 is one per community; a functional organisation is
    /// attached to exactly one compound, building or association (in whose community it is).
    pub async fn put_party_org(&self, input: &OrgInput, actor: &Actor) -> Result<Org, StoreError> {
        check_code(&input.code, "code")?;
        check_name(&input.name, "name")?;
        let mut tx = self.begin_write(actor).await?;
        let before = org_in(&mut tx, &input.code).await?;
        check_kind(input)?;
        let community = match &before {
            Some(o) if o.dissolved_at.is_some() => {
                return Err(StoreError::Conflict(format!(
                    "party organisation {} is dissolved; give a new organisation a new code",
                    o.code
                )))
            }
            Some(o) if o.kind != input.kind => {
                return Err(StoreError::Conflict(format!(
                    "party organisation {} is a {}, not a {}",
                    o.code,
                    o.kind.as_str(),
                    input.kind.as_str()
                )))
            }
            Some(o) => change_org(&mut tx, o, input).await?,
            None if matches!(input.kind, OrgKind::GridBranch | OrgKind::GridGroup) => {
                return Err(StoreError::Conflict(
                    "grid branches and groups are created with their grid; create the grid instead"
                        .into(),
                ))
            }
            None => create_org(&mut tx, input).await?,
        };
        let after = org_in(&mut tx, &input.code)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("party organisation {}", input.code)))?;
        let (b, a) = (before.map(|b| json!(b)), Some(json!(after)));
        let entry = Entry::record("party_org", &input.code, b, a);
        let done = "committing a party organisation";
        tx.finish(entry.in_community(community), PARTY, done)
            .await?;
        Ok(after)
    }

    /// Dissolves a functional organisation: its members leave it; its row and officers stay
    /// as history. Cells are dissolved with their grid, a 大党委 not at all.
    pub async fn dissolve_party_org(&self, code: &str, actor: &Actor) -> Result<(), StoreError> {
        let mut tx = self.begin_write(actor).await?;
        let org = active_functional(
            &mut tx,
            code,
            "only functional organisations are dissolved this way (cells go with their grid)",
        )
        .await?;
        sqlx::query("DELETE FROM functional_members WHERE org_id = $1")
            .bind(org.id)
            .execute(&mut *tx)
            .await
            .ctx("dissolving a party organisation")?;
        sqlx::query("UPDATE party_orgs SET dissolved_at = now() WHERE id = $1")
            .bind(org.id)
            .execute(&mut *tx)
            .await
            .ctx("dissolving a party organisation")?;
        let entry = Entry::named("dissolve", "party_org", code, Some(json!(org)), None);
        let done = "committing a dissolution";
        tx.finish(entry.in_community(org.community_id), PARTY, done)
            .await?;
        Ok(())
    }

    /// Replaces the officers of an organisation. Officers are full members; the roles must
    /// fit the organisation's form.
    pub async fn set_party_officers(
        &self,
        code: &str,
        officers: &[(String, OfficerRole)],
        actor: &Actor,
    ) -> Result<Vec<Officer>, StoreError> {
        let mut tx = self.begin_write(actor).await?;
        let org = active_org(&mut tx, code).await?;
        let roles: Vec<OfficerRole> = officers.iter().map(|o| o.1).collect();
        check_officers(org.form, &roles)?;
        let codes = officers.iter().map(|o| o.0.as_str());
        let field = |i| format!("officers[{i}].person_code");
        let not = "is not a full party member and cannot hold office";
        let ids = listed_people(&mut tx, codes, field, party::may_hold_office, not).await?;
        let before = officer_codes(&mut tx, org.id).await?;
        let role_names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        let statements = [
            "DELETE FROM party_officers f WHERE f.org_id = $1 AND NOT EXISTS \
             (SELECT 1 FROM unnest($2::bigint[], $3::text[]) AS n(person_id, role) \
              WHERE n.person_id = f.person_id AND n.role = f.role)",
            "INSERT INTO party_officers (org_id, person_id, role) \
             SELECT $1, n.person_id, n.role FROM unnest($2::bigint[], $3::text[]) AS n(person_id, role) \
             ON CONFLICT (org_id, person_id) DO NOTHING",
        ];
        let what = "replacing officers";
        replace_listed(
            &mut tx,
            org.id,
            &ids,
            statements,
            |q| q.bind(&role_names),
            what,
        )
        .await?;
        let after = officer_codes(&mut tx, org.id).await?;
        let entry = Entry::assigned("party_officers", code, &before, &after);
        tx.finish(
            entry.in_community(org.community_id),
            PARTY,
            "committing officers",
        )
        .await?;
        self.party_officers(org.id).await
    }

    /// Replaces the members of a functional organisation. Each must be a party member and
    /// in no other functional organisation.
    pub async fn set_functional_members(
        &self,
        code: &str,
        people: &[String],
        actor: &Actor,
    ) -> Result<usize, StoreError> {
        let mut tx = self.begin_write(actor).await?;
        let org =
            active_functional(&mut tx, code, "its members are those living in its grids").await?;
        let codes = people.iter().map(String::as_str);
        let field = |i| format!("members[{i}]");
        let ids = listed_people(
            &mut tx,
            codes,
            field,
            Membership::is_member,
            "is not a party member",
        )
        .await?;
        let elsewhere: Vec<(String, String)> = sqlx::query_as(
            "SELECT p.code, o.code FROM functional_members f JOIN people p ON p.id = f.person_id \
             JOIN party_orgs o ON o.id = f.org_id WHERE f.person_id = ANY($1) AND f.org_id <> $2 ORDER BY p.code LIMIT 10",
        )
        .bind(&ids)
        .bind(org.id)
        .fetch_all(&mut *tx)
        .await
        .ctx("checking functional memberships")?;
        if !elsewhere.is_empty() {
            let list: Vec<String> = elsewhere
                .iter()
                .map(|(p, o)| format!("{p} (in {o})"))
                .collect();
            return Err(StoreError::Conflict(format!(
                "a member belongs to one functional organisation at most: {}",
                list.join(", ")
            )));
        }
        let before: Vec<String> = member_codes(&mut tx, org.id).await?;
        let statements = [
            "DELETE FROM functional_members WHERE org_id = $1 AND NOT (person_id = ANY($2))",
            "INSERT INTO functional_members (person_id, org_id) SELECT unnest($2::bigint[]), $1 \
             ON CONFLICT (person_id) DO NOTHING",
        ];
        let what = "replacing functional members";
        replace_listed(&mut tx, org.id, &ids, statements, |q| q, what).await?;
        let after = member_codes(&mut tx, org.id).await?;
        let entry = Entry::assigned("functional_members", code, &before, &after);
        let done = "committing functional members";
        tx.finish(entry.in_community(org.community_id), PARTY, done)
            .await?;
        Ok(ids.len())
    }
}

async fn officer_codes(
    tx: &mut PgConnection,
    org_id: i64,
) -> Result<Vec<(String, String)>, StoreError> {
    sqlx::query_as(
        "SELECT p.code, f.role FROM party_officers f JOIN people p ON p.id = f.person_id \
         WHERE f.org_id = $1 ORDER BY f.role, p.code",
    )
    .bind(org_id)
    .fetch_all(&mut *tx)
    .await
    .ctx("reading officers")
}

/// Replaces the people listed with organisation `org_id` (its officers, its members) by
/// `ids`: `statements` drop the rows no longer listed, then add the new ones; each takes the
/// organisation (`$1`), the people (`$2`) and whatever `more` binds after them.
async fn replace_listed<'a>(
    tx: &mut PgConnection,
    org_id: i64,
    ids: &'a [i64],
    statements: [&'a str; 2],
    more: impl Fn(Query<'a, Postgres, PgArguments>) -> Query<'a, Postgres, PgArguments>,
    what: &'static str,
) -> Result<(), StoreError> {
    for sql in statements {
        let q = sqlx::query(sql).bind(org_id).bind(ids);
        more(q).execute(&mut *tx).await.ctx(what)?;
    }
    Ok(())
}

async fn member_codes(tx: &mut PgConnection, org_id: i64) -> Result<Vec<String>, StoreError> {
    sqlx::query_scalar(
        "SELECT p.code FROM functional_members f JOIN people p ON p.id = f.person_id \
         WHERE f.org_id = $1 ORDER BY p.code",
    )
    .bind(org_id)
    .fetch_all(&mut *tx)
    .await
    .ctx("reading functional members")
}

/// Refuses an attachment of anything but a functional organisation, and a form that does
/// not fit the kind.
fn check_kind(input: &OrgInput) -> Result<(), StoreError> {
    if input.kind != OrgKind::Functional && input.attach.is_some() {
        return Err(FieldError::new(
            "attached_to",
            "only a functional organisation is attached to a compound, building or association",
        )
        .into());
    }
    if let Some(form) = input.form {
        let fits = match input.kind {
            OrgKind::Functional => form != OrgForm::Committee,
            OrgKind::CommunityCommittee => form == OrgForm::Committee,
            OrgKind::GridBranch => form == OrgForm::Branch,
            OrgKind::GridGroup => form == OrgForm::Group,
        };
        if !fits {
            return Err(FieldError::new("form", "this form does not fit the kind").into());
        }
    }
    Ok(())
}

/// Renames an organisation, changes its form, or moves it to another attachment in its
/// community; returns its community.
async fn change_org(tx: &mut PgConnection, o: &Org, input: &OrgInput) -> Result<i64, StoreError> {
    let attach = match &input.attach {
        Some((k, c)) => {
            let (id, cid) = attachment(tx, *k, c).await?;
            if cid != o.community_id {
                return Err(FieldError::new(
                    "attached_to",
                    "a functional organisation stays in its community",
                )
                .into());
            }
            Some((k.as_str(), id))
        }
        None => None,
    };
    let (kind, id) = attach.unzip();
    sqlx::query(
        "UPDATE party_orgs SET name = $2, form = COALESCE($3, form), \
           compound_id = CASE WHEN $4::text IS NULL THEN compound_id WHEN $4 = 'compound' THEN $5::bigint END, \
           building_id = CASE WHEN $4 IS NULL THEN building_id WHEN $4 = 'building' THEN $5 END, \
           association_id = CASE WHEN $4 IS NULL THEN association_id WHEN $4 = 'association' THEN $5 END \
         WHERE id = $1",
    )
    .bind(o.id)
    .bind(input.name.trim())
    .bind(input.form.map(OrgForm::as_str))
    .bind(kind)
    .bind(id)
    .execute(&mut *tx)
    .await
    .ctx("changing a party organisation")?;
    Ok(o.community_id)
}

/// Creates a 大党委 in its community or a functional organisation where it is attached
/// (its compound, building or association column is the one its kind names); returns its
/// community.
async fn create_org(tx: &mut PgConnection, input: &OrgInput) -> Result<i64, StoreError> {
    let (community, form, attach) = match input.kind {
        OrgKind::CommunityCommittee => {
            let code = input
                .community_code
                .as_deref()
                .ok_or_else(|| FieldError::new("community_code", "a 大党委 needs its community"))?;
            let c = community_id(tx, code, "community_code").await?;
            (c, OrgForm::Committee, None)
        }
        _ => {
            let (k, code) = input.attach.as_ref().ok_or_else(|| {
                FieldError::new(
                    "attached_to",
                    "a functional organisation is attached to a compound, building or association",
                )
            })?;
            let (id, c) = attachment(tx, *k, code).await?;
            let form = input.form.unwrap_or(OrgForm::Branch);
            (c, form, Some((k.as_str(), id)))
        }
    };
    let (kind, id) = attach.unzip();
    let res = sqlx::query(
        "INSERT INTO party_orgs (code, name, kind, form, community_id, compound_id, building_id, association_id) \
         VALUES ($1, $2, $3, $4, $5, CASE WHEN $6::text = 'compound' THEN $7::bigint END, \
           CASE WHEN $6 = 'building' THEN $7 END, CASE WHEN $6 = 'association' THEN $7 END)",
    )
    .bind(&input.code)
    .bind(input.name.trim())
    .bind(input.kind.as_str())
    .bind(form.as_str())
    .bind(community)
    .bind(kind)
    .bind(id)
    .execute(&mut *tx)
    .await;
    conflict_on_reference(res, "creating a party organisation", || {
        "the community already has a 大党委".to_string()
    })?;
    Ok(community)
}

/// The ids of the people listed by code, refused at the first unknown person, one whose
/// membership `may` not be listed (`not` says why), or one listed twice; `field(i)` names
/// item `i` in the errors.
async fn listed_people<'a>(
    tx: &mut PgConnection,
    codes: impl Iterator<Item = &'a str>,
    field: impl Fn(usize) -> String,
    may: fn(Membership) -> bool,
    not: &str,
) -> Result<Vec<i64>, StoreError> {
    let mut ids = Vec::new();
    let mut seen = HashSet::new();
    for (i, person) in codes.enumerate() {
        let field = field(i);
        let (id, m) = person_of(tx, person, &field).await?;
        if !may(m) {
            return Err(FieldError::new(field, format!("{person} {not}")).into());
        }
        if !seen.insert(id) {
            return Err(FieldError::new(field, format!("{person} is listed twice")).into());
        }
        ids.push(id);
    }
    Ok(ids)
}
