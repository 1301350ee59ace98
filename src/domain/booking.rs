//! Bookings: the case number they are bound to, the reference read aloud at the desk, the
//! statuses a visit goes through, and every reason a booking can be refused.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    audit::Action,
    text::is_hidden_control,
    validation::{Invalid, Named},
};

/// A case number (numero di pratica), uppercased, spaces removed: letters, digits, `/` and `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CaseNumber(String);

impl CaseNumber {
    pub fn parse(text: &str) -> Result<CaseNumber, Invalid> {
        const MESSAGE: &str = "must be your case number (numero di pratica) as printed on your \
                               documents: letters, digits, / and -, such as RM/2026/001234";
        let normalised: String = text
            .chars()
            .filter(|c| *c != ' ')
            .collect::<String>()
            .to_ascii_uppercase();
        let well_formed = text.chars().count() <= 40
            && (4..=40).contains(&normalised.len())
            && normalised
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '/' || c == '-')
            && normalised.chars().any(|c| c.is_ascii_digit())
            && normalised.starts_with(|c: char| c.is_ascii_alphanumeric())
            && normalised.ends_with(|c: char| c.is_ascii_alphanumeric());
        if well_formed {
            Ok(CaseNumber(normalised))
        } else {
            Err(Invalid::new(MESSAGE))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CaseNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The characters of a reference: no 0/O, no 1/I, so it survives being read aloud or copied.
pub const REFERENCE_ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// A booking's reference, `XXXX-XXXX` (40 random bits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct Reference(String);

impl Reference {
    /// Builds a reference from eight random bytes (one character each).
    pub fn from_random(bytes: [u8; 8]) -> Reference {
        let chars: String = bytes
            .iter()
            .map(|b| REFERENCE_ALPHABET[usize::from(b % 32)] as char)
            .collect();
        Reference(format!("{}-{}", &chars[..4], &chars[4..]))
    }

    /// Reads a reference as people type it: any case, with or without the dash or spaces.
    pub fn parse(text: &str) -> Result<Reference, Invalid> {
        let chars: String = text
            .chars()
            .filter(|c| *c != ' ' && *c != '-')
            .collect::<String>()
            .to_ascii_uppercase();
        let valid = chars.len() == 8 && chars.bytes().all(|b| REFERENCE_ALPHABET.contains(&b));
        valid
            .then(|| Reference(format!("{}-{}", &chars[..4], &chars[4..])))
            .ok_or_else(|| Invalid::new("must be a reference like K7P3-Q9XD"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Read from a path or query by the same rule as everywhere else.
impl TryFrom<String> for Reference {
    type Error = Invalid;

    fn try_from(text: String) -> Result<Reference, Invalid> {
        Reference::parse(&text)
    }
}

/// A person's name as written on their passport.
pub fn parse_full_name(text: &str) -> Result<String, Invalid> {
    let name = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let letters = name.chars().filter(|c| c.is_alphabetic()).count();
    if letters < 2
        || text.chars().count() > 120
        || text
            .chars()
            .any(|c| is_hidden_control(c) || c.is_ascii_digit())
    {
        Err(Invalid::new(
            "must be the full name as on the passport (2 to 120 characters, no digits)",
        ))
    } else {
        Ok(name)
    }
}

/// Who made the booking: the applicant online, or the office at its desk or phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Web,
    Desk,
}

impl Named for Channel {
    const ALL: &'static [Channel] = &[Channel::Web, Channel::Desk];

    fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Desk => "desk",
        }
    }
}

/// Where a visit stands: confirmed → checked-in → attended; confirmed → no-show;
/// confirmed → cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = BookingStatus)]
pub enum Status {
    Confirmed,
    CheckedIn,
    Attended,
    NoShow,
    Cancelled,
}

impl Named for Status {
    const ALL: &'static [Status] = &[
        Status::Confirmed,
        Status::CheckedIn,
        Status::Attended,
        Status::NoShow,
        Status::Cancelled,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Status::Confirmed => "confirmed",
            Status::CheckedIn => "checked_in",
            Status::Attended => "attended",
            Status::NoShow => "no_show",
            Status::Cancelled => "cancelled",
        }
    }
}

impl Status {
    /// Still ahead or under way: these count against the per-case and per-email limits.
    pub const ACTIVE: [Status; 2] = [Status::Confirmed, Status::CheckedIn];

