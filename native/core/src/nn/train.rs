//! The training loop shared by every [`Model`]: shuffled mini-batches, weighted
//! cross-entropy, global-norm clipping, Adam, validation macro-F1 model selection and early
//! stopping.
//!
//! Determinism: every mini-batch is cut into chunks of `cfg.chunk` samples — a number that
//! does not depend on the thread count. Chunks run forward+backward in parallel, each into
//! its own zeroed gradient buffer; the buffers are then added up sequentially in chunk order.
//! Each row's loss gradient uses the whole batch's `Σw` (see `loss.rs`) and dropout masks are
//! keyed by `(seed, epoch, sample)` (see `dropout.rs`), so the float operations performed —
//! and hence the weights — are bit-identical at 1 or N threads.

use super::loss::{softmax_cross_entropy, weight_sum};
use super::optim::{clip_grad_norm, Adam};
use super::{DropoutCtx, Model};
use crate::DataError;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::time::Instant;

/// Rows per parallel task in evaluation and prediction. Fixed, so results never depend on
/// the thread count.
const EVAL_CHUNK: usize = 32;

/// Training hyper-parameters. `Default` gives the SPEC values.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    pub lr: f64,
    /// PyTorch-style L2 weight decay inside Adam.
    pub weight_decay: f64,
    pub batch_size: usize,
    pub max_epochs: usize,
    /// Stop after this many epochs without a validation macro-F1 improvement; 0 disables
    /// early stopping.
    pub patience: usize,
    /// Global gradient-norm clip; ≤ 0 disables clipping.
    pub clip_norm: f64,
    /// Seeds the per-epoch shuffle and the dropout masks (the initial weights are the
    /// caller's `init`, usually `model.init(seed)`).
    pub seed: u64,
    /// Per-class loss weights `[K]`, or empty for all ones.
    pub class_weights: Vec<f64>,
    /// Samples per deterministic gradient chunk (the unit of parallel work).
    pub chunk: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            lr: 1e-3,
            weight_decay: 1e-5,
            batch_size: 64,
            max_epochs: 100,
            patience: 10,
            clip_norm: 1.0,
            seed: 0,
            class_weights: Vec::new(),
            chunk: 16,
        }
    }
}

/// One epoch's summary. Epochs are numbered from 1.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochReport {
    pub epoch: usize,
    /// Weighted mean cross-entropy over the epoch's training batches (dropout on, as
    /// computed during the updates).
    pub train_loss: f64,
    /// Weighted mean cross-entropy on the validation set (same class weights, dropout off).
    pub val_loss: f64,
    pub val_accuracy: f64,
    pub val_macro_f1: f64,
    pub best_epoch: usize,
    pub best_val_macro_f1: f64,
    /// Wall time of the epoch including validation.
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrainOutcome {
    /// Parameters of the best epoch by validation macro-F1 (ties → earlier epoch).
    pub params: Vec<f32>,
    pub best_epoch: usize,
    pub best_val_macro_f1: f64,
    pub history: Vec<EpochReport>,
    /// Stopped by patience before `max_epochs`.
    pub stopped_early: bool,
    /// Stopped because `on_epoch` returned false.
    pub cancelled: bool,
}

/// `N / (K · n_c)` per class (sklearn's "balanced"); 0 for a class absent from `y`.
pub fn class_weights(y: &[u32], k: usize) -> Vec<f64> {
    let mut counts = vec![0usize; k];
    for &c in y {
        if (c as usize) < k {
            counts[c as usize] += 1;
        }
    }
    counts
        .iter()
        .map(|&n| {
            if n == 0 {
                0.0
            } else {
                y.len() as f64 / (k as f64 * n as f64)
            }
        })
        .collect()
}

