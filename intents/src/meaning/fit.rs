//! Training the meaning model and its fusion (cargo feature `train`).

use crate::embed::Embedder;
use crate::error::{Error, Result};
use crate::Intent;

use super::{
    data_hash, fused_logits, normalized, training_lines, MeaningModel, CLASS_WEIGHT_FLOOR, FOLDS,
    L2, LEARNING_RATE, MOMENTUM, NOISE_RATES, NOISY_COPIES, NOISY_WEIGHT, STEPS,
};

/// Steps of gradient descent on the fusion (weights and per-class offsets).
const FUSION_STEPS: usize = 300;
/// L2 penalty on the per-class offsets.
const FUSION_L2: f32 = 1e-3;

/// Fits the fusion `a·log p + b·z + c` (temperature 1) to out-of-fold rows
/// `(n-gram probabilities, meaning logits, gold class)` by full-batch gradient descent
/// from the best `(a, b)` of a coarse grid with `c = 0`. Returns `(a, b, c)`.
#[allow(clippy::type_complexity)]
pub(crate) fn fit_fusion(rows: &[(&[f32], &[f32], usize)]) -> (f32, f32, Vec<f32>) {
    let k = Intent::ALL.len();
    let nll = |a: f32, b: f32, c: &[f32]| -> f32 {
        rows.iter()
            .map(|(p, z, g)| {
                let mut f = fused_logits(p, z, a, b);
                f.iter_mut().zip(c).for_each(|(x, c)| *x += c);
                -crate::model::softmax(&f, 1.0)[*g].max(1e-9).ln()
            })
            .sum::<f32>()
            / rows.len().max(1) as f32
    };
    let zero = vec![0f32; k];
    let mut best = (f32::INFINITY, 0.0, 1.0);
    for ai in 0..=20 {
        for bi in 0..=20 {
            let (a, b) = (ai as f32 * 0.1, bi as f32 * 0.1);
            let l = nll(a, b, &zero);
            if l < best.0 {
                best = (l, a, b);
            }
        }
    }
    let (mut a, mut b, mut c) = (best.1, best.2, zero);
    let lr = 0.5f32;
    let n = rows.len().max(1) as f32;
    for _ in 0..FUSION_STEPS {
        let (mut ga, mut gb) = (0f32, 0f32);
        let mut gc = vec![0f32; k];
        for (p, z, g) in rows {
            let mut f = fused_logits(p, z, a, b);
            f.iter_mut().zip(&c).for_each(|(x, c)| *x += c);
            let q = crate::model::softmax(&f, 1.0);
            for j in 0..k {
                let d = (q[j] - if j == *g { 1.0 } else { 0.0 }) / n;
                ga += d * p[j].max(1e-6).ln();
                gb += d * z[j];
                gc[j] += d;
            }
        }
        a -= lr * 0.1 * ga;
        b -= lr * 0.1 * gb;
        for j in 0..k {
            c[j] -= lr * (gc[j] + FUSION_L2 * c[j]);
        }
    }
    (a, b, c)
}

/// One training row: a line or a garbled copy of it, as the classifiers read it.
#[derive(Clone, Debug)]
pub struct Row {
    /// The normalised text (what is embedded).
    pub normalized: crate::Normalized,
    /// The intent.
    pub intent: Intent,
    /// The residents' line it comes from (`None` for `train.tsv` lines).
    pub resident: Option<usize>,
    /// A garbled copy.
    pub noisy: bool,
}

/// The training rows: every line of [`training_lines`] and [`NOISY_COPIES`] garbled copies
/// of it (fixed by [`crate::train::SEED`]).
pub fn rows() -> Result<Vec<Row>> {
    use rand::SeedableRng;
    let (base, res) = training_lines()?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(crate::train::SEED ^ 0x6d65_616e);
    let mut out = Vec::with_capacity((base.len() + res.len()) * (1 + NOISY_COPIES));
    let lines = base
        .iter()
        .map(|e| (e, None))
        .chain(res.iter().enumerate().map(|(i, e)| (e, Some(i))));
    for (k, (e, resident)) in lines.enumerate() {
        out.push(Row {
            normalized: normalized(&e.text),
            intent: e.intent,
            resident,
            noisy: false,
        });
        for c in 0..NOISY_COPIES {
            let rate = NOISE_RATES[(k + c) % NOISE_RATES.len()];
            let t = crate::train::noisy(&e.text, rate, &mut rng);
            out.push(Row {
                normalized: normalized(&t),
                intent: e.intent,
                resident,
                noisy: true,
            });
        }
    }
    Ok(out)
}

