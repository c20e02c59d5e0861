//! The households a patrol reached in a building: a visit counts them or names them by
//! door, the checks on a visit's form, and how the visits of a week add up per building (a
//! household named twice counts once).
//!
//! Must not: look buildings or their households up (the caller checks the doors against
//! the building's households), SQL or HTTP.

use crate::domain::FieldError;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// Households reached in one building on a patrol: counted, or named door by door.
///
/// A client from before doors were named (a patrol queued offline on a phone of the
/// previous version) sends the count only: such a visit counts its households but names
/// none of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Visit {
    /// Building code.
    pub building: String,
    /// Households reached (at least 1, at most the building's households). May be left
    /// out when `doors` names them; when both are sent it must equal their number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub households: Option<i32>,
    /// The households reached, by their label (门牌 within the building, as the building
    /// panel lists them): distinct, 1 to [`MAX_DOORS`] of them, each one of the building's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doors: Option<Vec<String>>,
}

impl Visit {
    /// How many households the visit reached: its count, else the doors it names.
    pub fn count(&self) -> i32 {
        match (&self.households, &self.doors) {
            (Some(n), _) => *n,
            (None, Some(d)) => i32::try_from(d.len()).unwrap_or(i32::MAX),
            (None, None) => 0,
        }
    }
}

/// The most doors one visit names (a hard cap checked before any door is looked up; a
/// visit also names at most its building's households).
pub const MAX_DOORS: usize = 1000;
/// The longest door label accepted, in characters.
pub const MAX_DOOR_CHARS: usize = 64;

/// The households of one building reached in a week, gathered visit by visit from the
/// patrols that count.
///
/// A door named by several visits is counted once: a household visited twice in a week
/// is one household visited. What a visit counted without naming (a count-only visit
/// from an older client, or a count above the doors it named) is added as it was sent,
/// since nothing says which households those were.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reached {
    /// Households counted without a name.
    unnamed: i64,
    /// Doors named, each once.
    doors: HashSet<String>,
}

impl Reached {
    /// Adds one visit: `households` reached, of which `doors` (when named) by name.
    pub fn add(&mut self, households: i32, doors: Option<&[String]>) {
        let named = doors.unwrap_or_default();
        self.unnamed += (i64::from(households) - named.len() as i64).max(0);
        self.doors.extend(named.iter().cloned());
    }

    /// Households reached, at most the building's `total`.
    pub fn count(&self, total: i32) -> i64 {
        (self.unnamed + self.doors.len() as i64).min(i64::from(total))
    }
}

/// Checks the households visited: known buildings and doors are checked by the caller;
/// here, counts, repeats and the doors' form.
pub fn check_visits(visits: &[Visit]) -> Result<(), FieldError> {
    let mut seen = HashSet::new();
    for (i, v) in visits.iter().enumerate() {
        if let Some(doors) = &v.doors {
            check_doors(i, doors, v.households)?;
        } else if v.households.is_none_or(|n| n < 1) {
            return Err(FieldError::new(
                format!("households[{i}].households"),
                "count the households reached: at least 1 (or name them in doors)",
            ));
        }
        if !seen.insert(v.building.as_str()) {
            return Err(FieldError::new(
                format!("households[{i}].building"),
                format!("building {} is listed twice", v.building),
            ));
        }
    }
    Ok(())
}

/// Checks the doors named by visit `i`: 1 to [`MAX_DOORS`], each a label once, and as
/// many as the count when one is sent too.
fn check_doors(i: usize, doors: &[String], households: Option<i32>) -> Result<(), FieldError> {
    let field = format!("households[{i}].doors");
    if doors.is_empty() {
        return Err(FieldError::new(
            field,
            "name at least one household, or leave doors out and send a count",
        ));
    }
    if doors.len() > MAX_DOORS {
        return Err(FieldError::new(
            field,
            format!("at most {MAX_DOORS} households per building"),
        ));
    }
    let mut seen = HashSet::new();
    for (j, d) in doors.iter().enumerate() {
        let at = format!("{field}[{j}]");
        if d.trim().is_empty() || d.chars().count() > MAX_DOOR_CHARS || d.contains('\0') {
            return Err(FieldError::new(
                at,
                format!("a household's label: 1 to {MAX_DOOR_CHARS} characters"),
            ));
        }
        if !seen.insert(d.as_str()) {
            return Err(FieldError::new(
                at,
                format!("household {d} is listed twice"),
            ));
        }
    }
    if let Some(n) = households.filter(|n| *n as usize != doors.len()) {
        return Err(FieldError::new(
            format!("households[{i}].households"),
            format!(
                "{n} households counted but {} named in doors: send the same number, or leave the count out",
                doors.len()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doors_named_are_checked_and_counted() {
        let v = |n: Option<i32>, doors: &[&str]| Visit {
            building: "B1".into(),
            households: n,
            doors: Some(doors.iter().map(ToString::to_string).collect()),
        };
        let field = |v: Visit| check_visits(&[v]).expect_err("refused").field;
        assert!(check_visits(&[v(None, &["1-101", "1-102"])]).is_ok());
        assert!(check_visits(&[v(Some(2), &["1-101", "1-102"])]).is_ok());
        assert_eq!(v(None, &["1-101", "1-102"]).count(), 2);
        assert_eq!(
            field(v(Some(3), &["1-101", "1-102"])),
            "households[0].households"
        );
        assert_eq!(field(v(None, &[])), "households[0].doors");
        assert_eq!(
            field(v(None, &["1-101", "1-101"])),
            "households[0].doors[1]"
        );
        assert_eq!(field(v(None, &["1-101", " "])), "households[0].doors[1]");
        let many: Vec<String> = (0..=MAX_DOORS).map(|i| format!("d{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(field(v(None, &many)), "households[0].doors");
        // Neither a count nor doors: nothing was reached.
        let empty = Visit {
            building: "B1".into(),
            households: None,
            doors: None,
        };
        assert_eq!(field(empty), "households[0].households");
    }

    #[test]
    fn a_household_visited_twice_in_a_week_counts_once() {
        let doors = |d: &[&str]| d.iter().map(ToString::to_string).collect::<Vec<_>>();
        let mut r = Reached::default();
        r.add(2, Some(&doors(&["1-101", "1-102"])));
        r.add(2, Some(&doors(&["1-102", "1-103"])));
        assert_eq!(r.count(10), 3, "1-102 twice is one household");
        // A count-only visit (an older client) adds its count: it names no one.
        r.add(2, None);
        assert_eq!(r.count(10), 5);
        // A count above the doors named adds the unnamed rest.
        r.add(3, Some(&doors(&["1-101"])));
        assert_eq!(r.count(10), 7);
        // Never more than the building has.
        assert_eq!(r.count(4), 4);
    }
}
