//! Email addresses, of staff, offices and applicants alike.

use std::fmt;

use email_address::Options;

use super::validation::Invalid;

/// An email address: one bare `local@domain` (RFC 5322 addr-spec), trimmed and lowercased so
/// that uniqueness and lookups ignore case identically on every database. A display name
/// (`Name <a@x.it>`), a list (`a@x.it,b@y.it`), a quoted local part or an address literal
/// (`a@[10.0.0.1]`) is refused: each would let mail go somewhere the address does not say.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

const LIKE: &str = "must be an email address like name@example.it";

impl EmailAddress {
    pub fn parse(text: &str) -> Result<EmailAddress, Invalid> {
        let email = text.trim().to_lowercase();
        if email.is_empty() {
            return Err(Invalid::new("is required"));
        }
        if email.len() > 254 {
            return Err(Invalid::new("must be at most 254 characters"));
        }
        let strict = Options {
            minimum_sub_domains: 2,
            allow_domain_literal: false,
            allow_display_text: false,
        };
        let parsed = email_address::EmailAddress::parse_with_options(&email, strict)
            .map_err(|_| Invalid::new(LIKE))?;
        // The crate takes quoted local parts (`"a,b"@x.it`); a public form has no use for them.
        let plain_local = parsed
            .local_part()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b));
        // It also takes any atom as a domain label (`x_y`, `è`), which no mail server resolves
        // as written: a label is a host name's, letters, digits and inner hyphens.
        let host_name = parsed.domain().split('.').all(|label| {
            label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
        if !plain_local || !host_name {
            return Err(Invalid::new(LIKE));
        }
        Ok(EmailAddress(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The mailbox this address reaches, for limits per address: sub-addresses
    /// (`name+anything@`) reach the same mailbox, and so do Gmail's dotted spellings.
    pub fn mailbox(&self) -> String {
        let (local, domain) = self.0.rsplit_once('@').unwrap_or((&self.0, ""));
        let local = local.split('+').next().unwrap_or(local);
        match domain {
            "gmail.com" | "googlemail.com" => format!("{}@gmail.com", local.replace('.', "")),
            _ => format!("{local}@{domain}"),
        }
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
        let longest_local = format!("{}@x.it", "a".repeat(64));
        for good in [
            "a@x.it",
            "o'neil+test@mail.example.org",
            "a_b-c@x-y.it",
            &longest_local,
        ] {
            assert!(EmailAddress::parse(good).is_ok(), "{good:?} is an address");
        }
        // At most 64 characters before the @, as the OpenAPI pattern says too.
        assert!(EmailAddress::parse(&format!("{}@x.it", "a".repeat(65))).is_err());
        for bad in [
            "",
            "anna",
            "anna@",
            "@it",
            "anna@localhost",
            "an na@x.it",
            "a@x..it",
            "a@.x.it",
            "decoy<victim@example.net>",
            "Decoy <victim@example.net>",
            "a@x.it,b@y.it",
            "a@x.it;b@y.it",
            "\"a,b\"@x.it",
            "a@[10.0.0.1]",
            "a@x.it\r\nbcc:b@y.it",
            "a(comment)@x.it",
            "a@x_y.it",
            "a@perè.it",
            "a@x-.it",
        ] {
            assert!(
                EmailAddress::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn sub_addresses_and_gmail_dots_reach_one_mailbox() {
        let mailbox = |text: &str| EmailAddress::parse(text).unwrap().mailbox();
        assert_eq!(mailbox("amina+1@example.org"), "amina@example.org");
        assert_eq!(mailbox("Amina+x+y@Example.org"), "amina@example.org");
        assert_eq!(mailbox("a.mi.na@googlemail.com"), "amina@gmail.com");
        assert_eq!(mailbox("a.mina@example.org"), "a.mina@example.org");
    }
}
