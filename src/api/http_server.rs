//! The HTTP/1 accept loop of `waylog serve` and `waylog demo`. axum's own `serve` offers no
//! timeouts, so a client that opens connections and never finishes its request headers would
//! hold sockets forever (issue 14). Here every connection is served by hyper with a header-read
//! timeout (`WAYLOG_HTTP_HEADER_TIMEOUT`, which also closes keep-alive connections idle that
//! long), the peer address is handed to the routes as axum's `ConnectInfo`, and shutdown is
//! graceful: the listener closes, each connection finishes its in-flight request, then the
//! loop returns.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

/// Serve `app` on `listener` until `shutdown` completes, then wait for the open connections to
/// finish their requests.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    // Connections hold a receiver of `closed`; `closed_tx.closed()` resolves once all are gone.
    let (closed_tx, closed_rx) = watch::channel(());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of fds or a connection reset before accept: keep serving the rest.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = app
            .clone()
            .map_request(move |mut req: axum::http::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                req.map(axum::body::Body::new)
            });
        let connection = Connection {
            stream,
            service: TowerToHyperService::new(service),
            header_read_timeout,
            stop: stop_rx.clone(),
            closed: closed_rx.clone(),
        };
        tokio::spawn(connection.run());
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(closed_rx);
    closed_tx.closed().await;
}

/// One accepted connection and what it needs to be served and stopped.
struct Connection<S> {
    stream: tokio::net::TcpStream,
    service: S,
    header_read_timeout: Duration,
    stop: watch::Receiver<bool>,
    /// Dropped when the connection ends.
    closed: watch::Receiver<()>,
}

impl<S> Connection<S>
where
    S: hyper::service::Service<
            axum::http::Request<Incoming>,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    async fn run(mut self) {
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout);
        let conn = builder.serve_connection(TokioIo::new(self.stream), self.service);
        let mut conn = std::pin::pin!(conn);
        let mut stopping = false;
        loop {
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended");
                    }
                    break;
                }
                _ = self.stop.wait_for(|s| *s), if !stopping => {
                    // Finish the request in flight, then close.
                    stopping = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
        drop(self.closed);
    }
}
