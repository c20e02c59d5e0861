//! Parsing of the query parameters shared by many routes: `bbox`, `at`, `lon`/`lat`.

use super::error::ApiError;
use crate::spatial::index::BBox;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};

/// Parses `minx,miny,maxx,maxy` in degrees.
pub fn bbox(s: &str) -> Result<BBox, ApiError> {
    let parts: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            ApiError::invalid(
                "bbox",
                format!("bbox must be four numbers minx,miny,maxx,maxy, got {s:?}"),
            )
        })?;
    let [min_x, min_y, max_x, max_y] = parts[..] else {
        return Err(ApiError::invalid(
            "bbox",
            format!("bbox must be four numbers minx,miny,maxx,maxy, got {s:?}"),
        ));
    };
    if parts.iter().any(|v| !v.is_finite())
        || !(-180.0..=180.0).contains(&min_x)
        || !(-180.0..=180.0).contains(&max_x)
        || !(-90.0..=90.0).contains(&min_y)
        || !(-90.0..=90.0).contains(&max_y)
    {
        return Err(ApiError::invalid(
            "bbox",
            "bbox corners must be longitudes within ±180 and latitudes within ±90",
        ));
    }
    if min_x > max_x || min_y > max_y {
        return Err(ApiError::invalid(
            "bbox",
            "bbox must be minx,miny,maxx,maxy with min ≤ max",
        ));
    }
    Ok(BBox {
        min_x,
        min_y,
        max_x,
        max_y,
    })
}

/// The time zone dates are read in: Asia/Shanghai (UTC+8, no daylight saving).
pub fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// Parses `at`: an RFC 3339 timestamp, or a date `YYYY-MM-DD`, which means the end of that
/// day in Asia/Shanghai (so "as of 2024-03-01" includes that day's edits).
pub fn at(s: &str) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let end = d.and_time(NaiveTime::from_hms_milli_opt(23, 59, 59, 999).expect("valid time"));
        if let Some(t) = china().from_local_datetime(&end).single() {
            return Ok(t.with_timezone(&Utc));
        }
    }
    Err(ApiError::invalid(
        "at",
        format!("at must be a date (YYYY-MM-DD) or an RFC 3339 timestamp, got {s:?}"),
    ))
}

/// Checks a longitude/latitude pair.
pub fn lon_lat(lon: f64, lat: f64) -> Result<geo::Point<f64>, ApiError> {
    if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
        return Err(ApiError::invalid("lon", "lon must be a number within ±180"));
    }
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        return Err(ApiError::invalid("lat", "lat must be a number within ±90"));
    }
    Ok(geo::Point::new(lon, lat))
}

/// An optional value of the request read with `parse`: `None` stays `None`; a value it
/// cannot read is a 422 naming `field`, saying `why` (given the value).
pub fn optional<V: Copy, T>(
    v: Option<V>,
    field: &str,
    parse: impl Fn(V) -> Option<T>,
    why: impl FnOnce(V) -> String,
) -> Result<Option<T>, ApiError> {
    v.map(|v| parse(v).ok_or_else(|| ApiError::invalid(field, why(v))))
        .transpose()
}

/// The optional `level` of a query: 1 or 2.
pub fn grid_level(level: Option<i64>) -> Result<Option<crate::domain::GridLevel>, ApiError> {
    let why = |_| "level must be 1 or 2".to_string();
    optional(level, "level", crate::domain::GridLevel::from_number, why)
}

/// A query value that is one of two words, `either` when left out; anything else is a 422
/// naming `field`.
pub fn one_of<'a>(
    v: Option<&'a str>,
    field: &str,
    (either, or): (&'a str, &'a str),
) -> Result<&'a str, ApiError> {
    match v.unwrap_or(either) {
        w if w == either || w == or => Ok(w),
        _ => Err(ApiError::invalid(
            field,
            format!("{field} must be {either} or {or}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        assert!(bbox("105,32,106,33").is_ok());
        assert!(bbox("106,32,105,33").is_err());
        assert!(bbox("105,32,106").is_err());
        assert!(bbox("a,b,c,d").is_err());
        assert!(bbox("105,32,106,NaN").is_err());
        let t = at("2024-03-01").expect("date");
        assert_eq!(t.to_rfc3339(), "2024-03-01T15:59:59.999+00:00");
        assert!(at("2024-02-30").is_err());
        assert!(at("2024-03-01T00:00:00Z").is_ok());
        assert!(lon_lat(f64::NAN, 1.0).is_err());
    }
}
