//! The accept loop: HTTP/1.1 (with upgrades, for the terminals' WebSocket), optionally
//! over TLS, a cap on connections, a header-read timeout and a lifetime per connection.
//! Opening the store runs on the blocking pool.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use tokio::io::{AsyncRead, AsyncWrite};
use xiaoan_records::Store;

use crate::auth::{check_bind, check_token};
use crate::error::{Error, Result};
use crate::router;

/// A client must send its request headers within this time, also on an idle kept-alive
/// connection (a silent half-open connection is closed after it). The TLS handshake has
/// the same time.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a connection is kept, whatever it does (a slowly trickled body included).
/// A connection upgraded to a WebSocket leaves the HTTP loop and is no longer under this
/// limit: the terminal route applies its own session length.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(120);
/// Connections served at once; more wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 256;

/// Where and how the server listens.
#[derive(Clone)]
pub struct Listen {
    /// The address (port 0 picks a free one).
    pub addr: SocketAddr,
    /// HTTPS/WSS with this configuration ([`crate::tls::server_config`]); `None` is plain
    /// HTTP, allowed on loopback only unless `insecure_bind`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Allow plain HTTP on a non-loopback address (a warning is printed).
    pub insecure_bind: bool,
}

impl Listen {
    /// Plain HTTP on `addr` (loopback only).
    pub fn plain(addr: SocketAddr) -> Listen {
        Listen {
            addr,
            tls: None,
            insecure_bind: false,
        }
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }
}

/// Open the records store on the blocking pool (opening migrates and may wait on another
/// writer's lock); an unhealthy store is served with a warning.
pub async fn open_store(store_path: &Path) -> Result<Store> {
    let path = store_path.to_path_buf();
    tokio::task::spawn_blocking(move || -> Result<Store> {
        let store = Store::open(&path)?;
        if let Err(reason) = store.health() {
            eprintln!("xiaoan serve: WARNING: the records store is not healthy: {reason}");
        }
        Ok(store)
    })
    .await
    .map_err(|_| Error::Stopped("opening the records store"))?
}

/// Serve the staff API ([`router`]) until Ctrl-C; see [`serve_app`].
pub async fn serve(listen: Listen, store_path: &Path, token: String) -> Result<()> {
    // refuse an exposed address and a weak token before touching the store
    if let Some(warning) = check_bind(listen.addr, listen.tls.is_some(), listen.insecure_bind)? {
        eprintln!("{warning}");
    }
    check_token(&token)?;
    let store = open_store(store_path).await?;
    run(listen, router(store, token)).await
}

/// Serve `app` until Ctrl-C. Refuses plain HTTP on a non-loopback address unless
/// `insecure_bind` (then warns). Prints `xiaoan serve: listening on <scheme>://<address>`
/// first (port 0 picks a free one), so scripts can read it.
pub async fn serve_app(listen: Listen, app: Router) -> Result<()> {
    if let Some(warning) = check_bind(listen.addr, listen.tls.is_some(), listen.insecure_bind)? {
        eprintln!("{warning}");
    }
    run(listen, app).await
}

async fn run(listen: Listen, app: Router) -> Result<()> {
    let addr = listen.addr;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Listen { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| Error::Listen { addr, source })?;
    println!("xiaoan serve: listening on {}://{bound}", listen.scheme());
    use std::io::Write;
    std::io::stdout().flush().ok();
    serve_listener_tls(listener, app, listen.tls, HEADER_TIMEOUT, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

/// Serve `app` over plain HTTP on `listener` until `shutdown` completes; see
/// [`serve_listener_tls`].
pub async fn serve_listener(
    listener: tokio::net::TcpListener,
    app: Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    serve_listener_tls(listener, app, None, header_timeout, shutdown).await
}

/// Serve `app` on `listener` until `shutdown` completes: over TLS when `tls` is given,
/// HTTP/1.1 only (upgrades allowed, for WebSockets), at most [`MAX_CONNECTIONS`] at
/// once, each closed when its TLS handshake or its request headers take longer than
/// `header_timeout` (idle kept-alive connections included) or after
/// [`CONNECTION_LIFETIME`]. Each request carries the client address (`ConnectInfo`).
pub async fn serve_listener_tls(
    listener: tokio::net::TcpListener,
    app: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
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
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match acceptor {
                None => connection(stream, app, peer, header_timeout).await,
                Some(acceptor) => {
                    match tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => connection(tls, app, peer, header_timeout).await,
                        // a kiosk that does not trust the certificate ends up here
                        Ok(Err(e)) => {
                            eprintln!("xiaoan serve: TLS handshake with {peer} failed: {e}")
                        }
                        Err(_) => {}
                    }
                }
            }
        });
    }
    Ok(())
}

/// One HTTP/1.1 connection over `io`, within [`CONNECTION_LIFETIME`] (an upgraded
/// connection leaves here when it is upgraded).
async fn connection<I>(io: I, app: Router, peer: SocketAddr, header_timeout: Duration)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower_service::Service;

    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            let mut app = app.clone();
            async move { app.call(req).await }
        });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    let _ = tokio::time::timeout(CONNECTION_LIFETIME, conn).await;
}
