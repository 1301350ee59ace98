//! How long a taken seat is still offered: while the load runs, seats are booked one at a time
//! on one instance, and after each acknowledgement every instance is asked for the
//! availability until none offers that seat any more.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use sportello::domain::ids::SlotId;

/// A free seat to take: its office's code, its slot, the slot's local day.
#[derive(Clone)]
pub struct Probe {
    pub office: String,
    pub slot: SlotId,
    pub date: NaiveDate,
}

#[derive(Default)]
pub struct Staleness {
    /// Per seat taken: from the booking's acknowledgement until the last instance asked stopped
    /// offering it.
    pub samples: Vec<Duration>,
    /// Seats that could not be taken, or that were still offered after five seconds.
    pub failures: usize,
    /// Why, the first time each way.
    pub reasons: Vec<String>,
}

impl Staleness {
    fn failed(&mut self, reason: String) {
        self.failures += 1;
        if !self.reasons.contains(&reason) {
            self.reasons.push(reason);
        }
    }

    pub fn line(&self) -> String {
        let mut sorted = self.samples.clone();
        sorted.sort();
        let (p50, max) = match sorted.len() {
            0 => (Duration::ZERO, Duration::ZERO),
            n => (sorted[n / 2], sorted[n - 1]),
        };
        format!(
            "   staleness: {} seats taken during the load, {} failures {:?}; a taken seat was last offered p50 {:.1} ms, max {:.1} ms after the booking was acknowledged\n",
            sorted.len(),
            self.failures,
            self.reasons,
            p50.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3
        )
    }
}

/// Takes the probes' seats through `book_at`, one every `every`, until `until`, and after each
/// asks every base in `ask_at` until it no longer offers the seat.
pub async fn measure(
    client: &reqwest::Client,
    book_at: &str,
    ask_at: &[String],
    probes: &[Probe],
    until: Instant,
    every: Duration,
) -> Staleness {
    let mut found = Staleness::default();
    for (n, probe) in probes.iter().enumerate() {
        if Instant::now() >= until {
            break;
        }
        let mut before = Vec::new();
        for base in ask_at {
            before.push(seats(client, base, probe).await);
        }
        let body = serde_json::json!({
            "slot_id": probe.slot, "case_number": format!("PROBE/{n}"), "full_name": "Amina Diallo",
            "email": format!("probe{n}@example.org"), "language": "fr",
        });
        let url = format!("{book_at}/api/v1/offices/{}/bookings", probe.office);
        let booked = client.post(url).json(&body).send().await;
        let refused = match booked {
            Ok(response) if response.status().as_u16() == 201 => None,
            Ok(response) => {
                let status = response.status();
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                Some(format!("booking answered {status} {}", body["code"]))
            }
            Err(error) => Some(format!("booking failed: {error}")),
        };
        if let Some(reason) = refused {
            found.failed(reason);
            continue;
        }
        let acknowledged = Instant::now();
        let mut stale = false;
        for (base, before) in ask_at.iter().zip(before) {
            let Some(before) = before else { continue };
            while seats(client, base, probe).await == Some(before) {
                if acknowledged.elapsed() > Duration::from_secs(5) {
                    stale = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        match stale {
            true => found.failed("still offered 5 s after the booking".into()),
            false => found.samples.push(acknowledged.elapsed()),
        }
        tokio::time::sleep(every).await;
    }
    found
}

/// The seats `base` offers in the probe's slot (`None`: not offered, or no answer).
async fn seats(client: &reqwest::Client, base: &str, probe: &Probe) -> Option<i64> {
    let url = format!(
        "{base}/api/v1/offices/{}/availability?service=document_delivery&from={}&to={}",
        probe.office, probe.date, probe.date
    );
    let answer: serde_json::Value = client.get(url).send().await.ok()?.json().await.ok()?;
    answer["days"]
        .as_array()?
        .iter()
        .flat_map(|day| day["slots"].as_array().into_iter().flatten())
        .find(|slot| slot["id"] == probe.slot.get())
        .and_then(|slot| slot["available"].as_i64())
}
