//! Entering a draw: one entry per case, with up to [`MAX_PREFERENCES`] preferred slots or any
//! slot on a range of days. An entry is held to the rules of a booking it may become: the
//! service must take applicants, a registered-only service wants the case proven, the case
//! must not hold a booking of the service, and entries count against the email's bookings.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{MAX_PREFERENCES, draw_of_office};
use crate::{
    domain::{
        FieldErrors,
        booking::{CaseNumber, Reference, Refusal, parse_full_name},
        cases::VerificationSecret,
        client::ClientAddress,
        days::Day,
        email::EmailAddress,
        ids::{DrawId, SlotId},
        language::Language,
        office::{OfficeCode, parse_phone},
        service::Eligibility,
        time::{LocalTime, local},
    },
    store::{
        Store, bookings, is_unique_violation,
        lottery::{self, Among},
    },
    use_cases::{
        bookings::{BookingError, Policy, proof, token, verify},
        scope::visible_office,
    },
};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryRequest {
    /// The case number (numero di pratica) the visit is for: one entry per case.
    #[schema(schema_with = crate::domain::schema::case_number)]
    pub case_number: String,
    #[schema(schema_with = crate::domain::schema::full_name)]
    pub full_name: String,
    /// Where the result goes: the confirmation if the entry wins, a notice if not.
    #[schema(schema_with = crate::domain::schema::email)]
    pub email: String,
    #[schema(schema_with = crate::domain::schema::optional_phone)]
    pub phone: Option<String>,
    #[schema(schema_with = crate::domain::schema::supported_language)]
    pub language: String,
    /// Required where the service books registered cases only, as when booking.
    #[schema(schema_with = crate::domain::schema::optional_verification_secret)]
    pub verification_secret: Option<String>,
    /// Slots of the draw, most wanted first (at most 5). Give these, or the days.
    #[schema(value_type = Option<Vec<i64>>, min_items = 1, max_items = 5)]
    pub preferred_slot_ids: Option<Vec<SlotId>>,
    /// Instead of preferred slots: any slot of the draw from this local day…
    #[schema(value_type = Option<NaiveDate>)]
    pub any_day_from: Option<Day>,
    /// …to this one.
    #[schema(value_type = Option<NaiveDate>)]
    pub any_day_to: Option<Day>,
    /// Where the office asks for proof of work, a solved challenge, as when booking.
    #[schema(max_length = 4096)]
    pub altcha: Option<String>,
    /// Should the entry win no seat, wait for one freed later on the same days (offered by
    /// mail, one offer a day, held for a while). Default false.
    pub join_waitlist: Option<bool>,
}

/// What an entry would take.
#[derive(Clone)]
pub enum Choice {
    Slots(Vec<SlotId>),
    Days(NaiveDate, NaiveDate),
}

/// An entry, every field checked.
#[derive(Clone)]
pub struct NewEntry {
    pub case_number: CaseNumber,
    pub full_name: String,
    pub email: EmailAddress,
    pub phone: Option<String>,
    pub language: Language,
    pub secret: Option<VerificationSecret>,
    pub choice: Choice,
    /// The solved proof-of-work challenge, as sent.
    pub proof_of_work: Option<String>,
    pub join_waitlist: bool,
}

