//! `GET /v1/triage/{incident_id}` and `GET /v1/triage/{incident_id}/report` (spec triage §6.4):
//! the TriageReport of an incident as JSON, or rendered as Markdown, Slack Block Kit JSON or a
//! PagerDuty note. The builder is `crate::triage::build`; this file only maps HTTP onto it.
//!
//! Check order (the order of the §6.4 error table): rate limit and read scope, method (`405`),
//! the id (`400 missing_incident_id`: empty or containing `/`), the parameters (`400
//! bad_options`: unknown name, invalid window, window above retention), storage readiness and a
//! read slot, the build (`404 not_found`, `500 triage_build_failed`), the format (`400
//! bad_format`), the rendering (`500 render_failed`).

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

use super::error::{ApiError, json_response, storage_failure};
use super::reads::ReadRequest;
use super::{AppState, SharedState, auth};
use crate::model::rejection::ErrorClass;
use crate::percent::decode_path;
use crate::reads::ReadError;
use crate::triage::build::{
    self, BuildSettings, PARAMS, REPORT_PARAMS, TriageError, TriageOptions,
};
use crate::triage::render::{ReportFormat, render};

const PREFIX: &str = "/v1/triage/";

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/v1/triage", any(triage_get))
        .route("/v1/triage/", any(triage_get))
        .route("/v1/triage/{*rest}", any(triage_get))
}

/// What the path names: the report JSON or its rendering, of one incident id.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    Json(String),
    Rendered(String),
}

/// The id and target of a raw path (`/v1/triage/<id>` or `/v1/triage/<id>/report[/]`); the id
/// is percent-decoded and must be non-empty without `/`.
fn target(path: &str) -> Result<Target, ApiError> {
    let missing = || {
        ApiError::new(
            ErrorClass::BadRequest,
            "missing_incident_id",
            "incident id is required",
            "",
        )
    };
    let rest = path.strip_prefix(PREFIX).unwrap_or("");
    let (raw_id, rendered) = match rest
        .strip_suffix("/report/")
        .or_else(|| rest.strip_suffix("/report"))
    {
        Some(id) => (id, true),
        None => (rest, false),
    };
    let id = decode_path(raw_id)
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .ok_or_else(missing)?;
    Ok(if rendered {
        Target::Rendered(id)
    } else {
        Target::Json(id)
    })
}

pub async fn triage_get(State(state): State<SharedState>, req: Request) -> Response {
    let (format, result) = match answer(&state, req).await {
        Ok((format, resp)) => (format, Ok(resp)),
        Err((format, e)) => (format, Err(e)),
    };
    crate::metrics::triage_report(format, result.is_ok());
    result.into_response()
}

type Answer = Result<(&'static str, Response), (&'static str, ApiError)>;

async fn answer(state: &AppState, req: Request) -> Answer {
    // The report format named so far, for the metrics label (`json` for the JSON route).
    let mut format = "json";
    let fail = |format: &'static str| move |e: ApiError| (format, e);
    auth::gate(state, &req, auth::Scope::Read).map_err(fail(format))?;
    if req.method() != Method::GET {
        return Err((format, ApiError::method_not_allowed("GET")));
    }
    let target = target(req.uri().path()).map_err(fail(format))?;
    let allowed = match &target {
        Target::Json(_) => PARAMS,
        Target::Rendered(_) => {
            format = "markdown";
            REPORT_PARAMS
        }
    };
    let (opts, params) = TriageOptions::parse(req.uri().query(), allowed, state.config.retention)
        .map_err(|r| (format, ApiError::from(r)))?;
    let requested = params.get("format").map(str::to_owned);
    if let Some(f) = requested.as_deref().and_then(ReportFormat::parse) {
        format = f.as_str();
    }
    let r = ReadRequest {
        params,
        now_ns: state.clock.now_ns(),
    };
    let settings = BuildSettings {
        alert_window: state.config.incidents.alert_window,
    };
    let now = r.now_ns;
    let (Target::Json(id) | Target::Rendered(id)) = &target;
    let built = r
        .execute(state, |ctx| async move {
            Ok::<_, ReadError>(build::build(&ctx, settings, id, opts, now).await)
        })
        .await
        .map_err(|e| (format, storage_failure(e, "build triage report")))?;
    let report = built.map_err(|e| (format, build_error(e)))?;
    let Target::Rendered(_) = target else {
        return Ok((format, json_response(StatusCode::OK, &report)));
    };
    let name = requested.as_deref().unwrap_or("markdown");
    let Some(f) = ReportFormat::parse(name) else {
        return Err((
            format,
            ApiError::new(
                ErrorClass::BadRequest,
                "bad_format",
                format!("unsupported report format {name:?}"),
                "",
            ),
        ));
    };
    match render(&report, f) {
        Ok(body) => {
            let mut resp = (StatusCode::OK, body).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(f.content_type()),
            );
            Ok((format, resp))
        }
        Err(e) => {
            tracing::error!(error = %e, "triage: render failed");
            Err((
                format,
                ApiError::new(ErrorClass::Internal, "render_failed", e.to_string(), ""),
            ))
        }
    }
}

/// The §6.4 answer of a failed build.
fn build_error(e: TriageError) -> ApiError {
    match e {
        TriageError::NotFound => ApiError::not_found(crate::incidents::read::NOT_FOUND),
        TriageError::Read { what, source } => match source {
            // Deadline and memory cap answer as on every read (504 / 422).
            ReadError::Timeout => ApiError::from(ReadError::Timeout),
            ReadError::Query(q) => match crate::query::guard::classify(q) {
                crate::query::guard::QueryError::ResourcesExhausted(d) => {
                    ApiError::memory_exceeded(d)
                }
                crate::query::guard::QueryError::Timeout => ApiError::timeout(),
                other => build_failed(what, &other),
            },
            other => build_failed(what, &other),
        },
        TriageError::Invalid(why) => {
            tracing::error!(why, "triage: produced invalid report");
            ApiError::new(
                ErrorClass::Internal,
                "triage_build_failed",
                "produced invalid report",
                "",
            )
        }
    }
}

fn build_failed(what: &str, cause: &dyn std::fmt::Display) -> ApiError {
    tracing::error!(error = %cause, "triage: {what} failed");
    ApiError::new(
        ErrorClass::Internal,
        "triage_build_failed",
        format!("{what} failed"),
        "",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_parses_ids_and_report_paths() {
        assert_eq!(
            target("/v1/triage/inc_1").unwrap(),
            Target::Json("inc_1".into())
        );
        assert_eq!(
            target("/v1/triage/inc_1/report").unwrap(),
            Target::Rendered("inc_1".into())
        );
        assert_eq!(
            target("/v1/triage/inc_1/report/").unwrap(),
            Target::Rendered("inc_1".into())
        );
        assert_eq!(
            target("/v1/triage/a%20b").unwrap(),
            Target::Json("a b".into())
        );
        for bad in [
            "/v1/triage",
            "/v1/triage/",
            "/v1/triage//report",
            "/v1/triage/a/b",
            "/v1/triage/a%2Fb",
            "/v1/triage/a/b/report",
        ] {
            let e = target(bad).unwrap_err();
            assert_eq!(e.error.code, "missing_incident_id", "{bad}");
            assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        }
    }
}
