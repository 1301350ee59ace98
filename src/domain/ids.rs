//! Typed row ids: a function that wants a slot says `SlotId`, and an office's id cannot be
//! passed in its place. Each is an `i64` in the database and a plain number in JSON.

use std::fmt;

use diesel_derive_newtype::DieselNewType;
use serde::{Deserialize, Serialize};

macro_rules! typed_ids {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            DieselNewType, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            pub const fn new(id: i64) -> $name {
                $name(id)
            }

            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

typed_ids! {
    /// An office (one per prefecture).
    OfficeId;
    /// The survey sent after one attended visit.
    SurveyId;
    /// A type in the national catalogue.
    AppointmentTypeId;
    /// A catalogue type as one office offers it (an office service).
    ServiceId;
    /// A calendar: a group of desks serving in parallel.
    CalendarId;
    /// A published slot.
    SlotId;
    /// One of an office's own closures.
    ClosureId;
    /// A closure whose bookings a background job moves or cancels.
    ClosureJobId;
    /// A booking.
    BookingId;
    /// An invitation to book (convocazione).
    InvitationId;
    /// A lottery draw: one release of a service's seats, shared out by lot.
    DrawId;
    /// An applicant's entry in a lottery draw.
    EntryId;
    /// A booking's request for an earlier seat.
    WaitRequestId;
    /// An earlier seat held for a waiting booking.
    OfferId;
    /// A staff account.
    StaffId;
    /// A message in the mail outbox.
    OutboxId;
    /// An entry of the audit log.
    AuditEntryId;
    /// One failed login counted by the throttle.
    LoginAttemptId;
    /// A machine account of the case system.
    IntegrationClientId;
    /// A case the case system registered with an office.
    CaseId;
    /// One attempt at a registered case's verification secret, counted by the throttle.
    CaseGuessId;
    /// An event in the log the case system reads.
    EventId;
    /// Where an office's events are posted.
    WebhookSubscriptionId;
    /// One event posted to one subscription.
    WebhookDeliveryId;
}
