//! The applicant's verdict on a visit: a rating from 1 to 5, whether they had every document
//! they needed, how long they waited at the desk, and an optional comment. Asked once, after
//! the visit was marked attended; kept without the applicant's identity.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{FieldErrors, Invalid, text::parse_paragraphs, validation::Named};

/// The longest comment, in characters.
pub const COMMENT_MAX_CHARS: usize = 1000;

/// How long the applicant waited at the desk past their time.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
pub enum DeskWait {
    #[serde(rename = "under_15")]
    Under15,
    #[serde(rename = "15_to_30")]
    From15To30,
    #[serde(rename = "30_to_60")]
    From30To60,
    #[serde(rename = "over_60")]
    Over60,
}

impl Named for DeskWait {
    const ALL: &'static [DeskWait] = &[
        DeskWait::Under15,
        DeskWait::From15To30,
        DeskWait::From30To60,
        DeskWait::Over60,
    ];

    fn as_str(self) -> &'static str {
        match self {
            DeskWait::Under15 => "under_15",
            DeskWait::From15To30 => "15_to_30",
            DeskWait::From30To60 => "30_to_60",
            DeskWait::Over60 => "over_60",
        }
    }
}

/// A survey's answer as sent (the page's form or the API's JSON).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    /// 1 (very bad) to 5 (very good).
    #[schema(minimum = 1, maximum = 5, example = 4)]
    pub rating: i64,
    /// Did you have every document you needed?
    pub had_documents: bool,
    /// How long did you wait at the desk?
    pub desk_wait: DeskWait,
    /// Anything else (optional, kept without your name).
    #[schema(schema_with = super::schema::optional_comment)]
    pub comment: Option<String>,
}

/// A checked answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub rating: Rating,
    pub had_documents: bool,
    pub desk_wait: DeskWait,
    pub comment: Option<String>,
}

/// 1 to 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rating(u8);

impl Rating {
    pub fn parse(value: i64) -> Result<Rating, Invalid> {
        match u8::try_from(value) {
            Ok(rating @ 1..=5) => Ok(Rating(rating)),
            _ => Err(Invalid::new("must be from 1 to 5")),
        }
    }

    pub fn get(self) -> i32 {
        i32::from(self.0)
    }
}

impl AnswerRequest {
    /// The answer, each field checked; a blank comment is no comment.
    pub fn parse(&self) -> Result<Answer, FieldErrors> {
        let mut errors = FieldErrors::new();
        let rating = errors.check("rating", Rating::parse(self.rating));
        let comment = match self.comment.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => errors.check("comment", parse_paragraphs(text, COMMENT_MAX_CHARS)),
        };
        let rating = errors.or_value(rating)?;
        Ok(Answer {
            rating: rating.expect("checked above"),
            had_documents: self.had_documents,
            desk_wait: self.desk_wait,
            comment,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(rating: i64, comment: Option<&str>) -> AnswerRequest {
        AnswerRequest {
            rating,
            had_documents: true,
            desk_wait: DeskWait::From15To30,
            comment: comment.map(str::to_owned),
        }
    }

    #[test]
    fn a_rating_is_one_to_five_and_a_blank_comment_is_none() {
        assert!(request(0, None).parse().is_err());
        assert!(request(6, None).parse().is_err());
        assert!(request(i64::MAX, None).parse().is_err());
        let answer = request(5, Some("   ")).parse().unwrap();
        assert_eq!((answer.rating.get(), answer.comment), (5, None));
        let long = "x".repeat(COMMENT_MAX_CHARS + 1);
        let errors = request(3, Some(&long)).parse().unwrap_err();
        assert_eq!(errors.as_slice()[0].field, "comment");
    }
}
