//! CQL2 filters (OGC API - Features Part 3): the parsed expression, its bounds, and its
//! evaluation against one feature's properties and geometry. Text is read in `text`, JSON
//! in `json`. Written here rather than taken from the `cql2` crate: its 0.6 turns on
//! `serde_json`'s `preserve_order`, which would reorder the keys of every JSON answer
//! wangge gives. No HTTP here.

mod json;
mod text;

use geo::{BoundingRect, Geometry, Intersects, Relate};
use serde_json::Value;

/// Longest filter accepted, in characters (text) or bytes (JSON).
pub const MAX_LEN: usize = 8_000;
/// Deepest nesting of operators accepted.
pub const MAX_DEPTH: usize = 20;
/// Most coordinates in the geometries of one filter.
pub const MAX_COORDS: usize = 10_000;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A spatial predicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spatial {
    /// The two geometries share a point.
    Intersects,
    /// The first lies within the second.
    Within,
}

/// A value in an expression: a property of the feature or a literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A queryable by name (`geometry` is the feature's geometry).
    Property(String),
    /// A character string.
    Text(String),
    /// A number.
    Number(f64),
    /// `TRUE` or `FALSE`.
    Bool(bool),
    /// A geometry literal, in longitude and latitude (WGS84).
    Geometry(Geometry<f64>),
}

/// A parsed CQL2 expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Every part holds.
    And(Vec<Expr>),
    /// Some part holds.
    Or(Vec<Expr>),
    /// The part does not hold.
    Not(Box<Expr>),
    /// A comparison of two scalars.
    Compare(Cmp, Operand, Operand),
    /// A string against a pattern with `%` and `_`.
    Like(Operand, Operand),
    /// A value between two others, both included.
    Between(Operand, Operand, Operand),
    /// A value equal to one of a list.
    In(Operand, Vec<Operand>),
    /// A property without a value.
    IsNull(Operand),
    /// A spatial predicate of two geometries.
    Spatial(Spatial, Operand, Operand),
    /// A literal truth value.
    Literal(bool),
}

/// Why a filter was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The text or JSON is not a CQL2 expression this server reads.
    #[error("bad filter: {0}")]
    Syntax(String),
    /// The filter names a property that is not a queryable of the collection.
    #[error("unknown property {0:?} in the filter")]
    UnknownProperty(String),
    /// The filter is longer, deeper or holds more coordinates than allowed.
    #[error("filter too large: {0}")]
    TooLarge(String),
}

/// The language of a filter (`filter-lang`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// CQL2 text.
    Text,
    /// CQL2 JSON.
    Json,
}

/// Parses a filter, bounded by [`MAX_LEN`], [`MAX_DEPTH`] and [`MAX_COORDS`]; literal
/// geometries are given to `to_wgs84` to bring them into longitude and latitude.
pub fn parse(
    src: &str,
    lang: Lang,
    to_wgs84: &dyn Fn(geo::Coord<f64>) -> geo::Coord<f64>,
) -> Result<Expr, FilterError> {
    if src.len() > MAX_LEN {
        return Err(FilterError::TooLarge(format!(
            "at most {MAX_LEN} characters"
        )));
    }
    let mut e = match lang {
        Lang::Text => text::parse(src)?,
        Lang::Json => json::parse(src)?,
    };
    if depth(&e) > MAX_DEPTH {
        return Err(FilterError::TooLarge(format!(
            "at most {MAX_DEPTH} nested operators"
        )));
    }
    let mut coords = 0;
    visit_operands(&mut e, &mut |o| {
        if let Operand::Geometry(g) = o {
            use geo::{CoordsIter, MapCoordsInPlace};
            coords += g.coords_count();
            g.map_coords_in_place(to_wgs84);
        }
    });
    if coords > MAX_COORDS {
        return Err(FilterError::TooLarge(format!(
            "at most {MAX_COORDS} coordinates in its geometries"
        )));
    }
    Ok(e)
}

fn depth(e: &Expr) -> usize {
    match e {
        Expr::And(v) | Expr::Or(v) => 1 + v.iter().map(depth).max().unwrap_or(0),
        Expr::Not(x) => 1 + depth(x),
        _ => 1,
    }
}

fn visit_operands(e: &mut Expr, f: &mut dyn FnMut(&mut Operand)) {
    match e {
        Expr::And(v) | Expr::Or(v) => v.iter_mut().for_each(|x| visit_operands(x, f)),
        Expr::Not(x) => visit_operands(x, f),
        Expr::Compare(_, a, b) | Expr::Like(a, b) | Expr::Spatial(_, a, b) => {
            f(a);
            f(b);
        }
        Expr::Between(a, b, c) => {
            f(a);
            f(b);
            f(c);
        }
        Expr::In(a, list) => {
            f(a);
            list.iter_mut().for_each(f);
        }
        Expr::IsNull(a) => f(a),
        Expr::Literal(_) => {}
    }
}

