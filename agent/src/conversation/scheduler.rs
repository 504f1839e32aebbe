//! Fair decode scheduling across the sessions of one server.
//!
//! Every recogniser decode of every session asks the one [`DecodeScheduler`] for a slot
//! (as many slots as the machine runs decodes side by side). Two rules:
//! - **finals before partials**: a decode a resident is waiting for (the final of an
//!   utterance, its early final during the hang-over, a second opinion) is granted the
//!   next free slot ahead of every partial that waits;
//! - **under load, fewer partials rather than later finals**: a partial is not started
//!   while a final waits, and one that waits longer than [`PARTIAL_PATIENCE`] is
//!   dropped (the stream simply shows its next partial later). A partial already running
//!   is not interrupted.
//!
//! A session's engines are wrapped in [`Scheduled`], which tells the two kinds apart: a
//! decode on the session's own thread is always a final (the streaming recogniser runs
//! partials on worker threads), and one on a worker thread is a final when the session
//! says the resident has gone quiet (the early final), else a partial.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use xiaoan_models::{AsrModel, DecodeOptions, Transcript};

/// Longest a partial waits for a slot before it is dropped.
pub const PARTIAL_PATIENCE: Duration = Duration::from_millis(400);
/// How often a waiting request looks again at its priority and its cancel flag.
const RECHECK: Duration = Duration::from_millis(20);

/// What a decode is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// The resident waits for it.
    Final,
    /// A partial transcript while the resident speaks.
    Partial,
}

#[derive(Default)]
struct State {
    running: usize,
    finals_waiting: usize,
    /// tickets of the partials waiting, oldest first
    partials: VecDeque<u64>,
    next_ticket: u64,
}

/// The shared decode slots (see the module documentation).
pub struct DecodeScheduler {
    slots: usize,
    state: Mutex<State>,
    wake: Condvar,
    dropped: AtomicU64,
    granted_partials: AtomicU64,
    granted_finals: AtomicU64,
}

/// A granted slot; dropping it frees the slot.
pub struct Permit<'a> {
    sched: &'a DecodeScheduler,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if let Ok(mut st) = self.sched.state.lock() {
            st.running = st.running.saturating_sub(1);
        }
        self.sched.wake.notify_all();
    }
}

impl DecodeScheduler {
    /// A scheduler running at most `slots` decodes at once (at least one).
    pub fn new(slots: usize) -> DecodeScheduler {
        DecodeScheduler {
            slots: slots.max(1),
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            dropped: AtomicU64::new(0),
            granted_partials: AtomicU64::new(0),
            granted_finals: AtomicU64::new(0),
        }
    }

    /// Slots for this machine: its cores divided by the threads one decode uses.
    pub fn for_machine(threads_per_decode: usize) -> DecodeScheduler {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        DecodeScheduler::new(cores / threads_per_decode.max(1))
    }

    /// Decodes run side by side at most.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Partials dropped so far (waited too long, or a final was waiting).
    pub fn dropped_partials(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Partials and finals granted so far.
    pub fn granted(&self) -> (u64, u64) {
        (
            self.granted_partials.load(Ordering::Relaxed),
            self.granted_finals.load(Ordering::Relaxed),
        )
    }

    /// Wait for a slot. `priority` is asked again while waiting (a partial becomes a
    /// final when the resident stops talking). `None`: the request was dropped (a
    /// partial past its patience) or `cancel` was set while waiting.
    pub fn acquire(
        &self,
        priority: &dyn Fn() -> Priority,
        cancel: &AtomicBool,
    ) -> Option<Permit<'_>> {
        let started = Instant::now();
        let mut st = self.state.lock().ok()?;
        let ticket = st.next_ticket;
        st.next_ticket += 1;
        let mut as_final = false;
        loop {
            let p = priority();
            if p == Priority::Final && !as_final {
                // promoted (or a final from the start): leave the partials' queue
                st.partials.retain(|t| *t != ticket);
                st.finals_waiting += 1;
                as_final = true;
            } else if p == Priority::Partial && !as_final && !st.partials.contains(&ticket) {
                st.partials.push_back(ticket);
            }
            let free = st.running < self.slots;
            if as_final && free {
                st.finals_waiting -= 1;
                st.running += 1;
                self.granted_finals.fetch_add(1, Ordering::Relaxed);
                return Some(Permit { sched: self });
            }
            if !as_final && free && st.finals_waiting == 0 && st.partials.front() == Some(&ticket) {
                st.partials.pop_front();
                st.running += 1;
                self.granted_partials.fetch_add(1, Ordering::Relaxed);
                // the next partial in line may fit a further free slot
                self.wake.notify_all();
                return Some(Permit { sched: self });
            }
            let give_up = cancel.load(Ordering::Relaxed)
                || (!as_final && started.elapsed() >= PARTIAL_PATIENCE);
            if give_up {
                if as_final {
                    st.finals_waiting -= 1;
                } else {
                    st.partials.retain(|t| *t != ticket);
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
                self.wake.notify_all();
                return None;
            }
            st = match self.wake.wait_timeout(st, RECHECK) {
                Ok((guard, _)) => guard,
                Err(_) => return None,
            };
        }
    }
}

/// An engine whose decodes go through a [`DecodeScheduler`], for one session.
pub struct Scheduled {
    inner: Arc<dyn AsrModel>,
    sched: Arc<DecodeScheduler>,
    /// the session's own thread: decodes there are finals
    owner: ThreadId,
    /// set by the session while the resident is quiet: a worker's decode is the early final
    quiet: Arc<AtomicBool>,
}

impl Scheduled {
    /// Wrap `inner` for the session running on the calling thread; `quiet` is the
    /// session's "the resident has stopped talking" flag.
    pub fn new(
        inner: Arc<dyn AsrModel>,
        sched: Arc<DecodeScheduler>,
        quiet: Arc<AtomicBool>,
    ) -> Scheduled {
        Scheduled {
            inner,
            sched,
            owner: std::thread::current().id(),
            quiet,
        }
    }

