//! `GET /metrics`: the process registry ([`crate::metrics`]) in the Prometheus text format
//! 0.0.4, or OpenMetrics when the `Accept` header asks for `application/openmetrics-text`.
//! Read scope unless `WAYLOG_METRICS_AUTH=none`.
//!
//! Cheap to scrape: before encoding, the gauges of other layers' state are set from atomics
//! and the tables' current snapshots (no SQL, no lock held across I/O); `/proc/self` is read
//! for the process gauges.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::{AppState, SharedState, auth, health};
use crate::config::MetricsAuth;
use crate::metrics;

/// `GET /metrics`.
pub async fn metrics_get(
    State(state): State<SharedState>,
    req: Request,
) -> Result<Response, ApiError> {
    if state.config.metrics_auth == MetricsAuth::Read {
        auth::gate(&state, &req, auth::Scope::Read)?;
    }
    if req.method() != Method::GET {
        return Err(ApiError::method_not_allowed("GET"));
    }
    refresh(&state);
    let openmetrics = wants_openmetrics(req.headers().get(header::ACCEPT));
    let (text, content_type) = if openmetrics {
        (
            metrics::encode_openmetrics(),
            metrics::OPENMETRICS_CONTENT_TYPE,
        )
    } else {
        (
            metrics::encode_prometheus(),
            metrics::PROMETHEUS_CONTENT_TYPE,
        )
    };
    let text = text.map_err(|e| {
        tracing::error!(error = %e, "metrics encoding failed");
        ApiError::internal()
    })?;
    let mut resp = (StatusCode::OK, text).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(resp)
}

/// Whether `Accept` names `application/openmetrics-text` (any version, any q > 0).
pub fn wants_openmetrics(accept: Option<&HeaderValue>) -> bool {
    let Some(accept) = accept.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    accept.split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("");
        let refused = parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f64>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        media.eq_ignore_ascii_case("application/openmetrics-text") && !refused
    })
}

/// Set the gauges that mirror other layers' state.
fn refresh(state: &AppState) {
    let m = metrics::get();
    metrics::process::refresh();
    for (pool, sem, size) in [
        ("query", &state.query_slots, state.config.query_concurrency),
        ("read", &state.read_slots, state.config.read_concurrency),
    ] {
        let used = size.saturating_sub(sem.available_permits());
        metrics::set(&m.slots_in_use, &[("pool", pool)], used as f64);
    }
    for job in health::jobs(state) {
        let up = if job.state.healthy() { 1.0 } else { 0.0 };
        metrics::set(&m.job_up, &[("job", job.job)], up);
    }
    if state.config.incidents.enabled {
        m.last_tick_age
            .set(state.incidents.since_last_success().as_secs_f64());
    }
    let Some(storage) = state.storage() else {
        return;
    };
    let mut oldest = 0.0f64;
    for g in storage.table_gauges() {
        let table = [("table", g.table.name())];
        metrics::set(&m.hot_rows, &table, g.hot_rows as f64);
        metrics::set(&m.hot_bytes, &table, g.hot_bytes as f64);
        metrics::set(&m.cold_files, &table, g.cold_files as f64);
        metrics::set(&m.cold_bytes, &table, g.cold_bytes as f64);
        oldest = oldest.max(g.oldest_unflushed_s);
    }
    m.oldest_unflushed_age.set(oldest);
    m.ingest_queued_bytes.set(storage.queued_bytes() as f64);
    m.flush_failing
        .set(storage.flush_failing_for().map_or(0.0, |d| d.as_secs_f64()));
    let dedup = storage.dedup_status();
    m.dedup_horizon
        .set(dedup.horizon_ns(storage.clock().now_ns()) as f64 / 1e9);
    m.wal_poisoned.set(if storage.poisoned().is_some() {
        1.0
    } else {
        0.0
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation() {
        let h = |s: &'static str| Some(HeaderValue::from_static(s));
        assert!(wants_openmetrics(
            h("application/openmetrics-text").as_ref()
        ));
        assert!(wants_openmetrics(
            h("application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3")
                .as_ref()
        ));
        assert!(!wants_openmetrics(h("text/plain;version=0.0.4").as_ref()));
        assert!(!wants_openmetrics(
            h("application/openmetrics-text;q=0").as_ref()
        ));
        assert!(!wants_openmetrics(None));
    }
}
