//! The draw: seats shared out among entries by lot, reproducibly.
//!
//! Entries are put in a random order (a Fisher–Yates shuffle driven by the draw's seed), then
//! served in that order, each taking the first of its choices that still has a seat (random
//! serial dictatorship: a fair lottery that honours preferences where it can). The random
//! numbers are `SHA-256(seed ‖ counter)` (counter a big-endian u64 from 0), first 8 bytes as a
//! big-endian u64, drawn below a bound by rejection: anyone with the published seed and the
//! entries can redo the draw in any language and find the same winners.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::ids::{EntryId, SlotId};

/// A draw's secret until the draw: 32 random bytes, written as hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed([u8; 32]);

impl Seed {
    pub fn random() -> Seed {
        Seed(rand::random())
    }

    pub fn from_hex(text: &str) -> Option<Seed> {
        if text.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Seed(bytes))
    }

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// What is published before the draw: SHA-256 of the seed's hex text, so that anyone can
    /// check the seed shown afterwards is the one committed to.
    pub fn commitment(&self) -> String {
        format!("{:x}", Sha256::digest(self.to_hex().as_bytes()))
    }
}

/// The stream of random numbers a seed gives.
struct Stream<'a> {
    seed: &'a Seed,
    counter: u64,
}

impl Stream<'_> {
    fn next_u64(&mut self) -> u64 {
        let mut digest = Sha256::new();
        digest.update(self.seed.0);
        digest.update(self.counter.to_be_bytes());
        self.counter += 1;
        let hash = digest.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&hash[..8]);
        u64::from_be_bytes(first)
    }

    /// Uniform in `0..bound` (`bound` > 0), without modulo bias.
    fn below(&mut self, bound: u64) -> u64 {
        let zone = u64::MAX - (u64::MAX % bound);
        loop {
            let value = self.next_u64();
            if value < zone {
                return value % bound;
            }
        }
    }
}

/// One valid entry, as the draw sees it: the slots it would take, most wanted first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ballot {
    pub entry: EntryId,
    pub choices: Vec<SlotId>,
}

/// What the draw gave one entry, in the order the entries were served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub entry: EntryId,
    /// The seat won, or none.
    pub slot: Option<SlotId>,
}

/// Draws: orders the ballots (taken in ascending entry id, whatever order they come in) by
/// lot, then serves each the first of its choices with a seat left in `seats`.
pub fn draw(seed: &Seed, ballots: &[Ballot], seats: &BTreeMap<SlotId, i32>) -> Vec<Outcome> {
    let mut order: Vec<&Ballot> = ballots.iter().collect();
    order.sort_by_key(|ballot| ballot.entry);
    let mut stream = Stream { seed, counter: 0 };
    for i in (1..order.len()).rev() {
        let j = stream.below(i as u64 + 1) as usize;
        order.swap(i, j);
    }
    let mut left = seats.clone();
    order
        .into_iter()
        .map(|ballot| {
            let slot = ballot.choices.iter().copied().find(|slot| {
                left.get_mut(slot)
                    .filter(|free| **free > 0)
                    .map(|free| *free -= 1)
                    .is_some()
            });
            Outcome {
                entry: ballot.entry,
                slot,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn seed(n: u64) -> Seed {
        Seed(Sha256::digest(n.to_be_bytes()).into())
    }

    fn ballots(count: i64, choices: &[i64]) -> Vec<Ballot> {
        (1..=count)
            .map(|id| Ballot {
                entry: EntryId::new(id),
                choices: choices.iter().map(|&s| SlotId::new(s)).collect(),
            })
            .collect()
    }

    #[test]
    fn the_seed_round_trips_and_its_commitment_is_its_hash() {
        let seed = seed(7);
        assert_eq!(Seed::from_hex(&seed.to_hex()), Some(seed.clone()));
        assert_eq!(seed.commitment().len(), 64);
        assert_ne!(seed.commitment(), seed.to_hex());
        assert_eq!(Seed::from_hex("zz"), None);
    }

    #[test]
    fn every_seat_goes_once_and_the_same_seed_gives_the_same_winners() {
        let seats = BTreeMap::from([(SlotId::new(1), 3), (SlotId::new(2), 2)]);
        let ballots = ballots(50, &[1, 2]);
        let first = draw(&seed(1), &ballots, &seats);
        let won: Vec<_> = first.iter().filter_map(|o| o.slot).collect();
        assert_eq!(won.len(), 5);
        assert_eq!(won.iter().filter(|s| s.get() == 1).count(), 3);
        let mut shuffled = ballots.clone();
        shuffled.reverse();
        assert_eq!(draw(&seed(1), &shuffled, &seats), first);
        assert_ne!(draw(&seed(2), &ballots, &seats), first);
    }

    #[test]
    fn preferences_are_honoured_in_the_order_given() {
        // Entry 1 wants slot 2 before slot 1; with seats for all, everyone gets their first.
        let seats = BTreeMap::from([(SlotId::new(1), 5), (SlotId::new(2), 5)]);
        let mut ballots = ballots(4, &[1, 2]);
        ballots[0].choices = vec![SlotId::new(2), SlotId::new(1)];
        let outcomes = draw(&seed(3), &ballots, &seats);
        for outcome in outcomes {
            let want = if outcome.entry.get() == 1 { 2 } else { 1 };
            assert_eq!(outcome.slot, Some(SlotId::new(want)));
        }
    }

    /// Over many seeds, every position in the order of entry wins as often as any other: the
    /// chi-square statistic of wins by entry position stays under the 0.1% critical value.
    #[test]
    fn the_draw_favours_no_entry_position() {
        let (entries, seats, rounds) = (40i64, 10, 4000u64);
        let slots = BTreeMap::from([(SlotId::new(1), seats)]);
        let ballots = ballots(entries, &[1]);
        let mut wins = vec![0f64; entries as usize];
        for round in 0..rounds {
            for outcome in draw(&seed(round), &ballots, &slots) {
                if outcome.slot.is_some() {
                    wins[(outcome.entry.get() - 1) as usize] += 1.0;
                }
            }
        }
        let expected = rounds as f64 * f64::from(seats) / entries as f64;
        let chi_square: f64 = wins.iter().map(|w| (w - expected).powi(2) / expected).sum();
        // 39 degrees of freedom: P(χ² > 72.06) = 0.001.
        assert!(chi_square < 72.06, "chi-square {chi_square:.1}: {wins:?}");
        // And early entries as a group do no better than late ones.
        let early: f64 = wins[..20].iter().sum();
        let late: f64 = wins[20..].iter().sum();
        assert!(
            (early - late).abs() / (early + late) < 0.03,
            "{early} vs {late}"
        );
        let distinct: BTreeSet<u64> = wins.iter().map(|w| *w as u64).collect();
        assert!(distinct.len() > 1, "the counts vary, as chance makes them");
    }
}
