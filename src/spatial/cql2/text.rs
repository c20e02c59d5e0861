//! CQL2 text: a tokenizer and a recursive-descent parser for the basic operators, `LIKE`,
//! `IN`, `BETWEEN`, `IS NULL`, and `S_INTERSECTS`/`S_WITHIN` with WKT or `BBOX` literals.

use super::{Cmp, Expr, FilterError, Operand, Spatial};
use geo::{Coord, Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Text(String),
    Number(f64),
    Open,
    Close,
    Comma,
    Op(Cmp),
}

fn syntax(msg: impl Into<String>) -> FilterError {
    FilterError::Syntax(msg.into())
}

fn tokens(src: &str) -> Result<Vec<Tok>, FilterError> {
    let cs: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            '=' => {
                out.push(Tok::Op(Cmp::Eq));
                i += 1;
            }
            '<' | '>' => {
                let next = cs.get(i + 1).copied();
                let (op, n) = match (c, next) {
                    ('<', Some('>')) => (Cmp::Ne, 2),
                    ('<', Some('=')) => (Cmp::Le, 2),
                    ('>', Some('=')) => (Cmp::Ge, 2),
                    ('<', _) => (Cmp::Lt, 1),
                    _ => (Cmp::Gt, 1),
                };
                out.push(Tok::Op(op));
                i += n;
            }
            '\'' | '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match cs.get(i) {
                        None => return Err(syntax(format!("unclosed {c} quote"))),
                        Some(&q) if q == c && cs.get(i + 1) == Some(&c) => {
                            s.push(c);
                            i += 2;
                        }
                        Some(&q) if q == c => {
                            i += 1;
                            break;
                        }
                        Some(&x) => {
                            s.push(x);
                            i += 1;
                        }
                    }
                }
                out.push(if c == '\'' {
                    Tok::Text(s)
                } else {
                    Tok::Quoted(s)
                });
            }
            c if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' => {
                let start = i;
                i += 1;
                while i < cs.len()
                    && (cs[i].is_ascii_digit()
                        || cs[i] == '.'
                        || cs[i] == 'e'
                        || cs[i] == 'E'
                        || ((cs[i] == '-' || cs[i] == '+') && matches!(cs[i - 1], 'e' | 'E')))
                {
                    i += 1;
                }
                let s: String = cs[start..i].iter().collect();
                let n = s
                    .parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite())
                    .ok_or_else(|| syntax(format!("{s:?} is not a number")))?;
                out.push(Tok::Number(n));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < cs.len()
                    && (cs[i].is_alphanumeric() || cs[i] == '_' || cs[i] == '.' || cs[i] == ':')
                {
                    i += 1;
                }
                out.push(Tok::Word(cs[start..i].iter().collect()));
            }
            c => return Err(syntax(format!("unexpected character {c:?}"))),
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
    depth: usize,
}

