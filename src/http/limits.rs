//! Request limits per client address, by group of routes: logging in, booking (book, move,
//! cancel), staff work (any request with a bearer token), and the rest of the public API. Each
//! client address (see [`ClientAddress`]) has a budget per group that refills steadily (GCRA,
//! the `governor` crate) and allows a burst; past it the answer is 429 `rate_limited` with
//! `Retry-After`. Every answer in a limited group says where the client stands:
//! `RateLimit-Limit` (the burst), `RateLimit-Remaining`, `RateLimit-Reset` (seconds until the
//! budget is whole again) and `RateLimit-Policy`.
//!
//! The counts live in this instance's memory, by design: they are checked on every request, a
//! database round trip each would cost more than the requests they stop, and N instances behind
//! a balancer letting N times the rate through is still a bound. What must hold across
//! instances (failed logins) is counted in the database by the use case instead.
//!
//! Health, readiness and metrics are never limited: the balancer and Prometheus ask often.

use std::{
    num::NonZeroU32,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use actix_web::{
    HttpResponse, ResponseError,
    body::{EitherBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{
        Method, StatusCode,
        header::{self, HeaderName, HeaderValue},
    },
    middleware::Next,
    web,
};
use governor::{
    Quota, RateLimiter, clock::Clock, middleware::StateInformationMiddleware,
    state::keyed::DefaultKeyedStateStore,
};

use super::{
    AppState,
    client::{ClientAddress, client_address},
    problem::ApiError,
};
use crate::config::{RateLimitSettings, ServerSettings};

/// The groups of routes that have a budget each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Login,
    Bookings,
    Staff,
    Public,
}

impl Group {
    /// The group a request belongs to; `None` for what is never limited.
    pub fn of(method: &Method, path: &str, has_bearer: bool) -> Option<Group> {
        if matches!(path, "/health" | "/ready" | "/metrics") {
            return None;
        }
        if matches!(path, "/api/v1/auth/login" | "/api/v1/auth/token") {
            return Some(Group::Login);
        }
        if has_bearer {
            return Some(Group::Staff);
        }
        // Every form of the applicant pages changes a booking (or asks to).
        let page_form = *method == Method::POST && !path.starts_with("/api/");
        let booking = page_form
            || *method == Method::POST
                && ((path.starts_with("/api/v1/offices/")
                    && (path.ends_with("/bookings") || path.ends_with("/entries")))
                    || (path.starts_with("/api/v1/bookings/")
                        && (path.ends_with("/cancel") || path.ends_with("/reschedule"))));
        Some(if booking {
            Group::Bookings
        } else {
            Group::Public
        })
    }
}

type Limiter = RateLimiter<
    ClientAddress,
    DefaultKeyedStateStore<ClientAddress>,
    governor::clock::DefaultClock,
    StateInformationMiddleware,
>;

/// One group's budget and the clients' standing against it.
struct Budget {
    limiter: Limiter,
    burst: u32,
    refill: Duration,
}

impl Budget {
    fn new(per_minute: u32, burst: u32) -> Option<Budget> {
        let per_minute = NonZeroU32::new(per_minute)?;
        let burst = NonZeroU32::new(burst)?;
        let quota = Quota::per_minute(per_minute).allow_burst(burst);
        Some(Budget {
            limiter: RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>(),
            burst: burst.get(),
            refill: quota.replenish_interval(),
        })
    }

    fn headers(&self, remaining: u32) -> [(HeaderName, String); 4] {
        let whole_again = self.refill * (self.burst - remaining.min(self.burst));
        let window = self.refill * self.burst;
        [
            (RATELIMIT_LIMIT, self.burst.to_string()),
            (RATELIMIT_REMAINING, remaining.to_string()),
            (RATELIMIT_RESET, seconds_up(whole_again).to_string()),
            (
                RATELIMIT_POLICY,
                format!("{};w={}", self.burst, seconds_up(window)),
            ),
        ]
    }
}

const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

fn seconds_up(duration: Duration) -> u64 {
    duration.as_millis().div_ceil(1000) as u64
}

/// Every group's budget, and where client addresses come from.
pub struct Limits {
    login: Option<Budget>,
    bookings: Option<Budget>,
    staff: Option<Budget>,
    public: Option<Budget>,
    client_address_header: Option<HeaderName>,
    /// When the budgets last forgot clients that are back to a whole budget (seconds).
    last_tidy: AtomicU64,
}

impl Limits {
    pub fn from_settings(limits: &RateLimitSettings, server: &ServerSettings) -> Limits {
        let budget = |per_minute, burst| {
            limits
                .enabled
                .then(|| Budget::new(per_minute, burst))
                .flatten()
        };
        Limits {
            login: budget(limits.login_per_minute, limits.login_burst),
            bookings: budget(limits.bookings_per_minute, limits.bookings_burst),
            staff: budget(limits.staff_per_minute, limits.staff_burst),
            public: budget(limits.public_per_minute, limits.public_burst),
            client_address_header: server.client_address_header(),
            last_tidy: AtomicU64::new(0),
        }
    }

    pub fn client_address_header(&self) -> Option<&HeaderName> {
        self.client_address_header.as_ref()
    }

    fn budget(&self, group: Group) -> Option<&Budget> {
        match group {
            Group::Login => self.login.as_ref(),
            Group::Bookings => self.bookings.as_ref(),
            Group::Staff => self.staff.as_ref(),
            Group::Public => self.public.as_ref(),
        }
    }

    /// Forgets, once a minute, the clients whose budget is whole again, so that memory follows
    /// the clients of the last minutes, not every address ever seen.
    fn tidy(&self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let last = self.last_tidy.load(Ordering::Relaxed);
        if now.saturating_sub(last) < 60
            || self
                .last_tidy
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        for budget in [&self.login, &self.bookings, &self.staff, &self.public]
            .into_iter()
            .flatten()
        {
            budget.limiter.retain_recent();
            budget.limiter.shrink_to_fit();
        }
    }
}

/// Middleware: counts the request against its group's budget for its client address; past the
/// budget answers 429 without running the handler.
pub async fn limit(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let has_bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("bearer ")
        });
    let group = Group::of(req.method(), req.path(), has_bearer);
    let Some(budget) = group.and_then(|group| state.limits.budget(group)) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    state.limits.tidy();
    let client = client_address(req.request(), state.limits.client_address_header());
    match budget.limiter.check_key(&client) {
        Ok(standing) => {
            let mut response = next.call(req).await?;
            let headers = response.headers_mut();
            for (name, value) in budget.headers(standing.remaining_burst_capacity()) {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    headers.insert(name, value);
                }
            }
            Ok(response.map_into_left_body())
        }
        Err(refused) => {
            let wait = refused.wait_time_from(budget.limiter.clock().now());
            tracing::info!(%client, ?group, wait_ms = wait.as_millis() as u64, "rate limited");
            let mut error = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "Too many requests from your address. Try again in {} second(s).",
                    seconds_up(wait).max(1)
                ),
            )
            .with_header(header::RETRY_AFTER, seconds_up(wait).max(1).to_string());
            for (name, value) in budget.headers(0) {
                error = error.with_header(name, value);
            }
            let response: HttpResponse = error.error_response();
            Ok(req.into_response(response).map_into_right_body())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_fall_into_their_groups() {
        let post = Method::POST;
        let get = Method::GET;
        assert_eq!(
            Group::of(&post, "/api/v1/auth/login", false),
            Some(Group::Login)
        );
        assert_eq!(
            Group::of(&post, "/api/v1/offices/RM/bookings", false),
            Some(Group::Bookings)
        );
        assert_eq!(
            Group::of(&post, "/api/v1/bookings/K7P3-Q9XD/reschedule", false),
            Some(Group::Bookings)
        );
        assert_eq!(
            Group::of(&post, "/api/v1/offices/RM/bookings", true),
            Some(Group::Staff)
        );
        assert_eq!(
            Group::of(&get, "/api/v1/offices/RM/availability", false),
            Some(Group::Public)
        );
        assert_eq!(Group::of(&get, "/health", false), None);
        assert_eq!(Group::of(&get, "/metrics", true), None);
    }

    #[test]
    fn a_budget_allows_its_burst_then_refuses_and_says_so() {
        let budget = Budget::new(60, 3).unwrap();
        let client = ClientAddress::new("203.0.113.7".parse().unwrap());
        let remaining: Vec<u32> = (0..3)
            .map(|_| {
                budget
                    .limiter
                    .check_key(&client)
                    .unwrap()
                    .remaining_burst_capacity()
            })
            .collect();
        assert_eq!(remaining, [2, 1, 0]);
        assert!(budget.limiter.check_key(&client).is_err());
        let other = ClientAddress::new("203.0.113.8".parse().unwrap());
        assert!(budget.limiter.check_key(&other).is_ok());
        let headers = budget.headers(0);
        assert_eq!(headers[0].1, "3");
        assert_eq!(headers[2].1, "3", "a second a seat at 60 a minute");
        assert_eq!(headers[3].1, "3;w=3");
        assert!(Budget::new(0, 3).is_none(), "0 turns a group off");
    }
}
