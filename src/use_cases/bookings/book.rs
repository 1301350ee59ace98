//! Booking a seat: the applicant online, bound to a case number, or staff at the desk on
//! someone's behalf; retried safely with an `Idempotency-Key`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::{
    Booker, BookingError, BookingFailure, Details, Facts, Policy, check_case_ready, check_no_shows,
    check_release, chosen_service, details, event_data, proof, slot_of_office,
    token::{self, TokenKey, fingerprint},
    verify,
    views::{BookingConfirmation, StaffBookingView},
};
use crate::{
    domain::{
        FieldErrors,
        audit::Action,
        booking::{
            CaseNumber, Channel, EventKind, Reference, Refusal, check_web_timing, parse_full_name,
        },
        cases::VerificationSecret,
        catalogue::TypeCode,
        email::EmailAddress,
        events::public_type,
        ids::{OfficeId, SlotId},
        intermediary::week_start,
        language::Language,
        mail::MessageKind,
        office::{OfficeCode, Stage, parse_phone},
        release::Release,
        service::Eligibility,
        staff::Forbidden,
    },
    error::Error,
    store::{
        DbConnection, Store, accreditations,
        bookings::{self, KeyRecord, NewBooking},
        new_bookings::{self, Asked, Recorded, Records, Seat},
        offices::Office,
        seats, services,
        slots::Slot,
    },
    use_cases::{
        audit::Audit,
        scope::{Need, staff_office, visible_office},
    },
};

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingRequest {
    /// A slot from the office's availability.
    #[schema(value_type = i64)]
    pub slot_id: SlotId,
    /// The appointment type: needed only when the slot serves several.
    #[schema(schema_with = crate::domain::schema::optional_type_code)]
    pub service: Option<String>,
    /// The case number (numero di pratica) the visit is for.
    #[schema(schema_with = crate::domain::schema::case_number)]
    pub case_number: String,
    /// As on the passport: at least two letters, no digits.
    #[schema(schema_with = crate::domain::schema::full_name)]
    pub full_name: String,
    /// Where the confirmation goes. Required when applicants book; optional at the desk.
    #[schema(schema_with = crate::domain::schema::optional_email)]
    pub email: Option<String>,
    #[schema(schema_with = crate::domain::schema::optional_phone)]
    pub phone: Option<String>,
    /// The language of the confirmation: it, en, fr, es, ar, sq, uk or zh.
    #[schema(schema_with = crate::domain::schema::supported_language)]
    pub language: String,
    /// The case's verification code (as printed on the receipt, or as the office says):
    /// required where the service books registered cases only (`eligibility: registered`).
    /// Never part of an Idempotency-Key's fingerprint, so never stored in any form.
    #[serde(skip_serializing)]
    #[schema(schema_with = crate::domain::schema::optional_verification_secret)]
    pub verification_secret: Option<String>,
    /// Where the office asks for proof of work (`proof_of_work` on its page): a challenge from
    /// `GET /api/v1/offices/{code}/challenge`, solved, as the ALTCHA widget submits it (base64
    /// of `{challenge, solution}`). Good once; a retry with the same Idempotency-Key may send it
    /// again. Not part of the Idempotency-Key's fingerprint.
    #[serde(skip_serializing)]
    #[schema(max_length = 4096)]
    pub altcha: Option<String>,
}

/// A booking request, every field checked.
#[derive(Clone)]
pub struct NewVisit {
    pub slot_id: SlotId,
    /// Needed only when the slot's calendar serves several services.
    pub service: Option<TypeCode>,
    pub case_number: CaseNumber,
    pub full_name: String,
    /// Required online; the desk may book for someone without one.
    pub email: Option<EmailAddress>,
    pub phone: Option<String>,
    pub language: Language,
    /// What the applicant says the case's verification secret is.
    pub secret: Option<VerificationSecret>,
    /// The secret was checked against the registered case (see [`verify`](super::verify)).
    pub case_proven: bool,
    /// The solved proof-of-work challenge, as sent (see [`proof`](super::proof)).
    pub proof_of_work: Option<String>,
    /// Booked through an invitation's link (see [`invited`](super::invited)).
    pub invited: Option<Invited>,
    /// A seat won in a lottery, booked by the draw (see `use_cases::lottery`): the release
    /// rules that kept it off sale were for the draw itself.
    pub drawn: bool,
    /// The web seat a waitlist offer held for this applicant (see `use_cases::waitlist`):
    /// booking that slot takes it.
    pub held_seat: Option<SlotId>,
}

