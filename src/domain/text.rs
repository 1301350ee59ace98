//! Free text people type: names, addresses, reasons, the catalogue's texts. It reaches mail,
//! calendar files and other people's screens, so characters that change how the rest is shown
//! are refused wherever text comes in: control characters (a raw CR split a line of an .ics
//! file) and the bidirectional controls that reorder what follows (U+202E shows "fdp.exe" as
//! "exe.pdf", and can make a name read as someone else's).

use super::validation::Invalid;

/// A control character, or a bidirectional embedding, override or isolate. (The plain
/// direction marks U+200E, U+200F and U+061C stay allowed: Arabic and Hebrew text uses them.)
pub fn is_hidden_control(c: char) -> bool {
    c.is_control()
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

fn check_length(text: &str, max_chars: usize) -> Result<(), Invalid> {
    if text.is_empty() {
        return Err(Invalid::new("is required"));
    }
    if text.chars().count() > max_chars {
        return Err(Invalid::new(format!(
            "must be at most {max_chars} characters"
        )));
    }
    Ok(())
}

/// A required line of text (a name, an address, a reason) of at most `max_chars`, trimmed.
pub fn parse_line(text: &str, max_chars: usize) -> Result<String, Invalid> {
    let text = text.trim();
    check_length(text, max_chars)?;
    if text.chars().any(is_hidden_control) {
        return Err(Invalid::new(
            "must be a single line of text, without control characters",
        ));
    }
    Ok(text.to_owned())
}

/// Required text of one or more lines (a description), trimmed, with line breaks as `\n`.
pub fn parse_paragraphs(text: &str, max_chars: usize) -> Result<String, Invalid> {
    let text = text.trim().replace("\r\n", "\n");
    check_length(&text, max_chars)?;
    if text.chars().any(|c| c != '\n' && is_hidden_control(c)) {
        return Err(Invalid::new(
            "must be plain text: line breaks are fine, other control characters are not",
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_trimmed_and_keep_to_one_line_of_visible_text() {
        assert_eq!(
            parse_line("  Via Ostiense 131/L ", 200).unwrap(),
            "Via Ostiense 131/L"
        );
        assert_eq!(
            parse_line("مكتب\u{200F} روما", 50).unwrap(),
            "مكتب\u{200F} روما"
        );
        for bad in [
            "",
            "   ",
            "a\nb",
            "a\rb",
            "a\u{0}b",
            "invoice\u{202E}fdp.exe",
            "a\u{2066}b",
        ] {
            assert!(parse_line(bad, 50).is_err(), "{bad:?} should be refused");
        }
        assert!(parse_line("abcdef", 5).is_err());
    }

    #[test]
    fn paragraphs_keep_their_line_breaks_and_nothing_else() {
        assert_eq!(parse_paragraphs(" one\r\ntwo ", 50).unwrap(), "one\ntwo");
        assert!(parse_paragraphs("one\rtwo", 50).is_err());
        assert!(parse_paragraphs("one\u{202E}two", 50).is_err());
    }
}
