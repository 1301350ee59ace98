//! Where the bookings of an unexpected closure go: each to the earliest free seat of its own
//! service, earlier bookers first, by the same share rules a booking claims seats by (the web
//! only the web's share, the desk any seat). Stated once, for the dry run and the real run
//! alike: whatever the office is shown is what happens.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    booking::Channel,
    ids::{BookingId, ServiceId, SlotId},
    seats::Seats,
    validation::Named,
};

/// What a closure does to the bookings inside it, as staff choose when they close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Affected {
    /// Leave them in place and report them, for the office to contact the applicants.
    #[default]
    Keep,
    /// Move each to the earliest free seat of its service (cancelled, with the closure's
    /// reason, when there is none).
    Move,
    /// Cancel each, with the closure's reason.
    Cancel,
}

impl Named for Affected {
    const ALL: &'static [Affected] = &[Affected::Keep, Affected::Move, Affected::Cancel];

    fn as_str(self) -> &'static str {
        match self {
            Affected::Keep => "keep",
            Affected::Move => "move",
            Affected::Cancel => "cancel",
        }
    }
}

/// Where a closure's background job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for an instance to take it up.
    Pending,
    Running,
    /// Everything done, in one transaction.
    Done,
    /// Nothing done: the transaction failed and was rolled back.
    Failed,
}

impl Named for JobStatus {
    const ALL: &'static [JobStatus] = &[
        JobStatus::Pending,
        JobStatus::Running,
        JobStatus::Done,
        JobStatus::Failed,
    ];

    fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
        }
    }
}

/// A booking the closure displaces.
#[derive(Debug, Clone)]
pub struct Displaced {
    pub booking: BookingId,
    pub service: ServiceId,
    pub channel: Channel,
}

/// A slot a displaced booking could go to, with its seats as they are now.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub slot: SlotId,
    pub starts_at: DateTime<Utc>,
    /// The services its calendar serves.
    pub services: Vec<ServiceId>,
    pub seats: Seats,
}

/// What becomes of one displaced booking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    Moved {
        booking: BookingId,
        to: SlotId,
        starts_at: DateTime<Utc>,
    },
    /// No free seat of its service fits it: the office cancels it.
    Unplaced { booking: BookingId },
}

/// Places `displaced`, given in booking order (earlier bookers first, so they get the earlier
/// seats), into `candidates` (any order; those inside the closure must not be among them).
/// `fits` says whether a booking's own rules allow a slot (a registered case ready on that
/// day, say); seats are only counted here. Runs in one pass over the candidates per service
/// and channel, so ten thousand bookings over a year of slots stay quick.
pub fn place(
    displaced: &[Displaced],
    mut candidates: Vec<Candidate>,
    mut fits: impl FnMut(&Displaced, &Candidate) -> bool,
) -> Vec<Placement> {
    candidates.sort_by_key(|candidate| (candidate.starts_at, candidate.slot));
    // Per service and channel, the first candidate that may still have a seat for it: seats
    // only run out, so whatever lies before it stays useless to later bookings.
    let mut first_useful: std::collections::HashMap<(ServiceId, Channel), usize> =
        std::collections::HashMap::new();
    displaced
        .iter()
        .map(|booking| {
            let key = (booking.service, booking.channel);
            let start = first_useful.get(&key).copied().unwrap_or(0);
            let mut exhausted_until = start;
            let mut found = None;
            for (index, candidate) in candidates.iter().enumerate().skip(start) {
                let useful = candidate.services.contains(&booking.service)
                    && free_for(candidate.seats, booking.channel) > 0;
                if !useful {
                    if exhausted_until == index {
                        exhausted_until = index + 1;
                    }
                    continue;
                }
                if fits(booking, candidate) {
                    found = Some(index);
                    break;
                }
            }
            first_useful.insert(key, exhausted_until);
            match found {
                Some(index) => {
                    let candidate = &mut candidates[index];
                    take(&mut candidate.seats, booking.channel);
                    Placement::Moved {
                        booking: booking.booking,
                        to: candidate.slot,
                        starts_at: candidate.starts_at,
                    }
                }
                None => Placement::Unplaced {
                    booking: booking.booking,
                },
            }
        })
        .collect()
}

/// Seats a booking of `channel` may take, by the rules bookings claim seats by.
fn free_for(seats: Seats, channel: Channel) -> i32 {
    match channel {
        Channel::Web => seats.web_available(),
        Channel::Desk => seats.desk_available(),
    }
}

