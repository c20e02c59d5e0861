//! CQL2 JSON: `{"op": ..., "args": [...]}` objects, `{"property": ...}`, literals,
//! GeoJSON geometries and `{"bbox": [...]}`.

use super::{Cmp, Expr, FilterError, Operand, Spatial};
use geo::{Coord, Geometry, LineString, Polygon};
use serde_json::Value;

fn syntax(msg: impl Into<String>) -> FilterError {
    FilterError::Syntax(msg.into())
}

/// Parses CQL2 JSON.
pub(super) fn parse(src: &str) -> Result<Expr, FilterError> {
    let v: Value = serde_json::from_str(src).map_err(|e| syntax(format!("not JSON: {e}")))?;
    expr(&v, 0)
}

/// A `BBOX` of four (or six, with heights) numbers as a polygon.
pub(super) fn bbox_polygon(v: &[f64]) -> Result<Geometry<f64>, FilterError> {
    let (x0, y0, x1, y1) = match v {
        [a, b, c, d] => (*a, *b, *c, *d),
        [a, b, _, d, e, _] => (*a, *b, *d, *e),
        _ => return Err(syntax("a bbox has four numbers")),
    };
    let ring = LineString(vec![
        Coord { x: x0, y: y0 },
        Coord { x: x1, y: y0 },
        Coord { x: x1, y: y1 },
        Coord { x: x0, y: y1 },
        Coord { x: x0, y: y0 },
    ]);
    Ok(Geometry::Polygon(Polygon::new(ring, vec![])))
}

fn expr(v: &Value, depth: usize) -> Result<Expr, FilterError> {
    if depth > super::MAX_DEPTH {
        return Err(FilterError::TooLarge(format!(
            "at most {} nested operators",
            super::MAX_DEPTH
        )));
    }
    if let Value::Bool(b) = v {
        return Ok(Expr::Literal(*b));
    }
    let op = v
        .get("op")
        .and_then(Value::as_str)
        .ok_or_else(|| syntax(format!("expected an object with \"op\", found {v}")))?;
    let args = v
        .get("args")
        .and_then(Value::as_array)
        .ok_or_else(|| syntax(format!("operator {op:?} needs an \"args\" array")))?;
    let n = |want: usize| {
        if args.len() == want {
            Ok(())
        } else {
            Err(syntax(format!("operator {op:?} takes {want} arguments")))
        }
    };
    let cmp = |c: Cmp| -> Result<Expr, FilterError> {
        n(2)?;
        Ok(Expr::Compare(c, operand(&args[0])?, operand(&args[1])?))
    };
    match op.to_ascii_lowercase().as_str() {
        "and" | "or" => {
            if args.len() < 2 {
                return Err(syntax(format!(
                    "operator {op:?} takes two or more arguments"
                )));
            }
            let parts = args
                .iter()
                .map(|a| expr(a, depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if op.eq_ignore_ascii_case("and") {
                Expr::And(parts)
            } else {
                Expr::Or(parts)
            })
        }
        "not" => {
            n(1)?;
            Ok(Expr::Not(Box::new(expr(&args[0], depth + 1)?)))
        }
        "=" => cmp(Cmp::Eq),
        "<>" => cmp(Cmp::Ne),
        "<" => cmp(Cmp::Lt),
        "<=" => cmp(Cmp::Le),
        ">" => cmp(Cmp::Gt),
        ">=" => cmp(Cmp::Ge),
        "like" => {
            n(2)?;
            Ok(Expr::Like(operand(&args[0])?, operand(&args[1])?))
        }
        "between" => {
            n(3)?;
            Ok(Expr::Between(
                operand(&args[0])?,
                operand(&args[1])?,
                operand(&args[2])?,
            ))
        }
        "in" => {
            n(2)?;
            let list = args[1]
                .as_array()
                .ok_or_else(|| syntax("the second argument of \"in\" is an array"))?
                .iter()
                .map(operand)
                .collect::<Result<_, _>>()?;
            Ok(Expr::In(operand(&args[0])?, list))
        }
        "isnull" => {
            n(1)?;
            Ok(Expr::IsNull(operand(&args[0])?))
        }
        "s_intersects" | "s_within" => {
            n(2)?;
            let s = if op.eq_ignore_ascii_case("s_within") {
                Spatial::Within
            } else {
                Spatial::Intersects
            };
            Ok(Expr::Spatial(s, operand(&args[0])?, operand(&args[1])?))
        }
        _ => Err(syntax(format!("unknown operator {op:?}"))),
    }
}

fn operand(v: &Value) -> Result<Operand, FilterError> {
    match v {
        Value::String(s) => Ok(Operand::Text(s.clone())),
        Value::Bool(b) => Ok(Operand::Bool(*b)),
        Value::Number(n) => n
            .as_f64()
            .map(Operand::Number)
            .ok_or_else(|| syntax(format!("{n} is not a number this server reads"))),
        Value::Object(o) => {
            if let Some(p) = o.get("property") {
                return p
                    .as_str()
                    .map(|p| Operand::Property(p.to_string()))
                    .ok_or_else(|| syntax("\"property\" names a property as a string"));
            }
            if let Some(b) = o.get("bbox") {
                let nums: Vec<f64> = b
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_f64).collect())
                    .unwrap_or_default();
                return super::json::bbox_polygon(&nums).map(Operand::Geometry);
            }
            if o.contains_key("type") && o.contains_key("coordinates") {
                let g: geojson::Geometry = serde_json::from_value(v.clone())
                    .map_err(|e| syntax(format!("not a GeoJSON geometry: {e}")))?;
                let g = Geometry::<f64>::try_from(g)
                    .map_err(|e| syntax(format!("not a GeoJSON geometry: {e}")))?;
                return Ok(Operand::Geometry(g));
            }
            Err(syntax(format!("unknown operand {v}")))
        }
        _ => Err(syntax(format!("unknown operand {v}"))),
    }
}
