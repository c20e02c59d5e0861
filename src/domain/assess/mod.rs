//! The annual assessment (科学化考评体系, the notice's fifth system) as plain rules: the
//! settings of a year (`settings`), 一述三评 of a community party organisation and its
//! secretary: ratings in layers, grade and warnings (`rating`), 四诺两考 of the members of
//! the two committees (`pledges`), the 双报到 evaluation with its 通报 and 约谈 lists
//! (`dual`), and the objective scorecard of a community or first-level grid with the ranking
//! (`scorecard`).
//!
//! Must not: read the database, know about HTTP, or decide who may see a result (callers
//! filter by visibility).

pub mod dual;
pub mod pledges;
pub mod rating;
pub mod scorecard;
pub mod settings;

pub use settings::Settings;

use super::FieldError;

/// Checks a year of the assessment: 2000 to 2100, as every year the party records hold.
pub fn check_year(year: i32) -> Result<(), FieldError> {
    super::party::check_year(year, "year")
}

/// Checks a score on the 0-100 scale of every rating.
pub fn check_score(score: f64, field: &str) -> Result<(), FieldError> {
    if score.is_finite() && (0.0..=100.0).contains(&score) {
        Ok(())
    } else {
        Err(FieldError::new(field, "a score from 0 to 100"))
    }
}

/// Checks free text a client sends (a note, a target, a report): not empty when required,
/// and at most `max` characters.
pub fn check_text(text: &str, field: &str, max: usize, required: bool) -> Result<(), FieldError> {
    if required && text.trim().is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    let n = text.chars().count();
    if n > max {
        return Err(FieldError::new(
            field,
            format!("at most {max} characters, got {n}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_and_texts_are_bounded() {
        assert!(check_score(0.0, "s").is_ok());
        assert!(check_score(100.0, "s").is_ok());
        assert_eq!(check_score(100.5, "s").unwrap_err().field, "s");
        assert!(check_score(f64::NAN, "s").is_err());
        assert!(check_text("好", "t", 1, true).is_ok());
        assert!(check_text("好好", "t", 1, true).is_err());
        assert!(check_text(" ", "t", 10, true).is_err());
        assert!(check_text("", "t", 10, false).is_ok());
        assert!(check_year(1999).is_err());
    }
}
