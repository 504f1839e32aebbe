//! The delivery worker: a thread that empties a terminal's outbox into the centre.
//!
//! Loop: read the oldest waiting entries as a batch, deliver it, mark the rows delivered
//! once the centre has acknowledged its commit; when nothing waits, sleep
//! [`DeliveryOptions::poll`] (or until [`Worker::wake`]). A failure (centre unreachable,
//! a server restarting, a refused batch) is noted on the rows for staff and retried after
//! an exponential back-off with jitter ([`Backoff`]), so a hundred terminals coming back
//! after a network cut do not all knock at once. A worker killed at any point loses
//! nothing: rows not marked are delivered again, and the centre stores them once.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;

use super::{Ack, Centre};
use crate::backend::Origin;
use crate::error::{Result, StoreError};
use crate::Store;

/// How the worker delivers.
#[derive(Debug, Clone)]
pub struct DeliveryOptions {
    /// Entries per batch.
    pub batch: usize,
    /// How long to sleep when the outbox is empty.
    pub poll: Duration,
    /// First retry delay after a failure.
    pub backoff_min: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
}

impl Default for DeliveryOptions {
    /// 200 entries a batch (one transaction at the centre of a few milliseconds), a poll
    /// every second, retries from 0.5 s doubling to 30 s.
    fn default() -> Self {
        DeliveryOptions {
            batch: 200,
            poll: Duration::from_secs(1),
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
        }
    }
}

/// Exponential back-off with "equal jitter": after n failures, a delay drawn uniformly
/// from [d/2, d] where d = min(max, min·2ⁿ).
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    failures: u32,
    rng: u64,
}

impl Backoff {
    /// A back-off between `min` and `max`, seeded from the system's randomness.
    pub fn new(min: Duration, max: Duration) -> Backoff {
        let seed = crate::keyfile::random::<8>()
            .map(u64::from_le_bytes)
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        Backoff::seeded(min, max, seed)
    }

    /// A back-off with a fixed seed (tests).
    pub fn seeded(min: Duration, max: Duration, seed: u64) -> Backoff {
        Backoff {
            min,
            max: max.max(min),
            failures: 0,
            rng: seed | 1,
        }
    }

    /// The delay before the next try after one more failure.
    pub fn fail(&mut self) -> Duration {
        let exp = self.failures.min(20);
        self.failures = self.failures.saturating_add(1);
        let d = self
            .min
            .saturating_mul(1u32 << exp)
            .min(self.max)
            .as_secs_f64();
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
        Duration::from_secs_f64(d / 2.0 + r * d / 2.0)
    }

    /// Back to the shortest delay (after a success).
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Failures since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// Deliver one batch of `store`'s outbox to `centre`. None when nothing waits. The rows
/// are marked delivered only when the centre acknowledged; on failure the attempt is
/// noted on them and the error returned.
pub fn deliver_once(store: &Store, centre: &mut dyn Centre, batch: usize) -> Result<Option<Ack>> {
    match store.outbox_batch(batch)? {
        Some(b) => deliver_batch(store, centre, &b).map(Some),
        None => Ok(None),
    }
}

fn deliver_batch(store: &Store, centre: &mut dyn Centre, b: &super::Batch) -> Result<Ack> {
    let seqs = b.seqs();
    match centre.deliver(b) {
        Ok(ack) => {
            store.outbox_delivered(&seqs)?;
            Ok(ack)
        }
        Err(e) => {
            // best effort: the note is for staff; the rows stay waiting either way
            let _ = store.outbox_failed(&seqs, &failure_reason(&e));
            Err(e)
        }
    }
}

/// A failure for staff: the error's kind and message, which name entries and servers,
/// never a record's content.
fn failure_reason(e: &StoreError) -> String {
    let s = e.to_string();
    s.chars().take(300).collect()
}

/// What a worker has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WorkerStats {
    /// Batches acknowledged.
    pub batches: u64,
    /// Entries stored at the centre for the first time.
    pub stored: u64,
    /// Entries the centre already had (repeated deliveries).
    pub duplicates: u64,
    /// Failed attempts.
    pub failures: u64,
    /// The last failure, if the last attempt failed.
    pub last_error: Option<String>,
}