impl EntryRequest {
    pub fn parse(self) -> Result<NewEntry, FieldErrors> {
        let mut errors = FieldErrors::new();
        let case_number = errors.check("case_number", CaseNumber::parse(&self.case_number));
        let full_name = errors.check("full_name", parse_full_name(&self.full_name));
        let email = errors.check("email", EmailAddress::parse(&self.email));
        let phone = self
            .phone
            .as_deref()
            .filter(|p| !p.trim().is_empty())
            .and_then(|p| errors.check("phone", parse_phone(p)));
        let language = errors.check("language", Language::parse_supported(&self.language));
        let secret = self
            .verification_secret
            .as_deref()
            .and_then(|s| errors.check("verification_secret", VerificationSecret::parse(s)));
        let choice = match (self.preferred_slot_ids, self.any_day_from, self.any_day_to) {
            (Some(slots), None, None) => {
                let mut distinct = slots.clone();
                distinct.sort_unstable();
                distinct.dedup();
                if slots.is_empty() || slots.len() > MAX_PREFERENCES {
                    let message = format!("name from 1 to {MAX_PREFERENCES} slots");
                    errors.add("preferred_slot_ids", message);
                    None
                } else if distinct.len() != slots.len() {
                    errors.add("preferred_slot_ids", "names a slot twice");
                    None
                } else {
                    Some(Choice::Slots(slots))
                }
            }
            (None, Some(from), Some(to)) if from.get() <= to.get() => {
                Some(Choice::Days(from.get(), to.get()))
            }
            (None, Some(_), Some(_)) => {
                errors.add("any_day_to", "must not be before any_day_from");
                None
            }
            (None, None, None) => {
                errors.add(
                    "preferred_slot_ids",
                    "give preferred slots, or any_day_from and any_day_to",
                );
                None
            }
            (Some(_), _, _) => {
                errors.add(
                    "preferred_slot_ids",
                    "give preferred slots or days, not both",
                );
                None
            }
            (None, from, _) => {
                let missing = if from.is_none() {
                    "any_day_from"
                } else {
                    "any_day_to"
                };
                errors.add(missing, "is required with the other day");
                None
            }
        };
        match (case_number, full_name, email, language, choice) {
            (Some(case_number), Some(full_name), Some(email), Some(language), Some(choice))
                if errors.is_empty() =>
            {
                Ok(NewEntry {
                    case_number,
                    full_name,
                    email,
                    phone,
                    language,
                    secret,
                    choice,
                    proof_of_work: self.altcha,
                    join_waitlist: self.join_waitlist.unwrap_or(false),
                })
            }
            _ => Err(errors),
        }
    }
}

/// An entry, as its applicant sees it.
#[derive(Serialize, ToSchema)]
pub struct EntryView {
    /// Quote it to the office; the result comes by mail.
    #[schema(example = "K7P3Q9XD")]
    pub reference: String,
    #[schema(value_type = i64)]
    pub draw_id: DrawId,
    /// `entered` until the draw; then `won`, `lost`, or `void` (won a seat a booking rule
    /// then refused).
    pub status: String,
    /// When the draw is made.
    pub closes_at: LocalTime,
    /// The draw's seed commitment: the seed published after the draw hashes to it.
    pub seed_hash: String,
    #[schema(value_type = Vec<i64>)]
    pub preferred_slot_ids: Vec<SlotId>,
    pub any_day_from: Option<NaiveDate>,
    pub any_day_to: Option<NaiveDate>,
    /// Should it win no seat, it waits for one freed later on its days.
    pub join_waitlist: bool,
}