/// The property names an expression reads, each once, in order of appearance.
pub fn properties(e: &Expr) -> Vec<String> {
    let mut names = Vec::new();
    let mut copy = e.clone();
    visit_operands(&mut copy, &mut |o| {
        if let Operand::Property(p) = o {
            if !names.contains(p) {
                names.push(p.clone());
            }
        }
    });
    names
}

/// Refuses an expression naming a property that `known` does not accept.
pub fn check_properties(e: &Expr, known: &dyn Fn(&str) -> bool) -> Result<(), FilterError> {
    match properties(e).into_iter().find(|p| !known(p)) {
        Some(p) => Err(FilterError::UnknownProperty(p)),
        None => Ok(()),
    }
}

/// One feature as a filter reads it.
pub struct Subject<'a> {
    /// Its properties by name.
    pub properties: &'a serde_json::Map<String, Value>,
    /// Its geometry in longitude and latitude.
    pub geometry: &'a Geometry<f64>,
}

/// A value resolved for a feature.
enum Val<'a> {
    Text(&'a str),
    Number(f64),
    Bool(bool),
    Geometry(&'a Geometry<f64>),
    Null,
}

impl Subject<'_> {
    fn value<'s>(&'s self, o: &'s Operand) -> Val<'s> {
        match o {
            Operand::Property(p) if p == "geometry" => Val::Geometry(self.geometry),
            Operand::Property(p) => match self.properties.get(p) {
                Some(Value::String(s)) => Val::Text(s),
                Some(Value::Number(n)) => n.as_f64().map_or(Val::Null, Val::Number),
                Some(Value::Bool(b)) => Val::Bool(*b),
                _ => Val::Null,
            },
            Operand::Text(s) => Val::Text(s),
            Operand::Number(n) => Val::Number(*n),
            Operand::Bool(b) => Val::Bool(*b),
            Operand::Geometry(g) => Val::Geometry(g),
        }
    }

    /// Whether the expression holds for this feature (a comparison with a missing value
    /// does not hold).
    pub fn matches(&self, e: &Expr) -> bool {
        match e {
            Expr::And(v) => v.iter().all(|x| self.matches(x)),
            Expr::Or(v) => v.iter().any(|x| self.matches(x)),
            Expr::Not(x) => !self.matches(x),
            Expr::Literal(b) => *b,
            Expr::Compare(op, a, b) => order(&self.value(a), &self.value(b)).is_some_and(|o| {
                use std::cmp::Ordering::{Equal, Greater, Less};
                match op {
                    Cmp::Eq => o == Equal,
                    Cmp::Ne => o != Equal,
                    Cmp::Lt => o == Less,
                    Cmp::Le => o != Greater,
                    Cmp::Gt => o == Greater,
                    Cmp::Ge => o != Less,
                }
            }),
            Expr::Like(a, p) => match (self.value(a), self.value(p)) {
                (Val::Text(s), Val::Text(p)) => like(s, p),
                _ => false,
            },
            Expr::Between(a, lo, hi) => {
                let v = self.value(a);
                order(&v, &self.value(lo)).is_some_and(std::cmp::Ordering::is_ge)
                    && order(&v, &self.value(hi)).is_some_and(std::cmp::Ordering::is_le)
            }
            Expr::In(a, list) => {
                let v = self.value(a);
                list.iter()
                    .any(|x| order(&v, &self.value(x)) == Some(std::cmp::Ordering::Equal))
            }
            Expr::IsNull(a) => matches!(self.value(a), Val::Null),
            Expr::Spatial(op, a, b) => match (self.value(a), self.value(b)) {
                (Val::Geometry(a), Val::Geometry(b)) => spatial(*op, a, b),
                _ => false,
            },
        }
    }
}

