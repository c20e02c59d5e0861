//! The assessment of a year to take away: `GET /api/assess/{year}/export` (XLSX, a summary
//! sheet and a sheet per community the caller reads) and `GET /api/assess/{year}/print/
//! {community}` (one community's page, HTML with print CSS). Both are made from the same
//! rows: the grade and its ratings, the warnings, the scorecard and rank, the pledges and
//! the 双报到 circular.

use super::scorecard::{cards, Card};
use super::year::{community_json, load};
use super::{readable, year_of};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Ctx, Path, Queried};
use crate::http::xlsx::{disposition, workbook_of, Cell, Sheet};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;

/// Query of the export: `format=xlsx` (the only one).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    format: Option<String>,
}

/// The columns of a community's sheet.
const COLUMNS: [&str; 4] = ["section", "item", "value", "detail"];

/// One line of a community's assessment: section, item, value, detail.
type Line = (&'static str, String, String, String);

fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// The lines of one community: its assessment (`a`, as `GET /api/assess/{year}` answers it)
/// and its scorecard.
fn lines(a: &Value, card: Option<&Card>, of: usize) -> Vec<Line> {
    let mut out: Vec<Line> = vec![];
    let mut push = |s: &'static str, item: String, value: String, detail: String| {
        out.push((s, item, value, detail));
    };
    push(
        "一述三评",
        "综合得分".into(),
        text(&a["score"]),
        String::new(),
    );
    push(
        "一述三评",
        "定级".into(),
        text(&a["grade_name"]),
        String::new(),
    );
    match a["report"].as_object() {
        Some(r) => push(
            "一述三评",
            "书记述职".into(),
            text(&r["summary"]),
            text(&r["reported_on"]),
        ),
        None => push(
            "一述三评",
            "书记述职".into(),
            "未记录".into(),
            String::new(),
        ),
    }
    for r in a["ratings"].as_array().into_iter().flatten() {
        push(
            "一述三评",
            text(&r["layer_name"]),
            text(&r["score"]),
            format!("权重 {},{} 人测评", text(&r["weight"]), text(&r["raters"])),
        );
    }
    for w in a["warnings"].as_array().into_iter().flatten() {
        push(
            "预警",
            text(&w["reason"]),
            text(&w["message"]),
            String::new(),
        );
    }
    if let Some(c) = card {
        push(
            "客观考评",
            "综合得分".into(),
            c.card.total.map(|t| t.to_string()).unwrap_or_default(),
            c.rank
                .map(|r| format!("第 {r} 名(共 {of} 个)"))
                .unwrap_or_default(),
        );
        for l in &c.card.lines {
            push(
                "客观考评",
                l.name.to_string(),
                l.score.map(|s| s.to_string()).unwrap_or_default(),
                format!(
                    "数值 {},权重 {}",
                    l.value
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| "无数据".into()),
                    l.weight
                ),
            );
        }
    }
    let tally = &a["pledges"]["tally"];
    push(
        "四诺两考",
        "承诺".into(),
        text(&tally["pledges"]),
        format!(
            "年度考评 完成/基本完成/未完成/未考评: {}",
            tally["annual"]
                .as_array()
                .map(|v| v.iter().map(text).collect::<Vec<_>>().join("/"))
                .unwrap_or_default()
        ),
    );
    for m in a["pledges"]["members"].as_array().into_iter().flatten() {
        for p in m["pledges"].as_array().into_iter().flatten() {
            push(
                "四诺两考",
                format!("{} {}", text(&m["name"]), text(&p["kind_name"])),
                text(&p["annual_name"]),
                text(&p["target"]),
            );
        }
    }
    for u in a["units"].as_array().into_iter().flatten() {
        let reasons: Vec<String> = u["reasons"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| text(&r["message"]))
            .collect();
        push(
            "双报到通报",
            format!("{} {}", text(&u["code"]), text(&u["name"])),
            text(&u["standing_name"]),
            format!(
                "评价 {},认领 {},完成 {}{}",
                text(&u["score"]),
                text(&u["claimed"]),
                text(&u["completed"]),
                if reasons.is_empty() {
                    String::new()
                } else {
                    format!(";{}", reasons.join(";"))
                }
            ),
        );
    }
    out
}

/// A sheet's name from a community's name: the characters a sheet name may hold, at most
/// 31, unique among `taken`.
fn sheet_name(name: &str, code: &str, taken: &mut Vec<String>) -> String {
    let clean: String = name
        .chars()
        .filter(|c| !"[]:*?/\\".contains(*c) && !c.is_control())
        .take(31)
        .collect();
    let mut n = if clean.trim().is_empty() {
        code.chars().take(31).collect()
    } else {
        clean
    };
    if taken.contains(&n) {
        n = code.chars().take(31).collect();
    }
    taken.push(n.clone());
    n
}

