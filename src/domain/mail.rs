//! The messages a booking or an invitation owes its applicant, and when a failed delivery is
//! tried again.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ids::OutboxId, validation::Named};

/// Every change an applicant is told about by mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Confirmed,
    Rescheduled,
    CancelledByApplicant,
    CancelledByOffice,
    Reminder,
    /// An invitation to book (convocazione), with its link.
    Invitation,
    /// The one reminder of an unanswered invitation, before its deadline.
    InvitationReminder,
    /// A lottery entry won no seat (winners get the booking's confirmation).
    LotteryLost,
    /// An earlier seat, held for a booking on the waitlist: accept or decline.
    WaitlistOffer,
    /// Please reconfirm the visit (from its page) before it is released.
    ReconfirmRequest,
    /// The visit was not reconfirmed in time and its seat was released.
    ReleasedUnconfirmed,
    /// After an attended visit: how was it? (a link to the survey, answered once).
    Survey,
}

impl Named for MessageKind {
    const ALL: &'static [MessageKind] = &[
        MessageKind::Confirmed,
        MessageKind::Rescheduled,
        MessageKind::CancelledByApplicant,
        MessageKind::CancelledByOffice,
        MessageKind::Reminder,
        MessageKind::Invitation,
        MessageKind::InvitationReminder,
        MessageKind::LotteryLost,
        MessageKind::WaitlistOffer,
        MessageKind::ReconfirmRequest,
        MessageKind::ReleasedUnconfirmed,
        MessageKind::Survey,
    ];

    fn as_str(self) -> &'static str {
        match self {
            MessageKind::Confirmed => "confirmed",
            MessageKind::Rescheduled => "rescheduled",
            MessageKind::CancelledByApplicant => "cancelled_by_applicant",
            MessageKind::CancelledByOffice => "cancelled_by_office",
            MessageKind::Reminder => "reminder",
            MessageKind::Invitation => "invitation",
            MessageKind::InvitationReminder => "invitation_reminder",
            MessageKind::LotteryLost => "lottery_lost",
            MessageKind::WaitlistOffer => "waitlist_offer",
            MessageKind::ReconfirmRequest => "reconfirm_request",
            MessageKind::ReleasedUnconfirmed => "released_unconfirmed",
            MessageKind::Survey => "survey",
        }
    }
}

impl MessageKind {
    /// Whether the message is about an invitation (else about a booking).
    pub fn is_about_invitation(self) -> bool {
        matches!(
            self,
            MessageKind::Invitation | MessageKind::InvitationReminder
        )
    }

    /// Whether this message, delivered, stands for a registered letter the office no longer
    /// sends: an invitation, or the confirmation of a booking no invitation preceded (for one that
    /// did, the invitation was the letter).
    pub fn replaces_letter(self, booked_through_invitation: bool) -> bool {
        match self {
            MessageKind::Invitation => true,
            MessageKind::Confirmed => !booked_through_invitation,
            _ => false,
        }
    }

    pub fn is_cancellation(self) -> bool {
        matches!(
            self,
            MessageKind::CancelledByApplicant
                | MessageKind::CancelledByOffice
                | MessageKind::ReleasedUnconfirmed
        )
    }
}

/// Where an outbox message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Sending,
    Sent,
    /// Given up after the last attempt; staff can retry it.
    Failed,
    /// The mail server refused the recipient for good (a permanent 5xx): not tried again.
    Bounced,
    /// Not sent because a later change made it stale (a reminder for a cancelled visit…).
    Suppressed,
}

impl Named for DeliveryStatus {
    const ALL: &'static [DeliveryStatus] = &[
        DeliveryStatus::Pending,
        DeliveryStatus::Sending,
        DeliveryStatus::Sent,
        DeliveryStatus::Failed,
        DeliveryStatus::Bounced,
        DeliveryStatus::Suppressed,
    ];

    fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sending => "sending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Bounced => "bounced",
            DeliveryStatus::Suppressed => "suppressed",
        }
    }
}

// An outbox message as staff see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutboxEntry {
    #[schema(value_type = i64)]
    pub id: OutboxId,
    /// The booking or invitation the message is about.
    pub reference: String,
    pub kind: MessageKind,
    pub recipient: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    /// Why the last attempt failed (or why the message was suppressed).
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// How long to wait before attempt `attempts + 1`: doubling from `base`, capped at `max`, then
/// spread by up to ±20% (`jitter` in 0..1) so that many failures do not retry in lockstep.
pub fn retry_delay(attempts: i32, base: Duration, max: Duration, jitter: f64) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    let delay = base.saturating_mul(1 << doublings).min(max);
    delay.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_with_jitter_up_to_a_cap() {
        let base = Duration::from_secs(30);
        let max = Duration::from_secs(3600);
        let middle = |attempts| retry_delay(attempts, base, max, 0.5);
        assert_eq!(middle(1), Duration::from_secs(30));
        assert_eq!(middle(2), Duration::from_secs(60));
        assert_eq!(middle(4), Duration::from_secs(240));
        assert_eq!(middle(30), max);
        assert_eq!(retry_delay(1, base, max, 0.0), Duration::from_secs(24));
        assert_eq!(retry_delay(1, base, max, 1.0), Duration::from_secs(36));
    }

    #[test]
    fn kinds_and_statuses_read_back() {
        for kind in MessageKind::ALL {
            assert_eq!(MessageKind::parse(kind.as_str()), Ok(*kind));
        }
        assert_eq!(DeliveryStatus::parse("failed"), Ok(DeliveryStatus::Failed));
        let refused = DeliveryStatus::parse("lost").unwrap_err();
        assert_eq!(
            refused.message(),
            "must be one of pending, sending, sent, failed, bounced, suppressed"
        );
        assert!(MessageKind::CancelledByOffice.is_cancellation());
    }
}