/// Macro-averaged F1 over the classes present in `y ∪ pred` (sklearn's default labels):
/// `F1_c = 2tp / (2tp + fp + fn)`. 0 for empty input.
pub fn macro_f1(y: &[u32], pred: &[u32], k: usize) -> f64 {
    let (mut tp, mut fp, mut fnn) = (vec![0usize; k], vec![0usize; k], vec![0usize; k]);
    for (&t, &p) in y.iter().zip(pred) {
        let (t, p) = (t as usize, p as usize);
        if t == p {
            tp[t] += 1;
        } else {
            fp[p] += 1;
            fnn[t] += 1;
        }
    }
    let (mut sum, mut present) = (0.0, 0usize);
    for c in 0..k {
        let d = 2 * tp[c] + fp[c] + fnn[c];
        if d > 0 {
            sum += 2.0 * tp[c] as f64 / d as f64;
            present += 1;
        }
    }
    if present == 0 {
        0.0
    } else {
        sum / present as f64
    }
}

/// Index of the largest value (first one on ties).
pub fn argmax(v: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best as u32
}

fn chunked_rows(n: usize) -> Vec<Vec<usize>> {
    (0..n)
        .step_by(EVAL_CHUNK)
        .map(|s| (s..(s + EVAL_CHUNK).min(n)).collect())
        .collect()
}

/// Logits `[n, K]` of all samples in inference mode, computed over fixed chunks in parallel.
pub fn predict_logits<M: Model<f32>>(model: &M, p: &[f32], x: &M::Input<'_>) -> Vec<f32> {
    let k = model.n_classes();
    let parts: Vec<Vec<f32>> = chunked_rows(model.n_samples(x))
        .par_iter()
        .map(|rows| {
            let mut logits = vec![0.0f32; rows.len() * k];
            model.forward(p, x, rows, None, &mut logits);
            logits
        })
        .collect();
    parts.concat()
}

/// Class probabilities `[n, K]` (softmax of the logits), inference mode, deterministic.
pub fn predict_proba<M: Model<f32>>(model: &M, p: &[f32], x: &M::Input<'_>) -> Vec<f32> {
    let k = model.n_classes();
    let mut out = predict_logits(model, p, x);
    super::activation::softmax_rows(&mut out, k);
    out
}

struct Eval {
    loss: f64,
    accuracy: f64,
    macro_f1: f64,
}

fn evaluate<M: Model<f32>>(
    model: &M,
    p: &[f32],
    x: &M::Input<'_>,
    y: &[u32],
    weights: &[f64],
) -> Eval {
    let k = model.n_classes();
    let logits = predict_logits(model, p, x);
    let pred: Vec<u32> = logits.chunks_exact(k).map(argmax).collect();
    let denom = weight_sum(y, weights);
    let loss = if denom > 0.0 {
        let mut d = vec![0.0f32; logits.len()];
        softmax_cross_entropy(&logits, y, k, weights, denom, &mut d)
    } else {
        0.0
    };
    let correct = pred.iter().zip(y).filter(|(a, b)| a == b).count();
    Eval {
        loss,
        accuracy: correct as f64 / y.len() as f64,
        macro_f1: macro_f1(y, &pred, k),
    }
}

