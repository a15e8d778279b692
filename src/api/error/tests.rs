use axum::http::StatusCode;
use axum::response::IntoResponse;
use datafusion::error::DataFusionError;

use super::*;

async fn body_of(resp: Response) -> serde_json::Value {
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn header(e: &ApiError, name: header::HeaderName) -> Option<&str> {
    e.headers
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn class_table_gives_one_status_and_one_grpc_code_per_class() {
    use tonic::Code;
    let table = [
        (ErrorClass::BadRequest, 400, Code::InvalidArgument),
        (ErrorClass::Unauthorized, 401, Code::Unauthenticated),
        (ErrorClass::NotFound, 404, Code::NotFound),
        (ErrorClass::MethodNotAllowed, 405, Code::Unimplemented),
        (ErrorClass::Conflict, 409, Code::AlreadyExists),
        (ErrorClass::PayloadTooLarge, 413, Code::ResourceExhausted),
        (ErrorClass::UnsupportedMediaType, 415, Code::InvalidArgument),
        (ErrorClass::ResourcesExhausted, 422, Code::ResourceExhausted),
        (ErrorClass::RateLimited, 429, Code::ResourceExhausted),
        (ErrorClass::Internal, 500, Code::Internal),
        (ErrorClass::Unavailable, 503, Code::Unavailable),
        (ErrorClass::Timeout, 504, Code::DeadlineExceeded),
    ];
    for (class, status, code) in table {
        assert_eq!(status_of(class).as_u16(), status, "{class:?}");
        assert_eq!(grpc_code_of(class), code, "{class:?}");
    }
}

#[test]
fn write_failures_are_worded_per_route() {
    let durability = WriteError::Durability("disk full".into());
    for route in [WriteRoute::Events, WriteRoute::Context] {
        let e = route.write_failed(&durability);
        assert_eq!(
            (e.status(), e.error.code, e.error.message.as_str()),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "durability_unavailable",
                "write-ahead log unavailable"
            )
        );
        assert_eq!(header(&e, header::RETRY_AFTER), Some("5"));
        // The cause never reaches the body.
        assert!(!e.error.detail.contains("disk"));
        let e = route.write_failed(&WriteError::Stopped);
        assert_eq!(
            (e.status().as_u16(), e.error.code),
            (503, "ingest_unavailable")
        );
        assert_eq!(header(&e, header::RETRY_AFTER), Some("1"));
    }
    let e = WriteRoute::Alerts.write_failed(&durability);
    assert_eq!((e.status().as_u16(), e.error.code), (500, "INTERNAL"));
    for (route, code) in [
        (WriteRoute::Events, "overloaded"),
        (WriteRoute::Context, "overloaded"),
        (WriteRoute::Alerts, "OVERLOADED"),
    ] {
        let e = route.write_failed(&WriteError::Overloaded);
        assert_eq!((e.status().as_u16(), e.error.code), (503, code));
        assert_eq!(header(&e, header::RETRY_AFTER), Some("1"));
    }
    for (route, code) in [
        (WriteRoute::Events, "disk_full"),
        (WriteRoute::Context, "disk_full"),
        (WriteRoute::Alerts, "DISK_FULL"),
    ] {
        let e = route.write_failed(&WriteError::DiskFull("no space on /data/wal".into()));
        assert_eq!((e.status().as_u16(), e.error.code), (503, code));
        assert_eq!(header(&e, header::RETRY_AFTER), Some("5"));
        assert!(
            !e.error.detail.contains("/data"),
            "the path stays in the log"
        );
    }
    let e = WriteRoute::Alerts.write_failed(&WriteError::Stopped);
    assert_eq!(
        (e.status().as_u16(), e.error.code),
        (503, "INGEST_UNAVAILABLE")
    );
    let overloaded = |r: WriteRoute| {
        let e = r.overloaded(7);
        assert_eq!(header(&e, header::RETRY_AFTER), Some("7"));
        (e.error.code, e.error.message)
    };
    assert_eq!(
        overloaded(WriteRoute::Events),
        ("overloaded", "ingest saturated".to_string())
    );
    assert_eq!(
        overloaded(WriteRoute::Context),
        ("overloaded", "server overloaded".to_string())
    );
    assert_eq!(
        overloaded(WriteRoute::Alerts),
        ("OVERLOADED", "server overloaded".to_string())
    );
}

#[test]
fn query_errors_map_by_kind() {
    let cases = [
        (
            QueryError::NotAllowed("DROP".into()),
            400,
            "statement_not_allowed",
        ),
        (QueryError::InvalidSql("x".into()), 400, "invalid_sql"),
        (QueryError::Execution("x".into()), 400, "execution_error"),
        (
            QueryError::ResourcesExhausted("pool".into()),
            422,
            "resources_exhausted",
        ),
        (QueryError::Timeout, 504, "timeout"),
        (QueryError::Unavailable("s3".into()), 503, "unavailable"),
        (QueryError::Internal("bug".into()), 500, "internal_error"),
    ];
    for (e, status, code) in cases {
        let a = ApiError::from(e);
        assert_eq!((a.status().as_u16(), a.error.code), (status, code));
    }
    let a = ApiError::from(QueryError::InvalidSql("no such table".into()));
    assert_eq!(a.error.detail, "no such table");
    assert_eq!(
        ApiError::from(QueryError::Internal("secret".into()))
            .error
            .detail,
        ""
    );
}

#[test]
fn read_errors_keep_spec_answers_and_hide_engine_failures() {
    let e = ApiError::from(ReadError::Rejected(Rejection::not_found("trace not found")));
    assert_eq!(
        (e.status().as_u16(), e.error.message.as_str()),
        (404, "trace not found")
    );
    assert_eq!(ApiError::from(ReadError::Timeout).status().as_u16(), 504);
    let e = ApiError::from(ReadError::Query(DataFusionError::Plan("broken".into())));
    assert_eq!((e.status().as_u16(), e.error.code), (500, "internal_error"));
    let e = storage_failure(
        ReadError::Query(DataFusionError::Plan("broken".into())),
        "query incidents failed",
    );
    assert_eq!(
        (e.status().as_u16(), e.error.detail.as_str()),
        (500, "query incidents failed")
    );
    let e = storage_failure(ReadError::Timeout, "query incidents failed");
    assert_eq!(e.status().as_u16(), 504);
}

#[tokio::test]
async fn internal_errors_carry_the_request_id_only() {
    let resp = fill_request_id(ApiError::internal().into_response(), "req_42");
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        body_of(resp).await,
        serde_json::json!({"error": {"code": "internal_error", "message": "internal error",
            "detail": "request id req_42"}})
    );
    // Other answers pass through untouched.
    let resp = fill_request_id(ApiError::not_found("nope").into_response(), "req_42");
    assert_eq!(body_of(resp).await["error"]["detail"], "");
}

#[tokio::test]
async fn rejections_keep_retry_hints_and_custom_bodies() {
    let e: ApiError = Rejection::unavailable("overloaded", "ingest saturated", 3).into();
    let resp = e.into_response();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.headers()[header::RETRY_AFTER], "3");
    let e = ApiError::bad_request("x").with_body(&serde_json::json!({"accepted": 0}));
    assert_eq!(
        body_of(e.into_response()).await,
        serde_json::json!({"accepted": 0})
    );
}
