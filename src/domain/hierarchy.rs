//! The administrative and grid hierarchy: zone → town → community → first-level grid →
//! second-level grid, and the code rules that tie each level to its parent.

use super::FieldError;
use serde::{Deserialize, Serialize};

/// The kind of a region above the community.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionKind {
    /// A district or development zone (区 / 开发区).
    Zone,
    /// A town (镇).
    Town,
    /// A street office (街道).
    StreetOffice,
}

impl RegionKind {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zone => "zone",
            Self::Town => "town",
            Self::StreetOffice => "street_office",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "zone" => Some(Self::Zone),
            "town" => Some(Self::Town),
            "street_office" => Some(Self::StreetOffice),
            _ => None,
        }
    }
}

/// The level of a grid: first-level grids (一级网格) partition a community, second-level
/// grids (二级网格) partition a first-level grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub enum GridLevel {
    /// 一级网格, with a party branch (网格党支部).
    First,
    /// 二级网格, with a party group (党小组).
    Second,
}

impl GridLevel {
    /// 1 or 2.
    pub fn number(self) -> i16 {
        match self {
            Self::First => 1,
            Self::Second => 2,
        }
    }

    /// The level for 1 or 2.
    pub fn from_number(n: i64) -> Option<Self> {
        match n {
            1 => Some(Self::First),
            2 => Some(Self::Second),
            _ => None,
        }
    }

    /// How many characters a code of this level has: the 12-digit community code plus
    /// two digits per level.
    pub fn code_len(self) -> usize {
        12 + 2 * self.number() as usize
    }
}

impl TryFrom<i64> for GridLevel {
    type Error = String;
    fn try_from(n: i64) -> Result<Self, String> {
        Self::from_number(n).ok_or_else(|| format!("grid level must be 1 or 2, not {n}"))
    }
}

impl From<GridLevel> for i64 {
    fn from(l: GridLevel) -> i64 {
        i64::from(l.number())
    }
}

/// Checks a 12-digit community statistical code.
pub fn check_community_code(code: &str, field: &str) -> Result<(), FieldError> {
    if code.len() == 12 && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            format!("a community code has 12 digits, got {code:?}"),
        ))
    }
}

/// Checks a grid code against its level and its parent's code.
///
/// Codes append two sequence digits per level to the parent's code (docs/domain.md):
/// `{12-digit community}{2-digit first-level}{2-digit second-level}`; sequence `00` is
/// reserved for the parent itself, as in CJ/T 213.
pub fn check_grid_code(code: &str, level: GridLevel, parent_code: &str) -> Result<(), FieldError> {
    let want = level.code_len();
    if code.len() != want || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new(
            "properties.code",
            format!(
                "a level-{} grid code has {want} digits, got {code:?}",
                level.number()
            ),
        ));
    }
    if !code.starts_with(parent_code) || parent_code.len() + 2 != want {
        return Err(FieldError::new(
            "properties.code",
            format!(
                "grid code {code} must be its parent's code {parent_code} followed by two digits"
            ),
        ));
    }
    if code.ends_with("00") {
        return Err(FieldError::new(
            "properties.code",
            "sequence 00 is reserved for the parent itself",
        ));
    }
    Ok(())
}

/// Checks a display name: not blank, at most 100 characters.
pub fn check_name(name: &str, field: &str) -> Result<(), FieldError> {
    let n = name.trim().chars().count();
    if n == 0 {
        Err(FieldError::new(field, "must not be empty"))
    } else if n > 100 {
        Err(FieldError::new(field, "must be at most 100 characters"))
    } else {
        Ok(())
    }
}

/// The kind of a compound (小区/院落).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompoundKind {
    /// A residential compound or courtyard.
    Residential,
    /// A commercial or office building (商务楼宇).
    Commercial,
    /// Anything else: schools, parks, offices of government.
    Other,
}

impl CompoundKind {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Residential => "residential",
            Self::Commercial => "commercial",
            Self::Other => "other",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "residential" => Some(Self::Residential),
            "commercial" => Some(Self::Commercial),
            "other" => Some(Self::Other),
            _ => None,
        }
    }
}

/// Party membership of a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Membership {
    /// A full member (正式党员).
    Full,
    /// A probationary member (预备党员).
    Probationary,
    /// Not a party member.
    None,
}

impl Membership {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Probationary => "probationary",
            Self::None => "none",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "full" => Some(Self::Full),
            "probationary" => Some(Self::Probationary),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    /// Whether this is party membership of either kind.
    pub fn is_member(self) -> bool {
        !matches!(self, Self::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_codes_extend_the_parent() {
        let c = "510802102001";
        assert!(check_grid_code("51080210200101", GridLevel::First, c).is_ok());
        assert!(check_grid_code("5108021020010102", GridLevel::Second, "51080210200101").is_ok());
        assert!(check_grid_code("51080210200201", GridLevel::First, c).is_err());
        assert!(check_grid_code("51080210200100", GridLevel::First, c).is_err());
        assert!(check_grid_code("5108021020010", GridLevel::First, c).is_err());
        assert!(check_grid_code("5108021020010x", GridLevel::First, c).is_err());
        assert!(check_grid_code("5108021020010102", GridLevel::Second, c).is_err());
    }

    #[test]
    fn community_codes_have_twelve_digits() {
        assert!(check_community_code("510802102001", "code").is_ok());
        assert!(check_community_code("51080210200", "code").is_err());
        assert!(check_community_code("51080210200a", "code").is_err());
    }
}