/// What both downloads read: each community's assessment and its scorecard.
async fn gather(
    st: &crate::http::AppState,
    caller: &crate::domain::access::Caller,
    year: i32,
    ids: &[i64],
) -> ApiResult<(Vec<Value>, HashMap<i64, Card>, usize)> {
    let snap = st.registry.snapshot();
    let d = load(st, ids, year).await?;
    let all = cards(st, caller, year, false, d.settings).await?;
    let of = all.iter().filter(|c| c.rank.is_some()).count();
    let by_id: HashMap<i64, Card> = all.into_iter().map(|c| (c.id, c)).collect();
    let list = ids
        .iter()
        .map(|id| community_json(&snap, caller, &d, *id))
        .filter(|v| !v.is_null())
        .collect();
    Ok((list, by_id, of))
}

/// `GET /api/assess/{year}/export?format=xlsx`: the year's assessment as a workbook: a
/// summary sheet (one row per community) and a sheet per community.
pub async fn export(
    Path(year): Path<i32>,
    Queried(st, caller, q): Queried<ExportQuery>,
) -> ApiResult<Response> {
    let year = year_of(year)?;
    if q.format.as_deref().is_some_and(|f| f != "xlsx") {
        return Err(ApiError::invalid("format", "format is xlsx"));
    }
    let snap = st.registry.snapshot();
    let ids = readable(&snap, &caller, None)?;
    let (list, cards, of) = gather(&st, &caller, year, &ids).await?;
    let summary_header = [
        "community_code",
        "community",
        "grade",
        "score",
        "scorecard",
        "rank",
        "warnings",
    ];
    let mut summary = vec![];
    let mut sheets: Vec<(String, Vec<Vec<Cell>>)> = vec![];
    let mut taken = vec!["考评汇总".to_string()];
    for (a, id) in list.iter().zip(&ids) {
        let card = cards.get(id);
        let num = |v: &Value| v.as_f64().map_or(Cell::Empty, Cell::Number);
        summary.push(vec![
            Cell::Text(text(&a["code"])),
            Cell::Text(text(&a["name"])),
            Cell::Text(text(&a["grade_name"])),
            num(&a["score"]),
            card.and_then(|c| c.card.total)
                .map_or(Cell::Empty, Cell::Number),
            card.and_then(|c| c.rank)
                .map_or(Cell::Empty, |r| Cell::Number(r as f64)),
            Cell::Number(a["warnings"].as_array().map_or(0, Vec::len) as f64),
        ]);
        let rows = lines(a, card, of)
            .into_iter()
            .map(|(s, i, v, d)| {
                vec![
                    Cell::Text(s.into()),
                    Cell::Text(i),
                    Cell::Text(v),
                    Cell::Text(d),
                ]
            })
            .collect();
        sheets.push((
            sheet_name(&text(&a["name"]), &text(&a["code"]), &mut taken),
            rows,
        ));
    }
    let mut all = vec![Sheet {
        name: "考评汇总",
        header: &summary_header,
        rows: &summary,
    }];
    for (name, rows) in &sheets {
        all.push(Sheet {
            name,
            header: &COLUMNS,
            rows,
        });
    }
    let bytes = workbook_of(&all).map_err(|e| ApiError::internal(&e))?;
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition(&format!("考评_{year}"), "xlsx")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// Escapes text for HTML.
fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The print style: A4, black on white, tables that do not break inside a row.
const PRINT_CSS: &str = "body{font-family:sans-serif;margin:2em;color:#000}\
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.2em}\
table{border-collapse:collapse;width:100%}td,th{border:1px solid #444;padding:4px 6px;text-align:left;vertical-align:top}\
th{background:#eee}tr{break-inside:avoid}\
@media print{@page{size:A4;margin:15mm}body{margin:0}.noprint{display:none}}";

/// `GET /api/assess/{year}/print/{community}`: one community's assessment of the year as a
/// printable page.
pub async fn print(
    Path((year, community)): Path<(i32, String)>,
    Ctx { st, caller }: Ctx,
) -> ApiResult<Response> {
    let year = year_of(year)?;
    let snap = st.registry.snapshot();
    let ids = readable(&snap, &caller, Some(&community))?;
    let (list, cards, of) = gather(&st, &caller, year, &ids).await?;
    let (Some(a), Some(id)) = (list.first(), ids.first()) else {
        return Err(ApiError::not_found(format!(
            "community {community} not found"
        )));
    };
    let title = format!("{} {year} 年度考评", text(&a["name"]));
    let mut body = format!(
        "<!doctype html><html lang=\"zh\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>{PRINT_CSS}</style></head><body><h1>{t}</h1><p>社区代码 {code}</p>",
        t = html(&title),
        code = html(&text(&a["code"])),
    );
    let mut section = "";
    for (s, item, value, detail) in lines(a, cards.get(id), of) {
        if s != section {
            if !section.is_empty() {
                body.push_str("</table>");
            }
            body.push_str(&format!(
                "<h2>{}</h2><table><tr><th>项目</th><th>结果</th><th>说明</th></tr>",
                html(s)
            ));
            section = s;
        }
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            html(&item),
            html(&value),
            html(&detail)
        ));
    }
    if !section.is_empty() {
        body.push_str("</table>");
    }
    body.push_str("</body></html>");
    let mut resp = body.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Ok(resp)
}