fn validate<M: Model<f32>>(
    model: &M,
    init: &[f32],
    train_x: &M::Input<'_>,
    train_y: &[u32],
    val_x: &M::Input<'_>,
    val_y: &[u32],
    cfg: &TrainConfig,
) -> Result<(), DataError> {
    let k = model.n_classes();
    if init.len() != model.n_params() {
        return Err(DataError::arg(format!(
            "initial parameters: expected {} values, got {}",
            model.n_params(),
            init.len()
        )));
    }
    let check_set = |what: &str, n: usize, y: &[u32]| -> Result<(), DataError> {
        if n == 0 {
            return Err(DataError::arg(format!("{what} set is empty")));
        }
        if y.len() != n {
            return Err(DataError::arg(format!(
                "{what} set: {n} samples but {} labels",
                y.len()
            )));
        }
        if let Some((i, &c)) = y.iter().enumerate().find(|(_, &c)| c as usize >= k) {
            return Err(DataError::arg(format!(
                "{what} label {c} at index {i} is out of range (model has {k} classes)"
            )));
        }
        Ok(())
    };
    check_set("training", model.n_samples(train_x), train_y)?;
    check_set("validation", model.n_samples(val_x), val_y)?;
    if !cfg.class_weights.is_empty() {
        if cfg.class_weights.len() != k {
            return Err(DataError::arg(format!(
                "class_weights: expected {k} values (one per class), got {}",
                cfg.class_weights.len()
            )));
        }
        if cfg.class_weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
            return Err(DataError::arg(
                "class_weights must be finite and non-negative",
            ));
        }
        if weight_sum(train_y, &cfg.class_weights) <= 0.0 {
            return Err(DataError::arg(
                "class_weights give every training sample weight 0",
            ));
        }
    }
    if !(cfg.lr.is_finite() && cfg.lr > 0.0) {
        return Err(DataError::arg(format!(
            "lr must be a positive number, got {}",
            cfg.lr
        )));
    }
    if !(cfg.weight_decay.is_finite() && cfg.weight_decay >= 0.0) {
        return Err(DataError::arg(format!(
            "weight_decay must be ≥ 0, got {}",
            cfg.weight_decay
        )));
    }
    if cfg.clip_norm.is_nan() {
        return Err(DataError::arg("clip_norm is NaN"));
    }
    if cfg.batch_size == 0 {
        return Err(DataError::arg("batch_size must be at least 1"));
    }
    if cfg.chunk == 0 {
        return Err(DataError::arg("chunk must be at least 1"));
    }
    if cfg.max_epochs == 0 {
        return Err(DataError::arg("max_epochs must be at least 1"));
    }
    Ok(())
}

