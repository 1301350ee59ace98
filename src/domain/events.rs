//! Events as the case system reads them: what happened to a booking or an invitation,
//! under a public type name, at a place in the feed that a reader can resume from.

use std::fmt;

use super::{booking::EventKind, validation::Invalid};

/// What an event's data becomes once the personal data it copied is erased (retention, or a data
/// subject's request): the event stays in the feed, its data says only that.
pub const ANONYMISED_DATA: &str = r#"{"anonymised":true}"#;

/// The public name of what happened. One history kind maps to one type; both cancellations are
/// `booking.cancelled`, and the event's `by` says who cancelled.
pub fn public_type(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Confirmed => "booking.confirmed",
        EventKind::Rescheduled => "booking.rescheduled",
        EventKind::CancelledByApplicant | EventKind::CancelledByOffice => "booking.cancelled",
        EventKind::CheckedIn => "booking.checked_in",
        EventKind::Attended => "booking.attended",
        EventKind::NoShow => "booking.no_show",
        EventKind::InvitationSent => "invitation.sent",
        EventKind::InvitationBooked => "invitation.booked",
        EventKind::InvitationExtended => "invitation.extended",
        EventKind::InvitationCancelled => "invitation.cancelled",
        EventKind::InvitationExpired => "invitation.expired",
    }
}

/// Every public type, for subscriptions to choose from.
pub const PUBLIC_TYPES: [&str; 11] = [
    "booking.confirmed",
    "booking.rescheduled",
    "booking.cancelled",
    "booking.checked_in",
    "booking.attended",
    "booking.no_show",
    "invitation.sent",
    "invitation.booked",
    "invitation.extended",
    "invitation.cancelled",
    "invitation.expired",
];

/// A place in the feed: after the event `id` written by transaction `tx` (PostgreSQL's
/// transaction id; 0 on SQLite, whose ids are already in commit order). Sent to clients as the
/// opaque text `<tx>-<id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Cursor {
    pub tx: i64,
    pub id: i64,
}

impl Cursor {
    /// Before every event.
    pub const START: Cursor = Cursor { tx: 0, id: 0 };

    pub fn parse(text: &str) -> Result<Cursor, Invalid> {
        let invalid = || Invalid::new("must be a cursor this service gave, such as `0-0`");
        let (tx, id) = text.split_once('-').ok_or_else(invalid)?;
        let number = |part: &str| {
            (!part.is_empty() && part.len() <= 19 && part.bytes().all(|b| b.is_ascii_digit()))
                .then(|| part.parse::<i64>().ok())
                .flatten()
                .ok_or_else(invalid)
        };
        Ok(Cursor {
            tx: number(tx)?,
            id: number(id)?,
        })
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.tx, self.id)
    }
}

/// The stable id of event `id`, as feeds and webhooks (`webhook-id`) carry it.
pub fn event_id(id: i64) -> String {
    format!("evt_{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_what_it_wrote_and_nothing_else() {
        let cursor = Cursor { tx: 7_340, id: 12 };
        assert_eq!(Cursor::parse(&cursor.to_string()).unwrap(), cursor);
        assert_eq!(Cursor::parse("0-0").unwrap(), Cursor::START);
        for bad in [
            "",
            "12",
            "-1-2",
            "1--2",
            "a-1",
            "1-",
            "99999999999999999999-1",
            "1-2-3",
        ] {
            assert!(Cursor::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Cursor { tx: 5, id: 100 } < Cursor { tx: 6, id: 1 });
    }

    #[test]
    fn every_kind_has_a_public_type_listed() {
        use crate::domain::validation::Named;
        for kind in EventKind::ALL {
            assert!(PUBLIC_TYPES.contains(&public_type(*kind)));
        }
    }
}
