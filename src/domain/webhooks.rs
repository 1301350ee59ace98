//! Webhooks as the Standard Webhooks specification (standardwebhooks.com) describes them: a
//! subscription's URL and event types, how each delivery is signed, and when a failed one is
//! tried again.

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use serde::Serialize;
use utoipa::ToSchema;

use super::{
    events::PUBLIC_TYPES,
    validation::{Invalid, Named},
};

/// Where a delivery stands: waiting for its turn (again, after a failed attempt), being posted,
/// delivered (the receiver answered 2xx), or failed for good after its last attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    Pending,
    Sending,
    Delivered,
    Failed,
}

impl Named for DeliveryState {
    const ALL: &'static [DeliveryState] = &[
        DeliveryState::Pending,
        DeliveryState::Sending,
        DeliveryState::Delivered,
        DeliveryState::Failed,
    ];

    fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Sending => "sending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }
}

/// Where deliveries are posted: `http://` or `https://`, a host name or an IPv4 address, an
/// optional port, and a path of visible ASCII characters; at most 2,000 characters. Read by
/// hand rather than by a URL parser, which accepts far more (`http://1.2.3.4*`), so that the
/// rule is exactly the OpenAPI document's pattern (`schema::webhook_url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    pub const MAX_CHARS: usize = 2000;

    pub fn parse(text: &str) -> Result<WebhookUrl, Invalid> {
        let invalid = || {
            Invalid::new(
                "must be an http:// or https:// URL with a host name or IPv4 address, an optional \
                 port and a path of visible ASCII characters",
            )
        };
        if text.chars().count() > Self::MAX_CHARS {
            return Err(Invalid::new("must be at most 2000 characters"));
        }
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"))
            .ok_or_else(invalid)?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if !path.bytes().all(|b| (b'!'..=b'~').contains(&b)) {
            return Err(invalid());
        }
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let port_ok = port.is_none_or(|port| {
            !port.starts_with('0')
                && port.len() <= 5
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !port_ok || !(is_ipv4(host) || is_host_name(host)) {
            return Err(invalid());
        }
        url::Url::parse(text).map_err(|_| invalid())?;
        Ok(WebhookUrl(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Four decimal octets, 0 to 255, without leading zeros.
fn is_ipv4(host: &str) -> bool {
    let octets: Vec<&str> = host.split('.').collect();
    octets.len() == 4
        && octets.iter().all(|octet| {
            !octet.is_empty()
                && octet.len() <= 3
                && octet.bytes().all(|b| b.is_ascii_digit())
                && (octet.len() == 1 || !octet.starts_with('0'))
                && octet.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

/// Labels of letters, digits and inner hyphens, separated by dots; the last starts with a
/// letter (so that it is not an address).
fn is_host_name(host: &str) -> bool {
    let labels: Vec<&str> = host.split('.').collect();
    let label_ok = |label: &&str| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    labels.iter().all(label_ok)
        && labels
            .last()
            .is_some_and(|last| last.starts_with(|c: char| c.is_ascii_alphabetic()))
}

/// The event types a subscription wants; empty for all of them.
pub fn parse_event_types(types: &[String]) -> Result<Vec<String>, Invalid> {
    let mut chosen = Vec::new();
    for name in types {
        if !PUBLIC_TYPES.contains(&name.as_str()) {
            return Err(Invalid::one_of(PUBLIC_TYPES.iter().copied()));
        }
        if !chosen.contains(name) {
            chosen.push(name.clone());
        }
    }
    Ok(chosen)
}

/// The `webhook-signature` header of a delivery: `v1,` and the base64 HMAC-SHA256, under the
/// subscription's secret (`whsec_` and base64 key bytes), of `{id}.{timestamp}.{body}`.
pub fn signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = STANDARD.decode(secret.strip_prefix("whsec_")?).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// How long to wait before attempt `attempts + 1`, after `attempts` failed ones: doubling from
/// `base_seconds`, at most six hours.
pub fn retry_delay_seconds(base_seconds: u64, attempts: i32) -> u64 {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(0);
    base_seconds.saturating_mul(1u64 << doublings).min(6 * 3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_is_signed_as_the_standard_webhooks_example_is() {
        // The example of the specification's reference libraries.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let signed = signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(
            signed.as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
        assert_eq!(signature("not-a-secret", "msg", 1, body), None);
    }

    #[test]
    fn urls_and_event_types_are_checked() {
        assert!(WebhookUrl::parse("https://spi.example.it/hooks/sportello").is_ok());
        assert!(WebhookUrl::parse("http://127.0.0.1:8080/in").is_ok());
        for bad in [
            "ftp://x.example/",
            "https://user:pw@x.example/",
            "/relative",
            "",
        ] {
            assert!(WebhookUrl::parse(bad).is_err(), "{bad:?}");
        }
        let types = parse_event_types(&["booking.cancelled".into(), "booking.cancelled".into()]);
        assert_eq!(types.unwrap(), ["booking.cancelled"]);
        assert!(parse_event_types(&["booking.eaten".into()]).is_err());
    }

    #[test]
    fn retries_wait_twice_as_long_each_time_up_to_six_hours() {
        let waits: Vec<u64> = (1..=4).map(|n| retry_delay_seconds(30, n)).collect();
        assert_eq!(waits, [30, 60, 120, 240]);
        assert_eq!(retry_delay_seconds(30, 1000), 6 * 3600);
        assert_eq!(retry_delay_seconds(u64::MAX, 3), 6 * 3600);
        assert_eq!(retry_delay_seconds(0, 5), 0);
    }
}
