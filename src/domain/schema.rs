//! How the domain's parsers read in the OpenAPI document, for `#[schema(schema_with = …)]`:
//! each function describes exactly what one parser accepts, so that a client generating requests
//! from the document is neither refused a valid value nor let through with an invalid one.
//! The parser beside each rule is the authority; its tests and schemathesis hold them together.

use utoipa::openapi::{
    Array, Object, ObjectBuilder, RefOr, Schema, Type,
    schema::{AdditionalProperties, ArrayBuilder, SchemaType},
};

use super::{
    language::Language,
    text::{code_schema, line_schema, paragraphs_schema},
};

fn string(pattern: &str, example: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .examples([example])
}

/// The same schema, or `null`.
fn nullable(builder: ObjectBuilder) -> Object {
    builder
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .build()
}

pub fn line_10() -> Object {
    line_schema(10, "").build()
}
pub fn line_300() -> Object {
    line_schema(300, "").build()
}
pub fn optional_line_10() -> Object {
    nullable(line_schema(10, ""))
}
pub fn optional_line_300() -> Object {
    nullable(line_schema(300, ""))
}
pub fn line_100() -> Object {
    line_schema(100, "").build()
}
pub fn line_200() -> Object {
    line_schema(200, "").build()
}
pub fn line_500() -> Object {
    line_schema(500, "").build()
}
pub fn optional_line_100() -> Object {
    nullable(line_schema(100, ""))
}
pub fn optional_line_200() -> Object {
    nullable(line_schema(200, ""))
}
/// A survey's comment: paragraphs, or `null`.
pub fn optional_comment() -> Object {
    nullable(crate::domain::text::paragraphs_schema(
        crate::domain::survey::COMMENT_MAX_CHARS,
    ))
}

/// `OfficeCode::parse`.
pub const OFFICE_CODE: &str = "^[A-Za-z][A-Za-z0-9]{1,7}$";
pub fn office_code() -> Object {
    string(OFFICE_CODE, "RM").build()
}
pub fn optional_office_code() -> Object {
    nullable(string(OFFICE_CODE, "RM"))
}

/// `TypeCode::parse`.
pub const TYPE_CODE: &str = "^[a-z][a-z0-9_]{2,39}$";
pub fn type_code() -> Object {
    string(TYPE_CODE, "document_delivery").build()
}
pub fn optional_type_code() -> Object {
    nullable(string(TYPE_CODE, "document_delivery"))
}
pub fn type_codes() -> Array {
    ArrayBuilder::new()
        .items(type_code())
        .min_items(Some(1))
        .examples([serde_json::json!(["document_delivery"])])
        .build()
}
pub fn optional_type_codes() -> Array {
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(type_code())
        .min_items(Some(1))
        .build()
}

/// `parse_event_types`: the public event types, or `null` / `[]` for all of them.
pub fn optional_event_types() -> Array {
    let one = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(super::events::PUBLIC_TYPES))
        .build();
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(one)
        .examples([serde_json::json!([
            "booking.confirmed",
            "booking.cancelled"
        ])])
        .build()
}

/// `WebhookUrl::parse`: http or https, a host name or IPv4 address, a port, a path of visible
/// characters.
const WEBHOOK_URL: &str = "^https?://\
     (?:(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\
     |(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\\.)*[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?)\
     (?::(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?\
     (?:/[!-~]*)?$";
pub fn webhook_url() -> Object {
    string(WEBHOOK_URL, "https://spi.example.it/hooks/sportello")
        .max_length(Some(2000))
        .build()
}

/// `Language::parse`: any language code.
const LANGUAGE: &str = "^[A-Za-z]{2,3}$";
pub fn language() -> Object {
    string(LANGUAGE, "it").build()
}
pub fn optional_languages() -> Array {
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(language())
        .min_items(Some(1))
        .examples([serde_json::json!(["it", "en"])])
        .build()
}

/// `Language::parse_supported`: the languages applicants are written to in, in any case.
pub fn supported_language() -> Object {
    let either_case: Vec<String> = Language::SUPPORTED
        .iter()
        .map(|code| {
            code.chars()
                .map(|c| format!("[{c}{}]", c.to_ascii_uppercase()))
                .collect()
        })
        .collect();
    let pattern = format!("^(?:{})$", either_case.join("|"));
    string(&pattern, "fr")
        .description(Some(format!(
            "The language of the confirmation: {}.",
            Language::SUPPORTED.join(", ")
        )))
        .build()
}

pub fn optional_supported_language() -> Object {
    let mut schema = supported_language();
    schema.schema_type = SchemaType::from_iter([Type::String, Type::Null]);
    schema
}

