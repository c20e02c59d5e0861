//! Service station kinds: the "1+8" system (one party-mass service centre and eight
//! stations) and the other facilities planners count in the ten-minute service circle.

use serde::{Deserialize, Serialize};

/// A kind of service station or facility.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StationKind {
    /// 党群公共服务中心, the "1" of "1+8".
    PartyMassCentre,
    /// 便民服务站.
    Convenience,
    /// 新市民培训站.
    NewResidentTraining,
    /// 助老养老站.
    ElderlyCare,
    /// 青少年活动站.
    Youth,
    /// 困难救助站.
    HardshipRelief,
    /// 志愿者工作站.
    Volunteer,
    /// 文化娱乐站.
    Culture,
    /// 社会组织孵化站.
    SocialOrgIncubation,
    /// 卫生服务站 / clinic.
    Clinic,
    /// 幼儿园.
    Kindergarten,
    /// 学校.
    School,
    /// 菜市场.
    Market,
    /// 公园.
    Park,
    /// 警务室.
    PolicePost,
}

/// The first `N` kinds of `all`, in order.
const fn first_kinds<const N: usize>(all: [StationKind; 15]) -> [StationKind; N] {
    let mut out = [StationKind::PartyMassCentre; N];
    let mut i = 0;
    while i < N {
        out[i] = all[i];
        i += 1;
    }
    out
}

impl StationKind {
    /// Every kind, "1+8" first.
    pub const ALL: [StationKind; 15] = [
        Self::PartyMassCentre,
        Self::Convenience,
        Self::NewResidentTraining,
        Self::ElderlyCare,
        Self::Youth,
        Self::HardshipRelief,
        Self::Volunteer,
        Self::Culture,
        Self::SocialOrgIncubation,
        Self::Clinic,
        Self::Kindergarten,
        Self::School,
        Self::Market,
        Self::Park,
        Self::PolicePost,
    ];

    /// The nine kinds of the "1+8" system: the first nine of [`Self::ALL`].
    pub const ONE_PLUS_EIGHT: [StationKind; 9] = first_kinds(Self::ALL);

    /// The name used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PartyMassCentre => "party_mass_centre",
            Self::Convenience => "convenience",
            Self::NewResidentTraining => "new_resident_training",
            Self::ElderlyCare => "elderly_care",
            Self::Youth => "youth",
            Self::HardshipRelief => "hardship_relief",
            Self::Volunteer => "volunteer",
            Self::Culture => "culture",
            Self::SocialOrgIncubation => "social_org_incubation",
            Self::Clinic => "clinic",
            Self::Kindergarten => "kindergarten",
            Self::School => "school",
            Self::Market => "market",
            Self::Park => "park",
            Self::PolicePost => "police_post",
        }
    }

    /// The Chinese name.
    pub fn name_zh(self) -> &'static str {
        match self {
            Self::PartyMassCentre => "党群公共服务中心",
            Self::Convenience => "便民服务站",
            Self::NewResidentTraining => "新市民培训站",
            Self::ElderlyCare => "助老养老站",
            Self::Youth => "青少年活动站",
            Self::HardshipRelief => "困难救助站",
            Self::Volunteer => "志愿者工作站",
            Self::Culture => "文化娱乐站",
            Self::SocialOrgIncubation => "社会组织孵化站",
            Self::Clinic => "卫生服务站",
            Self::Kindergarten => "幼儿园",
            Self::School => "学校",
            Self::Market => "菜市场",
            Self::Park => "公园",
            Self::PolicePost => "警务室",
        }
    }

    /// Parses the API name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether this kind is one of the "1+8".
    pub fn is_one_plus_eight(self) -> bool {
        Self::ONE_PLUS_EIGHT.contains(&self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in StationKind::ALL {
            assert_eq!(StationKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(StationKind::parse("spa"), None);
    }
}
