//! Personal data: kept only as long as it is needed (retention, run by housekeeping), and on a
//! data subject's request (GDPR articles 15 and 17) exported in one download or erased. Erasing
//! replaces the personal fields and keeps the counts; the audit entry that records it names
//! neither the case number nor the address.

use std::{collections::BTreeMap, path::PathBuf};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    audit::Audit,
    bookings::{BookingError, details, views::StaffBookingView},
    scope::{Need, staff_office},
};
use crate::{
    config::RetentionSettings,
    domain::{
        FieldErrors,
        audit::Action,
        booking::CaseNumber,
        email::EmailAddress,
        ids::{BookingId, OfficeId},
        office::OfficeCode,
        staff::Actor,
    },
    error::Error,
    store::{
        Store, bookings,
        personal_data::{self, Row},
    },
};

/// Whose data: a case number, an email address, or both (then records matching both).
#[derive(Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SubjectQuery {
    /// The case number (numero di pratica)
    pub case_number: Option<String>,
    /// The email address
    pub email: Option<String>,
}

/// A data subject, checked.
#[derive(Clone)]
pub struct Subject {
    case_number: Option<String>,
    email: Option<EmailAddress>,
}

impl SubjectQuery {
    pub fn parse(&self) -> Result<Subject, FieldErrors> {
        let mut errors = FieldErrors::new();
        let case_number = self
            .case_number
            .as_deref()
            .and_then(|text| errors.check("case_number", CaseNumber::parse(text)))
            .map(|case| case.as_str().to_owned());
        let email = self
            .email
            .as_deref()
            .and_then(|text| errors.check("email", EmailAddress::parse(text)));
        if self.case_number.is_none() && self.email.is_none() {
            errors.add(
                "case_number",
                "give a case number, an email address, or both",
            );
        }
        errors.or_value(Subject { case_number, email })
    }
}

impl Subject {
    fn keys(&self) -> (Option<&str>, Option<&EmailAddress>) {
        (self.case_number.as_deref(), self.email.as_ref())
    }
}

/// Everything the office holds about a data subject.
#[derive(Serialize, ToSchema)]
pub struct PersonalDataExport {
    pub office: String,
    pub case_number: Option<String>,
    pub email: Option<String>,
    pub exported_at: DateTime<Utc>,
    /// Their bookings, as staff see them.
    pub bookings: Vec<StaffBookingView>,
    /// What happened to those bookings and invitations, as recorded (the feed the case system
    /// reads).
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<Row>,
    /// The messages sent or queued about them (the text is composed from the booking).
    #[schema(value_type = Vec<Object>)]
    pub messages: Vec<Row>,
    #[schema(value_type = Vec<Object>)]
    pub invitations: Vec<Row>,
    #[schema(value_type = Vec<Object>)]
    pub lottery_entries: Vec<Row>,
    /// The case as the case system registered it.
    #[schema(value_type = Vec<Object>)]
    pub registered_cases: Vec<Row>,
}

/// Everything the office holds about a data subject, in one JSON document. Managers; the export
/// is audited (by whom, when, how many bookings; not whose).
pub async fn export(
    store: &Store,
    actor: Actor,
    code: OfficeCode,
    subject: Subject,
    now: DateTime<Utc>,
) -> Result<PersonalDataExport, BookingError> {
    store
        .write(move |conn| {
            let office = staff_office(conn, &actor, &code, Need::Configure)?;
            let ids = personal_data::bookings_of_subject(conn, office.id, subject.keys())?;
            let mut views = Vec::new();
            for id in &ids {
                let booking = bookings::find(conn, office.id, *id)?
                    .ok_or_else(|| Error::vanished(format!("booking {id}")))?;
                views.push(StaffBookingView::new(&details(conn, booking)?));
            }
            let (invitations, lottery_entries) =
                personal_data::invitations_and_entries_of(conn, office.id, subject.keys())?;
            let invited: Vec<String> = invitations
                .iter()
                .filter_map(|row| row.get("reference")?.as_str().map(str::to_owned))
                .collect();
            let export = PersonalDataExport {
                office: office.code.to_string(),
                case_number: subject.case_number.clone(),
                email: subject
                    .email
                    .as_ref()
                    .map(|email| email.as_str().to_owned()),
                exported_at: now,
                bookings: views,
                events: personal_data::events_of(conn, office.id, &ids, &invited)?,
                messages: personal_data::messages_of(conn, office.id, &ids)?,
                invitations,
                lottery_entries,
                registered_cases: personal_data::registered_cases_of(
                    conn,
                    office.id,
                    subject.keys(),
                )?,
            };
            let counted = serde_json::json!({"bookings": export.bookings.len()});
            let audit = Audit::by(&actor, now);
            audit.created(
                conn,
                Some(office.id),
                Action::PersonalDataExport,
                "request",
                &counted,
            )?;
            Ok(export)
        })
        .await
}