    fn priority(&self) -> Priority {
        if std::thread::current().id() == self.owner || self.quiet.load(Ordering::Relaxed) {
            Priority::Final
        } else {
            Priority::Partial
        }
    }
}

impl AsrModel for Scheduled {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn decode_cancellable(
        &self,
        samples: &[f32],
        opts: &DecodeOptions,
        cancel: &AtomicBool,
    ) -> xiaoan_models::Result<Transcript> {
        let Some(_permit) = self.sched.acquire(&|| self.priority(), cancel) else {
            return Err(xiaoan_models::Error::Cancelled);
        };
        self.inner.decode_cancellable(samples, opts, cancel)
    }

    fn score_texts(
        &self,
        samples: &[f32],
        opts: &DecodeOptions,
        texts: &[String],
    ) -> xiaoan_models::Result<Option<Vec<f32>>> {
        let cancel = AtomicBool::new(false);
        let Some(_permit) = self.sched.acquire(&|| self.priority(), &cancel) else {
            return Err(xiaoan_models::Error::Cancelled);
        };
        self.inner.score_texts(samples, opts, texts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Requests queue on a scheduler whose only slot is held; returns the order in
    /// which they were granted once it is released.
    fn order_after_release(requests: &[(&'static str, Priority)]) -> Vec<&'static str> {
        let sched = Arc::new(DecodeScheduler::new(1));
        let never = AtomicBool::new(false);
        let held = sched.acquire(&|| Priority::Final, &never).unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut handles = Vec::new();
        for (name, p) in requests.iter().copied() {
            let (sched, order) = (sched.clone(), order.clone());
            handles.push(std::thread::spawn(move || {
                let cancel = AtomicBool::new(false);
                if let Some(_slot) = sched.acquire(&|| p, &cancel) {
                    order.lock().unwrap().push(name);
                    std::thread::sleep(Duration::from_millis(5));
                }
            }));
            // queued in this order
            std::thread::sleep(Duration::from_millis(30));
        }
        drop(held);
        for h in handles {
            h.join().unwrap();
        }
        let v = order.lock().unwrap().clone();
        v
    }

    #[test]
    fn a_final_queued_behind_partials_runs_first() {
        let order = order_after_release(&[
            ("partial a", Priority::Partial),
            ("partial b", Priority::Partial),
            ("final", Priority::Final),
        ]);
        assert_eq!(order.first(), Some(&"final"), "{order:?}");
        // the partials that still fit their patience keep their own order
        let partials: Vec<_> = order.iter().filter(|n| n.starts_with("partial")).collect();
        assert!(partials.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    }

    #[test]
    fn under_load_partials_are_dropped_and_finals_never_are() {
        let sched = Arc::new(DecodeScheduler::new(1));
        let never = AtomicBool::new(false);
        let held = sched.acquire(&|| Priority::Final, &never).unwrap();
        let s2 = sched.clone();
        let partial = std::thread::spawn(move || {
            let c = AtomicBool::new(false);
            s2.acquire(&|| Priority::Partial, &c).is_some()
        });
        let s3 = sched.clone();
        let fin = std::thread::spawn(move || {
            let c = AtomicBool::new(false);
            s3.acquire(&|| Priority::Final, &c).is_some()
        });
        // the slot stays busy past a partial's patience
        std::thread::sleep(PARTIAL_PATIENCE + Duration::from_millis(200));
        drop(held);
        assert!(
            !partial.join().unwrap(),
            "a partial past its patience is dropped"
        );
        assert!(fin.join().unwrap(), "a final waits as long as it takes");
        assert_eq!(sched.dropped_partials(), 1);
    }

    #[test]
    fn a_waiting_partial_becomes_a_final_when_the_resident_stops() {
        let sched = Arc::new(DecodeScheduler::new(1));
        let never = AtomicBool::new(false);
        let held = sched.acquire(&|| Priority::Final, &never).unwrap();
        let quiet = Arc::new(AtomicBool::new(false));
        let (s2, q2) = (sched.clone(), quiet.clone());
        let waiting = std::thread::spawn(move || {
            let c = AtomicBool::new(false);
            let p = || {
                if q2.load(Ordering::Relaxed) {
                    Priority::Final
                } else {
                    Priority::Partial
                }
            };
            s2.acquire(&p, &c).is_some()
        });
        std::thread::sleep(Duration::from_millis(100));
        quiet.store(true, Ordering::Relaxed);
        std::thread::sleep(PARTIAL_PATIENCE + Duration::from_millis(100));
        drop(held);
        assert!(
            waiting.join().unwrap(),
            "promoted to a final, it was not dropped"
        );
    }

    #[test]
    fn a_cancelled_request_leaves_the_queue() {
        let sched = DecodeScheduler::new(1);
        let never = AtomicBool::new(false);
        let _held = sched.acquire(&|| Priority::Final, &never).unwrap();
        let cancel = AtomicBool::new(true);
        assert!(sched.acquire(&|| Priority::Final, &cancel).is_none());
        let st = sched.state.lock().unwrap();
        assert_eq!((st.finals_waiting, st.running), (0, 1));
    }
}
