//! A centre in memory: the plain [`Centre`] for tests and dry runs. It keeps what
//! PostgreSQL keeps (entries by terminal and seq, rows by terminal and number, anchors)
//! with the same checks, and can be made unreachable.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::{check_batch, Ack, Batch, Centre, ChainAnchor};
use crate::error::{Result, StoreError};

#[derive(Debug, Default)]
struct Inner {
    /// (terminal, seq) → entry hash
    entries: BTreeMap<(String, i64), String>,
    /// (terminal, number) → row
    rows: BTreeMap<(String, String), serde_json::Map<String, serde_json::Value>>,
    /// terminal → anchors, by count
    anchors: BTreeMap<String, BTreeMap<i64, String>>,
    down: bool,
}

/// A centre in memory. Clones share one store (one per test, many terminals).
#[derive(Debug, Clone, Default)]
pub struct MemCentre {
    inner: Arc<Mutex<Inner>>,
}

impl MemCentre {
    /// An empty centre.
    pub fn new() -> MemCentre {
        MemCentre::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Inner>> {
        self.inner
            .lock()
            .map_err(|_| StoreError::Invalid("the in-memory centre was poisoned".into()))
    }

    /// Make the centre unreachable (`true`) or reachable again.
    pub fn set_down(&self, down: bool) {
        if let Ok(mut i) = self.inner.lock() {
            i.down = down;
        }
    }

    /// Entries held, over all terminals.
    pub fn entries(&self) -> usize {
        self.inner.lock().map_or(0, |i| i.entries.len())
    }

    /// Record rows held, over all terminals.
    pub fn rows(&self) -> usize {
        self.inner.lock().map_or(0, |i| i.rows.len())
    }

    /// The row of `terminal`'s record `number`, if held.
    pub fn row(
        &self,
        terminal: &str,
        number: &str,
    ) -> Option<serde_json::Map<String, serde_json::Value>> {
        let i = self.inner.lock().ok()?;
        i.rows
            .get(&(terminal.to_string(), number.to_string()))
            .cloned()
    }
}

impl Centre for MemCentre {
    fn deliver(&mut self, batch: &Batch) -> Result<Ack> {
        let mut i = self.lock()?;
        if i.down {
            return Err(StoreError::Invalid("the centre is unreachable".into()));
        }
        let t = batch.terminal.clone();
        let anchors: Vec<ChainAnchor> = i
            .anchors
            .get(&t)
            .map(|m| {
                m.iter()
                    .map(|(c, h)| ChainAnchor {
                        count: *c,
                        head: h.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let current = {
            let entries = &i.entries;
            let mut stored = |seq: i64| Ok(entries.get(&(t.clone(), seq)).cloned());
            check_batch(batch, &mut stored, &anchors)?
        };
        let mut ack = Ack {
            stored: 0,
            duplicates: 0,
            records: 0,
            anchor: None,
        };
        for e in &batch.entries {
            match i.entries.entry((t.clone(), e.seq)) {
                std::collections::btree_map::Entry::Occupied(_) => ack.duplicates += 1,
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(e.hash.clone());
                    ack.stored += 1;
                }
            }
        }
        if current {
            for r in &batch.records {
                i.rows.insert((t.clone(), r.number.clone()), r.row.clone());
                ack.records += 1;
            }
            i.anchors
                .entry(t.clone())
                .or_default()
                .entry(batch.anchor.count)
                .or_insert_with(|| batch.anchor.head.clone());
        }
        ack.anchor = i.anchors.get(&t).and_then(|m| {
            m.iter().next_back().map(|(c, h)| ChainAnchor {
                count: *c,
                head: h.clone(),
            })
        });
        Ok(ack)
    }

    fn anchors(&mut self, terminal: &str) -> Result<Vec<ChainAnchor>> {
        let i = self.lock()?;
        Ok(i.anchors
            .get(terminal)
            .map(|m| {
                m.iter()
                    .map(|(c, h)| ChainAnchor {
                        count: *c,
                        head: h.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    fn entry_hashes(&mut self, terminal: &str) -> Result<Vec<(i64, String)>> {
        let i = self.lock()?;
        Ok(i.entries
            .iter()
            .filter(|((t, _), _)| t == terminal)
            .map(|((_, s), h)| (*s, h.clone()))
            .collect())
    }
}