/// Enters the draw for the applicant, who will learn the result by mail.
pub async fn enter(
    store: &Store,
    policy: &Policy,
    from: ClientAddress,
    code: OfficeCode,
    draw_id: DrawId,
    entry: NewEntry,
    now: DateTime<Utc>,
) -> Result<EntryView, BookingError> {
    let (office, eligibility) = store
        .read(move |conn| -> Result<_, BookingError> {
            let office = visible_office(conn, None, &code)?;
            let (_, service) = draw_of_office(conn, office.id, draw_id)?;
            Ok((office, service.settings.eligibility))
        })
        .await?;
    let answer = entry.proof_of_work.as_deref();
    proof::check(store, policy, &office, answer, None, now).await?;
    let office_id = office.id;
    let mut case_proven = false;
    if eligibility == Eligibility::Registered {
        let Some(secret) = entry.secret.clone() else {
            let message = "is required: this appointment is for cases registered with the \
                           office, proven with their verification code";
            return Err(FieldErrors::single("verification_secret", message).into());
        };
        let case_number = entry.case_number.clone();
        verify::prove_case(store, policy, office_id, case_number, secret, from, now).await?;
        case_proven = true;
    }
    let limit = policy.max_active_per_email;
    store
        .write(move |conn| {
            let office = crate::store::offices::find_by_id(conn, office_id)?
                .ok_or(crate::error::Error::NoSuchOffice)?;
            if !office.stage.is_public() {
                return Err(Refusal::OfficeNotOpen.into());
            }
            let (draw, service) = draw_of_office(conn, office.id, draw_id)?;
            if !service.active {
                return Err(Refusal::ServiceNotOffered.into());
            }
            match service.settings.eligibility {
                Eligibility::Invitation => return Err(Refusal::InviteOnly.into()),
                Eligibility::Registered if !case_proven => {
                    return Err(Refusal::CaseNotVerified.into());
                }
                Eligibility::Registered | Eligibility::Open => {}
            }
            if draw.is_drawn() || now >= draw.closes_at {
                return Err(Refusal::LotteryClosed.into());
            }
            if now < draw.opens_at {
                let opens_at = draw.opens_at;
                return Err(Refusal::LotteryNotOpen { opens_at }.into());
            }
            // Only the slots the entry names (or its days) are read: entries pour in on a
            // click day, and a draw may hold hundreds of slots.
            let (preferences, any_days) = match &entry.choice {
                Choice::Slots(preferred) => {
                    let slots = lottery::draw_slots(conn, &draw, Among::Slots(preferred))?;
                    if let Some(stranger) = preferred
                        .iter()
                        .find(|id| !slots.iter().any(|slot| slot.0 == **id))
                    {
                        let message = format!("slot {stranger} is not one of this draw's");
                        return Err(FieldErrors::single("preferred_slot_ids", message).into());
                    }
                    (preferred.clone(), None)
                }
                Choice::Days(from, to) => {
                    if lottery::draw_slots(conn, &draw, Among::Days(*from, *to))?.is_empty() {
                        let message = "the draw has no slot on these days";
                        return Err(FieldErrors::single("any_day_from", message).into());
                    }
                    (Vec::new(), Some((*from, *to)))
                }
            };
            if bookings::case_has_active(conn, office.id, &entry.case_number, service.id)? {
                return Err(Refusal::CaseAlreadyBooked.into());
            }
            bookings::lock_email(conn, office.id, &entry.email)?;
            let held = bookings::active_for_email(conn, office.id, &entry.email)?
                + lottery::waiting_for_email(conn, office.id, &entry.email)?;
            if held >= limit {
                return Err(Refusal::TooManyBookings { limit }.into());
            }
            let reference = Reference::from_random(token::reference_bytes());
            let preferences_json =
                serde_json::to_string(&preferences).map_err(crate::error::Error::internal)?;
            let new = lottery::NewEntry {
                office_id: office.id,
                draw_id: draw.id,
                reference: reference.as_str(),
                case_number: &entry.case_number,
                full_name: &entry.full_name,
                email: &entry.email,
                phone: entry.phone.as_deref(),
                language: &entry.language,
                preferences: &preferences_json,
                any_days,
                join_waitlist: entry.join_waitlist,
            };
            // The unique (draw, case) index settles two entries of one case racing.
            let stored = lottery::insert_entry(conn, new, now).map_err(|e| {
                match is_unique_violation(&e) {
                    true => Refusal::AlreadyEntered.into(),
                    false => BookingError::from(e),
                }
            })?;
            Ok(EntryView {
                reference: stored.reference,
                draw_id: draw.id,
                status: stored.status,
                closes_at: local(draw.closes_at, office.details.timezone),
                seed_hash: draw.seed_hash.clone(),
                preferred_slot_ids: preferences,
                any_day_from: any_days.map(|days| days.0),
                any_day_to: any_days.map(|days| days.1),
                join_waitlist: stored.join_waitlist,
            })
        })
        .await
}