/// Shuffle order of epoch `epoch`: its own ChaCha8 key, disjoint from the dropout keys
/// (which never use `u64::MAX` as a sample index).
fn epoch_order(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut key = [0u8; 32];
    for (i, w) in [seed, epoch, u64::MAX, 0x0053_4855_4646_4C45]
        .into_iter()
        .enumerate()
    {
        key[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    let mut rng = ChaCha8Rng::from_seed(key);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng);
    order
}

/// Loss share and gradient of one chunk (see the module docs).
#[allow(clippy::too_many_arguments)]
fn chunk_grad<M: Model<f32>>(
    model: &M,
    p: &[f32],
    x: &M::Input<'_>,
    rows: &[usize],
    labels: &[u32],
    weights: &[f64],
    denom: f64,
    ctx: DropoutCtx,
) -> (f64, Vec<f32>) {
    let k = model.n_classes();
    let mut logits = vec![0.0f32; rows.len() * k];
    let cache = model.forward(p, x, rows, Some(ctx), &mut logits);
    let mut dlogits = vec![0.0f32; rows.len() * k];
    let loss = softmax_cross_entropy(&logits, labels, k, weights, denom, &mut dlogits);
    let mut grad = vec![0.0f32; p.len()];
    model.backward(p, x, rows, &cache, &dlogits, &mut grad);
    (loss, grad)
}

/// Trains `model` from `init` (see the module docs for the loop). After each epoch
/// `on_epoch` gets the report; returning `false` stops training (`cancelled = true`). The
/// returned parameters are those of the epoch with the best validation macro-F1.
#[allow(clippy::too_many_arguments)]
pub fn train<M: Model<f32>>(
    model: &M,
    init: Vec<f32>,
    train_x: &M::Input<'_>,
    train_y: &[u32],
    val_x: &M::Input<'_>,
    val_y: &[u32],
    cfg: &TrainConfig,
    on_epoch: &mut dyn FnMut(&EpochReport) -> bool,
) -> Result<TrainOutcome, DataError> {
    validate(model, &init, train_x, train_y, val_x, val_y, cfg)?;
    let n = train_y.len();
    let weights = &cfg.class_weights;
    let mut params = init;
    let mut opt = Adam::<f32>::new(params.len(), cfg.lr, cfg.weight_decay);
    let mut best_params = params.clone();
    let (mut best_epoch, mut best_f1) = (0usize, f64::NEG_INFINITY);
    let mut history = Vec::new();
    let (mut stopped_early, mut cancelled) = (false, false);
    let mut grad = vec![0.0f32; params.len()];

    for epoch in 1..=cfg.max_epochs {
        let t0 = Instant::now();
        let ctx = DropoutCtx {
            seed: cfg.seed,
            epoch: epoch as u64,
        };
        let order = epoch_order(n, cfg.seed, epoch as u64);
        let (mut loss_sum, mut weight_total) = (0.0f64, 0.0f64);
        for batch in order.chunks(cfg.batch_size) {
            let labels: Vec<u32> = batch.iter().map(|&i| train_y[i]).collect();
            let denom = weight_sum(&labels, weights);
            if denom <= 0.0 {
                // Every sample in this batch has class weight 0: no gradient, no step
                // (PyTorch would produce NaN here).
                continue;
            }
            let p = &params;
            let parts: Vec<(f64, Vec<f32>)> = batch
                .chunks(cfg.chunk)
                .zip(labels.chunks(cfg.chunk))
                .collect::<Vec<_>>()
                .into_par_iter()
                .map(|(rows, labels)| {
                    chunk_grad(model, p, train_x, rows, labels, weights, denom, ctx)
                })
                .collect();
            grad.fill(0.0);
            let mut batch_loss = 0.0;
            for (l, g) in &parts {
                batch_loss += l;
                for (a, &b) in grad.iter_mut().zip(g) {
                    *a += b;
                }
            }
            if !batch_loss.is_finite() {
                return Err(DataError::arg(format!(
                    "training diverged: non-finite loss in epoch {epoch} (try a lower lr)"
                )));
            }
            loss_sum += batch_loss * denom;
            weight_total += denom;
            clip_grad_norm(&mut grad, cfg.clip_norm);
            opt.step(&mut params, &grad);
        }

        let ev = evaluate(model, &params, val_x, val_y, weights);
        if ev.macro_f1 > best_f1 {
            best_f1 = ev.macro_f1;
            best_epoch = epoch;
            best_params.copy_from_slice(&params);
        }
        let report = EpochReport {
            epoch,
            train_loss: if weight_total > 0.0 {
                loss_sum / weight_total
            } else {
                0.0
            },
            val_loss: ev.loss,
            val_accuracy: ev.accuracy,
            val_macro_f1: ev.macro_f1,
            best_epoch,
            best_val_macro_f1: best_f1,
            seconds: t0.elapsed().as_secs_f64(),
        };
        history.push(report.clone());
        if !on_epoch(&report) {
            cancelled = true;
            break;
        }
        if cfg.patience > 0 && epoch - best_epoch >= cfg.patience && epoch < cfg.max_epochs {
            stopped_early = true;
            break;
        }
    }
    Ok(TrainOutcome {
        params: best_params,
        best_epoch,
        best_val_macro_f1: best_f1,
        history,
        stopped_early,
        cancelled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{dense, layout_of, ParamTensor, Real};
    use rand::Rng;

    /// Softmax regression `logits = x·Wᵀ + b`: a fast model to exercise the loop itself.
    struct Linear {
        d: usize,
        k: usize,
    }

    impl<T: Real> Model<T> for Linear {
        type Input<'a> = &'a [T];
        type Cache = Vec<T>;
        fn layout(&self) -> Vec<ParamTensor> {
            layout_of(&[("W", &[self.k, self.d]), ("b", &[self.k])])
        }
        fn n_classes(&self) -> usize {
            self.k
        }
        fn n_samples(&self, x: &&[T]) -> usize {
            x.len() / self.d
        }
        fn init(&self, _seed: u64) -> Vec<T> {
            vec![T::zero(); self.k * (self.d + 1)]
        }
        fn forward(
            &self,
            p: &[T],
            x: &&[T],
            rows: &[usize],
            _: Option<DropoutCtx>,
            logits: &mut [T],
        ) -> Vec<T> {
            let xs: Vec<T> = rows
                .iter()
                .flat_map(|&r| x[r * self.d..(r + 1) * self.d].iter().copied())
                .collect();
            dense::forward(
                &xs,
                &p[..self.k * self.d],
                &p[self.k * self.d..],
                rows.len(),
                self.d,
                self.k,
                logits,
            );
            xs
        }
        fn backward(
            &self,
            _p: &[T],
            _x: &&[T],
            rows: &[usize],
            xs: &Vec<T>,
            dl: &[T],
            grad: &mut [T],
        ) {
            let (gw, gb) = grad.split_at_mut(self.k * self.d);
            dense::backward_params(xs, dl, rows.len(), self.d, self.k, gw, Some(gb));
        }
    }

    fn blobs(n: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for _ in 0..n {
            let c = rng.random_range(0..3u32);
            x.push(c as f32 - 1.0 + rng.random_range(-0.3..0.3));
            x.push(rng.random_range(-1.0..1.0));
            y.push(c);
        }
        (x, y)
    }

    #[test]
    fn macro_f1_matches_sklearn() {
        // sklearn.metrics.f1_score([0,1,2,0,1,2], [0,2,1,0,0,1], average='macro') = 0.2666…
        let (y, p) = ([0u32, 1, 2, 0, 1, 2], [0u32, 2, 1, 0, 0, 1]);
        assert!((macro_f1(&y, &p, 3) - 0.8 / 3.0).abs() < 1e-12);
        // A class absent from both truth and prediction is not averaged in.
        assert!((macro_f1(&y, &p, 5) - 0.8 / 3.0).abs() < 1e-12);
        // A class only predicted counts with F1 0.
        assert!((macro_f1(&[0, 0], &[0, 1], 2) - (2.0 / 3.0) / 2.0).abs() < 1e-12);
        assert_eq!(macro_f1(&[], &[], 3), 0.0);
        assert_eq!(macro_f1(&[1, 2], &[1, 2], 3), 1.0);
    }

    #[test]
    fn balanced_class_weights() {
        let w = class_weights(&[0, 0, 0, 1], 3);
        assert!(
            (w[0] - 4.0 / 9.0).abs() < 1e-15 && (w[1] - 4.0 / 3.0).abs() < 1e-15 && w[2] == 0.0
        );
    }

    #[test]
    fn learns_blobs_and_reports_every_epoch() {
        let m = Linear { d: 2, k: 3 };
        let (x, y) = blobs(300, 1);
        let (vx, vy) = blobs(100, 2);
        let cfg = TrainConfig {
            max_epochs: 15,
            lr: 0.05,
            patience: 0,
            ..TrainConfig::default()
        };
        let mut seen = Vec::new();
        let out = train(
            &m,
            m.init(0),
            &x.as_slice(),
            &y,
            &vx.as_slice(),
            &vy,
            &cfg,
            &mut |r| {
                seen.push(r.epoch);
                true
            },
        )
        .unwrap();
        assert_eq!(seen, (1..=15).collect::<Vec<_>>());
        assert!(!out.stopped_early && !out.cancelled);
        assert!(out.best_val_macro_f1 > 0.9, "{}", out.best_val_macro_f1);
        let h = &out.history;
        assert!(h.last().unwrap().train_loss < h[0].train_loss);
        let best = h
            .iter()
            .map(|r| r.val_macro_f1)
            .fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(out.best_val_macro_f1, best);
        // Ties go to the earlier epoch.
        assert_eq!(
            out.best_epoch,
            h.iter().find(|r| r.val_macro_f1 == best).unwrap().epoch
        );
        assert!(h
            .iter()
            .all(|r| r.best_epoch <= r.epoch && r.seconds >= 0.0));
    }

    #[test]
    fn early_stopping_after_patience_epochs_without_improvement() {
        let m = Linear { d: 2, k: 3 };
        let (x, y) = blobs(100, 3);
        // A learning rate so small the predictions never change: epoch 1 stays the best.
        let cfg = TrainConfig {
            max_epochs: 50,
            patience: 3,
            lr: 1e-12,
            ..TrainConfig::default()
        };
        let init: Vec<f32> = vec![0.5, -0.2, 0.1, 0.3, -0.4, 0.2, 0.0, 0.1, -0.1];
        let out = train(
            &m,
            init,
            &x.as_slice(),
            &y,
            &x.as_slice(),
            &y,
            &cfg,
            &mut |_| true,
        )
        .unwrap();
        assert_eq!(out.history.len(), 4);
        assert!(out.stopped_early && !out.cancelled);
        assert_eq!(out.best_epoch, 1);
    }

    #[test]
    fn callback_cancels() {
        let m = Linear { d: 2, k: 3 };
        let (x, y) = blobs(100, 4);
        let cfg = TrainConfig {
            max_epochs: 50,
            lr: 0.05,
            ..TrainConfig::default()
        };
        let out = train(
            &m,
            m.init(0),
            &x.as_slice(),
            &y,
            &x.as_slice(),
            &y,
            &cfg,
            &mut |r| r.epoch < 2,
        )
        .unwrap();
        assert_eq!(out.history.len(), 2);
        assert!(out.cancelled && !out.stopped_early);
        assert_eq!(out.params.len(), 9);
    }

    /// Chunking changes only the order of float additions: chunk 1 and chunk 64 agree to
    /// rounding after an epoch.
    #[test]
    fn chunk_size_changes_only_rounding() {
        let m = Linear { d: 2, k: 3 };
        let (x, y) = blobs(200, 5);
        let run = |chunk| {
            let cfg = TrainConfig {
                max_epochs: 1,
                lr: 0.05,
                chunk,
                class_weights: vec![1.0, 2.0, 0.5],
                ..TrainConfig::default()
            };
            train(
                &m,
                m.init(0),
                &x.as_slice(),
                &y,
                &x.as_slice(),
                &y,
                &cfg,
                &mut |_| true,
            )
            .unwrap()
            .params
        };
        let (a, b) = (run(1), run(64));
        for (u, v) in a.iter().zip(&b) {
            assert!((u - v).abs() < 1e-5, "{u} vs {v}");
        }
    }

    #[test]
    fn bad_inputs_are_reported() {
        let m = Linear { d: 2, k: 3 };
        let (x, y) = blobs(20, 6);
        let xs = x.as_slice();
        let cfg = TrainConfig::default();
        let err =
            |init: Vec<f32>, tx: &[f32], ty: &[u32], vx: &[f32], vy: &[u32], cfg: &TrainConfig| {
                match train(&m, init, &tx, ty, &vx, vy, cfg, &mut |_| true) {
                    Err(DataError::BadArgument(msg)) => msg,
                    other => panic!("expected an error, got {other:?}"),
                }
            };
        let init = || m.init(0);
        assert!(err(init(), xs, &y[..19], xs, &y, &cfg).contains("20 samples but 19 labels"));
        let mut bad = y.clone();
        bad[4] = 3;
        assert!(err(init(), xs, &bad, xs, &y, &cfg).contains("label 3 at index 4"));
        assert!(err(init(), xs, &y, xs, &bad, &cfg).contains("validation label 3"));
        assert!(err(init(), &[], &[], xs, &y, &cfg).contains("training set is empty"));
        assert!(err(init(), xs, &y, &[], &[], &cfg).contains("validation set is empty"));
        assert!(err(vec![0.0; 4], xs, &y, xs, &y, &cfg).contains("expected 9 values"));
        let c = TrainConfig {
            class_weights: vec![1.0, 2.0],
            ..cfg.clone()
        };
        assert!(err(init(), xs, &y, xs, &y, &c).contains("class_weights: expected 3"));
        let c = TrainConfig {
            class_weights: vec![1.0, -2.0, 1.0],
            ..cfg.clone()
        };
        assert!(err(init(), xs, &y, xs, &y, &c).contains("non-negative"));
        let c = TrainConfig {
            batch_size: 0,
            ..cfg.clone()
        };
        assert!(err(init(), xs, &y, xs, &y, &c).contains("batch_size"));
        let c = TrainConfig {
            chunk: 0,
            ..cfg.clone()
        };
        assert!(err(init(), xs, &y, xs, &y, &c).contains("chunk"));
        let c = TrainConfig {
            lr: f64::NAN,
            ..cfg.clone()
        };
        assert!(err(init(), xs, &y, xs, &y, &c).contains("lr"));
        let c = TrainConfig {
            max_epochs: 0,
            ..cfg.clone()
        };
        assert!(err(init(), xs, &y, xs, &y, &c).contains("max_epochs"));
    }
}