fn take(seats: &mut Seats, channel: Channel) {
    match channel {
        Channel::Web => seats.booked_web += 1,
        Channel::Desk => seats.booked_desk += 1,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const DOCUMENTS: ServiceId = ServiceId::new(1);
    const PERMITS: ServiceId = ServiceId::new(2);

    fn booking(id: i64, service: ServiceId, channel: Channel) -> Displaced {
        Displaced {
            booking: BookingId::new(id),
            service,
            channel,
        }
    }

    /// Slot `id` at `hour`:00 serving `services`, with `capacity` seats of which `held` for
    /// the desk and none taken.
    fn slot(id: i64, hour: u32, services: &[ServiceId], capacity: i32, held: i32) -> Candidate {
        Candidate {
            slot: SlotId::new(id),
            starts_at: Utc.with_ymd_and_hms(2027, 3, 1, hour, 0, 0).unwrap(),
            services: services.to_vec(),
            seats: Seats {
                capacity,
                held_for_desk: held,
                booked_web: 0,
                booked_desk: 0,
                cooling: 0,
            },
        }
    }

    fn destinations(placements: &[Placement]) -> Vec<Option<i64>> {
        placements
            .iter()
            .map(|placement| match placement {
                Placement::Moved { to, .. } => Some(to.get()),
                Placement::Unplaced { .. } => None,
            })
            .collect()
    }

    #[test]
    fn earlier_bookers_get_the_earlier_seats_of_their_own_service() {
        let displaced = [
            booking(1, DOCUMENTS, Channel::Web),
            booking(2, PERMITS, Channel::Web),
            booking(3, DOCUMENTS, Channel::Web),
            booking(4, DOCUMENTS, Channel::Web),
        ];
        // Given late first: the order of candidates does not matter, their time does.
        let candidates = vec![
            slot(30, 11, &[DOCUMENTS], 5, 0),
            slot(10, 9, &[DOCUMENTS], 2, 0),
            slot(20, 10, &[PERMITS], 5, 0),
        ];
        let placed = place(&displaced, candidates, |_, _| true);
        assert_eq!(
            destinations(&placed),
            [Some(10), Some(20), Some(10), Some(30)]
        );
    }

    #[test]
    fn the_web_keeps_out_of_the_desks_share_and_the_desk_may_take_any_seat() {
        let displaced = [
            booking(1, DOCUMENTS, Channel::Web),
            booking(2, DOCUMENTS, Channel::Web),
            booking(3, DOCUMENTS, Channel::Desk),
            booking(4, DOCUMENTS, Channel::Desk),
        ];
        // Two seats at 9:00, one held for the desk; one seat at 10:00.
        let candidates = vec![
            slot(10, 9, &[DOCUMENTS], 2, 1),
            slot(20, 10, &[DOCUMENTS], 1, 0),
        ];
        let placed = place(&displaced, candidates, |_, _| true);
        assert_eq!(destinations(&placed), [Some(10), Some(20), Some(10), None]);
    }

    #[test]
    fn a_booking_whose_rules_refuse_a_time_takes_the_next_and_leaves_that_one_to_others() {
        let displaced = [
            booking(1, DOCUMENTS, Channel::Web),
            booking(2, DOCUMENTS, Channel::Web),
        ];
        let candidates = vec![
            slot(10, 9, &[DOCUMENTS], 1, 0),
            slot(20, 10, &[DOCUMENTS], 1, 0),
        ];
        // Booking 1's case is not ready on the first time.
        let not_first =
            |b: &Displaced, c: &Candidate| !(b.booking.get() == 1 && c.slot.get() == 10);
        let placed = place(&displaced, candidates, not_first);
        assert_eq!(destinations(&placed), [Some(20), Some(10)]);
    }

    #[test]
    fn what_no_seat_fits_is_left_unplaced_and_nothing_is_sold_twice() {
        let displaced: Vec<Displaced> = (1..=1000)
            .map(|id| booking(id, DOCUMENTS, Channel::Web))
            .collect();
        let candidates: Vec<Candidate> = (0..100)
            .map(|i| slot(i, 8 + (i as u32 % 10), &[DOCUMENTS], 3, 0))
            .collect();
        let placed = place(&displaced, candidates, |_, _| true);
        let moved = placed
            .iter()
            .filter(|p| matches!(p, Placement::Moved { .. }))
            .count();
        assert_eq!(moved, 300, "three seats in each of a hundred times");
        let mut per_slot = std::collections::HashMap::new();
        for placement in &placed {
            if let Placement::Moved { to, .. } = placement {
                *per_slot.entry(*to).or_insert(0) += 1;
            }
        }
        assert!(per_slot.values().all(|taken| *taken == 3));
        // Earlier bookers are never later than later ones.
        let times: Vec<_> = placed
            .iter()
            .filter_map(|p| match p {
                Placement::Moved { starts_at, .. } => Some(*starts_at),
                Placement::Unplaced { .. } => None,
            })
            .collect();
        assert!(times.windows(2).all(|pair| pair[0] <= pair[1]));
    }
}