    pub fn is_active(self) -> bool {
        Status::ACTIVE.contains(&self)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that happened to a booking, as its history records it, or to an invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Confirmed,
    Rescheduled,
    CancelledByApplicant,
    CancelledByOffice,
    CheckedIn,
    Attended,
    NoShow,
    InvitationSent,
    InvitationBooked,
    InvitationExtended,
    InvitationCancelled,
    InvitationExpired,
}

impl Named for EventKind {
    const ALL: &'static [EventKind] = &[
        EventKind::Confirmed,
        EventKind::Rescheduled,
        EventKind::CancelledByApplicant,
        EventKind::CancelledByOffice,
        EventKind::CheckedIn,
        EventKind::Attended,
        EventKind::NoShow,
        EventKind::InvitationSent,
        EventKind::InvitationBooked,
        EventKind::InvitationExtended,
        EventKind::InvitationCancelled,
        EventKind::InvitationExpired,
    ];

    fn as_str(self) -> &'static str {
        match self {
            EventKind::Confirmed => "confirmed",
            EventKind::Rescheduled => "rescheduled",
            EventKind::CancelledByApplicant => "cancelled_by_applicant",
            EventKind::CancelledByOffice => "cancelled_by_office",
            EventKind::CheckedIn => "checked_in",
            EventKind::Attended => "attended",
            EventKind::NoShow => "no_show",
            EventKind::InvitationSent => "invitation_sent",
            EventKind::InvitationBooked => "invitation_booked",
            EventKind::InvitationExtended => "invitation_extended",
            EventKind::InvitationCancelled => "invitation_cancelled",
            EventKind::InvitationExpired => "invitation_expired",
        }
    }
}

/// What the desk does with a booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeskAction {
    CheckIn,
    MarkAttended,
    MarkNoShow,
    Cancel,
}

impl DeskAction {
    /// The event the change records in the booking's history.
    pub fn event(self) -> EventKind {
        match self {
            DeskAction::CheckIn => EventKind::CheckedIn,
            DeskAction::MarkAttended => EventKind::Attended,
            DeskAction::MarkNoShow => EventKind::NoShow,
            DeskAction::Cancel => EventKind::CancelledByOffice,
        }
    }

    /// How the audit log names the change.
    pub fn audited_as(self) -> Action {
        match self {
            DeskAction::CheckIn => Action::BookingCheckIn,
            DeskAction::MarkAttended => Action::BookingAttended,
            DeskAction::MarkNoShow => Action::BookingNoShow,
            DeskAction::Cancel => Action::BookingCancel,
        }
    }

    pub fn verb(self) -> &'static str {
        match self {
            DeskAction::CheckIn => "checked in",
            DeskAction::MarkAttended => "marked attended",
            DeskAction::MarkNoShow => "marked as a no-show",
            DeskAction::Cancel => "cancelled",
        }
    }

    /// The one state machine every status change goes through.
    pub fn apply(self, status: Status) -> Result<Status, Refusal> {
        match (self, status) {
            (DeskAction::CheckIn, Status::Confirmed) => Ok(Status::CheckedIn),
            (DeskAction::MarkAttended, Status::CheckedIn) => Ok(Status::Attended),
            (DeskAction::MarkNoShow, Status::Confirmed) => Ok(Status::NoShow),
            (DeskAction::Cancel, Status::Confirmed) => Ok(Status::Cancelled),
            (action, status) => Err(Refusal::InvalidTransition { status, action }),
        }
    }
}

