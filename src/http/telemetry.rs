//! What every request leaves behind: a request id (echoed in `X-Request-Id`), a log line, the
//! cause of any 500, and Prometheus counters and latency histograms by route and status.

use std::time::Instant;

use actix_web::{
    HttpMessage,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header::{HeaderName, HeaderValue},
    middleware::Next,
    web,
};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use tracing::Instrument;

use super::{AppState, problem::ApiError};
use crate::{store::Store, worker::Workers};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request being served, for handlers that want to mention it.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// This instance's counters. Each instance keeps its own; Prometheus sums them across instances.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool_connections: IntGauge,
    pool_idle: IntGauge,
    worker_up: IntGaugeVec,
    worker_restarts: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new_custom(Some("sportello".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests answered, by route and status",
            ),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to answer HTTP requests",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["method", "route", "status"],
        )?;
        let pool_connections = IntGauge::new("db_pool_connections", "Database connections open")?;
        let pool_idle = IntGauge::new("db_pool_idle_connections", "Database connections idle")?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(pool_connections.clone()))?;
        registry.register(Box::new(pool_idle.clone()))?;
        let worker_up = IntGaugeVec::new(
            Opts::new(
                "worker_up",
                "1 while a background worker runs and finishes its rounds",
            ),
            &["worker"],
        )?;
        let worker_restarts = IntCounterVec::new(
            Opts::new(
                "worker_restarts_total",
                "Background workers started again after a panic or stop",
            ),
            &["worker"],
        )?;
        registry.register(Box::new(worker_up.clone()))?;
        registry.register(Box::new(worker_restarts.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            pool_connections,
            pool_idle,
            worker_up,
            worker_restarts,
        })
    }

    fn observe(&self, method: &str, route: &str, status: &str, seconds: f64) {
        let labels = [method, route, status];
        self.requests.with_label_values(&labels).inc();
        self.latency.with_label_values(&labels).observe(seconds);
    }

    /// The Prometheus text exposition of everything counted so far.
    pub fn render(&self, store: &Store, workers: &Workers) -> Result<String, prometheus::Error> {
        let (connections, idle) = store.pool_state();
        self.pool_connections.set(i64::from(connections));
        self.pool_idle.set(i64::from(idle));
        for pulse in workers.pulses() {
            let labels = [pulse.name()];
            let up = i64::from(pulse.trouble().is_none());
            self.worker_up.with_label_values(&labels).set(up);
            let restarts = self.worker_restarts.with_label_values(&labels);
            restarts.inc_by(pulse.restarts().saturating_sub(restarts.get()));
        }
        let mut text = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut text)?;
        Ok(String::from_utf8_lossy(&text).into_owned())
    }
}

/// Middleware: wraps every request in a span carrying its id, then counts and logs the answer.
pub async fn telemetry(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| is_acceptable_request_id(id))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.metrics.clone());
    let method = req.method().to_string();
    let span = tracing::info_span!("request", request_id = %request_id, method = %method, path = %req.path());

    let mut response = next.call(req).instrument(span.clone()).await?;

    let _entered = span.enter();
    let status = response.status();
    // The matched pattern keeps the label set small: `/api/v1/offices/{code}`, not every code.
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    if status.is_server_error()
        && let Some(error) = response.response().error()
    {
        match error
            .as_error::<ApiError>()
            .and_then(ApiError::internal_cause)
        {
            Some(cause) => tracing::error!(error = format!("{cause:#}"), "request failed"),
            None => tracing::error!(error = %error, "request failed"),
        }
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    let elapsed = started.elapsed();
    if let Some(metrics) = metrics {
        metrics.observe(&method, &route, status.as_str(), elapsed.as_secs_f64());
    }
    tracing::info!(
        status = status.as_u16(),
        route = %route,
        elapsed_ms = elapsed.as_secs_f64() * 1000.0,
        "answered"
    );
    Ok(response)
}

/// A request id from a proxy is kept when it is short and plain; anything else is replaced.
fn is_acceptable_request_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}
