//! A slot's seats: how many the web and the desk may still book.

/// A slot's seat counters. The database keeps the same rules in its conditional updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seats {
    pub capacity: i32,
    /// Held back for the desk and phone channel.
    pub held_for_desk: i32,
    pub booked_web: i32,
    pub booked_desk: i32,
    /// Freed recently and not yet back on public sale.
    pub cooling: i32,
}

impl Seats {
    /// Seats the web may still book: every seat neither taken nor cooling down, except those
    /// held for the desk (seats the desk already took count against its share first).
    pub fn web_available(self) -> i32 {
        let free = self.capacity - self.booked_web - self.booked_desk - self.cooling;
        let web_share_left = self.capacity - self.held_for_desk - self.booked_web - self.cooling;
        free.min(web_share_left).max(0)
    }

    /// Seats the desk may still book: any seat not taken (staff may reuse a cooling seat).
    pub fn desk_available(self) -> i32 {
        (self.capacity - self.booked_web - self.booked_desk).max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_availability_leaves_the_desk_share_and_cooling_seats_alone() {
        let seats = |held, web, desk, cooling| Seats {
            capacity: 3,
            held_for_desk: held,
            booked_web: web,
            booked_desk: desk,
            cooling,
        };
        // (held for the desk, booked web, booked desk, cooling) → seats for the web, and why.
        let cases = [
            ((1, 0, 0, 0), 2, "one of three held for the desk"),
            ((1, 0, 1, 0), 2, "the desk used its own seat"),
            ((1, 0, 2, 0), 1, "the desk used one of the web's"),
            ((1, 2, 0, 0), 0, "the held seat is not for the web"),
            ((0, 3, 0, 0), 0, "all taken"),
            ((0, 1, 0, 1), 1, "a freed seat cools down first"),
        ];
        for ((held, web, desk, cooling), available, why) in cases {
            assert_eq!(
                seats(held, web, desk, cooling).web_available(),
                available,
                "{why}"
            );
        }
        assert_eq!(
            seats(0, 1, 0, 1).desk_available(),
            2,
            "the desk may use it at once"
        );
    }
}
