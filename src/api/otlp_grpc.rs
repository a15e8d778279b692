//! OTLP over gRPC (spec events §4.1, §4.3): `opentelemetry.proto.collector.trace.v1.
//! TraceService/Export` on its own plaintext HTTP/2 listener (`WAYLOG_OTLP_GRPC_ADDR`).
//!
//! The service is written against tonic's server primitives instead of the generated
//! `TraceServiceServer`, for two reasons: the generated codec answers an undecodable message
//! with `INTERNAL` where the spec wants `INVALID_ARGUMENT`, and checking rate limit,
//! credential, readiness and backpressure from the headers *before* the message is read keeps
//! a refused call from costing a decode. The message is received as raw bytes (gzip accepted,
//! decompressed size capped at `WAYLOG_MAX_BODY_BYTES` by tonic: `RESOURCE_EXHAUSTED`) and
//! decoded with prost on a blocking thread together with the conversion.
//!
//! Shutdown: when the stop signal fires the listener closes, connections get GOAWAY, new calls
//! on open connections get `UNAVAILABLE` (the state is shutting down), and in-flight calls get
//! up to [`SHUTDOWN_GRACE`] to finish.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{BoxFuture, StdError, http};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::transport::server::{TcpConnectInfo, TcpIncoming};
use tonic::{Code, Status};

use super::error::{ApiError, ErrorClass, WriteRoute, grpc_code_of};
use super::{SharedState, auth};
use crate::storage::Storage;

pub(crate) const SERVICE_NAME: &str = "opentelemetry.proto.collector.trace.v1.TraceService";
const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// How long in-flight calls may run after the stop signal (spec events §4.3).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Bind the gRPC listener and serve it in the background, when OTLP and the gRPC address are
/// enabled. Prints `waylog otlp grpc listening on ADDR` (tests and scripts read it). The task
/// ends after `stop` turns true and in-flight calls finished (at most [`SHUTDOWN_GRACE`]).
pub async fn start(
    state: &SharedState,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Option<JoinHandle<()>>> {
    let config = &state.config;
    let Some(addr) = config.otlp_grpc_addr.filter(|_| config.otlp_enabled) else {
        return Ok(None);
    };
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (WAYLOG_OTLP_GRPC_ADDR): {e}"))?;
    let bound = listener.local_addr()?;
    println!("waylog otlp grpc listening on {bound}");
    tracing::info!(addr = %bound, "otlp grpc listening");
    Ok(Some(tokio::spawn(serve(listener, state.clone(), stop))))
}

/// Serve `TraceService/Export` on `listener` until `stop` turns true (or its sender is gone).
pub async fn serve(listener: TcpListener, state: SharedState, stop: watch::Receiver<bool>) {
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        // A dropped sender means the process is ending: stop too.
        let _ = rx.wait_for(|s| *s).await;
    };
    // Exports are large (hundreds of KiB): HTTP/2's default 64 KiB windows would make every
    // request wait for WINDOW_UPDATE round trips, and Nagle would delay small responses.
    // Bounded: a call runs at most WAYLOG_GRPC_TIMEOUT (then DEADLINE_EXCEEDED; a shorter
    // `grpc-timeout` from the client wins), and one connection runs at most
    // WAYLOG_GRPC_CONCURRENCY calls at once (more wait for a free slot).
    let timeout = state.config.grpc_timeout;
    let per_connection = state.config.grpc_concurrency;
    let server = tonic::transport::Server::builder()
        .timeout(timeout)
        .concurrency_limit_per_connection(per_connection)
        .initial_stream_window_size(4 << 20)
        .initial_connection_window_size(16 << 20)
        .serve_with_incoming_shutdown(
            OtlpGrpcService { state },
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            stopped(stop.clone()),
        );
    let grace = async {
        stopped(stop).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        result = server => {
            if let Err(e) = result {
                tracing::error!(error = %e, "otlp grpc server failed");
            }
        }
        () = grace => tracing::warn!("otlp grpc: in-flight calls cut off after the shutdown grace"),
    }
}

/// The `TraceService` of OTLP/gRPC; every other path answers `UNIMPLEMENTED`.
#[derive(Clone)]
pub struct OtlpGrpcService {
    state: SharedState,
}

impl OtlpGrpcService {
    pub fn new(state: SharedState) -> Self {
        OtlpGrpcService { state }
    }
}

impl std::fmt::Debug for OtlpGrpcService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpGrpcService").finish_non_exhaustive()
    }
}

impl NamedService for OtlpGrpcService {
    const NAME: &'static str = SERVICE_NAME;
}