/// `TimeOfDay::parse`: 24-hour `HH:MM`.
const TIME_OF_DAY: &str = "^(?:[01][0-9]|2[0-3]):[0-5][0-9]$";
pub fn time_of_day() -> Object {
    string(TIME_OF_DAY, "09:00").build()
}
pub fn optional_time_of_day() -> Object {
    nullable(string(TIME_OF_DAY, "12:00"))
}

/// `PatronDay::parse`: `MM-DD`, a day some year has (02-29 included).
const MONTH_DAY: &str = "^(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])\
                         |(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|[12][0-9]))$";
pub fn optional_month_day() -> Object {
    nullable(string(MONTH_DAY, "06-29"))
}

/// `parse_phone`: digits and spaces, a leading `+`, 6 to 15 digits.
const PHONE: &str = "^\\+?(?: *[0-9]){6,15} *$";
pub fn optional_phone() -> Object {
    nullable(string(PHONE, "+39 06 4650 1"))
}

/// `EmailAddress::parse`: one plain `local@domain.tld`, at most 64 characters before the `@`.
///
/// Conditions are negative lookaheads, never positive ones: schemathesis (through hypothesis)
/// writes a positive lookahead's text out as part of the value, so `(?=[^@]{1,64}@)` made every
/// address it generated carry two `@` and none valid, and requests needing one were never tried.
const EMAIL: &str = "^(?![^@]{65})[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*\
                     @[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\
                     (?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$";
pub fn email() -> Object {
    string(EMAIL, "anna.rossi@prefettura.it")
        .max_length(Some(254))
        .build()
}
/// `VerificationSecret::parse`: up to 100 characters, at least 4 of them not spaces.
fn secret_schema() -> ObjectBuilder {
    code_schema(100, 4).examples(["K7P3 Q9XD"])
}
pub fn verification_secret() -> Object {
    secret_schema().build()
}
pub fn optional_verification_secret() -> Object {
    nullable(secret_schema())
}

pub fn optional_email() -> Object {
    nullable(string(EMAIL, "amina.diallo@example.org").max_length(Some(254)))
}

/// `CaseNumber::parse`: letters, digits, `/` and `-` (spaces are dropped), with a digit,
/// starting and ending with a letter or digit.
/// (A digit somewhere, and four characters that are not spaces: as negative lookaheads, see
/// [`EMAIL`].)
const CASE_NUMBER: &str = "^(?![^0-9]*$)(?!(?: *[A-Za-z0-9/-]){0,3} *$) *[A-Za-z0-9]\
                           (?:[A-Za-z0-9/ -]*[A-Za-z0-9])? *$";
pub fn case_number() -> Object {
    string(CASE_NUMBER, "RM/2026/001234")
        .max_length(Some(40))
        .build()
}

/// `parse_full_name`: a name as on the passport: no digits, no control characters (and at
/// least two letters, which a pattern cannot say for every script).
pub fn full_name() -> Object {
    line_schema(120, "0-9").examples(["Amina Diallo"]).build()
}
pub fn optional_full_name() -> Object {
    nullable(line_schema(120, "0-9").examples(["Amina Diallo"]))
}

/// `parse_paragraphs` of a catalogue description.
pub fn paragraphs_2000() -> Object {
    paragraphs_schema(2000).build()
}

/// Texts by language code (`check_texts`): `names` must have Italian.
fn by_language(value: impl Into<Schema>, example: serde_json::Value) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(string(LANGUAGE, "it")))
        .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(value.into()))))
        .examples([example])
}
pub fn names() -> Object {
    by_language(
        line_schema(200, "").build(),
        serde_json::json!({"it": "Consegna documenti", "en": "Document delivery"}),
    )
    .required("it")
    .build()
}
pub fn optional_names() -> Object {
    nullable_object(names())
}
pub fn descriptions() -> Object {
    by_language(
        paragraphs_schema(2000).build(),
        serde_json::json!({"en": "Bring the original documents."}),
    )
    .build()
}
pub fn optional_descriptions() -> Object {
    nullable_object(descriptions())
}
/// `check_documents`: what to bring, a list per language.
pub fn documents() -> Object {
    let list = ArrayBuilder::new().items(line_schema(300, "").build());
    by_language(
        ObjectBuilder::new().build(),
        serde_json::json!({"en": ["Passport"]}),
    )
    .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(list.into()))))
    .build()
}
pub fn optional_documents() -> Object {
    nullable_object(documents())
}

fn nullable_object(mut object: Object) -> Object {
    object.schema_type = SchemaType::from_iter([Type::Object, Type::Null]);
    object
}

