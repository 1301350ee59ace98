//! Languages: the one parser for a language code, and which of them applicants can be written
//! to in.

use std::fmt;

use serde::Serialize;

use super::validation::Invalid;

/// A language as an ISO 639 code (`it`, `en`, `uk`): two or three lowercase letters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Language(String);

impl Language {
    /// The languages applicants are written to in (mail, calendar events): every text exists
    /// in each of them.
    pub const SUPPORTED: [&str; 8] = ["it", "en", "fr", "es", "ar", "sq", "uk", "zh"];

    /// Any language code, such as the languages spoken at an office or of a catalogue text.
    pub fn parse(text: &str) -> Result<Language, Invalid> {
        if (2..=3).contains(&text.len()) && text.chars().all(|c| c.is_ascii_alphabetic()) {
            Ok(Language(text.to_ascii_lowercase()))
        } else {
            Err(Invalid::new("must be a language code such as it, en or fr"))
        }
    }

    /// A language applicants can be written to in: one of [`Language::SUPPORTED`].
    pub fn parse_supported(text: &str) -> Result<Language, Invalid> {
        Language::parse(text)
            .ok()
            .filter(Language::is_supported)
            .ok_or_else(|| Invalid::one_of(Language::SUPPORTED))
    }

    /// Italian: what every office reads, and the default of everything.
    pub fn italian() -> Language {
        Language("it".to_owned())
    }

    pub fn is_supported(&self) -> bool {
        Language::SUPPORTED.contains(&self.0.as_str())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_code_parses_but_only_eight_are_written_to() {
        assert_eq!(Language::parse("EN").unwrap().as_str(), "en");
        assert!(Language::parse("english").is_err());
        assert_eq!(Language::parse_supported("AR").unwrap().as_str(), "ar");
        assert!(Language::parse("de").is_ok());
        let refused = Language::parse_supported("de").unwrap_err();
        assert!(refused.message().contains("it, en, fr"), "{refused}");
    }
}