/// Trains the meaning model for `emb` with the n-gram model `ngram` (the one it is fused
/// with): embeds every training row (a minute or so on two cores), then [`train_from`].
pub fn train_meaning(
    emb: &dyn Embedder,
    ngram: &crate::Model,
    hp: Hyper,
) -> Result<(MeaningModel, OutOfFold)> {
    let rows = rows()?;
    let texts: Vec<String> = rows.iter().map(|r| r.normalized.text.clone()).collect();
    let x = embed_all(emb, &texts)?;
    let (base, res) = training_lines()?;
    // the n-gram model learns the residents' lines too: each fold of them is scored by an
    // n-gram model trained without that fold, so the fusion is fitted on out-of-fold
    // scores of both models
    let fold = folds(res.len());
    let mut ng: Vec<Vec<f32>> = rows
        .iter()
        .map(|r| match r.resident {
            Some(_) => Vec::new(),
            None => ngram.predict(&crate::features::features(&r.normalized)),
        })
        .collect();
    for f in 0..FOLDS {
        let keep: Vec<&crate::train::Example> = res
            .iter()
            .enumerate()
            .filter(|(i, _)| fold[*i] != f)
            .map(|(_, e)| e)
            .collect();
        let m = crate::train::train_with(&keep, crate::train::SEED)?;
        for (r, p) in rows.iter().zip(ng.iter_mut()) {
            if r.resident.is_some_and(|i| fold[i] == f) {
                *p = m.predict(&crate::features::features(&r.normalized));
            }
        }
    }
    train_from(
        hp,
        &emb.identity(),
        &rows,
        &x,
        &ng,
        data_hash(&base, &res, &emb.identity()),
    )
}

/// Embeds `texts` with `emb` (query side), two threads.
pub fn embed_all(emb: &dyn Embedder, texts: &[String]) -> Result<Vec<Vec<f32>>> {
    let half = texts.len().div_ceil(2);
    let (a, b) = texts.split_at(half);
    let run = |part: &[String]| -> Result<Vec<Vec<f32>>> {
        part.iter().map(|t| emb.embed_query(t)).collect()
    };
    let (ra, rb) = std::thread::scope(|s| {
        let h = s.spawn(|| run(b));
        let ra = run(a);
        (ra, h.join())
    });
    let mut out = ra?;
    out.extend(rb.map_err(|_| Error::Embed("embedding thread panicked".into()))??);
    Ok(out)
}

/// Trained weights: (class-major weights, bias).
type Fitted = (Vec<f32>, Vec<f32>);

/// Training settings of the logistic regression.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hyper {
    /// L2 penalty on the weights (of standardised inputs; mean loss).
    pub l2: f32,
    /// Gradient steps (full batch, Nesterov momentum).
    pub steps: usize,
    /// Step size.
    pub learning_rate: f32,
    /// Weight of a garbled copy in the loss, relative to its line.
    pub noisy_weight: f32,
    /// Smallest class weight (see [`CLASS_WEIGHT_FLOOR`]).
    pub class_floor: f32,
}

impl Default for Hyper {
    /// The shipped model's settings.
    fn default() -> Self {
        Hyper {
            l2: L2,
            steps: STEPS,
            learning_rate: LEARNING_RATE,
            noisy_weight: NOISY_WEIGHT,
            class_floor: CLASS_WEIGHT_FLOOR,
        }
    }
}