/// What an erasure changed.
#[derive(Serialize, ToSchema)]
pub struct ErasureReport {
    /// Bookings whose personal fields were replaced (they stay, for the counts).
    pub bookings: usize,
    /// Invitations, lottery entries, registered cases and verification attempts changed or
    /// deleted.
    pub other_records: usize,
}

/// Erases a data subject at the office: their bookings' personal fields (and every copy of
/// them: events, messages, audit entries) replaced, their unsent mail suppressed, their
/// invitations and lottery entries anonymised, their registered case forgotten. Managers; the
/// audit entry records the erasure and its counts, not the erased data.
pub async fn erase(
    store: &Store,
    actor: Actor,
    code: OfficeCode,
    subject: Subject,
    now: DateTime<Utc>,
) -> Result<ErasureReport, BookingError> {
    store
        .write(move |conn| {
            let office = staff_office(conn, &actor, &code, Need::Configure)?;
            let ids = personal_data::bookings_of_subject(conn, office.id, subject.keys())?;
            let report = ErasureReport {
                bookings: personal_data::anonymise_bookings(conn, office.id, &ids, now)?,
                other_records: personal_data::erase_elsewhere(conn, office.id, subject.keys())?,
            };
            let audit = Audit::by(&actor, now);
            audit.created(
                conn,
                Some(office.id),
                Action::PersonalDataErase,
                "request",
                &report,
            )?;
            Ok(report)
        })
        .await
}

/// How long each kind of record is kept.
#[derive(Debug, Clone)]
pub struct Retention {
    pub bookings: Duration,
    pub outbox: Duration,
    pub audit: Duration,
    pub batch: i64,
    /// Where mail is written as .eml files when no SMTP server is set.
    pub mail_dir: PathBuf,
}

impl Retention {
    pub fn from_settings(retention: &RetentionSettings, mail_dir: PathBuf) -> Retention {
        Retention {
            bookings: Duration::days(i64::from(retention.bookings_months) * 30),
            outbox: Duration::days(i64::from(retention.outbox_days)),
            audit: Duration::days(i64::from(retention.audit_years) * 365),
            batch: i64::from(retention.batch_size),
            mail_dir,
        }
    }
}

/// What one round of retention did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub bookings: usize,
    pub messages: usize,
    pub audit_entries: usize,
    pub mail_files: usize,
}

/// Housekeeping: anonymises bookings whose visit is older than the retention, deletes outbox
/// rows and .eml files and audit entries older than theirs, a batch of each a round. Safe with
/// several instances (each statement only finds what is still due).
pub async fn apply_retention(
    store: &Store,
    retention: &Retention,
    now: DateTime<Utc>,
) -> Result<Purged, BookingError> {
    let kept = retention.clone();
    let mut purged = store
        .write(move |conn| {
            let due = personal_data::bookings_past(conn, now - kept.bookings, kept.batch)?;
            // Office by office, as the data may be split.
            let mut by_office: BTreeMap<OfficeId, Vec<BookingId>> = BTreeMap::new();
            for (office_id, id) in due {
                by_office.entry(office_id).or_default().push(id);
            }
            let mut bookings = 0;
            for (office_id, ids) in by_office {
                bookings += personal_data::anonymise_bookings(conn, office_id, &ids, now)?;
            }
            Ok::<_, BookingError>(Purged {
                bookings,
                messages: personal_data::purge_outbox(conn, now - kept.outbox, kept.batch)?,
                audit_entries: personal_data::purge_audit(conn, now - kept.audit, kept.batch)?,
                mail_files: 0,
            })
        })
        .await?;
    let (dir, before) = (retention.mail_dir.clone(), now - retention.outbox);
    purged.mail_files = tokio::task::spawn_blocking(move || old_mail_files(&dir, before))
        .await
        .map_err(Error::internal)?;
    Ok(purged)
}

/// Deletes the .eml files in `dir` last written before `before`; returns how many.
fn old_mail_files(dir: &std::path::Path, before: DateTime<Utc>) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut deleted = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|ext| ext != "eml") {
            continue;
        }
        let written = entry.metadata().and_then(|meta| meta.modified());
        let old = written.is_ok_and(|at| DateTime::<Utc>::from(at) < before);
        if old {
            match std::fs::remove_file(&path) {
                Ok(()) => deleted += 1,
                Err(error) => tracing::warn!(?error, path = %path.display(), "old mail file kept"),
            }
        }
    }
    deleted
}
