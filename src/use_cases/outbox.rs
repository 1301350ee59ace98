//! The office's view of its mail: what is queued, what failed (and trying it again), and how
//! many registered letters the mail replaced.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    audit::Audit,
    scope::{Need, staff_office},
};
use crate::{
    domain::{
        Named, Parsed,
        audit::Action,
        days::{Day, days_before, end_of_day, start_of_day, today},
        ids::OutboxId,
        mail::{DeliveryStatus, MessageKind, OutboxEntry},
        office::OfficeCode,
        staff::Actor,
    },
    error::{Answer, Error, Explain, Failure},
    store::{Store, outbox},
};

#[derive(Debug, thiserror::Error)]
pub enum OutboxFailure {
    #[error("the office has no failed message with this id")]
    NoFailedMessage,
}

impl Explain for OutboxFailure {
    fn answer(self) -> Answer {
        match self {
            OutboxFailure::NoFailedMessage => {
                Answer::NotFound("The office has no failed message with this id.".into())
            }
        }
    }
}

impl Failure for OutboxFailure {}

pub type OutboxError = Error<OutboxFailure>;

/// Which of the office's messages staff want to see.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutboxQuery {
    /// pending, sending, sent, failed, bounced or suppressed
    #[param(value_type = Option<DeliveryStatus>)]
    pub status: Option<String>,
    /// At most this many (default 100, at most 1000)
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// The office's messages, newest first; `status=failed` lists those given up on, for staff to
/// contact the applicant or try again.
pub async fn list(
    store: &Store,
    actor: Actor,
    code: OfficeCode,
    query: Parsed<OutboxQuery>,
) -> Result<Vec<OutboxEntry>, OutboxError> {
    let (query, mut errors) = query.into_parts();
    let status = errors.check_optional("status", query.status.as_deref(), DeliveryStatus::parse);
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        errors.add("limit", "must be a whole number from 1 to 1000");
    }
    errors.or_value(())?;
    store
        .read(move |conn| {
            let office = staff_office(conn, &actor, &code, Need::Read)?;
            Ok(outbox::list(conn, office.id, status, None, limit)?)
        })
        .await
}

/// Tries a failed message again, with a fresh round of attempts.
pub async fn retry(
    store: &Store,
    actor: Actor,
    code: OfficeCode,
    id: OutboxId,
    now: DateTime<Utc>,
) -> Result<OutboxEntry, OutboxError> {
    store
        .write(move |conn| {
            let office = staff_office(conn, &actor, &code, Need::Read)?;
            if !outbox::retry(conn, office.id, id, now)? {
                return Err(OutboxFailure::NoFailedMessage.into());
            }
            let entry = outbox::list(conn, office.id, None, Some(id), 1)?
                .into_iter()
                .next()
                .ok_or(OutboxFailure::NoFailedMessage)?;
            let audit = Audit::by(&actor, now);
            audit.created(conn, Some(office.id), Action::OutboxRetry, id, &entry)?;
            Ok(entry)
        })
        .await
}

/// The days to count.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// First day (default 30 days ago)
    #[param(value_type = Option<NaiveDate>)]
    pub from: Option<Day>,
    /// Last day (default today)
    #[param(value_type = Option<NaiveDate>)]
    pub to: Option<Day>,
}

#[derive(Serialize, ToSchema)]
pub struct MailStats {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Registered letters (raccomandate) not sent: each invitation delivered by mail, and each
    /// confirmation of a booking not made through an invitation (whose invitation counted).
    pub registered_letters_replaced: i64,
    pub confirmed: i64,
    pub rescheduled: i64,
    pub cancelled_by_applicant: i64,
    pub cancelled_by_office: i64,
    pub reminder: i64,
    /// Invitations to book (convocazioni).
    pub invitation: i64,
    pub invitation_reminder: i64,
    /// Lottery entries told they won no seat.
    pub lottery_lost: i64,
}

/// How many messages of each kind the office delivered between two local days (inclusive).
pub async fn stats(
    store: &Store,
    actor: Actor,
    code: OfficeCode,
    query: Parsed<StatsQuery>,
    now: DateTime<Utc>,
) -> Result<MailStats, OutboxError> {
    let (query, mut errors) = query.into_parts();
    store
        .read(move |conn| {
            let office = staff_office(conn, &actor, &code, Need::Read)?;
            let zone = office.details.timezone;
            let to = query.to.map_or_else(|| today(zone, now), Day::get);
            let from = query.from.map_or_else(|| days_before(to, 30), Day::get);
            if to < from {
                errors.add("to", "must not be before from");
            }
            errors.or_value(())?;
            let (start, end) = (start_of_day(zone, from), end_of_day(zone, to));
            let counts = outbox::delivered(conn, office.id, start, end)?;
            let invited = outbox::delivered_confirmations_of_invited(conn, office.id, start, end)?;
            let count = |kind: MessageKind| {
                counts
                    .iter()
                    .find(|(k, _)| *k == kind)
                    .map_or(0, |(_, n)| *n)
            };
            Ok(MailStats {
                from,
                to,
                // Confirmations of invited bookings are counted among the kinds that replace a
                // letter, then taken off again: their invitation was the letter.
                registered_letters_replaced: counts
                    .iter()
                    .filter(|(kind, _)| kind.replaces_letter(false))
                    .map(|(_, n)| n)
                    .sum::<i64>()
                    - invited,
                confirmed: count(MessageKind::Confirmed),
                rescheduled: count(MessageKind::Rescheduled),
                cancelled_by_applicant: count(MessageKind::CancelledByApplicant),
                cancelled_by_office: count(MessageKind::CancelledByOffice),
                reminder: count(MessageKind::Reminder),
                invitation: count(MessageKind::Invitation),
                invitation_reminder: count(MessageKind::InvitationReminder),
                lottery_lost: count(MessageKind::LotteryLost),
            })
        })
        .await
}