/// An invitation whose token the applicant showed: it stands for the case, whatever the
/// service's eligibility.
#[derive(Clone, Copy)]
pub struct Invited {
    /// The proposed slot whose seat the invitation holds: booking it takes that seat.
    pub held_slot: Option<SlotId>,
}

impl BookingRequest {
    pub fn parse(&self, booker: &Booker) -> Result<NewVisit, FieldErrors> {
        let mut errors = FieldErrors::new();
        let service = self
            .service
            .as_deref()
            .and_then(|code| errors.check("service", TypeCode::parse(code)));
        let case_number = errors.check("case_number", CaseNumber::parse(&self.case_number));
        let full_name = errors.check("full_name", parse_full_name(&self.full_name));
        let email = match self.email.as_deref().filter(|e| !e.trim().is_empty()) {
            Some(email) => errors.check("email", EmailAddress::parse(email)),
            None if matches!(booker, Booker::Applicant { .. }) => {
                errors.add("email", "is required: the confirmation is sent there");
                None
            }
            None => None,
        };
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
        match (case_number, full_name, language) {
            (Some(case_number), Some(full_name), Some(language)) if errors.is_empty() => {
                Ok(NewVisit {
                    slot_id: self.slot_id,
                    service,
                    case_number,
                    full_name,
                    email,
                    phone,
                    language,
                    secret,
                    case_proven: false,
                    proof_of_work: self.altcha.clone(),
                    invited: None,
                    drawn: false,
                    held_seat: None,
                })
            }
            _ => Err(errors),
        }
    }
}

/// An `Idempotency-Key` and the fingerprint of who sent what with it, so that the same key
/// with another request is told apart.
#[derive(Clone)]
pub struct IdempotencyKey {
    pub key: String,
    pub request_fingerprint: String,
}

impl IdempotencyKey {
    /// The key from the header's bytes, when the request has one.
    pub fn parse(
        header: Option<&[u8]>,
        booker: &Booker,
        request: &BookingRequest,
    ) -> Result<Option<IdempotencyKey>, FieldErrors> {
        let Some(value) = header else {
            return Ok(None);
        };
        let key = std::str::from_utf8(value)
            .ok()
            .filter(|key| {
                (1..=100).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
            })
            .ok_or_else(|| {
                FieldErrors::single(
                    "Idempotency-Key",
                    "must be 1 to 100 visible ASCII characters, such as a UUID",
                )
            })?;
        let who = match booker {
            Booker::Applicant { via: None, .. } => "web".to_owned(),
            Booker::Applicant { via: Some(id), .. } => format!("intermediary:{id}"),
            Booker::Staff(actor) => format!("desk:{}", actor.staff_id),
        };
        let mut digest = Sha256::new();
        digest.update(who.as_bytes());
        digest.update(serde_json::to_vec(request).unwrap_or_default());
        Ok(Some(IdempotencyKey {
            key: key.to_owned(),
            request_fingerprint: format!("{:x}", digest.finalize()),
        }))
    }
}

/// A confirmed booking, as its applicant sees it, with the token to manage it.
pub struct Booked {
    pub confirmation: BookingConfirmation,
    /// The answer to an earlier request with the same Idempotency-Key.
    pub replayed: bool,
}

