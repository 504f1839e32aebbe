//! Test support: an app served on a free loopback port from a thread of its own, stopped
//! (and the thread joined) when dropped. Used by the staff API's and the terminal route's
//! tests.

use std::time::Duration;

use axum::Router;

use crate::serve_listener;

/// A running server; dropped, it stops.
pub(crate) struct Running {
    /// `127.0.0.1:port`
    pub(crate) addr: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serve `app` on a free loopback port with this header timeout.
pub(crate) fn spawn(app: Router, header_timeout: Duration) -> Running {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap().to_string()).unwrap();
            serve_listener(l, app, header_timeout, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
    });
    Running {
        addr: rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        stop: Some(stop),
        thread: Some(thread),
    }
}