/// `parse_time_zone`: an IANA name.
pub fn optional_time_zone() -> Object {
    let names: Vec<&str> = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|zone| zone.name())
        .collect();
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(names))
        .examples(["Europe/Rome"])
        .build()
}

/// `NewPassword::parse`.
pub fn new_password() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(super::text::not_blank_pattern()))
        .max_length(Some(128))
        .min_length(Some(12))
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::Password,
        )))
        .build()
}

/// `Reference::parse`.
pub fn reference() -> Object {
    string("^[ -]*(?:[2-9A-HJ-NP-Za-hj-np-z][ -]*){8}$", "Q6ET-F7KP").build()
}

/// Query parameters take their schema from a type (`#[param(value_type = …)]`): `schema_with`
/// would drop their description and whether they are required.
macro_rules! parameter_schema {
    ($name:ident, $component:literal, $schema:path) => {
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $schema().into()
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                $component.into()
            }
        }
    };
}

parameter_schema!(TypeCodeText, "TypeCode", type_code);
parameter_schema!(CaseNumberText, "CaseNumber", case_number);
parameter_schema!(ReferenceText, "Reference", reference);

/// Texts by language code, as views show them.
pub fn texts_view() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(
            ObjectBuilder::new().schema_type(Type::String).into(),
        ))))
        .examples([serde_json::json!({"it": "Consegna documenti", "en": "Document delivery"})])
        .build()
}

/// Lists by language code, as views show them.
pub fn documents_view() -> Object {
    let list = ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String));
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(list.into()))))
        .examples([serde_json::json!({"en": ["Passport"]})])
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{booking::CaseNumber, email::EmailAddress, office::parse_phone};

    /// Where the document and a parser disagree, a generated client is refused a value the
    /// document promised to take (schemathesis found a 97-character local part that way), or
    /// is let through with one the document ruled out.
    fn agree(pattern: &str, parses: impl Fn(&str) -> bool, values: &[&str]) {
        let pattern = fancy_regex::Regex::new(pattern).unwrap();
        for value in values {
            assert_eq!(
                pattern.is_match(value).unwrap(),
                parses(value),
                "the pattern and the parser disagree on {value:?}"
            );
        }
    }

    #[test]
    fn the_email_pattern_takes_exactly_what_the_parser_takes() {
        let local_64 = format!("{}@x.it", "a".repeat(64));
        let local_65 = format!("{}@x.it", "a".repeat(65));
        let dotted_65 = format!("{}.b@x.it", "a".repeat(63));
        let label_63 = format!("a@{}.it", "b".repeat(63));
        let label_64 = format!("a@{}.it", "b".repeat(64));
        let parses = |text: &str| EmailAddress::parse(text).is_ok();
        agree(
            EMAIL,
            parses,
            &[
                "anna.rossi@prefettura.it",
                "O'Neil+test@Mail.Example.org",
                "a_b-c@x-y.it",
                "{z}|~^`=?/*&%$#!@1.2",
                &local_64,
                &local_65,
                &dotted_65,
                &label_63,
                &label_64,
                "ZH1_&GRXp7w_YW%Jk~.fDbo|*9w.0.xv}9.nrD|Aue{eoYdZQgyblLXX~v.^|ui~5.R'.T.k-_h3pKV|}*X\
                 .MuUXe^oZ0|aI6@u.R.2.wSiTSSTqvSxBV5FQBHnoj",
                "anna",
                "anna@localhost",
                "a..b@x.it",
                ".a@x.it",
                "a.@x.it",
                "a@x..it",
                "a@-x.it",
                "a@x-.it",
                "a@x_y.it",
                "a@perè.it",
                "\"a,b\"@x.it",
                "a@[10.0.0.1]",
                "Decoy <victim@example.net>",
                "a@x.it,b@y.it",
            ],
        );
    }

    #[test]
    fn the_case_number_and_phone_patterns_take_what_their_parsers_take() {
        let parses = |text: &str| CaseNumber::parse(text).is_ok();
        agree(
            CASE_NUMBER,
            parses,
            &[
                "RM/2026/001234",
                "rm-1",
                " RM 2026 1 ",
                "1234",
                "A1",
                "A 1 B",
                "ABCD",
                "/123",
                "123-",
                "RM_2026",
                "RM/2026/00123é",
            ],
        );
        let parses = |text: &str| parse_phone(text).is_ok();
        agree(
            PHONE,
            parses,
            &[
                "+39 06 4650 1",
                "064650",
                "06465",
                "+ 39 064650",
                " +39064650",
                "39+064650",
                "1234567890123456",
                "123456789012345 ",
                "06-4650-1",
            ],
        );
    }
}
