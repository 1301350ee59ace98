//! Email addresses, of staff, offices and applicants alike.

use std::fmt;

use super::validation::Invalid;

/// An email address, trimmed and lowercased so that uniqueness and lookups ignore case
/// identically on every database.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(text: &str) -> Result<EmailAddress, Invalid> {
        let email = text.trim().to_lowercase();
        if email.is_empty() {
            return Err(Invalid::new("is required"));
        }
        if email.len() > 254 {
            return Err(Invalid::new("must be at most 254 characters"));
        }
        let Some((local, domain)) = email.rsplit_once('@') else {
            return Err(Invalid::new(
                "must be an email address like name@example.it",
            ));
        };
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..");
        let clean = !email.chars().any(|c| c.is_whitespace() || c.is_control());
        if local.is_empty() || !domain_ok || !clean {
            return Err(Invalid::new(
                "must be an email address like name@example.it",
            ));
        }
        Ok(EmailAddress(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lowercased_and_checked() {
        assert_eq!(
            EmailAddress::parse("  Anna.Rossi@Prefettura.IT ")
                .unwrap()
                .as_str(),
            "anna.rossi@prefettura.it"
        );
        for bad in [
            "",
            "anna",
            "anna@",
            "@it",
            "anna@localhost",
            "an na@x.it",
            "a@x..it",
            "a@.x.it",
        ] {
            assert!(
                EmailAddress::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }
}
