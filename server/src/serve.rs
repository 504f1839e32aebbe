//! The accept loop: HTTP/1.1, a cap on connections, a header-read timeout and a
//! lifetime per connection. Opening the store runs on the blocking pool.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use xiaoan_records::{RecordStore, Store};

use crate::auth::{check_bind, check_token};
use crate::error::{Error, Result};
use crate::router_dyn;

/// A client must send its request headers within this time, also on an idle kept-alive
/// connection (a silent half-open connection is closed after it).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a connection is kept, whatever it does (a slowly trickled body included).
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(120);
/// Connections served at once; more wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 256;

/// Serve the API on `addr` until Ctrl-C. Prints the bound address first (port 0 picks a
/// free one), so scripts can read it. A non-loopback `addr` needs `insecure_bind`.
pub async fn serve(
    addr: SocketAddr,
    store_path: &Path,
    token: String,
    insecure_bind: bool,
) -> Result<()> {
    let path = store_path.to_path_buf();
    let open = move || -> Result<Box<dyn RecordStore>> { Ok(Box::new(Store::open(&path)?)) };
    serve_store(addr, open, token, insecure_bind).await
}

/// [`serve`] over the store `open` opens (on the blocking pool): a terminal's file or the
/// centre's PostgreSQL (`xiaoan serve` with `[store] url`).
pub async fn serve_store(
    addr: SocketAddr,
    open: impl FnOnce() -> Result<Box<dyn RecordStore>> + Send + 'static,
    token: String,
    insecure_bind: bool,
) -> Result<()> {
    if let Some(warning) = check_bind(addr, insecure_bind)? {
        eprintln!("{warning}");
    }
    check_token(&token)?;
    // opening migrates and may wait on another writer's lock: not on the async threads
    let store = tokio::task::spawn_blocking(move || -> Result<Box<dyn RecordStore>> {
        let store = open()?;
        if let Err(reason) = store.health() {
            eprintln!("xiaoan serve: WARNING: the records store is not healthy: {reason}");
        }
        Ok(store)
    })
    .await
    .map_err(|_| Error::Stopped("opening the records store"))??;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Listen { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| Error::Listen { addr, source })?;
    println!("staff API listening on http://{bound}");
    use std::io::Write;
    std::io::stdout().flush().ok();
    serve_listener(listener, router_dyn(store, token), HEADER_TIMEOUT, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

/// Serve `app` on `listener` until `shutdown` completes: HTTP/1.1 only, at most
/// [`MAX_CONNECTIONS`] at once, each closed when its request headers take longer than
/// `header_timeout` (idle kept-alive connections included) or after
/// [`CONNECTION_LIFETIME`]. Each request carries the client address (`ConnectInfo`).
pub async fn serve_listener(
    listener: tokio::net::TcpListener,
    app: Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower_service::Service;

    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = slots.clone().acquire_owned() => p.map_err(|_| Error::Stopped("waiting for a connection slot"))?,
        };
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // out of file descriptors and the like: wait rather than spin
                    eprintln!("xiaoan serve: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let app = app.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    let mut app = app.clone();
                    async move { app.call(req).await }
                },
            );
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, conn).await;
        });
    }
    Ok(())
}