/// Why a booking, a change or a status update is refused: each with its own stable code and
/// a message an applicant understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    SlotFull,
    /// Blocked, or no longer published.
    SlotUnavailable,
    InviteOnly,
    TooLate {
        earliest: DateTime<Utc>,
    },
    TooEarly {
        latest: DateTime<Utc>,
    },
    SlotInThePast,
    CaseAlreadyBooked,
    TooManyBookings {
        limit: i64,
    },
    ChangeCutoffPassed {
        cutoff_hours: i32,
    },
    SameSlot,
    NotChangeable {
        status: Status,
    },
    InvalidTransition {
        status: Status,
        action: DeskAction,
    },
    NotTheVisitDay,
    VisitNotStarted,
    OfficeNotOpen,
    IdempotencyKeyReused,
    /// The office turned the service off.
    ServiceNotOffered,
    TooManyMoves {
        limit: i64,
    },
    /// The service books registered cases only, and this case number with this verification
    /// secret is not one: an unknown case and a wrong secret are told alike.
    CaseNotVerified,
    /// The case is registered, but not (yet) ready for this type on that day.
    CaseNotReady,
    /// The invitation was booked with already: it stands for one booking.
    InvitationUsed,
    /// The invitation's deadline has passed.
    InvitationExpired,
    /// The office withdrew the invitation.
    InvitationCancelled,
    /// The seats of this time go on sale later.
    NotYetOpen {
        opens_at: DateTime<Utc>,
    },
    /// The seats of this time are being shared out by lottery: enter the draw instead.
    LotteryUnderWay {
        closes_at: DateTime<Utc>,
    },
    /// The draw takes entries only from when the seats open.
    LotteryNotOpen {
        opens_at: DateTime<Utc>,
    },
    /// The draw's window has closed: the seats left are sold first come.
    LotteryClosed,
    /// This case has entered this draw already.
    AlreadyEntered,
    /// An intermediary's quota at this office is used up: `limit` active bookings, or (when
    /// `per_week`) bookings made this week.
    QuotaReached {
        limit: i64,
        per_week: bool,
    },
    /// The booking is on the waitlist already.
    AlreadyWaiting,
    /// The waitlist offer was answered already, or its hold ran out.
    OfferClosed,
    /// The service does not ask applicants to reconfirm.
    NoReconfirmation,
    /// The case missed too many visits of this service lately: it books at the desk until then.
    DeskOnly {
        until: DateTime<Utc>,
    },
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::SlotFull => "slot_full",
            Refusal::SlotUnavailable => "slot_unavailable",
            Refusal::InviteOnly => "invite_only",
            Refusal::TooLate { .. } => "min_notice",
            Refusal::TooEarly { .. } => "beyond_horizon",
            Refusal::SlotInThePast => "slot_in_the_past",
            Refusal::CaseAlreadyBooked => "case_already_booked",
            Refusal::TooManyBookings { .. } => "too_many_bookings",
            Refusal::ChangeCutoffPassed { .. } => "change_cutoff_passed",
            Refusal::SameSlot => "same_slot",
            Refusal::NotChangeable { .. } => "booking_not_changeable",
            Refusal::InvalidTransition { .. } => "invalid_status_transition",
            Refusal::NotTheVisitDay => "not_the_visit_day",
            Refusal::VisitNotStarted => "visit_not_started",
            Refusal::OfficeNotOpen => "office_not_open",
            Refusal::IdempotencyKeyReused => "idempotency_key_reused",
            Refusal::ServiceNotOffered => "service_not_offered",
            Refusal::TooManyMoves { .. } => "too_many_moves",
            Refusal::CaseNotVerified => "case_not_verified",
            Refusal::CaseNotReady => "case_not_ready",
            Refusal::InvitationUsed => "invitation_used",
            Refusal::InvitationExpired => "invitation_expired",
            Refusal::InvitationCancelled => "invitation_cancelled",
            Refusal::NotYetOpen { .. } => "not_yet_open",
            Refusal::LotteryUnderWay { .. } => "lottery_under_way",
            Refusal::LotteryNotOpen { .. } => "lottery_not_open",
            Refusal::LotteryClosed => "lottery_closed",
            Refusal::AlreadyEntered => "already_entered",
            Refusal::QuotaReached { .. } => "quota_reached",
            Refusal::AlreadyWaiting => "already_waiting",
            Refusal::OfferClosed => "offer_closed",
            Refusal::NoReconfirmation => "no_reconfirmation",
            Refusal::DeskOnly { .. } => "desk_only",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Refusal::SlotFull => "This time is fully booked. Please choose another one.".into(),
            Refusal::SlotUnavailable => "This time can no longer be booked. Please choose another one.".into(),
            Refusal::InviteOnly => "This appointment is given by invitation only: the office will contact you.".into(),
            Refusal::TooLate { earliest } => format!("This time is too soon to book online; choose a time after {}.", earliest.format("%Y-%m-%d %H:%M UTC")),
            Refusal::TooEarly { latest } => format!("This time is too far ahead to book yet; choose a time before {}.", latest.format("%Y-%m-%d %H:%M UTC")),
            Refusal::SlotInThePast => "This time has already passed.".into(),
            Refusal::CaseAlreadyBooked => "This case number already has an appointment of this type. Cancel or move that one instead.".into(),
            Refusal::TooManyBookings { limit } => format!("This email address already has {limit} appointments at this office, the most allowed."),
            Refusal::ChangeCutoffPassed { cutoff_hours } => format!("Appointments can be cancelled or moved until {cutoff_hours} hours before; please contact the office."),
            Refusal::SameSlot => "The appointment is already at this time.".into(),
            Refusal::NotChangeable { status } => format!("This appointment is {status} and can no longer be changed."),
            Refusal::InvalidTransition { status, action } => format!("A booking that is {status} cannot be {}.", action.verb()),
            Refusal::NotTheVisitDay => "Check-in is possible only on the day of the visit.".into(),
            Refusal::VisitNotStarted => "A no-show can be recorded only after the visit was due to start.".into(),
            Refusal::OfficeNotOpen => "This office does not take bookings at the moment.".into(),
            Refusal::IdempotencyKeyReused => "This Idempotency-Key was already used for a different request.".into(),
            Refusal::ServiceNotOffered => "The office no longer offers this appointment online; please contact the office.".into(),
            Refusal::TooManyMoves { limit } => format!("This appointment has been moved {limit} times, the most allowed; please contact the office."),
            Refusal::CaseNotVerified => "This case number and verification code do not match a case registered with this office. Check both as printed on your receipt.".into(),
            Refusal::CaseNotReady => "Your case is not ready for this appointment on that day. Choose a later day, or wait for the office to contact you.".into(),
            Refusal::InvitationUsed => "This invitation has been used to book already. Manage that appointment from its confirmation mail.".into(),
            Refusal::InvitationExpired => "The deadline of this invitation has passed; please contact the office.".into(),
            Refusal::InvitationCancelled => "The office has withdrawn this invitation; please contact the office.".into(),
            Refusal::NotYetOpen { opens_at } => format!("The seats of this time can be booked from {}.", opens_at.format("%Y-%m-%d %H:%M UTC")),
            Refusal::LotteryUnderWay { closes_at } => format!("The seats of this time are shared out by lottery: enter the draw before {}. Seats left after the draw can be booked as usual.", closes_at.format("%Y-%m-%d %H:%M UTC")),
            Refusal::LotteryNotOpen { opens_at } => format!("This draw takes entries from {}.", opens_at.format("%Y-%m-%d %H:%M UTC")),
            Refusal::LotteryClosed => "This draw no longer takes entries. Seats left after the draw can be booked as usual.".into(),
            Refusal::AlreadyEntered => "This case number has entered this draw already: one entry per case.".into(),
            Refusal::AlreadyWaiting => "This appointment is on the waitlist already; leave it first to wait for other days.".into(),
            Refusal::OfferClosed => "This offer is no longer open: it was answered, or the time to take it has passed.".into(),
            Refusal::NoReconfirmation => "This appointment needs no reconfirmation: just come at its time.".into(),
            Refusal::DeskOnly { until } => format!("This case missed several appointments of this type lately: until {} it can book only at the office's desk, in person or by phone.", until.format("%Y-%m-%d")),
            Refusal::QuotaReached { limit, per_week: false } => format!("Your accreditation at this office allows {limit} active bookings, and they are all in use."),
            Refusal::QuotaReached { limit, per_week: true } => format!("Your accreditation at this office allows {limit} bookings a week, and this week's are used (the week starts on Monday)."),
        }
    }

    /// 422 for input the client must change, 409 for the state of things.
    pub fn is_unprocessable(&self) -> bool {
        matches!(
            self,
            Refusal::IdempotencyKeyReused | Refusal::CaseNotVerified
        )
    }
}