/// Multinomial logistic regression by full-batch gradient descent with Nesterov
/// momentum, from zeros (deterministic), on inputs standardised per dimension (the
/// encoder's vectors differ from each other in small amounts); the returned weights
/// apply to the raw vectors.
#[allow(clippy::needless_range_loop)]
pub(crate) fn fit(x: &[&[f32]], y: &[usize], rw: &[f32], dim: usize, hp: Hyper) -> Fitted {
    let k = Intent::ALL.len();
    let n = x.len().max(1) as f32;
    let mut mu = vec![0f32; dim];
    for xi in x {
        for (m, v) in mu.iter_mut().zip(*xi) {
            *m += v / n;
        }
    }
    let mut sd = vec![0f32; dim];
    for xi in x {
        for ((s, v), m) in sd.iter_mut().zip(*xi).zip(&mu) {
            *s += (v - m) * (v - m) / n;
        }
    }
    sd.iter_mut().for_each(|s| *s = s.sqrt().max(1e-6));
    let xs: Vec<Vec<f32>> = x
        .iter()
        .map(|xi| {
            xi.iter()
                .zip(&mu)
                .zip(&sd)
                .map(|((v, m), s)| (v - m) / s)
                .collect()
        })
        .collect();
    let mut counts = vec![0f32; k];
    for &c in y {
        counts[c] += 1.0;
    }
    let mut sorted: Vec<f32> = counts.iter().cloned().filter(|&c| c > 0.0).collect();
    sorted.sort_by(f32::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(1.0);
    let cw: Vec<f32> = counts
        .iter()
        .map(|&c| (median / c.max(1.0)).clamp(hp.class_floor.min(1.0), 1.0))
        .collect();
    let wsum: f32 = y
        .iter()
        .zip(rw)
        .map(|(&c, r)| cw[c] * r)
        .sum::<f32>()
        .max(1e-6);
    let mut w = vec![0f32; k * dim];
    let mut b = vec![0f32; k];
    let mut vw = vec![0f32; k * dim];
    let mut vb = vec![0f32; k];
    let mut gw = vec![0f32; k * dim];
    let mut gb = vec![0f32; k];
    let mut z = vec![0f32; k];
    let mut lw = vec![0f32; k * dim];
    let mut lb = vec![0f32; k];
    for _ in 0..hp.steps {
        // look-ahead point
        for i in 0..k * dim {
            lw[i] = w[i] + MOMENTUM * vw[i];
        }
        for c in 0..k {
            lb[c] = b[c] + MOMENTUM * vb[c];
        }
        gw.iter_mut().for_each(|g| *g = 0.0);
        gb.iter_mut().for_each(|g| *g = 0.0);
        for ((xi, &yi), &ri) in xs.iter().zip(y).zip(rw) {
            if ri == 0.0 {
                continue;
            }
            for c in 0..k {
                let row = &lw[c * dim..(c + 1) * dim];
                z[c] = lb[c] + row.iter().zip(xi).map(|(a, b)| a * b).sum::<f32>();
            }
            let p = crate::model::softmax(&z, 1.0);
            let s = cw[yi] * ri / wsum;
            for c in 0..k {
                let g = (p[c] - if c == yi { 1.0 } else { 0.0 }) * s;
                gb[c] += g;
                let grow = &mut gw[c * dim..(c + 1) * dim];
                for (gv, xv) in grow.iter_mut().zip(xi) {
                    *gv += g * xv;
                }
            }
        }
        for i in 0..k * dim {
            let g = gw[i] + hp.l2 * lw[i];
            vw[i] = MOMENTUM * vw[i] - hp.learning_rate * g;
            w[i] += vw[i];
        }
        for c in 0..k {
            vb[c] = MOMENTUM * vb[c] - hp.learning_rate * gb[c];
            b[c] += vb[c];
        }
    }
    // back to raw inputs: w·(x−μ)/σ + b = (w/σ)·x + (b − Σ w μ/σ)
    for c in 0..k {
        let row = &mut w[c * dim..(c + 1) * dim];
        for ((wv, m), s) in row.iter_mut().zip(&mu).zip(&sd) {
            *wv /= s;
            b[c] -= *wv * m;
        }
    }
    (w, b)
}

pub(crate) fn logits_of(fitted: &Fitted, dim: usize, v: &[f32]) -> Vec<f32> {
    let (w, b) = fitted;
    b.iter()
        .enumerate()
        .map(|(c, bc)| {
            bc + w[c * dim..(c + 1) * dim]
                .iter()
                .zip(v)
                .map(|(a, b)| a * b)
                .sum::<f32>()
        })
        .collect()
}

/// Out-of-fold predictions for the rows of residents' lines.
pub struct OutOfFold {
    /// For each training row of a residents' line: (row index, meaning logits by a model
    /// that never saw the line, its fold).
    pub rows: Vec<(usize, Vec<f32>, usize)>,
    /// The n-gram model's probabilities of every training row, by row index: for a
    /// residents' line, by a model that never saw it.
    pub ngram: Vec<Vec<f32>>,
}

/// Fold of each of `n` lines: a fixed shuffle of [`crate::train::SEED`], dealt round.
pub fn folds(n: usize) -> Vec<usize> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(crate::train::SEED);
    order.shuffle(&mut rng);
    let mut fold = vec![0; n];
    for (pos, &i) in order.iter().enumerate() {
        fold[i] = pos % FOLDS;
    }
    fold
}