impl<B> tower::Service<http::Request<B>> for OtlpGrpcService
where
    B: tonic::codegen::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let state = self.state.clone();
        Box::pin(async move {
            if req.uri().path() != EXPORT_PATH {
                return Ok(Status::unimplemented("").into_http());
            }
            let peer = req
                .extensions()
                .get::<TcpConnectInfo>()
                .and_then(TcpConnectInfo::remote_addr);
            let storage = match admit(&state, req.headers(), peer) {
                Ok(s) => s,
                Err(status) => return Ok(status.into_http()),
            };
            let max = state.config.max_body_bytes;
            let mut grpc = Grpc::new(ExportCodec)
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(max);
            let mut response = grpc.unary(ExportMethod { state, storage }, req).await;
            // tonic reports an over-limit message as OUT_OF_RANGE (RESOURCE_EXHAUSTED only
            // when the limit is hit while decompressing); the spec has RESOURCE_EXHAUSTED for
            // both. The export itself never answers OUT_OF_RANGE, so the rewrite is exact.
            let headers = response.headers_mut();
            if headers.get(Status::GRPC_STATUS)
                == Some(&http::HeaderValue::from(Code::OutOfRange as i32))
            {
                headers.insert(
                    Status::GRPC_STATUS,
                    http::HeaderValue::from(Code::ResourceExhausted as i32),
                );
            }
            Ok(response)
        })
    }
}

/// Rate limit, credential, readiness and backpressure, from the headers alone.
fn admit(
    state: &SharedState,
    headers: &http::HeaderMap,
    peer: Option<SocketAddr>,
) -> Result<Arc<Storage>, Status> {
    auth::check(
        &state.write_limiter,
        &state.config.write_keys,
        "write",
        headers,
        peer,
    )
    .map_err(|e| grpc_status(&e))?;
    state
        .writable(WriteRoute::Events)
        .map_err(|e| grpc_status(&e))
}

/// The gRPC answer of an error: the class's code and the message; a retry hint (HTTP
/// `Retry-After`) travels as `google.rpc.RetryInfo`.
fn grpc_status(e: &ApiError) -> Status {
    let code = grpc_code_of(e.class);
    let retry = e
        .headers
        .iter()
        .find(|(name, _)| name == http::header::RETRY_AFTER)
        .and_then(|(_, v)| v.parse::<u64>().ok());
    match retry {
        Some(secs) => with_retry_info(code, &e.error.message, secs),
        None => Status::new(code, e.error.message.clone()),
    }
}

/// One admitted call: decode, convert, store.
struct ExportMethod {
    state: SharedState,
    storage: Arc<Storage>,
}

impl UnaryService<Bytes> for ExportMethod {
    type Response = ExportTraceServiceResponse;
    type Future = BoxFuture<tonic::Response<Self::Response>, Status>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let state = self.state.clone();
        let storage = self.storage.clone();
        // Log lines of one export carry its id, like the HTTP routes' `request_id`.
        let span = tracing::info_span!(
            "request",
            request_id = %format!("grpc_{:016x}", rand::random::<u64>())
        );
        Box::pin(tracing::Instrument::instrument(
            async move {
                let body = request.into_inner();
                // The message is read already; decoding and converting it is what the budget
                // bounds (UNAVAILABLE with a retry hint when full).
                let _inflight = state
                    .admit_ingest(WriteRoute::Events, body.len())
                    .map_err(|e| grpc_status(&e))?;
                let max_spans = state.config.otlp_max_spans;
                let transport = super::otlp_http::Transport::Grpc(body.len() as u64);
                // An undecodable message is INVALID_ARGUMENT with the decoder's words; too
                // many spans are RESOURCE_EXHAUSTED, refused before decoding.
                let response = super::otlp_http::export(&state, &storage, transport, move || {
                    crate::ingest::otlp_limits::protobuf_spans(&body, max_spans)
                        .map_err(super::otlp_http::too_many_spans)?;
                    ExportTraceServiceRequest::decode(body).map_err(|e| {
                        let message = format!("undecodable message: {e}");
                        ApiError::new(ErrorClass::BadRequest, "invalid_body", message, "")
                    })
                })
                .await
                .map_err(|e| grpc_status(&e))?;
                Ok(tonic::Response::new(response))
            },
            span,
        ))
    }
}

/// Receives the request message as raw bytes (decoded later, off the async workers) and
/// encodes the response with prost.
#[derive(Debug, Clone, Copy, Default)]
struct ExportCodec;

impl Codec for ExportCodec {
    type Encode = ExportTraceServiceResponse;
    type Decode = Bytes;
    type Encoder = ExportCodec;
    type Decoder = ExportCodec;

    fn encoder(&mut self) -> Self::Encoder {
        ExportCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        ExportCodec
    }
}

impl Encoder for ExportCodec {
    type Item = ExportTraceServiceResponse;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("encoding the response: {e}")))
    }
}

impl Decoder for ExportCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

