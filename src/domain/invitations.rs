//! Invitations to book (convocazioni): where one stands, when it may still be answered, and
//! which deadlines and proposed slots an office may set.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    booking::{Refusal, Status},
    validation::{Invalid, Named},
};

/// The longest an invitation may stay open: a summons is for the months ahead, not for ever.
pub const LONGEST_OPEN_DAYS: i64 = 366;

/// Where an invitation stands, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationStatus {
    /// Mailed, not answered yet.
    Sent,
    /// The applicant booked through it: it is used up.
    Booked,
    /// The deadline passed unanswered.
    Expired,
    /// Withdrawn by the office or the case system.
    Cancelled,
}

impl Named for InvitationStatus {
    const ALL: &'static [InvitationStatus] = &[
        InvitationStatus::Sent,
        InvitationStatus::Booked,
        InvitationStatus::Expired,
        InvitationStatus::Cancelled,
    ];

    fn as_str(self) -> &'static str {
        match self {
            InvitationStatus::Sent => "sent",
            InvitationStatus::Booked => "booked",
            InvitationStatus::Expired => "expired",
            InvitationStatus::Cancelled => "cancelled",
        }
    }
}

/// Where an invitation stands as staff list it: a booked one goes on to the visit's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvitationState {
    Sent,
    Booked,
    Attended,
    NoShow,
    Expired,
    Cancelled,
}

impl Named for InvitationState {
    const ALL: &'static [InvitationState] = &[
        InvitationState::Sent,
        InvitationState::Booked,
        InvitationState::Attended,
        InvitationState::NoShow,
        InvitationState::Expired,
        InvitationState::Cancelled,
    ];

    fn as_str(self) -> &'static str {
        match self {
            InvitationState::Sent => "sent",
            InvitationState::Booked => "booked",
            InvitationState::Attended => "attended",
            InvitationState::NoShow => "no_show",
            InvitationState::Expired => "expired",
            InvitationState::Cancelled => "cancelled",
        }
    }
}

impl InvitationState {
    /// The state of an invitation in `status` whose booking (if any) is in `visit`.
    pub fn of(status: InvitationStatus, visit: Option<Status>) -> InvitationState {
        match (status, visit) {
            (InvitationStatus::Sent, _) => InvitationState::Sent,
            (InvitationStatus::Booked, Some(Status::Attended)) => InvitationState::Attended,
            (InvitationStatus::Booked, Some(Status::NoShow)) => InvitationState::NoShow,
            (InvitationStatus::Booked, _) => InvitationState::Booked,
            (InvitationStatus::Expired, _) => InvitationState::Expired,
            (InvitationStatus::Cancelled, _) => InvitationState::Cancelled,
        }
    }

    /// The stored status an invitation in this state has, and the visit's status it needs,
    /// if a particular one.
    pub fn stored_as(self) -> (InvitationStatus, Option<Status>) {
        match self {
            InvitationState::Sent => (InvitationStatus::Sent, None),
            InvitationState::Booked => (InvitationStatus::Booked, None),
            InvitationState::Attended => (InvitationStatus::Booked, Some(Status::Attended)),
            InvitationState::NoShow => (InvitationStatus::Booked, Some(Status::NoShow)),
            InvitationState::Expired => (InvitationStatus::Expired, None),
            InvitationState::Cancelled => (InvitationStatus::Cancelled, None),
        }
    }
}

/// Whether an invitation in `status` with this deadline may still be answered at `now`.
pub fn check_answerable(
    status: InvitationStatus,
    deadline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    match status {
        InvitationStatus::Sent if now < deadline => Ok(()),
        InvitationStatus::Sent | InvitationStatus::Expired => Err(Refusal::InvitationExpired),
        InvitationStatus::Booked => Err(Refusal::InvitationUsed),
        InvitationStatus::Cancelled => Err(Refusal::InvitationCancelled),
    }
}

/// A deadline an office may set (or extend to): ahead of now, and at most
/// [`LONGEST_OPEN_DAYS`] ahead.
pub fn check_deadline(deadline: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), Invalid> {
    if deadline <= now {
        return Err(Invalid::new("must be in the future"));
    }
    if deadline > now + Duration::days(LONGEST_OPEN_DAYS) {
        return Err(Invalid::new(format!(
            "must be at most {LONGEST_OPEN_DAYS} days ahead"
        )));
    }
    Ok(())
}

/// A proposed visit must start after the deadline: until then the applicant may take it or
/// pick another, and an unanswered proposal goes back on sale at the deadline.
pub fn check_proposal(starts_at: DateTime<Utc>, deadline: DateTime<Utc>) -> Result<(), Invalid> {
    if starts_at <= deadline {
        return Err(Invalid::new(
            "must start after the deadline, so the applicant can answer before the visit",
        ));
    }
    Ok(())
}

/// When an invitation's one reminder is due: `lead` before the deadline, unless the
/// invitation was sent (or its deadline set) within `lead` of it: its last mail has just said
/// everything.
pub fn reminder_due(
    sent_at: DateTime<Utc>,
    deadline: DateTime<Utc>,
    lead: Duration,
) -> Option<DateTime<Utc>> {
    let due = deadline - lead;
    (sent_at < due).then_some(due)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 3, day, hour, 0, 0).unwrap()
    }

    #[test]
    fn a_booked_invitation_follows_its_visit_and_every_state_is_stored_as_it_reads() {
        use InvitationState as S;
        assert_eq!(
            S::of(InvitationStatus::Booked, Some(Status::NoShow)),
            S::NoShow
        );
        assert_eq!(
            S::of(InvitationStatus::Booked, Some(Status::Attended)),
            S::Attended
        );
        assert_eq!(
            S::of(InvitationStatus::Booked, Some(Status::Confirmed)),
            S::Booked
        );
        assert_eq!(
            S::of(InvitationStatus::Booked, Some(Status::Cancelled)),
            S::Booked
        );
        for state in S::ALL {
            let (status, visit) = state.stored_as();
            assert_eq!(S::of(status, visit), *state, "{state:?}");
            assert_eq!(S::parse(state.as_str()), Ok(*state));
        }
    }

    #[test]
    fn only_a_sent_invitation_before_its_deadline_can_be_answered() {
        let deadline = at(10, 12);
        let sent = InvitationStatus::Sent;
        assert_eq!(check_answerable(sent, deadline, at(10, 11)), Ok(()));
        assert_eq!(
            check_answerable(sent, deadline, at(10, 12)),
            Err(Refusal::InvitationExpired),
            "the housekeeper may not have run yet: the deadline alone decides"
        );
        let used = check_answerable(InvitationStatus::Booked, deadline, at(1, 0));
        assert_eq!(used, Err(Refusal::InvitationUsed));
        let withdrawn = check_answerable(InvitationStatus::Cancelled, deadline, at(1, 0));
        assert_eq!(withdrawn, Err(Refusal::InvitationCancelled));
    }

    #[test]
    fn deadlines_proposals_and_the_one_reminder() {
        let now = at(1, 9);
        assert!(check_deadline(at(1, 9), now).is_err());
        assert!(check_deadline(at(20, 9), now).is_ok());
        assert!(check_deadline(now + Duration::days(367), now).is_err());
        assert!(check_proposal(at(10, 12), at(10, 12)).is_err());
        assert!(check_proposal(at(11, 9), at(10, 12)).is_ok());
        let lead = Duration::hours(48);
        assert_eq!(reminder_due(at(1, 9), at(10, 12), lead), Some(at(8, 12)));
        assert_eq!(reminder_due(at(9, 9), at(10, 12), lead), None);
    }
}