/// Parses CQL2 text.
pub(super) fn parse(src: &str) -> Result<Expr, FilterError> {
    let mut p = Parser {
        toks: tokens(src)?,
        at: 0,
        depth: 0,
    };
    let e = p.or()?;
    match p.peek() {
        None => Ok(e),
        Some(t) => Err(syntax(format!("unexpected {t:?} after the expression"))),
    }
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn next(&mut self) -> Result<Tok, FilterError> {
        let t = self
            .toks
            .get(self.at)
            .cloned()
            .ok_or_else(|| syntax("the filter ends too early"))?;
        self.at += 1;
        Ok(t)
    }

    fn keyword(&mut self, k: &str) -> bool {
        match self.peek() {
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case(k) => {
                self.at += 1;
                true
            }
            _ => false,
        }
    }

    fn expect(&mut self, want: &Tok, what: &str) -> Result<(), FilterError> {
        let t = self.next()?;
        if &t == want {
            Ok(())
        } else {
            Err(syntax(format!("expected {what}, found {t:?}")))
        }
    }

    fn deeper(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > super::MAX_DEPTH {
            return Err(FilterError::TooLarge(format!(
                "at most {} nested operators",
                super::MAX_DEPTH
            )));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        self.deeper()?;
        let mut parts = vec![self.and()?];
        while self.keyword("OR") {
            parts.push(self.and()?);
        }
        self.depth -= 1;
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut parts = vec![self.not()?];
        while self.keyword("AND") {
            parts.push(self.not()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn not(&mut self) -> Result<Expr, FilterError> {
        if self.keyword("NOT") {
            self.deeper()?;
            let e = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(e)));
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Result<Expr, FilterError> {
        if self.peek() == Some(&Tok::Open) {
            self.at += 1;
            let e = self.or()?;
            self.expect(&Tok::Close, "')'")?;
            return Ok(e);
        }
        for (name, op) in [
            ("S_INTERSECTS", Spatial::Intersects),
            ("S_WITHIN", Spatial::Within),
        ] {
            if self.keyword(name) {
                self.expect(&Tok::Open, "'(' after a spatial operator")?;
                let a = self.operand()?;
                self.expect(&Tok::Comma, "',' between the two geometries")?;
                let b = self.operand()?;
                self.expect(&Tok::Close, "')'")?;
                return Ok(Expr::Spatial(op, a, b));
            }
        }
        let left = self.operand()?;
        if let Operand::Bool(b) = left {
            if !matches!(self.peek(), Some(Tok::Op(_))) {
                return Ok(Expr::Literal(b));
            }
        }
        let negated = self.keyword("NOT");
        let e = if let Some(Tok::Op(op)) = self.peek().cloned() {
            if negated {
                return Err(syntax("NOT cannot come before a comparison operator"));
            }
            self.at += 1;
            Expr::Compare(op, left, self.operand()?)
        } else if self.keyword("LIKE") {
            Expr::Like(left, self.operand()?)
        } else if self.keyword("BETWEEN") {
            let lo = self.operand()?;
            if !self.keyword("AND") {
                return Err(syntax("BETWEEN needs AND between its bounds"));
            }
            Expr::Between(left, lo, self.operand()?)
        } else if self.keyword("IN") {
            self.expect(&Tok::Open, "'(' after IN")?;
            let mut list = vec![self.operand()?];
            while self.peek() == Some(&Tok::Comma) {
                self.at += 1;
                list.push(self.operand()?);
            }
            self.expect(&Tok::Close, "')' closing the IN list")?;
            Expr::In(left, list)
        } else if self.keyword("IS") {
            let not = self.keyword("NOT");
            if !self.keyword("NULL") {
                return Err(syntax("IS must be followed by NULL or NOT NULL"));
            }
            let e = Expr::IsNull(left);
            return Ok(if not { Expr::Not(Box::new(e)) } else { e });
        } else {
            return Err(match self.peek() {
                Some(t) => syntax(format!("expected an operator, found {t:?}")),
                None => syntax("the filter ends before its operator"),
            });
        };
        Ok(if negated { Expr::Not(Box::new(e)) } else { e })
    }

    fn operand(&mut self) -> Result<Operand, FilterError> {
        match self.next()? {
            Tok::Text(s) => Ok(Operand::Text(s)),
            Tok::Number(n) => Ok(Operand::Number(n)),
            Tok::Quoted(s) => Ok(Operand::Property(s)),
            Tok::Word(w) => {
                let upper = w.to_ascii_uppercase();
                match upper.as_str() {
                    "TRUE" => Ok(Operand::Bool(true)),
                    "FALSE" => Ok(Operand::Bool(false)),
                    "BBOX" => self.bbox().map(Operand::Geometry),
                    "POINT" | "LINESTRING" | "POLYGON" | "MULTIPOINT" | "MULTILINESTRING"
                    | "MULTIPOLYGON" => self.wkt(&upper).map(Operand::Geometry),
                    _ => Ok(Operand::Property(w)),
                }
            }
            t => Err(syntax(format!(
                "expected a value or a property, found {t:?}"
            ))),
        }
    }

    fn bbox(&mut self) -> Result<Geometry<f64>, FilterError> {
        self.expect(&Tok::Open, "'(' after BBOX")?;
        let mut v = Vec::new();
        loop {
            match self.next()? {
                Tok::Number(n) => v.push(n),
                t => return Err(syntax(format!("BBOX takes numbers, found {t:?}"))),
            }
            match self.next()? {
                Tok::Comma => {}
                Tok::Close => break,
                t => return Err(syntax(format!("expected ',' or ')' in BBOX, found {t:?}"))),
            }
        }
        super::json::bbox_polygon(&v)
    }

    /// A parenthesised list, nested as deep as the WKT needs.
    fn nested(&mut self) -> Result<Nested, FilterError> {
        self.expect(&Tok::Open, "'(' in a WKT geometry")?;
        let mut items = Vec::new();
        loop {
            if self.peek() == Some(&Tok::Open) {
                items.push(self.nested()?);
            } else {
                let mut c = Vec::new();
                while let Some(Tok::Number(n)) = self.peek() {
                    c.push(*n);
                    self.at += 1;
                }
                match c[..] {
                    [x, y, ..] => items.push(Nested::Coord(Coord { x, y })),
                    _ => return Err(syntax("a WKT coordinate needs two numbers")),
                }
            }
            match self.next()? {
                Tok::Comma => {}
                Tok::Close => break,
                t => return Err(syntax(format!("expected ',' or ')' in WKT, found {t:?}"))),
            }
        }
        Ok(Nested::List(items))
    }

    fn wkt(&mut self, kind: &str) -> Result<Geometry<f64>, FilterError> {
        let n = self.nested()?;
        let bad = || syntax(format!("malformed {kind}"));
        Ok(match kind {
            "POINT" => Geometry::Point(Point(n.coords()?.first().copied().ok_or_else(bad)?)),
            "LINESTRING" => Geometry::LineString(LineString(n.coords()?)),
            "POLYGON" => Geometry::Polygon(n.polygon()?),
            "MULTIPOINT" => Geometry::MultiPoint(MultiPoint(
                n.items()?
                    .iter()
                    .map(|x| match x {
                        Nested::Coord(c) => Ok(Point(*c)),
                        l => l.coords()?.first().map(|c| Point(*c)).ok_or_else(bad),
                    })
                    .collect::<Result<_, _>>()?,
            )),
            "MULTILINESTRING" => Geometry::MultiLineString(MultiLineString(
                n.items()?
                    .iter()
                    .map(|l| l.coords().map(LineString))
                    .collect::<Result<_, _>>()?,
            )),
            _ => Geometry::MultiPolygon(MultiPolygon(
                n.items()?
                    .iter()
                    .map(Nested::polygon)
                    .collect::<Result<_, _>>()?,
            )),
        })
    }
}

/// A WKT body: coordinates in lists of lists.
enum Nested {
    Coord(Coord<f64>),
    List(Vec<Nested>),
}

impl Nested {
    fn items(&self) -> Result<&[Nested], FilterError> {
        match self {
            Nested::List(v) => Ok(v),
            Nested::Coord(_) => Err(syntax("expected a list of coordinates in WKT")),
        }
    }

    fn coords(&self) -> Result<Vec<Coord<f64>>, FilterError> {
        self.items()?
            .iter()
            .map(|x| match x {
                Nested::Coord(c) => Ok(*c),
                Nested::List(_) => Err(syntax("expected a coordinate in WKT")),
            })
            .collect()
    }

    fn polygon(&self) -> Result<Polygon<f64>, FilterError> {
        let mut rings = self.items()?.iter().map(|r| r.coords().map(LineString));
        let outer = rings
            .next()
            .ok_or_else(|| syntax("a WKT polygon needs a ring"))??;
        Ok(Polygon::new(outer, rings.collect::<Result<_, _>>()?))
    }
}