// ---------------------------------------------------------------------------------------------
// `google.rpc.Status` with a `google.rpc.RetryInfo` detail, carried in `grpc-status-details-bin`
// (the standard rich error model: OTLP exporters read the retry delay from it). The four
// messages are declared here with their upstream field numbers; no protoc is involved.

#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<ProtoAny>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ProtoAny {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    retry_delay: Option<ProtoDuration>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ProtoDuration {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

const RETRY_INFO_TYPE_URL: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// A status whose details hold `RetryInfo { retry_delay: secs }`.
fn with_retry_info(code: Code, message: &str, secs: u64) -> Status {
    let retry = RetryInfo {
        retry_delay: Some(ProtoDuration {
            seconds: i64::try_from(secs).unwrap_or(i64::MAX),
            nanos: 0,
        }),
    };
    let details = RpcStatus {
        code: code as i32,
        message: message.to_string(),
        details: vec![ProtoAny {
            type_url: RETRY_INFO_TYPE_URL.to_string(),
            value: retry.encode_to_vec(),
        }],
    };
    Status::with_details(code, message, Bytes::from(details.encode_to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{AppState, start_storage};
    use crate::clock::ManualClock;
    use crate::config::Config;
    use crate::rfc3339::parse_rfc3339_ns;
    use bytes::BufMut;
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
    use tonic::transport::Channel;

    const FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/otlp/trace-request.json"
    );

    /// A real storage and the gRPC server on a free port.
    struct Harness {
        url: String,
        state: SharedState,
        stop: watch::Sender<bool>,
        task: JoinHandle<()>,
        _dir: tempfile::TempDir,
    }

    impl Harness {
        async fn start(edit: impl FnOnce(&mut Config), with_storage: bool) -> Harness {
            let dir = tempfile::tempdir().unwrap();
            let mut config = Config::for_data_dir(dir.path());
            config.wal_sync = false;
            edit(&mut config);
            let now = parse_rfc3339_ns("2026-05-12T14:05:00Z").unwrap();
            let state = AppState::new(config, Arc::new(ManualClock::new(now)));
            let (stop, rx) = watch::channel(false);
            if with_storage {
                start_storage(&state, rx.clone()).await.unwrap();
            }
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let task = tokio::spawn(serve(listener, state.clone(), rx));
            Harness {
                url,
                state,
                stop,
                task,
                _dir: dir,
            }
        }

        async fn channel(&self) -> Channel {
            Channel::from_shared(self.url.clone())
                .unwrap()
                .connect()
                .await
                .unwrap()
        }

        async fn stop(self) {
            self.state.begin_shutdown();
            self.stop.send(true).unwrap();
            tokio::time::timeout(Duration::from_secs(10), self.task)
                .await
                .expect("the server stops after the signal")
                .unwrap();
            if let Some(storage) = self.state.storage() {
                storage.close().unwrap();
            }
        }
    }

    fn fixture_request() -> ExportTraceServiceRequest {
        let body = std::fs::read(FIXTURE).unwrap();
        crate::ingest::otlp_json::decode_request(&body).unwrap()
    }

    fn with_key<T>(message: T, header: &'static str, value: &str) -> tonic::Request<T> {
        let mut req = tonic::Request::new(message);
        req.metadata_mut().insert(header, value.parse().unwrap());
        req
    }

    fn retry_secs(status: &Status) -> i64 {
        let decoded = RpcStatus::decode(status.details()).unwrap();
        let retry = RetryInfo::decode(decoded.details[0].value.as_slice()).unwrap();
        retry.retry_delay.unwrap().seconds
    }

    /// Sends arbitrary bytes as the request message.
    #[derive(Debug, Clone, Copy, Default)]
    struct RawClientCodec;

    impl Codec for RawClientCodec {
        type Encode = Bytes;
        type Decode = ExportTraceServiceResponse;
        type Encoder = RawClientCodec;
        type Decoder = RawClientCodec;

        fn encoder(&mut self) -> Self::Encoder {
            RawClientCodec
        }

        fn decoder(&mut self) -> Self::Decoder {
            RawClientCodec
        }
    }

    impl Encoder for RawClientCodec {
        type Item = Bytes;
        type Error = Status;

        fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
            dst.put(item);
            Ok(())
        }
    }

    impl Decoder for RawClientCodec {
        type Item = ExportTraceServiceResponse;
        type Error = Status;

        fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
            Ok(Some(
                ExportTraceServiceResponse::decode(src)
                    .map_err(|e| Status::internal(e.to_string()))?,
            ))
        }
    }

    async fn send_raw(channel: Channel, path: &'static str, body: &'static [u8]) -> Status {
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready().await.unwrap();
        grpc.unary(
            tonic::Request::new(Bytes::from_static(body)),
            http::uri::PathAndQuery::from_static(path),
            RawClientCodec,
        )
        .await
        .unwrap_err()
    }

    #[tokio::test]
    async fn grpc_export_gzip_with_key_stores_and_dedups() {
        let h = Harness::start(|c| c.write_keys = vec!["k1".into()], true).await;
        let mut client =
            TraceServiceClient::new(h.channel().await).send_compressed(CompressionEncoding::Gzip);
        let resp = client
            .export(with_key(fixture_request(), "authorization", "Bearer k1"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(resp.partial_success, None);
        let resp = client
            .export(with_key(fixture_request(), "x-api-key", "k1"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(resp.partial_success, None);
        let storage = h.state.storage().unwrap().clone();
        let rows: usize = storage
            .table(crate::storage::schema::TableId::Events)
            .snapshot()
            .hot_rows();
        assert_eq!(rows, 4, "the re-export deduplicates");
        // A drop is reported in partial_success.
        let mut req = fixture_request();
        req.resource_spans[0].resource = None;
        let resp = client
            .export(with_key(req, "authorization", "bearer k1"))
            .await
            .unwrap()
            .into_inner();
        let partial = resp.partial_success.unwrap();
        assert_eq!(partial.rejected_spans, 1);
        assert_eq!(
            partial.error_message,
            "missing_service (span: POST /purchase)"
        );
        h.stop().await;
    }

    #[tokio::test]
    async fn grpc_refusals_map_to_spec_statuses() {
        let h = Harness::start(
            |c| {
                c.write_keys = vec!["k1".into()];
                c.max_body_bytes = 64;
            },
            true,
        )
        .await;
        let mut client = TraceServiceClient::new(h.channel().await);
        let status = client
            .export(with_key(fixture_request(), "authorization", "Bearer nope"))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_eq!(status.message(), "unauthorized");
        let status = client.export(fixture_request()).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
        // Over WAYLOG_MAX_BODY_BYTES: no retry hint.
        let status = client
            .export(with_key(fixture_request(), "x-api-key", "k1"))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert!(status.details().is_empty());
        let mut gzip_client =
            TraceServiceClient::new(h.channel().await).send_compressed(CompressionEncoding::Gzip);
        let status = gzip_client
            .export(with_key(fixture_request(), "x-api-key", "k1"))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert!(status.details().is_empty());
        h.stop().await;

        // More spans than WAYLOG_OTLP_MAX_SPANS: refused before decoding, no retry hint.
        let h = Harness::start(|c| c.otlp_max_spans = 1, true).await;
        let mut client = TraceServiceClient::new(h.channel().await);
        let mut two = fixture_request();
        let spans = &mut two.resource_spans[0].scope_spans[0].spans;
        let extra = spans[0].clone();
        spans.push(extra);
        let status = client.export(two).await.unwrap_err();
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert_eq!(status.message(), "batch too large");
        assert!(status.details().is_empty());
        h.stop().await;

        let h = Harness::start(|_| {}, true).await;
        let status = send_raw(h.channel().await, EXPORT_PATH, b"\xff\xff\xff").await;
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        let status = send_raw(
            h.channel().await,
            "/opentelemetry.proto.collector.trace.v1.TraceService/Other",
            b"",
        )
        .await;
        assert_eq!(status.code(), Code::Unimplemented);
        h.stop().await;
    }

    #[tokio::test]
    async fn grpc_not_ready_and_rate_limit_carry_retry_info() {
        let h = Harness::start(|c| c.rate_limit_write_rps = 1, false).await;
        let mut client = TraceServiceClient::new(h.channel().await);
        let status = client.export(fixture_request()).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(retry_secs(&status), 1);
        let status = client.export(fixture_request()).await.unwrap_err();
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(retry_secs(&status), 1);
        h.stop().await;
    }

    #[test]
    fn retry_info_status_round_trips_as_google_rpc_status() {
        let status = with_retry_info(Code::Unavailable, "ingest saturated", 7);
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(status.message(), "ingest saturated");
        let decoded = RpcStatus::decode(status.details()).unwrap();
        assert_eq!(decoded.code, Code::Unavailable as i32);
        assert_eq!(decoded.details.len(), 1);
        assert_eq!(decoded.details[0].type_url, RETRY_INFO_TYPE_URL);
        let retry = RetryInfo::decode(decoded.details[0].value.as_slice()).unwrap();
        assert_eq!(
            retry.retry_delay,
            Some(ProtoDuration {
                seconds: 7,
                nanos: 0
            })
        );
    }

    #[test]
    fn grpc_status_maps_unavailable_and_internal() {
        let s = grpc_status(&WriteRoute::Events.not_ready());
        assert_eq!(s.code(), Code::Unavailable);
        assert_eq!(retry_secs(&s), 1);
        assert_eq!(grpc_status(&ApiError::internal()).code(), Code::Internal);
        assert_eq!(
            grpc_status(&ApiError::internal()).message(),
            "internal error"
        );
    }
}
