//! Registered cases: the case system (or an office's managers) tells an office which cases are
//! ready for which appointment types, whom to write to, and the secret the applicant proves the
//! case is theirs with. One case at a time, or a file of thousands (JSON or CSV), idempotent by
//! case number: sending the same file again changes nothing.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    audit::Audit,
    case_files::ImportRow,
    scope::{Need, caller_office},
};
use crate::{
    auth::secret::VerificationKey,
    domain::{
        FieldErrors,
        audit::Action,
        booking::CaseNumber,
        cases::{NewCase, Readiness, VerificationSecret},
        catalogue::TypeCode,
        days::Day,
        email::EmailAddress,
        ids::{AppointmentTypeId, OfficeId},
        integration::Caller,
        language::Language,
        office::OfficeCode,
        validation::FieldError,
    },
    error::{Answer, Error, Explain, Failure},
    store::{
        DbConnection, Store, catalogue,
        registered_cases::{self, CaseFields, ReadinessRow, StoredCase},
    },
};

#[derive(Debug, thiserror::Error)]
pub enum CaseFailure {
    #[error("the office has no registered case with this number")]
    NoSuchCase,
}

impl Explain for CaseFailure {
    fn answer(self) -> Answer {
        match self {
            CaseFailure::NoSuchCase => {
                Answer::NotFound("The office has no registered case with this number.".into())
            }
        }
    }
}

impl Failure for CaseFailure {}

pub type CaseError = Error<CaseFailure>;

