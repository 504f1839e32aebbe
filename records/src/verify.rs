//! Checking the evidence: the whole chain against its records and its signed anchor,
//! and a receipt's check code.

use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};

use crate::chain::{self, Problem, ProblemKind, VerifyReport};
use crate::clock::normalise_number;
use crate::error::{Result, StoreError};
use crate::{anchor, Store};

impl Store {
    /// The check code printed on the receipt of record `number` (see
    /// [`crate::CHECK_CODE_LEN`]): None when the store has no device key.
    pub fn check_code(&self, number: &str) -> Result<Option<String>> {
        let number = normalise_number(number);
        let Some(a) = &self.anchor else {
            return Ok(None);
        };
        let hash = self.created_hash(&number)?;
        Ok(Some(a.check_code(&number, &hash)))
    }

    /// Whether `code` is the check code of the receipt for record `number`, as the chain
    /// and the device key have it now. [`StoreError::NotFound`] when the chain has no
    /// `created` entry for the number (a deleted record).
    pub fn check_receipt(&self, number: &str, code: &str) -> Result<bool> {
        let number = normalise_number(number);
        let hash = self.created_hash(&number)?;
        let a = self.anchor.as_ref().ok_or_else(|| {
            StoreError::Invalid(format!(
                "no device key at {}: receipts cannot be checked",
                anchor::key_path(&self.path).display()
            ))
        })?;
        Ok(a.check_receipt(&number, &hash, code))
    }

    fn created_hash(&self, number: &str) -> Result<String> {
        self.conn
            .query_row(
                "SELECT hash FROM evidence WHERE record_number = ?1 AND action = 'created' ORDER BY seq LIMIT 1",
                params![number],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| StoreError::NotFound(number.to_string()))
    }

    /// Check the evidence chain and every record against it; names the first altered or
    /// missing entry.
    pub fn verify(&self) -> Result<VerifyReport> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Deferred)?;
        let mut report = chain::verify(&tx, self.sealer.as_ref())?;
        let count: i64 = tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM evidence", [], |r| {
            r.get(0)
        })?;
        let mut extra = match &self.anchor {
            None => vec![Problem {
                kind: ProblemKind::AnchorBroken,
                seq: None,
                record_number: None,
                message: format!(
                    "no device key at {}: the chain cannot be checked for deleted entries",
                    anchor::key_path(&self.path).display()
                ),
            }],
            Some(a) => {
                let (lines, mut problems) = a.read();
                let mut stmt = tx.prepare("SELECT hash FROM evidence WHERE seq = ?1")?;
                let mut hash_at = |seq: i64| -> Result<Option<String>> {
                    Ok(stmt.query_row(params![seq], |r| r.get(0)).optional()?)
                };
                problems.extend(anchor::check(&lines, count, &mut hash_at)?);
                problems
            }
        };
        tx.commit()?;
        // the chain's own "entries missing at the end" (its head was not reset) and the
        // anchor's say the same thing: keep the chain's
        let cut = |p: &Problem| p.kind == ProblemKind::EntryMissing && p.seq == Some(count + 1);
        if report.problems.iter().any(cut) {
            extra.retain(|p| !cut(p));
        }
        report.problems.append(&mut extra);
        report.problems.truncate(100);
        report.ok = report.problems.is_empty();
        report.first_problem = report
            .problems
            .iter()
            .min_by_key(|p| p.seq.unwrap_or(i64::MAX))
            .cloned();
        Ok(report)
    }
}
