//! The national catalogue of appointment types (tipologie di appuntamento), with their texts
//! in several languages.

use std::{collections::BTreeMap, fmt};

use serde::Deserialize;

use super::{FieldErrors, Invalid, language::Language, text::parse_line};

/// An appointment type's code, such as `document_delivery`: lowercase words joined by `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct TypeCode(String);

impl TypeCode {
    pub fn parse(text: &str) -> Result<TypeCode, Invalid> {
        let code = text;
        let well_formed = (3..=40).contains(&code.len())
            && code.starts_with(|c: char| c.is_ascii_lowercase())
            && code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if well_formed {
            Ok(TypeCode(code.to_owned()))
        } else {
            Err(Invalid::new(
                "must be 3 to 40 lowercase letters, digits or _, like document_delivery",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TypeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Read from a path or query by the same rule as everywhere else.
impl TryFrom<String> for TypeCode {
    type Error = Invalid;

    fn try_from(text: String) -> Result<TypeCode, Invalid> {
        TypeCode::parse(&text)
    }
}

/// Shortest and longest appointment, in minutes.
pub const DURATION_RANGE: std::ops::RangeInclusive<i32> = 5..=480;

pub fn check_duration(minutes: i32) -> Result<i32, Invalid> {
    if DURATION_RANGE.contains(&minutes) {
        Ok(minutes)
    } else {
        Err(Invalid::new(format!(
            "must be between {} and {} minutes",
            DURATION_RANGE.start(),
            DURATION_RANGE.end()
        )))
    }
}

/// Texts by language. Italian is required: it is the one every office can read.
pub type Texts = BTreeMap<String, String>;
/// Lists of documents to bring, by language.
pub type DocumentLists = BTreeMap<String, Vec<String>>;

/// Checks texts by language into `errors` under `field`, each with `parse` (a line for names,
/// paragraphs for descriptions); `require_italian` for names.
pub fn check_texts(
    errors: &mut FieldErrors,
    field: &str,
    texts: &Texts,
    require_italian: bool,
    parse: impl Fn(&str) -> Result<String, Invalid>,
) -> Texts {
    if require_italian && !texts.contains_key("it") {
        errors.add(
            format!("{field}.it"),
            "is required: every type has an Italian name",
        );
    }
    let mut checked = Texts::new();
    for (language, text) in texts {
        let path = format!("{field}.{language}");
        let Some(language) = errors.check(&path, Language::parse(language)) else {
            continue;
        };
        if let Some(text) = errors.check(&path, parse(text)) {
            checked.insert(language.to_string(), text);
        }
    }
    checked
}

pub fn check_documents(
    errors: &mut FieldErrors,
    field: &str,
    documents: &DocumentLists,
) -> DocumentLists {
    let mut checked = DocumentLists::new();
    for (language, items) in documents {
        let path = format!("{field}.{language}");
        let Some(language) = errors.check(&path, Language::parse(language)) else {
            continue;
        };
        let list = items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| errors.check(&format!("{path}[{i}]"), parse_line(item, 300)))
            .collect();
        checked.insert(language.to_string(), list);
    }
    checked
}

/// The text for `language`, falling back to English, then Italian, then any.
pub fn pick<'a, T>(by_language: &'a BTreeMap<String, T>, language: &str) -> Option<&'a T> {
    by_language
        .get(language)
        .or_else(|| by_language.get("en"))
        .or_else(|| by_language.get("it"))
        .or_else(|| by_language.values().next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_codes_are_snake_case() {
        assert!(TypeCode::parse("document_delivery").is_ok());
        for bad in ["Document", "x", "doc-delivery", "1abc", ""] {
            assert!(TypeCode::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_need_italian_and_languages_must_be_codes() {
        let mut errors = FieldErrors::new();
        let names = Texts::from([
            ("en".into(), "Information".into()),
            ("english".into(), "x".into()),
        ]);
        check_texts(&mut errors, "names", &names, true, |t| parse_line(t, 100));
        let fields: Vec<&str> = errors.as_slice().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["names.it", "names.english"]);
    }

    #[test]
    fn texts_fall_back_to_english_then_italian() {
        let texts = Texts::from([("it".into(), "Ciao".into()), ("en".into(), "Hello".into())]);
        assert_eq!(pick(&texts, "it").unwrap(), "Ciao");
        assert_eq!(pick(&texts, "uk").unwrap(), "Hello");
        let italian_only = Texts::from([("it".into(), "Ciao".into())]);
        assert_eq!(pick(&italian_only, "uk").unwrap(), "Ciao");
    }
}
