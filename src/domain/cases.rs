//! Cases the case system registers with an office: which appointment types each is ready for
//! and from when, whom to write to, and the secret the applicant proves they hold the case with.

use chrono::NaiveDate;

use super::{
    booking::CaseNumber, catalogue::TypeCode, email::EmailAddress, language::Language,
    text::is_hidden_control, validation::Invalid,
};

/// What an applicant types to prove the case is theirs (a date of birth, the access code on
/// their receipt), compared without spaces and case: `ab12 cd34` is `AB12CD34`.
#[derive(Clone)]
pub struct VerificationSecret(String);

impl VerificationSecret {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(text: &str) -> Result<VerificationSecret, Invalid> {
        let normalised: String = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_uppercase)
            .collect();
        if text.chars().count() > Self::MAX_CHARS || text.chars().any(is_hidden_control) {
            return Err(Invalid::new(
                "must be at most 100 characters of text, as printed on your receipt",
            ));
        }
        if normalised.chars().count() < 4 {
            return Err(Invalid::new(
                "must be the verification code of the case (at least 4 characters)",
            ));
        }
        Ok(VerificationSecret(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An appointment type a case is ready for, from a day on (`None`: at once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    pub appointment_type: TypeCode,
    pub from: Option<NaiveDate>,
}

/// A case as the case system registers it, every field checked.
#[derive(Clone)]
pub struct NewCase {
    pub case_number: CaseNumber,
    pub ready_for: Vec<Readiness>,
    pub email: Option<EmailAddress>,
    pub language: Language,
    pub secret: VerificationSecret,
}

/// Whether a registered case may have a visit of `appointment_type` on `visit_day`: it is
/// ready for that type, and the day is not before the day it is ready from.
pub fn is_ready(
    ready_for: &[(TypeCode, Option<NaiveDate>)],
    appointment_type: &TypeCode,
    visit_day: NaiveDate,
) -> bool {
    ready_for.iter().any(|(ready_type, from)| {
        ready_type == appointment_type && from.is_none_or(|from| from <= visit_day)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_compared_without_spaces_or_case() {
        let typed = VerificationSecret::parse(" ab12 cd34 ").unwrap();
        assert_eq!(typed.as_str(), "AB12CD34");
        assert_eq!(
            VerificationSecret::parse("1990-04-12").unwrap().as_str(),
            "1990-04-12"
        );
        assert!(VerificationSecret::parse("ab ").is_err());
        assert!(VerificationSecret::parse(&"x".repeat(101)).is_err());
        assert!(VerificationSecret::parse("ab\u{202E}cd").is_err());
    }

    #[test]
    fn a_case_is_ready_for_its_types_from_their_day_on() {
        let delivery = TypeCode::parse("document_delivery").unwrap();
        let collection = TypeCode::parse("permit_collection").unwrap();
        let from = NaiveDate::from_ymd_opt(2027, 3, 1).unwrap();
        let ready = [(delivery.clone(), Some(from)), (collection.clone(), None)];
        assert!(is_ready(&ready, &delivery, from));
        assert!(!is_ready(&ready, &delivery, from.pred_opt().unwrap()));
        assert!(is_ready(&ready, &collection, from.pred_opt().unwrap()));
        let information = TypeCode::parse("information").unwrap();
        assert!(!is_ready(&ready, &information, from));
    }
}