/// Books a seat. Applicants book in `pilot` and `live` offices; staff book at the desk (channel
/// `desk`, may use the seats held for the desk; in a `preview` office the booking is a test,
/// and every desk booking is audited).
pub async fn book(
    store: &Store,
    policy: &Policy,
    booker: Booker,
    code: OfficeCode,
    mut visit: NewVisit,
    key: Option<IdempotencyKey>,
    now: DateTime<Utc>,
) -> Result<Booked, BookingError> {
    // The office, a cheap answer when the slot is plainly full (a retry with an
    // Idempotency-Key goes through, to get its first answer), and who may book its service
    // online (when the slot and service are plain to see; `book_in` explains the rest).
    let (office, refusal, eligibility) = {
        let (booker, retry) = (booker.clone(), key.is_some());
        let (slot_id, service) = (visit.slot_id, visit.service.clone());
        store
            .read(move |conn| -> Result<_, BookingError> {
                let office = match &booker {
                    Booker::Applicant { .. } => visible_office(conn, None, &code)?,
                    Booker::Staff(actor) => staff_office(conn, actor, &code, Need::Read)?,
                };
                // A slot that is not the office's: `book_in` explains what is wrong with it.
                let Some((slot, services)) =
                    services::slot_with_services(conn, office.id, slot_id)?
                else {
                    return Ok((office, None, None));
                };
                let refusal = match retry {
                    true => None,
                    false => quick_refusal(conn, office.id, &slot, booker.channel(), now)?,
                };
                let eligibility = match (&booker, &refusal) {
                    (Booker::Applicant { .. }, None) => {
                        let codes = services.iter().map(|s| &s.appointment_type.code);
                        chosen_service(codes, service.as_ref())
                            .ok()
                            .map(|index| services[index].settings.eligibility)
                    }
                    _ => None,
                };
                Ok((office, refusal, eligibility))
            })
            .await?
    };
    if let Some(refusal) = refusal {
        return Err(refusal.into());
    }
    if booker.is_anonymous() {
        let (answer, retry) = (visit.proof_of_work.as_deref(), key.as_ref());
        let retry = retry.map(|key| key.key.as_str());
        proof::check(store, policy, &office, answer, retry, now).await?;
    }
    if let (Booker::Applicant { from, .. }, Some(Eligibility::Registered)) = (&booker, eligibility)
    {
        let Some(secret) = visit.secret.clone() else {
            let message = "is required: this appointment is for cases registered with the \
                           office, proven with their verification code";
            return Err(FieldErrors::single("verification_secret", message).into());
        };
        let case_number = visit.case_number.clone();
        let office_id = office.id;
        verify::prove_case(store, policy, office_id, case_number, secret, *from, now).await?;
        visit.case_proven = true;
    }
    let attempt = || {
        let (office, booker, visit, key, policy) = (
            office.clone(),
            booker.clone(),
            visit.clone(),
            key.clone(),
            policy.clone(),
        );
        store.write(move |conn| {
            let booked = book_in(conn, &office, &booker, &visit, key.as_ref(), &policy, now)?;
            if let (Booker::Staff(actor), false) = (&booker, booked.replayed) {
                let view = StaffBookingView::new(&booked.details);
                let audit = Audit::by(actor, now);
                let reference = &view.reference;
                audit.created(
                    conn,
                    Some(office.id),
                    Action::BookingCreate,
                    reference,
                    &view.audited(),
                )?;
            }
            Ok(booked)
        })
    };
    // A concurrent request with the same key committed first: the second try answers from it.
    let booked = match attempt().await {
        Err(Error::Feature(BookingFailure::KeyRace)) => attempt().await?,
        other => other?,
    };
    Ok(Booked {
        confirmation: BookingConfirmation::new(&booked.details, booked.manage_token),
        replayed: booked.replayed,
    })
}

/// A refusal that needs no write transaction: the slot is blocked, or has no seat for this
/// channel and none about to come back from a cool-down. Read without locks, it may miss a
/// seat freed this very moment (the applicant tries again); it never sells anything: only the
/// claim in `book_in` does. On a click day this answers the crowd after the sell-out cheaply.
fn quick_refusal(
    conn: &mut DbConnection,
    office_id: OfficeId,
    slot: &Slot,
    channel: Channel,
    now: DateTime<Utc>,
) -> Result<Option<Refusal>, BookingError> {
    if slot.blocked {
        return Ok(Some(Refusal::SlotUnavailable));
    }
    if let (Channel::Web, Release::NotYet(opens_at)) = (channel, Release::of(slot.opens_at, now)) {
        return Ok(Some(Refusal::NotYetOpen { opens_at }));
    }
    let free = match channel {
        Channel::Web => slot.seats.web_available(),
        Channel::Desk => slot.seats.desk_available(),
    };
    if free > 0
        || (slot.seats.cooling > 0 && seats::has_cooled_seat(conn, office_id, slot.id, now)?)
    {
        return Ok(None);
    }
    Ok(Some(Refusal::SlotFull))
}

/// What one booking transaction made: the booking with its views' details.
pub(in crate::use_cases) struct Made {
    pub details: Details,
    pub manage_token: String,
    pub replayed: bool,
}