/// The order of two scalars of the same type; none across types or with a missing value.
fn order(a: &Val, b: &Val) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Val::Text(a), Val::Text(b)) => Some(a.cmp(b)),
        (Val::Number(a), Val::Number(b)) => a.partial_cmp(b),
        (Val::Bool(a), Val::Bool(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

fn spatial(op: Spatial, a: &Geometry<f64>, b: &Geometry<f64>) -> bool {
    // The boxes first: most features of a layer are far from the filter's shape.
    let boxes_meet = match (a.bounding_rect(), b.bounding_rect()) {
        (Some(x), Some(y)) => x.intersects(&y),
        _ => false,
    };
    boxes_meet
        && match op {
            Spatial::Intersects => a.intersects(b),
            Spatial::Within => a.relate(b).is_within(),
        }
}

/// SQL `LIKE`: `%` any run of characters, `_` one character, `\` escapes the next.
pub fn like(s: &str, pattern: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum Tok {
        Any,
        One,
        Char(char),
    }
    let mut toks = Vec::new();
    let mut it = pattern.chars();
    while let Some(c) = it.next() {
        toks.push(match c {
            '%' => Tok::Any,
            '_' => Tok::One,
            '\\' => Tok::Char(it.next().unwrap_or('\\')),
            c => Tok::Char(c),
        });
    }
    let s: Vec<char> = s.chars().collect();
    // Matching by positions: which pattern prefixes match which string prefixes.
    let mut can = vec![false; s.len() + 1];
    can[0] = true;
    for t in &toks {
        let mut next = vec![false; s.len() + 1];
        for i in 0..=s.len() {
            if !can[i] {
                continue;
            }
            match t {
                Tok::Any => next[i..].iter_mut().for_each(|x| *x = true),
                Tok::One => {
                    if i < s.len() {
                        next[i + 1] = true;
                    }
                }
                Tok::Char(c) => {
                    if i < s.len() && s[i] == *c {
                        next[i + 1] = true;
                    }
                }
            }
        }
        can = next;
    }
    can[s.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(text: &str, json_src: &str, props: &Value, want: bool) {
        let point: Geometry<f64> = geo::Point::new(104.0, 30.5).into();
        let map = props.as_object().expect("an object");
        let s = Subject {
            properties: map,
            geometry: &point,
        };
        let t = parse(text, Lang::Text, &|c| c).expect("text parses");
        let j = parse(json_src, Lang::Json, &|c| c).expect("json parses");
        assert_eq!(t, j, "{text} and {json_src} read alike");
        assert_eq!(s.matches(&t), want, "{text}");
    }

    #[test]
    fn operators_text_and_json() {
        let p = json!({ "name": "陵江社区", "level": 2, "residents": 120, "code": "A01" });
        check(
            "level = 2",
            r#"{"op":"=","args":[{"property":"level"},2]}"#,
            &p,
            true,
        );
        check(
            "level <> 2",
            r#"{"op":"<>","args":[{"property":"level"},2]}"#,
            &p,
            false,
        );
        check(
            "residents >= 100 AND level < 3",
            r#"{"op":"and","args":[{"op":">=","args":[{"property":"residents"},100]},{"op":"<","args":[{"property":"level"},3]}]}"#,
            &p,
            true,
        );
        check(
            "residents > 200 OR NOT level = 2",
            r#"{"op":"or","args":[{"op":">","args":[{"property":"residents"},200]},{"op":"not","args":[{"op":"=","args":[{"property":"level"},2]}]}]}"#,
            &p,
            false,
        );
        check(
            "name LIKE '陵江%'",
            r#"{"op":"like","args":[{"property":"name"},"陵江%"]}"#,
            &p,
            true,
        );
        check(
            "code LIKE 'A_2'",
            r#"{"op":"like","args":[{"property":"code"},"A_2"]}"#,
            &p,
            false,
        );
        check(
            "code IN ('A01','B02')",
            r#"{"op":"in","args":[{"property":"code"},["A01","B02"]]}"#,
            &p,
            true,
        );
        check(
            "residents BETWEEN 121 AND 200",
            r#"{"op":"between","args":[{"property":"residents"},121,200]}"#,
            &p,
            false,
        );
        check(
            "chief IS NULL",
            r#"{"op":"isNull","args":[{"property":"chief"}]}"#,
            &p,
            true,
        );
        check(
            "S_INTERSECTS(geometry, POLYGON((103 30, 105 30, 105 31, 103 31, 103 30)))",
            r#"{"op":"s_intersects","args":[{"property":"geometry"},{"type":"Polygon","coordinates":[[[103,30],[105,30],[105,31],[103,31],[103,30]]]}]}"#,
            &p,
            true,
        );
        check(
            "S_WITHIN(geometry, BBOX(105, 30, 106, 31))",
            r#"{"op":"s_within","args":[{"property":"geometry"},{"bbox":[105,30,106,31]}]}"#,
            &p,
            false,
        );
    }

    #[test]
    fn refuses_bad_and_large_filters() {
        assert!(matches!(
            parse("level = ", Lang::Text, &|c| c),
            Err(FilterError::Syntax(_))
        ));
        assert!(matches!(
            parse("{\"op\":\"frob\",\"args\":[]}", Lang::Json, &|c| c),
            Err(FilterError::Syntax(_))
        ));
        let deep = format!("{}level = 1{}", "(NOT ".repeat(30), ")".repeat(30));
        assert!(matches!(
            parse(&deep, Lang::Text, &|c| c),
            Err(FilterError::TooLarge(_))
        ));
        let e = parse("colour = 'red'", Lang::Text, &|c| c).expect("parses");
        assert_eq!(
            check_properties(&e, &|p| p == "level"),
            Err(FilterError::UnknownProperty("colour".into()))
        );
    }

    #[test]
    fn like_patterns() {
        assert!(like("abc", "a%"));
        assert!(like("abc", "%c"));
        assert!(like("abc", "a_c"));
        assert!(!like("abc", "a_"));
        assert!(like("a%c", "a\\%c"));
        assert!(!like("abc", "a\\%c"));
    }
}