struct Shared {
    stop: AtomicBool,
    wake: Mutex<bool>,
    cv: Condvar,
    stats: Mutex<WorkerStats>,
}

/// A running delivery worker (a thread). Stopped and joined on [`Worker::stop`] or drop.
pub struct Worker {
    shared: Arc<Shared>,
    handle: Option<JoinHandle<()>>,
}

/// Makes a connection to the centre (called again after a failure).
pub type Connect = Box<dyn FnMut() -> Result<Box<dyn Centre>> + Send>;

impl Worker {
    /// Start delivering the outbox of the store at `store_path` (opened here, its own
    /// connection; records are stamped by the terminal's `origin`). `connect` makes the
    /// centre connection, again after each failure.
    pub fn spawn(
        store_path: PathBuf,
        origin: Origin,
        connect: Connect,
        opts: DeliveryOptions,
    ) -> Result<Worker> {
        let mut store = Store::open(&store_path)?;
        store.set_origin(origin)?;
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            wake: Mutex::new(false),
            cv: Condvar::new(),
            stats: Mutex::new(WorkerStats::default()),
        });
        let s = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("xiaoan-delivery".into())
            .spawn(move || run(store, connect, opts, &s))
            .map_err(|e| StoreError::Io {
                path: store_path.display().to_string(),
                source: e,
            })?;
        Ok(Worker {
            shared,
            handle: Some(handle),
        })
    }

    /// Deliver now rather than at the next poll (after a write).
    pub fn wake(&self) {
        if let Ok(mut w) = self.shared.wake.lock() {
            *w = true;
            self.shared.cv.notify_all();
        }
    }

    /// What the worker has done so far.
    pub fn stats(&self) -> WorkerStats {
        self.shared
            .stats
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Stop after the batch in hand, and wait for the thread.
    pub fn stop(mut self) -> WorkerStats {
        self.halt();
        self.stats()
    }

    fn halt(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.wake();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Sleep up to `d`, waking early on [`Worker::wake`] or stop.
fn nap(s: &Shared, d: Duration) {
    let Ok(mut woken) = s.wake.lock() else {
        return;
    };
    if !*woken && !s.stop.load(Ordering::SeqCst) {
        woken = match s.cv.wait_timeout(woken, d) {
            Ok((w, _)) => w,
            Err(_) => return,
        };
    }
    *woken = false;
}

fn run(store: Store, mut connect: Connect, opts: DeliveryOptions, s: &Shared) {
    let mut backoff = Backoff::new(opts.backoff_min, opts.backoff_max);
    let mut centre: Option<Box<dyn Centre>> = None;
    while !s.stop.load(Ordering::SeqCst) {
        let result = store.outbox_batch(opts.batch).and_then(|b| {
            let Some(b) = b else {
                return Ok(None);
            };
            if centre.is_none() {
                match connect() {
                    Ok(c) => centre = Some(c),
                    Err(e) => {
                        // nothing was sent; noted on the waiting rows for staff
                        let _ = store.outbox_failed(&b.seqs(), &failure_reason(&e));
                        return Err(e);
                    }
                }
            }
            match centre.as_mut() {
                Some(c) => deliver_batch(&store, c.as_mut(), &b).map(Some),
                None => Ok(None),
            }
        });
        match result {
            Ok(Some(ack)) => {
                backoff.reset();
                if let Ok(mut st) = s.stats.lock() {
                    st.batches += 1;
                    st.stored += ack.stored;
                    st.duplicates += ack.duplicates;
                    st.last_error = None;
                }
            }
            Ok(None) => {
                backoff.reset();
                nap(s, opts.poll);
            }
            Err(e) => {
                if !e.is_busy() {
                    // a fresh connection next time (the server may have restarted)
                    centre = None;
                }
                if let Ok(mut st) = s.stats.lock() {
                    st.failures += 1;
                    st.last_error = Some(failure_reason(&e));
                }
                let d = backoff.fail();
                nap(s, d);
            }
        }
    }
}
