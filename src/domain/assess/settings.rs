//! The settings of one year's assessment, with their documented defaults (docs/domain.md,
//! "The annual assessment"): the weights of the rating layers, the grade thresholds, the
//! warning and 双报到 thresholds, and the scorecard's indicator weights.

use super::super::FieldError;
use serde::{Deserialize, Serialize};

/// Default weight of the party members' layer of 一述三评.
pub const WEIGHT_MEMBERS: f64 = 0.3;
/// Default weight of the residents' representatives' layer.
pub const WEIGHT_RESIDENTS: f64 = 0.4;
/// Default weight of the street office's party committee's layer.
pub const WEIGHT_STREET: f64 = 0.3;
/// Default lowest weighted score of the grade 好.
pub const GRADE_GOOD: f64 = 90.0;
/// Default lowest weighted score of the grade 较好.
pub const GRADE_FAIR: f64 = 80.0;
/// Default lowest weighted score of the grade 一般 (below it: 差).
pub const GRADE_AVERAGE: f64 = 60.0;
/// Default score under which one layer's rating is a warning (预警).
pub const WARN_LAYER_BELOW: f64 = 60.0;
/// Default score under which a 双报到 unit is called in for a talk (约谈).
pub const TALK_BELOW: f64 = 60.0;
/// Default score from which a 双报到 unit is commended in the 通报.
pub const NOTICE_FROM: f64 = 90.0;
/// Default points lost by the findings indicator per open party rule finding.
pub const POINTS_PER_FINDING: f64 = 5.0;

/// The settings of one year (a row of `assess_settings`, else [`Settings::default`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Weight of the party members' ratings.
    pub weight_members: f64,
    /// Weight of the residents' representatives' ratings.
    pub weight_residents: f64,
    /// Weight of the street office party committee's ratings.
    pub weight_street: f64,
    /// Lowest weighted score of 好.
    pub grade_good: f64,
    /// Lowest weighted score of 较好.
    pub grade_fair: f64,
    /// Lowest weighted score of 一般.
    pub grade_average: f64,
    /// A layer rated below this is a warning.
    pub warn_layer_below: f64,
    /// A 双报到 unit rated below this is called in (约谈).
    pub talk_below: f64,
    /// A 双报到 unit rated at or above this is commended (通报).
    pub notice_from: f64,
    /// Weight of weekly patrol compliance in the scorecard.
    pub weight_patrol: f64,
    /// Weight of households visited.
    pub weight_visits: f64,
    /// Weight of incidents closed within their time limit.
    pub weight_incidents: f64,
    /// Weight of ten-minute coverage of the 1+8 kinds.
    pub weight_coverage: f64,
    /// Weight of the party rule findings open at year end.
    pub weight_findings: f64,
    /// Weight of 双报到 completion.
    pub weight_dual: f64,
    /// Points (of 100) the findings indicator loses per finding.
    pub points_per_finding: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            weight_members: WEIGHT_MEMBERS,
            weight_residents: WEIGHT_RESIDENTS,
            weight_street: WEIGHT_STREET,
            grade_good: GRADE_GOOD,
            grade_fair: GRADE_FAIR,
            grade_average: GRADE_AVERAGE,
            warn_layer_below: WARN_LAYER_BELOW,
            talk_below: TALK_BELOW,
            notice_from: NOTICE_FROM,
            weight_patrol: 25.0,
            weight_visits: 20.0,
            weight_incidents: 20.0,
            weight_coverage: 15.0,
            weight_findings: 10.0,
            weight_dual: 10.0,
            points_per_finding: POINTS_PER_FINDING,
        }
    }
}

impl Settings {
    /// Checks the settings: every number finite; layer weights from 0 to 1 summing to 1;
    /// thresholds on the 0-100 scale, the grades in order; indicator weights not negative
    /// and not all zero.
    pub fn check(&self) -> Result<(), FieldError> {
        let scale = [
            ("grade_good", self.grade_good),
            ("grade_fair", self.grade_fair),
            ("grade_average", self.grade_average),
            ("warn_layer_below", self.warn_layer_below),
            ("talk_below", self.talk_below),
            ("notice_from", self.notice_from),
            ("points_per_finding", self.points_per_finding),
        ];
        for (field, v) in scale {
            super::check_score(v, field)?;
        }
        let layers = [
            ("weight_members", self.weight_members),
            ("weight_residents", self.weight_residents),
            ("weight_street", self.weight_street),
        ];
        for (field, w) in layers {
            if !w.is_finite() || !(0.0..=1.0).contains(&w) {
                return Err(FieldError::new(field, "a weight from 0 to 1"));
            }
        }
        let sum: f64 = layers.iter().map(|l| l.1).sum();
        if (sum - 1.0).abs() > 1e-6 {
            return Err(FieldError::new(
                "weight_members",
                format!("the three layer weights sum to 1, not {sum}"),
            ));
        }
        if !(self.grade_good > self.grade_fair && self.grade_fair > self.grade_average) {
            return Err(FieldError::new(
                "grade_fair",
                "grade_good > grade_fair > grade_average",
            ));
        }
        if self.talk_below > self.notice_from {
            return Err(FieldError::new("talk_below", "at most notice_from"));
        }
        let indicators = self.indicator_weights();
        for (field, w) in indicators {
            if !w.is_finite() || !(0.0..=1000.0).contains(&w) {
                return Err(FieldError::new(field, "a weight from 0 to 1000"));
            }
        }
        if indicators.iter().all(|(_, w)| *w == 0.0) {
            return Err(FieldError::new(
                "weight_patrol",
                "at least one indicator weight above 0",
            ));
        }
        Ok(())
    }

    /// The scorecard's indicator weights, by setting name.
    pub fn indicator_weights(&self) -> [(&'static str, f64); 6] {
        [
            ("weight_patrol", self.weight_patrol),
            ("weight_visits", self.weight_visits),
            ("weight_incidents", self.weight_incidents),
            ("weight_coverage", self.weight_coverage),
            ("weight_findings", self.weight_findings),
            ("weight_dual", self.weight_dual),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_pass_their_own_check() {
        assert_eq!(Settings::default().check(), Ok(()));
    }

    #[test]
    fn bad_settings_name_their_field() {
        let no_indicator = |s: &mut Settings| {
            for w in [
                &mut s.weight_patrol,
                &mut s.weight_visits,
                &mut s.weight_incidents,
                &mut s.weight_coverage,
                &mut s.weight_findings,
                &mut s.weight_dual,
            ] {
                *w = 0.0;
            }
        };
        /// A change that makes the defaults bad.
        type Spoil = fn(&mut Settings);
        let cases: [(Spoil, &str); 5] = [
            (|s| s.weight_street = 0.5, "weight_members"),
            (|s| s.grade_fair = 95.0, "grade_fair"),
            (|s| s.grade_good = 101.0, "grade_good"),
            (no_indicator, "weight_patrol"),
            (|s| s.weight_dual = -1.0, "weight_dual"),
        ];
        for (spoil, field) in cases {
            let mut bad = Settings::default();
            spoil(&mut bad);
            assert_eq!(bad.check().unwrap_err().field, field);
        }
    }
}
