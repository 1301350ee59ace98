//! Files of cases as the case system sends them: a JSON array or CSV, read case by case, each
//! with the line it starts on, so a case that cannot be read is reported there and the others
//! still go in.

use std::collections::HashMap;

use super::cases::{CaseRequest, ReadinessRequest};
use crate::domain::{FieldErrors, cases::NewCase};

/// Most cases one import may carry; a larger file is sent in parts.
pub const MAX_IMPORT_ROWS: usize = 50_000;

/// How a file of cases is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    /// A JSON array of `CaseRequest`s.
    Json,
    /// CSV with a header row: `case_number,email,language,verification_secret,ready_for`;
    /// `ready_for` lists types separated by spaces, each optionally `type:YYYY-MM-DD`.
    Csv,
}

/// One case of a file, read as far as it could be.
pub struct ImportRow {
    /// The line of the file the case starts on (1 is the first line).
    pub line: u64,
    pub case_number: Option<String>,
    pub parsed: Result<NewCase, FieldErrors>,
}

/// Reads a file of cases. A file that cannot be read at all (not a JSON array, no CSV header,
/// too many rows) is refused whole; a case that cannot be read is reported on its line.
pub fn read_import(format: ImportFormat, body: &[u8]) -> Result<Vec<ImportRow>, FieldErrors> {
    let rows = match format {
        ImportFormat::Json => read_json(body)?,
        ImportFormat::Csv => read_csv(body)?,
    };
    if rows.len() > MAX_IMPORT_ROWS {
        return Err(FieldErrors::single(
            "body",
            format!(
                "has {} cases; send at most {MAX_IMPORT_ROWS} per import",
                rows.len()
            ),
        ));
    }
    Ok(rows)
}

fn read_json(body: &[u8]) -> Result<Vec<ImportRow>, FieldErrors> {
    let items: Vec<&serde_json::value::RawValue> = serde_json::from_slice(body)
        .map_err(|e| FieldErrors::single("body", format!("must be a JSON array of cases ({e})")))?;
    let start = body.as_ptr() as usize;
    Ok(items
        .into_iter()
        .map(|item| {
            let offset = (item.get().as_ptr() as usize).saturating_sub(start);
            let line = 1 + body[..offset.min(body.len())]
                .iter()
                .filter(|b| **b == b'\n')
                .count() as u64;
            let value: Result<serde_json::Value, _> = serde_json::from_str(item.get());
            let case_number = value
                .as_ref()
                .ok()
                .and_then(|v| v.get("case_number"))
                .and_then(|v| v.as_str())
                .map(str::to_owned);
            let parsed = serde_path_to_error::deserialize::<_, CaseRequest>(
                value.unwrap_or(serde_json::Value::Null),
            )
            .map_err(|error| {
                let path = error.path().to_string();
                FieldErrors::single(
                    if path == "." { "case" } else { &path },
                    error.into_inner().to_string(),
                )
            })
            .and_then(|request| request.parse());
            ImportRow {
                line,
                case_number,
                parsed,
            }
        })
        .collect())
}

const CSV_COLUMNS: [&str; 5] = [
    "case_number",
    "email",
    "language",
    "verification_secret",
    "ready_for",
];

fn read_csv(body: &[u8]) -> Result<Vec<ImportRow>, FieldErrors> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::None)
        .from_reader(body);
    let header = reader
        .headers()
        .map_err(|e| FieldErrors::single("body", format!("must be CSV with a header row ({e})")))?
        .clone();
    let position: HashMap<&str, usize> = header
        .iter()
        .enumerate()
        .map(|(i, name)| (name.trim(), i))
        .collect();
    let missing: Vec<&str> = CSV_COLUMNS
        .iter()
        .copied()
        .filter(|c| !position.contains_key(c))
        .collect();
    if !missing.is_empty() {
        return Err(FieldErrors::single(
            "body",
            format!(
                "the header row lacks {}; it must name {}",
                missing.join(", "),
                CSV_COLUMNS.join(",")
            ),
        ));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                let line = error.position().map_or(0, |p| p.line());
                let parsed = Err(FieldErrors::single(
                    "row",
                    format!("is not readable CSV ({error})"),
                ));
                rows.push(ImportRow {
                    line,
                    case_number: None,
                    parsed,
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let cell = |name: &str| record.get(position[name]).unwrap_or("");
        let optional = |name: &str| {
            Some(cell(name))
                .filter(|text| !text.trim().is_empty())
                .map(str::to_owned)
        };
        let mut errors = FieldErrors::new();
        let ready_for = cell("ready_for")
            .split_whitespace()
            .map(|entry| match entry.split_once(':') {
                Some((code, from)) => ReadinessRequest {
                    appointment_type: code.to_owned(),
                    from: Some(from.to_owned()),
                },
                None => ReadinessRequest {
                    appointment_type: entry.to_owned(),
                    from: None,
                },
            })
            .collect();
        let request = CaseRequest {
            case_number: cell("case_number").to_owned(),
            ready_for,
            email: optional("email"),
            language: cell("language").to_owned(),
            verification_secret: cell("verification_secret").to_owned(),
        };
        if record.len() != header.len() {
            errors.add(
                "row",
                format!(
                    "has {} cells; the header has {}",
                    record.len(),
                    header.len()
                ),
            );
        }
        let parsed = match (request.parse(), errors.is_empty()) {
            (Ok(case), true) => Ok(case),
            (Ok(_), false) => Err(errors),
            (Err(found), _) => {
                for error in found.into_vec() {
                    errors.add(error.field, error.message);
                }
                Err(errors)
            }
        };
        rows.push(ImportRow {
            line,
            case_number: optional("case_number"),
            parsed,
        });
    }
    Ok(rows)
}
