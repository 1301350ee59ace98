//! Free text people type: names, addresses, reasons, the catalogue's texts. It reaches mail,
//! calendar files and other people's screens, so characters that change how the rest is shown
//! are refused wherever text comes in: control characters (a raw CR split a line of an .ics
//! file) and the bidirectional controls that reorder what follows (U+202E shows "fdp.exe" as
//! "exe.pdf", and can make a name read as someone else's).

use utoipa::openapi::{ObjectBuilder, Type};

use super::validation::Invalid;

/// Characters no text may hold: the control characters (Unicode's `Cc`) and the bidirectional
/// embeddings, overrides and isolates. (The plain direction marks U+200E, U+200F and U+061C stay
/// allowed: Arabic and Hebrew text uses them.)
const HIDDEN: [(char, char); 4] = [
    ('\u{0}', '\u{1F}'),
    ('\u{7F}', '\u{9F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2066}', '\u{2069}'),
];

/// The white space `trim` takes away that is not a control character.
const BLANK: [(char, char); 8] = [
    (' ', ' '),
    ('\u{A0}', '\u{A0}'),
    ('\u{1680}', '\u{1680}'),
    ('\u{2000}', '\u{200A}'),
    ('\u{2028}', '\u{2029}'),
    ('\u{202F}', '\u{202F}'),
    ('\u{205F}', '\u{205F}'),
    ('\u{3000}', '\u{3000}'),
];

/// A control character, or a bidirectional embedding, override or isolate.
pub fn is_hidden_control(c: char) -> bool {
    HIDDEN
        .iter()
        .any(|&(first, last)| (first..=last).contains(&c))
}

/// Too long is judged on the text as sent, before trimming, as the OpenAPI document's
/// `maxLength` is.
fn check_length(text: &str, trimmed: &str, max_chars: usize) -> Result<(), Invalid> {
    if text.chars().count() > max_chars {
        return Err(Invalid::new(format!(
            "must be at most {max_chars} characters"
        )));
    }
    if trimmed.is_empty() {
        return Err(Invalid::new("is required"));
    }
    Ok(())
}

/// A required line of text (a name, an address, a reason) of at most `max_chars`, trimmed.
pub fn parse_line(text: &str, max_chars: usize) -> Result<String, Invalid> {
    let trimmed = text.trim();
    check_length(text, trimmed, max_chars)?;
    if text.chars().any(is_hidden_control) {
        return Err(Invalid::new(
            "must be a single line of text, without control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// Required text of one or more lines (a description), trimmed, with line breaks as `\n`.
pub fn parse_paragraphs(text: &str, max_chars: usize) -> Result<String, Invalid> {
    let trimmed = text.trim();
    check_length(text, trimmed, max_chars)?;
    let text = trimmed.replace("\r\n", "\n");
    if text.chars().any(|c| c != '\n' && is_hidden_control(c)) {
        return Err(Invalid::new(
            "must be plain text: line breaks are fine, other control characters are not",
        ));
    }
    Ok(text)
}

/// A regular expression class of `ranges`, as JSON Schema (ECMA 262) writes it.
fn class(ranges: &[(char, char)]) -> String {
    ranges
        .iter()
        .map(|&(first, last)| {
            if first == last {
                format!("\\u{:04X}", u32::from(first))
            } else {
                format!("\\u{:04X}-\\u{:04X}", u32::from(first), u32::from(last))
            }
        })
        .collect()
}

/// How [`parse_line`] reads in the OpenAPI document; `also_refused` is a regular expression
/// class body of more characters the field refuses (`0-9` for a name).
pub fn line_schema(max_chars: usize, also_refused: &str) -> ObjectBuilder {
    let hidden = format!("{}{also_refused}", class(&HIDDEN));
    let blank = class(&BLANK);
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(max_chars))
        .pattern(Some(format!(
            "^[^{hidden}]*[^{hidden}{blank}][^{hidden}]*$"
        )))
}

/// Text of at most `max_chars` with at least `min_visible` characters besides white space (a
/// code typed from a receipt, whose spaces do not count).
pub fn code_schema(max_chars: usize, min_visible: usize) -> ObjectBuilder {
    let hidden = class(&HIDDEN);
    let blank = class(&BLANK);
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(max_chars))
        .pattern(Some(format!(
            "^[^{hidden}]*(?:[^{hidden}{blank}][^{hidden}]*){{{min_visible},}}$"
        )))
}

/// Any text with something in it besides white space (a password), as a regular expression.
pub fn not_blank_pattern() -> String {
    let white = format!("{}\\t\\n\\u000B\\f\\r\\u0085", class(&BLANK));
    format!("^[\\s\\S]*[^{white}][\\s\\S]*$")
}

/// How [`parse_paragraphs`] reads in the OpenAPI document: line breaks (`\n` or `\r\n`) allowed.
pub fn paragraphs_schema(max_chars: usize) -> ObjectBuilder {
    let hidden = class(&HIDDEN);
    let blank = class(&BLANK);
    let any = format!("(?:[^{hidden}]|\\r?\\n)*");
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(max_chars))
        .pattern(Some(format!("^{any}[^{hidden}{blank}]{any}$")))
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

    #[test]
    fn too_long_counts_what_was_sent() {
        assert!(parse_line("  abcde  ", 5).is_err());
        assert!(parse_line("abcde", 5).is_ok());
    }

    #[test]
    fn the_tables_are_what_rust_calls_control_and_white_space() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let bidi =
                ('\u{202A}'..='\u{202E}').contains(&c) || ('\u{2066}'..='\u{2069}').contains(&c);
            assert_eq!(is_hidden_control(c), c.is_control() || bidi, "{c:?}");
            let blank = BLANK
                .iter()
                .any(|&(first, last)| (first..=last).contains(&c));
            assert_eq!(blank, c.is_whitespace() && !c.is_control(), "{c:?}");
        }
    }
}