/// Trains the meaning model and its fusion from the rows' embeddings `x` and the n-gram
/// model's probabilities `ngram` (both in the order of `rows`).
pub fn train_from(
    hp: Hyper,
    identity: &str,
    rows: &[Row],
    x: &[Vec<f32>],
    ngram: &[Vec<f32>],
    data_hash: [u8; 32],
) -> Result<(MeaningModel, OutOfFold)> {
    let dim = x
        .first()
        .map(Vec::len)
        .ok_or_else(|| Error::Model("no training lines to embed".into()))?;
    if rows.len() != x.len() || rows.len() != ngram.len() || x.iter().any(|v| v.len() != dim) {
        return Err(Error::Model(
            "embeddings do not match the training lines".into(),
        ));
    }
    let n_res = rows
        .iter()
        .filter_map(|r| r.resident)
        .max()
        .map_or(0, |m| m + 1);
    let fold = folds(n_res);
    let y: Vec<usize> = rows.iter().map(|r| r.intent.index()).collect();
    let rw: Vec<f32> = rows
        .iter()
        .map(|r| if r.noisy { hp.noisy_weight } else { 1.0 })
        .collect();
    let mut oof = Vec::new();
    for f in 0..FOLDS {
        let keep: Vec<usize> = (0..rows.len())
            .filter(|&i| rows[i].resident.is_none_or(|r| fold[r] != f))
            .collect();
        let xs: Vec<&[f32]> = keep.iter().map(|&i| x[i].as_slice()).collect();
        let ys: Vec<usize> = keep.iter().map(|&i| y[i]).collect();
        let ws: Vec<f32> = keep.iter().map(|&i| rw[i]).collect();
        let m = fit(&xs, &ys, &ws, dim, hp);
        for (i, r) in rows.iter().enumerate() {
            if r.resident.is_some_and(|r| fold[r] == f) {
                oof.push((i, logits_of(&m, dim, &x[i]), f));
            }
        }
    }
    oof.sort_by_key(|o| o.0);
    // the fusion, fitted on the out-of-fold scores
    let fusion_rows: Vec<(&[f32], &[f32], usize)> = oof
        .iter()
        .map(|(i, z, _)| (ngram[*i].as_slice(), z.as_slice(), y[*i]))
        .collect();
    let (a, b, c) = fit_fusion(&fusion_rows);
    let xs: Vec<&[f32]> = x.iter().map(Vec::as_slice).collect();
    let (weights, bias) = fit(&xs, &y, &rw, dim, hp);
    Ok((
        MeaningModel {
            identity: identity.to_string(),
            dim,
            weights,
            bias,
            ngram_weight: a,
            meaning_weight: b,
            temperature: 1.0,
            fusion_bias: c,
            data_hash,
        },
        OutOfFold {
            rows: oof,
            ngram: ngram.to_vec(),
        },
    ))
}