/// Books in the caller's transaction: claims the seat and records the booking, its event, its
/// mail and the idempotency record, or (when the transaction rolls back) none of it.
pub(in crate::use_cases) fn book_in(
    conn: &mut DbConnection,
    office: &Office,
    booker: &Booker,
    visit: &NewVisit,
    key: Option<&IdempotencyKey>,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Made, BookingError> {
    let is_test = match (booker, office.stage) {
        (_, Stage::Pilot | Stage::Live) => false,
        (Booker::Staff(_), Stage::Preview) => true,
        _ => return Err(Refusal::OfficeNotOpen.into()),
    };
    // The email's lock first: the counts read next then include every booking a concurrent
    // request made with it.
    let email = match booker {
        Booker::Applicant { .. } => visit.email.as_ref(),
        Booker::Staff(_) => None,
    };
    if let Some(email) = email {
        bookings::lock_email(conn, office.id, email)?;
    }
    let reference = Reference::from_random(token::reference_bytes());
    let asked = Asked {
        office_id: office.id,
        slot_id: visit.slot_id,
        case_number: &visit.case_number,
        email,
        key: key.map(|key| key.key.as_str()),
        reference: &reference,
    };
    let Some(standing) = new_bookings::standing(conn, &asked)? else {
        // The slot is not the office's, or its calendar serves nothing now.
        return Err(match slot_of_office(conn, office.id, visit.slot_id) {
            Ok(_) => Refusal::SlotUnavailable.into(),
            Err(error) => error,
        });
    };
    if let (Some(key), Some(record)) = (key, standing.key) {
        return replay(conn, office.id, key, record, policy);
    }
    let slot = standing.slot;
    if slot.blocked {
        return Err(Refusal::SlotUnavailable.into());
    }
    let codes = standing
        .services
        .iter()
        .map(|(s, _)| &s.appointment_type.code);
    let index = chosen_service(codes, visit.service.as_ref())?;
    let Some((service, case_holds_service)) = standing.services.into_iter().nth(index) else {
        return Err(Error::vanished(format!(
            "service {index} of slot {}",
            slot.id
        )));
    };
    // The seat an invitation's proposal holds here is the booking's already: the office gave
    // it (as the desk does), so it is the desk's seat, and the notice and horizon of the web do
    // not apply to it.
    // So is a web seat a waitlist offer held for the applicant: taken off sale then, under
    // the rules of that moment.
    let invitation_seat = visit.invited.and_then(|invited| invited.held_slot) == Some(slot.id);
    let seat_held = invitation_seat || visit.held_seat == Some(slot.id);
    let channel = match invitation_seat {
        true => Channel::Desk,
        false => booker.channel(),
    };
    match booker {
        Booker::Applicant { .. } => {
            let settings = &service.settings;
            match (settings.eligibility, visit.invited) {
                (_, Some(_)) | (Eligibility::Open, None) => {}
                (Eligibility::Registered, None) if !visit.case_proven => {
                    return Err(Refusal::CaseNotVerified.into());
                }
                (Eligibility::Registered, None) => {
                    let case_number = visit.case_number.as_str();
                    check_case_ready(conn, office, case_number, &service, slot.time.starts_at)?;
                }
                (Eligibility::Invitation, None) => return Err(Refusal::InviteOnly.into()),
            }
            // An invitation is the office's own call: the no-show rule is for self-booking.
            if visit.invited.is_none() {
                check_no_shows(conn, &service, visit.case_number.as_str(), now)?;
            }
            let (notice, horizon) = (settings.min_notice_hours, settings.horizon_days);
            match seat_held {
                true if slot.time.starts_at <= now => return Err(Refusal::SlotInThePast.into()),
                true => {}
                false => check_web_timing(slot.time.starts_at, now, notice, horizon)?,
            }
            if !seat_held && !visit.drawn {
                check_release(conn, &slot, &service, now)?;
            }
        }
        Booker::Staff(_) if slot.time.ends_at <= now => return Err(Refusal::SlotInThePast.into()),
        Booker::Staff(_) => {}
    }
    if let Booker::Applicant {
        via: Some(intermediary),
        ..
    } = booker
    {
        let quota = accreditations::lock_quota(conn, office.id, *intermediary)?
            .ok_or(Forbidden("You are not accredited to book at this office."))?;
        let week_start = week_start(now, office.details.timezone);
        let (active, this_week) =
            accreditations::usage(conn, office.id, *intermediary, week_start)?;
        quota.admits(active, this_week)?;
    }
    if case_holds_service {
        return Err(Refusal::CaseAlreadyBooked.into());
    }
    let limit = policy.max_active_per_email;
    if email.is_some() && standing.email_active >= limit {
        return Err(Refusal::TooManyBookings { limit }.into());
    }

    let seat = match seat_held {
        true => Seat::Held,
        false => {
            // Seats whose cool-down has passed go back on sale first.
            if slot.seats.cooling > 0 {
                seats::release_cooled(conn, office.id, slot.id, now)?;
            }
            Seat::Claim(channel)
        }
    };
    let reference = match standing.reference_taken {
        true => unused_reference(conn)?,
        false => reference,
    };
    let salt = TokenKey::new_salt();
    let manage_token = policy.tokens.token(&salt);
    let token_hash = fingerprint(&manage_token);
    let actor_id = booker.actor().map(|actor| actor.staff_id);
    let new = NewBooking {
        office_id: office.id,
        slot_id: slot.id,
        office_service_id: service.id,
        reference: &reference,
        token_hash: &token_hash,
        token_salt: &salt,
        case_number: &visit.case_number,
        full_name: &visit.full_name,
        email: visit.email.as_ref(),
        phone: visit.phone.as_deref(),
        language: &visit.language,
        channel,
        is_test,
        created_by: actor_id,
        intermediary_id: match booker {
            Booker::Applicant { via, .. } => *via,
            Booker::Staff(_) => None,
        },
    };
    let facts = Facts {
        reference: reference.as_str(),
        case_number: visit.case_number.as_str(),
        channel,
        is_test,
    };
    let data = event_data(&facts, &service, &slot, EventKind::Confirmed, None, None)?;
    let records = Records {
        seat,
        detail: &json!({"slot_id": slot.id}),
        data: &data,
        public_type: public_type(EventKind::Confirmed),
        mail: Some(MessageKind::Confirmed),
        key: key.map(|key| (key.key.as_str(), key.request_fingerprint.as_str())),
    };
    let booking = match new_bookings::record(conn, new, records, now)? {
        Recorded::Booked(booking) => *booking,
        // A request with the same key that committed meanwhile may have taken the seat: its
        // answer is this request's.
        Recorded::NoSeat => match key {
            Some(key) if bookings::find_key(conn, office.id, &key.key)?.is_some() => {
                return Err(BookingFailure::KeyRace.into());
            }
            _ => return Err(Refusal::SlotFull.into()),
        },
        // (On PostgreSQL the transaction is spoiled: a second try tells which it was.)
        Recorded::CaseTaken if key.is_some() => return Err(BookingFailure::KeyRace.into()),
        Recorded::CaseTaken => return Err(Refusal::CaseAlreadyBooked.into()),
        Recorded::KeyTaken => return Err(BookingFailure::KeyRace.into()),
    };
    // Everything the answer needs is at hand: no need to read it back.
    Ok(Made {
        details: Details {
            booking,
            slot,
            service,
            office: office.clone(),
        },
        manage_token,
        replayed: false,
    })
}

/// The answer to a request whose Idempotency-Key an earlier request used: that request's
/// booking, if it was the same request.
fn replay(
    conn: &mut DbConnection,
    office_id: OfficeId,
    key: &IdempotencyKey,
    record: KeyRecord,
    policy: &Policy,
) -> Result<Made, BookingError> {
    if record.request_hash != key.request_fingerprint {
        return Err(Refusal::IdempotencyKeyReused.into());
    }
    let booking_id = record.booking_id.ok_or(BookingFailure::KeyRace)?;
    let booking = bookings::find(conn, office_id, booking_id)?.ok_or(BookingFailure::KeyRace)?;
    let manage_token = policy.tokens.token(&booking.token_salt);
    Ok(Made {
        details: details(conn, booking)?,
        manage_token,
        replayed: true,
    })
}

fn unused_reference(conn: &mut DbConnection) -> Result<Reference, BookingError> {
    // 32^8 references: a clash is rare, two in a row rarer still.
    for _ in 0..5 {
        let reference = Reference::from_random(token::reference_bytes());
        if !bookings::reference_taken(conn, &reference)? {
            return Ok(reference);
        }
    }
    Err(BookingFailure::NoFreeReference.into())
}