/// The timing rules of a self-booking: not inside the minimum notice, not beyond the horizon.
pub fn check_web_timing(
    starts_at: DateTime<Utc>,
    now: DateTime<Utc>,
    min_notice_hours: i32,
    horizon_days: i32,
) -> Result<(), Refusal> {
    if starts_at <= now {
        return Err(Refusal::SlotInThePast);
    }
    let earliest = now + Duration::hours(i64::from(min_notice_hours));
    if starts_at < earliest {
        return Err(Refusal::TooLate { earliest });
    }
    let latest = now + Duration::days(i64::from(horizon_days));
    if starts_at > latest {
        return Err(Refusal::TooEarly { latest });
    }
    Ok(())
}

/// An applicant may cancel or move a visit until the cut-off before it.
pub fn check_change_cutoff(
    starts_at: DateTime<Utc>,
    now: DateTime<Utc>,
    cutoff_hours: i32,
) -> Result<(), Refusal> {
    if now + Duration::hours(i64::from(cutoff_hours)) > starts_at {
        Err(Refusal::ChangeCutoffPassed { cutoff_hours })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_numbers_are_normalised_and_checked() {
        assert_eq!(
            CaseNumber::parse(" rm/2026/ 001234 ").unwrap().as_str(),
            "RM/2026/001234"
        );
        assert_eq!(CaseNumber::parse("P-LT-778").unwrap().as_str(), "P-LT-778");
        for bad in ["", "abc", "RM_2026_1", "/RM2026", "RM 2026 ÷ 1", "ABCDEF"] {
            assert!(CaseNumber::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn references_avoid_confusable_characters_and_read_back_loosely() {
        let reference = Reference::from_random([0, 1, 2, 3, 30, 31, 32, 255]);
        assert_eq!(reference.as_str(), "2345-YZ2Z");
        assert_eq!(Reference::parse("2345yz2z"), Ok(reference.clone()));
        assert_eq!(Reference::parse(" 2345 - YZ2Z "), Ok(reference));
        assert!(Reference::parse("2345-YZ2O").is_err(), "no letter O");
        assert!(Reference::parse("2345-YZ21").is_err(), "no digit 1");
        assert!(!REFERENCE_ALPHABET.iter().any(|c| b"01OI".contains(c)));
    }

    #[test]
    fn the_status_machine_allows_only_the_documented_moves() {
        use DeskAction::*;
        use Status::*;
        assert_eq!(CheckIn.apply(Confirmed), Ok(CheckedIn));
        assert_eq!(MarkAttended.apply(CheckedIn), Ok(Attended));
        assert_eq!(MarkNoShow.apply(Confirmed), Ok(NoShow));
        assert_eq!(Cancel.apply(Confirmed), Ok(Cancelled));
        for (action, status) in [
            (MarkAttended, Confirmed),
            (CheckIn, Cancelled),
            (Cancel, CheckedIn),
            (MarkNoShow, Attended),
            (CheckIn, CheckedIn),
        ] {
            let refusal = action.apply(status).unwrap_err();
            assert_eq!(refusal.code(), "invalid_status_transition");
        }
        assert_eq!(
            Cancel.apply(Attended).unwrap_err().message(),
            "A booking that is attended cannot be cancelled."
        );
    }

    #[test]
    fn self_booking_respects_notice_horizon_and_cutoff() {
        let now = Utc::now();
        let at = |hours: i64| now + Duration::hours(hours);
        assert_eq!(
            check_web_timing(at(-1), now, 24, 60),
            Err(Refusal::SlotInThePast)
        );
        assert_eq!(
            check_web_timing(at(10), now, 24, 60).unwrap_err().code(),
            "min_notice"
        );
        assert!(check_web_timing(at(25), now, 24, 60).is_ok());
        assert_eq!(
            check_web_timing(at(24 * 61), now, 24, 60)
                .unwrap_err()
                .code(),
            "beyond_horizon"
        );
        assert!(check_change_cutoff(at(30), now, 24).is_ok());
        assert_eq!(
            check_change_cutoff(at(20), now, 24).unwrap_err().code(),
            "change_cutoff_passed"
        );
    }

    #[test]
    fn names() {
        assert_eq!(
            parse_full_name("  Amina   Diallo ").unwrap(),
            "Amina Diallo"
        );
        assert!(parse_full_name("A").is_err() && parse_full_name("R2D2").is_err());
        assert!(parse_full_name("Олена Коваленко").is_ok());
        assert!(Status::ACTIVE.iter().all(|status| status.is_active()));
        assert_eq!(Status::parse("no_show"), Ok(Status::NoShow));
    }
}
