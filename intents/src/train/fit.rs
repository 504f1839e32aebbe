//! Fitting the intent model: stochastic gradient descent on the training examples and
//! their noisy copies, a temperature fitted on a held-out fifth, cross-validation.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::noise::{noisy, truncated, NOISE_RATE};
use super::report::{predictions, Report};
use crate::data::{examples, Example};
use crate::error::{Error, Result};
use crate::features::{features, DIM};
use crate::model::{softmax, Model};
use crate::{normalize, Understander};

/// Noisy copies per training example.
const NOISY_COPIES: usize = 8;
/// Noise rates of the copies, in turn (Whisper base on espeak-ng Mandarin has a CER
/// around 0.75, so copies go well past the evaluation rate).
const NOISE_RATES: [f64; 4] = [0.2, 0.35, 0.5, 0.65];
/// Share of noisy copies cut short (the recogniser stops early).
const TRUNCATE: f64 = 0.3;
/// Epochs of stochastic gradient descent.
const EPOCHS: usize = 30;
/// Initial learning rate.
const LEARNING_RATE: f32 = 0.8;
/// L2 penalty per update on the active weights.
const L2: f32 = 1e-5;

/// Noisy copies of each residents' line: fewer than the training examples'
/// (most of them are service questions, and many heavily garbled copies of them teach
/// the model that any garble is a service question: 分秀爱 read as one at 0.86).
const RESIDENT_NOISY_COPIES: usize = 4;

/// Feature rows (features, class) of `examples` plus their noisy copies.
fn rows(examples: &[&Example], rng: &mut ChaCha8Rng) -> Vec<(Vec<(u32, f32)>, usize)> {
    rows_with(examples, NOISY_COPIES, rng)
}

/// Feature rows of `examples` plus `copies` noisy copies of each.
fn rows_with(
    examples: &[&Example],
    copies: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<(Vec<(u32, f32)>, usize)> {
    let mut out = Vec::with_capacity(examples.len() * (1 + copies));
    for e in examples {
        out.push((features(&normalize(&e.text)), e.intent.index()));
        for k in 0..copies {
            let rate = NOISE_RATES[k % NOISE_RATES.len()];
            let mut t = noisy(&e.text, rate, rng);
            if rng.random_bool(TRUNCATE) {
                t = truncated(&t, rng);
            }
            out.push((features(&normalize(&t)), e.intent.index()));
        }
    }
    out
}

/// Stochastic gradient descent on the softmax cross-entropy.
#[allow(clippy::needless_range_loop)]
fn fit(rows: &mut [(Vec<(u32, f32)>, usize)], rng: &mut ChaCha8Rng) -> Model {
    let mut m = Model::zeros();
    let k = m.bias.len();
    for epoch in 0..EPOCHS {
        rows.shuffle(rng);
        let lr = LEARNING_RATE / (1.0 + epoch as f32 * 0.3);
        for (x, y) in rows.iter() {
            let p = softmax(&m.logits(x), 1.0);
            for c in 0..k {
                let g = p[c] - if c == *y { 1.0 } else { 0.0 };
                m.bias[c] -= lr * g * 0.1;
                let row = &mut m.weights[c * DIM..(c + 1) * DIM];
                for &(i, v) in x {
                    let w = &mut row[i as usize];
                    *w -= lr * (g * v + L2 * *w);
                }
            }
        }
    }
    m
}

/// The temperature that minimises the negative log-likelihood on `rows`.
fn fit_temperature(m: &Model, rows: &[(Vec<(u32, f32)>, usize)]) -> f32 {
    let logits: Vec<(Vec<f32>, usize)> = rows.iter().map(|(x, y)| (m.logits(x), *y)).collect();
    let mut best = (f32::INFINITY, 1.0);
    for step in 0..60 {
        let t = 0.3 + step as f32 * 0.05;
        let nll: f32 = logits
            .iter()
            .map(|(z, y)| -softmax(z, t)[*y].max(1e-9).ln())
            .sum();
        if nll < best.0 {
            best = (nll, t);
        }
    }
    best.1
}

/// Trains the intent model on all training examples and the residents' lines
/// (`data/train-residents.tsv`), and their noisy copies, with the temperature fitted on a
/// held-out fifth first. Reproducible for a given seed.
pub fn train(seed: u64) -> Result<Model> {
    let residents = crate::data::residents()?;
    let extra: Vec<&Example> = residents.iter().collect();
    train_with(&extra, seed)
}

/// Trains as [`train`] does on the training examples plus `extra` lines (the meaning
/// model's fusion is fitted with n-gram models that never saw the residents' fold they
/// score).
pub fn train_with(extra: &[&Example], seed: u64) -> Result<Model> {
    let base: Vec<&Example> = examples().iter().collect();
    let n_base = base.len();
    let all: Vec<&Example> = base.into_iter().chain(extra.iter().copied()).collect();
    if all.is_empty() {
        return Err(Error::Model("no training examples".into()));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..all.len()).collect();
    order.shuffle(&mut rng);
    let cut = all.len() / 5;
    // rows of the indexed lines: the training examples' noisy copies, or the residents'
    let rows_of = |idx: &[usize], rng: &mut ChaCha8Rng| {
        let (b, e): (Vec<usize>, Vec<usize>) = idx.iter().partition(|&&i| i < n_base);
        let b: Vec<&Example> = b.iter().map(|&i| all[i]).collect();
        let e: Vec<&Example> = e.iter().map(|&i| all[i]).collect();
        let mut r = rows(&b, rng);
        r.extend(rows_with(&e, RESIDENT_NOISY_COPIES, rng));
        r
    };
    let mut fit_rows = rows_of(&order[cut..], &mut rng);
    let cal_rows = rows_of(&order[..cut], &mut rng);
    let probe = fit(&mut fit_rows, &mut rng);
    let t = fit_temperature(&probe, &cal_rows);
    let every: Vec<usize> = (0..all.len()).collect();
    let mut all_rows = rows_of(&every, &mut rng);
    let mut m = fit(&mut all_rows, &mut rng);
    m.temperature = t;
    Ok(m)
}

/// Trains with `seed` and writes the model file (`model/intent-model.bin` is the one
/// embedded in the crate).
pub fn write_model(path: &std::path::Path, seed: u64) -> Result<Model> {
    let m = train(seed)?;
    std::fs::write(path, m.to_bytes()).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(m)
}

/// K-fold cross-validation over the training examples: each fold is scored on its clean
/// examples and on one noisy copy of each, by a model trained on the other folds.
pub fn cross_validate(folds: usize, seed: u64) -> Report {
    let all: Vec<&Example> = examples().iter().collect();
    let folds = folds.clamp(2, all.len().max(2));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..all.len()).collect();
    order.shuffle(&mut rng);
    let mut items = Vec::new();
    for f in 0..folds {
        let (test, train): (Vec<_>, Vec<_>) =
            order.iter().enumerate().partition(|(i, _)| i % folds == f);
        let test: Vec<&Example> = test.into_iter().map(|(_, &j)| all[j]).collect();
        let train: Vec<&Example> = train.into_iter().map(|(_, &j)| all[j]).collect();
        let mut r = rows(&train, &mut rng);
        let m = fit(&mut r, &mut rng);
        let u = Understander::from_model(m);
        let mut scored: Vec<Example> = test.iter().map(|e| (*e).clone()).collect();
        for e in &test {
            scored.push(Example {
                text: noisy(&e.text, NOISE_RATE, &mut rng),
                noisy: true,
                ..(*e).clone()
            });
        }
        items.extend(predictions(&u, &scored));
    }
    Report::from_predictions(&items)
}