/// Cases written per transaction during an import, so bookings are never held up for long.
const IMPORT_CHUNK: usize = 500;

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseRequest {
    #[schema(schema_with = crate::domain::schema::case_number)]
    pub case_number: String,
    /// The appointment types the case is ready for. Empty: registered, ready for nothing yet.
    pub ready_for: Vec<ReadinessRequest>,
    /// Where invitations and confirmations go.
    #[schema(schema_with = crate::domain::schema::optional_email)]
    pub email: Option<String>,
    /// The applicant's language for mail: it, en, fr, es, ar, sq, uk or zh.
    #[schema(schema_with = crate::domain::schema::supported_language)]
    pub language: String,
    /// What the applicant knows and types when booking (the access code on their receipt, a
    /// date of birth); compared without spaces or case. Stored only as a keyed hash.
    #[schema(schema_with = crate::domain::schema::verification_secret)]
    pub verification_secret: String,
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadinessRequest {
    #[schema(schema_with = crate::domain::schema::type_code)]
    pub appointment_type: String,
    /// The first day a visit of this type may be on; absent: at once.
    #[schema(value_type = Option<NaiveDate>)]
    pub from: Option<String>,
}

impl CaseRequest {
    pub fn parse(&self) -> Result<NewCase, FieldErrors> {
        let mut errors = FieldErrors::new();
        let case_number = errors.check("case_number", CaseNumber::parse(&self.case_number));
        let mut ready_for = Vec::new();
        let mut seen = HashSet::new();
        for (i, readiness) in self.ready_for.iter().enumerate() {
            let field = |name: &str| format!("ready_for[{i}].{name}");
            let code = errors.check(
                &field("appointment_type"),
                TypeCode::parse(&readiness.appointment_type),
            );
            let from = match readiness.from.as_deref() {
                None => Some(None),
                Some(text) => errors
                    .check(&field("from"), Day::parse(text))
                    .map(|day| Some(day.get())),
            };
            if let (Some(code), Some(from)) = (code, from) {
                if !seen.insert(code.clone()) {
                    errors.add(field("appointment_type"), "is listed twice");
                }
                ready_for.push(Readiness {
                    appointment_type: code,
                    from,
                });
            }
        }
        let email = match self.email.as_deref() {
            Some(email) => errors.check("email", EmailAddress::parse(email)),
            None => None,
        };
        let language = errors.check("language", Language::parse_supported(&self.language));
        let secret = errors.check(
            "verification_secret",
            VerificationSecret::parse(&self.verification_secret),
        );
        match (case_number, language, secret) {
            (Some(case_number), Some(language), Some(secret)) if errors.is_empty() => Ok(NewCase {
                case_number,
                ready_for,
                email,
                language,
                secret,
            }),
            _ => Err(errors),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaseView {
    #[schema(example = "RM/2026/001234")]
    pub case_number: String,
    pub ready_for: Vec<ReadinessView>,
    pub email: Option<String>,
    pub language: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadinessView {
    pub appointment_type: String,
    /// `null`: at once.
    pub from: Option<NaiveDate>,
}

impl From<StoredCase> for CaseView {
    fn from(case: StoredCase) -> CaseView {
        CaseView {
            case_number: case.case_number,
            ready_for: case
                .ready_for
                .into_iter()
                .map(|(code, from)| ReadinessView {
                    appointment_type: code.to_string(),
                    from,
                })
                .collect(),
            email: case.email,
            language: case.language,
            created_at: case.created_at,
            updated_at: case.updated_at,
        }
    }
}

/// A case registered: new, or changed.
pub struct Registered {
    pub case: CaseView,
    pub created: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReport {
    /// Cases in the file.
    pub received: usize,
    pub created: usize,
    pub updated: usize,
    /// Already registered exactly so: nothing was written.
    pub unchanged: usize,
    /// The cases that were not registered, with why; every other case was.
    pub failed: Vec<ImportFailure>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportFailure {
    /// The line of the file the case starts on.
    pub line: u64,
    pub case_number: Option<String>,
    pub errors: Vec<FieldError>,
}

/// What writing one case did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Created,
    Updated,
    Unchanged,
}

/// Registers one case, or changes it to what is sent.
pub async fn register(
    store: &Store,
    key: &VerificationKey,
    caller: Caller,
    code: OfficeCode,
    case: NewCase,
    now: DateTime<Utc>,
) -> Result<Registered, CaseError> {
    let key = key.clone();
    store
        .write(move |conn| -> Result<_, CaseError> {
            let office = caller_office(conn, &caller, &code, Need::Configure)?;
            let types = type_ids(conn)?;
            let number = case.case_number.as_str().to_owned();
            let existing = registered_cases::find(conn, office.id, &number)?;
            let mut writer = CaseWriter {
                key: &key,
                office_id: office.id,
                types: &types,
                now,
                readiness: Vec::new(),
            };
            let outcome = writer.write(conn, existing.as_ref(), &case)??;
            writer.finish(conn)?;
            let stored =
                registered_cases::find(conn, office.id, &number)?.ok_or(CaseFailure::NoSuchCase)?;
            let view = CaseView::from(stored);
            let audit = Audit::by(&caller, now);
            match (outcome, existing) {
                (Outcome::Created, _) => {
                    audit.created(conn, Some(office.id), Action::CaseRegister, &number, &view)?
                }
                (Outcome::Updated, Some(before)) => {
                    let before = CaseView::from(before);
                    audit.changed(
                        conn,
                        Some(office.id),
                        Action::CaseRegister,
                        &number,
                        &before,
                        &view,
                    )?
                }
                _ => {}
            }
            Ok(Registered {
                case: view,
                created: outcome == Outcome::Created,
            })
        })
        .await
}

/// Registers a file of cases, `IMPORT_CHUNK` per transaction. A case that fails is reported
/// with its line; the others are written. One audit entry records the import.
pub async fn import(
    store: &Store,
    key: &VerificationKey,
    caller: Caller,
    code: OfficeCode,
    rows: Vec<ImportRow>,
    now: DateTime<Utc>,
) -> Result<ImportReport, CaseError> {
    let mut report = ImportReport {
        received: rows.len(),
        created: 0,
        updated: 0,
        unchanged: 0,
        failed: Vec::new(),
    };
    // A case number twice in one file: which of the two was meant is not ours to guess.
    let mut first_line: HashMap<String, u64> = HashMap::new();
    let mut valid = Vec::new();
    for row in rows {
        match row.parsed {
            Err(errors) => report.failed.push(ImportFailure {
                line: row.line,
                case_number: row.case_number,
                errors: errors.into_vec(),
            }),
            Ok(case) => match first_line.get(case.case_number.as_str()) {
                Some(first) => report.failed.push(ImportFailure {
                    line: row.line,
                    case_number: row.case_number,
                    errors: FieldErrors::single(
                        "case_number",
                        format!("is already on line {first} of this file"),
                    )
                    .into_vec(),
                }),
                None => {
                    first_line.insert(case.case_number.as_str().to_owned(), row.line);
                    valid.push((row.line, case));
                }
            },
        }
    }
    let office = {
        let (caller, code) = (caller.clone(), code.clone());
        store
            .read(move |conn| caller_office::<CaseFailure>(conn, &caller, &code, Need::Configure))
            .await?
    };
    let mut chunks = valid.into_iter().peekable();
    // Statistics are refreshed after chunks 1, 2, 4, 8…: whenever the file may have doubled
    // what the tables held, a handful of times per import.
    let mut chunks_written = 0u32;
    while chunks.peek().is_some() {
        let chunk: Vec<(u64, NewCase)> = chunks.by_ref().take(IMPORT_CHUNK).collect();
        let key = key.clone();
        let office_id = office.id;
        let outcomes = store
            .write(move |conn| -> Result<_, CaseError> {
                let types = type_ids(conn)?;
                let numbers: Vec<&str> = chunk
                    .iter()
                    .map(|(_, case)| case.case_number.as_str())
                    .collect();
                let existing = registered_cases::find_many(conn, office_id, &numbers)?;
                let mut outcomes = Vec::with_capacity(chunk.len());
                let mut writer = CaseWriter {
                    key: &key,
                    office_id,
                    types: &types,
                    now,
                    readiness: Vec::new(),
                };
                for (line, case) in &chunk {
                    let before = existing.get(case.case_number.as_str());
                    let outcome = writer.write(conn, before, case)?;
                    outcomes.push((*line, case.case_number.as_str().to_owned(), outcome));
                }
                writer.finish(conn)?;
                Ok(outcomes)
            })
            .await?;
        chunks_written += 1;
        if chunks_written.is_power_of_two() {
            store
                .autocommit(|conn| -> Result<_, CaseError> {
                    Ok(registered_cases::refresh_statistics(conn)?)
                })
                .await?;
        }
        for (line, case_number, outcome) in outcomes {
            match outcome {
                Ok(Outcome::Created) => report.created += 1,
                Ok(Outcome::Updated) => report.updated += 1,
                Ok(Outcome::Unchanged) => report.unchanged += 1,
                Err(errors) => report.failed.push(ImportFailure {
                    line,
                    case_number: Some(case_number),
                    errors: errors.into_vec(),
                }),
            }
        }
    }
    report.failed.sort_by_key(|failure| failure.line);
    let summary = serde_json::json!({
        "received": report.received, "created": report.created, "updated": report.updated,
        "unchanged": report.unchanged, "failed": report.failed.len(),
    });
    store
        .write(move |conn| -> Result<_, CaseError> {
            Audit::by(&caller, now).created(
                conn,
                Some(office.id),
                Action::CaseImport,
                "import",
                &summary,
            )?;
            Ok(())
        })
        .await?;
    Ok(report)
}

/// One registered case, for whoever may register the office's cases.
pub async fn find(
    store: &Store,
    caller: Caller,
    code: OfficeCode,
    case_number: CaseNumber,
) -> Result<CaseView, CaseError> {
    store
        .read(move |conn| -> Result<_, CaseError> {
            let office = caller_office(conn, &caller, &code, Need::Configure)?;
            let case = registered_cases::find(conn, office.id, case_number.as_str())?
                .ok_or(CaseFailure::NoSuchCase)?;
            Ok(CaseView::from(case))
        })
        .await
}

fn type_ids(conn: &mut DbConnection) -> diesel::QueryResult<HashMap<TypeCode, AppointmentTypeId>> {
    Ok(catalogue::list(conn)?
        .into_iter()
        .map(|t| (t.code, t.id))
        .collect())
}

/// Writes cases of one office in the caller's transaction. Their readiness rows are gathered
/// and written together by [`CaseWriter::finish`], many per statement.
struct CaseWriter<'a> {
    key: &'a VerificationKey,
    office_id: OfficeId,
    types: &'a HashMap<TypeCode, AppointmentTypeId>,
    now: DateTime<Utc>,
    readiness: Vec<ReadinessRow>,
}

impl CaseWriter<'_> {
    /// Writes `case` over `existing` (if any) unless nothing would change. A rule the case
    /// breaks against stored data (a type the catalogue lacks) comes back as field errors
    /// inside, and nothing is written for it; a database failure is the outer error, and ends
    /// the transaction.
    fn write(
        &mut self,
        conn: &mut DbConnection,
        existing: Option<&StoredCase>,
        case: &NewCase,
    ) -> diesel::QueryResult<Result<Outcome, FieldErrors>> {
        let mut errors = FieldErrors::new();
        let mut ready_for = Vec::new();
        for (i, readiness) in case.ready_for.iter().enumerate() {
            match self.types.get(&readiness.appointment_type) {
                Some(id) => ready_for.push((*id, readiness.from)),
                None => errors.add(
                    format!("ready_for[{i}].appointment_type"),
                    "no appointment type in the catalogue has this code",
                ),
            }
        }
        if !errors.is_empty() {
            return Ok(Err(errors));
        }
        let mut wanted: Vec<(TypeCode, Option<NaiveDate>)> = case
            .ready_for
            .iter()
            .map(|r| (r.appointment_type.clone(), r.from))
            .collect();
        wanted.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        let email = case.email.as_ref().map(|e| e.as_str().to_owned());
        let secret = case.secret.as_str();
        let key = self.key;
        let kept_salt =
            existing.filter(|stored| key.matches(&stored.secret_salt, secret, &stored.secret_hash));
        if let Some(stored) = kept_salt
            && stored.email == email
            && stored.language == case.language.as_str()
            && stored.ready_for == wanted
        {
            return Ok(Ok(Outcome::Unchanged));
        }
        // The same secret keeps its salt, so its hash does not change either.
        let salt = kept_salt.map_or_else(VerificationKey::new_salt, |stored| {
            stored.secret_salt.clone()
        });
        let hash = key.hash(&salt, secret);
        let fields = CaseFields {
            email: email.as_deref(),
            language: case.language.as_str(),
            secret_salt: &salt,
            secret_hash: &hash,
        };
        let (id, outcome) = match existing {
            Some(stored) => {
                registered_cases::update(conn, self.office_id, stored.id, fields, self.now)?;
                registered_cases::clear_readiness(conn, self.office_id, stored.id)?;
                (stored.id, Outcome::Updated)
            }
            None => {
                let number = case.case_number.as_str();
                let id = registered_cases::insert(conn, self.office_id, number, fields, self.now)?;
                (id, Outcome::Created)
            }
        };
        self.readiness
            .extend(ready_for.into_iter().map(|(type_id, from)| ReadinessRow {
                office_id: self.office_id,
                case_id: id,
                appointment_type_id: type_id,
                ready_from: from,
            }));
        Ok(Ok(outcome))
    }

    /// Writes the readiness of every case written.
    fn finish(self, conn: &mut DbConnection) -> diesel::QueryResult<()> {
        registered_cases::insert_readiness(conn, &self.readiness)
    }
}

/// Which registered case to show.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseQuery {
    /// The case number, as registered
    #[param(value_type = crate::domain::schema::CaseNumberText)]
    pub case_number: String,
}

impl CaseQuery {
    pub fn parse(query: crate::domain::Parsed<CaseQuery>) -> Result<CaseNumber, FieldErrors> {
        let query = query.complete()?;
        CaseNumber::parse(&query.case_number)
            .map_err(|reason| FieldErrors::single("case_number", reason.message()))
    }
}
