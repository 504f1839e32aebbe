//! `records verify --centre`: a terminal's local chain against what the centre holds.
//!
//! A bare hash chain cannot show that its newest entries were deleted: what is left is a
//! valid chain. The centre's anchors can: each delivery left the chain's count and head
//! there, outside the terminal's reach. Checked here:
//! - the local chain is at least as long as the longest anchored count (else entries were
//!   cut off the end after delivery);
//! - at every anchored count, the local entry has the anchored hash (else the chain was
//!   rewritten up to there);
//! - every entry the centre holds has the same hash locally (the first that differs is
//!   named);
//! - and the local chain's own check (`Store::verify`).

use serde::Serialize;

use super::Centre;
use crate::chain::{Problem, ProblemKind};
use crate::error::Result;
use crate::Store;

/// The result of checking one terminal against the centre.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CentreCheck {
    /// The terminal.
    pub terminal: String,
    /// Entries in the local chain.
    pub local_entries: u64,
    /// Entries of this terminal the centre holds.
    pub centre_entries: u64,
    /// The longest count anchored at the centre.
    pub anchored: i64,
    /// Anchors compared.
    pub anchors: u64,
    /// True when nothing is wrong.
    pub ok: bool,
    /// What is wrong, lowest entry first (the local chain's own problems included).
    pub problems: Vec<Problem>,
}

fn problem(kind: ProblemKind, seq: i64, message: String) -> Problem {
    Problem {
        kind,
        seq: Some(seq),
        record_number: None,
        message,
    }
}

/// Check `store`'s chain against `centre`'s anchors and entries for the store's terminal.
pub fn verify_against_centre(store: &Store, centre: &mut dyn Centre) -> Result<CentreCheck> {
    let terminal = store.origin().terminal.clone();
    let local = store.chain_hashes()?;
    let anchors = centre.anchors(&terminal)?;
    let held = centre.entry_hashes(&terminal)?;
    let local_count = local.last().map_or(0, |(s, _)| *s);
    let hash_at = |seq: i64| -> Option<&str> {
        // seq runs from 1 without gaps in a sound chain; fall back to a search otherwise
        let i = usize::try_from(seq - 1).ok()?;
        match local.get(i) {
            Some((s, h)) if *s == seq => Some(h.as_str()),
            _ => local
                .iter()
                .find(|(s, _)| *s == seq)
                .map(|(_, h)| h.as_str()),
        }
    };
    let mut problems = Vec::new();
    let anchored = anchors.iter().map(|a| a.count).max().unwrap_or(0);
    if anchored > local_count {
        problems.push(problem(
            ProblemKind::EntryMissing,
            local_count + 1,
            format!(
                "the centre anchored {anchored} entries of this terminal but its chain has {local_count}: entries {} to {anchored} were deleted after delivery",
                local_count + 1
            ),
        ));
    }
    if let Some(a) = anchors
        .iter()
        .filter(|a| a.count > 0 && a.count <= local_count)
        .find(|a| hash_at(a.count) != Some(a.head.as_str()))
    {
        problems.push(problem(
            ProblemKind::EntryAltered,
            a.count,
            format!(
                "entry {} is not the one anchored at the centre: the chain was rewritten after delivery",
                a.count
            ),
        ));
    }
    if let Some((seq, _)) = held
        .iter()
        .find(|(s, h)| *s <= local_count && hash_at(*s) != Some(h.as_str()))
    {
        problems.push(problem(
            ProblemKind::EntryAltered,
            *seq,
            format!("entry {seq} differs from the one delivered to the centre"),
        ));
    }
    let own = store.verify()?;
    problems.extend(own.problems);
    problems.sort_by_key(|p| p.seq.unwrap_or(i64::MAX));
    problems.dedup_by(|a, b| a.kind == b.kind && a.seq == b.seq);
    Ok(CentreCheck {
        terminal,
        local_entries: u64::try_from(local.len()).unwrap_or(0),
        centre_entries: u64::try_from(held.len()).unwrap_or(0),
        anchored,
        anchors: u64::try_from(anchors.len()).unwrap_or(0),
        ok: problems.is_empty(),
        problems,
    })
}
