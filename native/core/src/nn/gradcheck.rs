//! Central-difference gradient checks in f64 (test builds only).
//!
//! Error measure: `rel = |a − n| / max(1e-8, |a| + |n|)` between the analytic gradient `a`
//! and the numeric one `n = (L(θ+ε) − L(θ−ε)) / 2ε`. An entry passes when `rel ≤ tol` OR
//! `|a − n| ≤ ATOL` (1e-9): for entries whose true gradient is ~1e-6 or smaller, the
//! difference quotient's own rounding (~1e-16/ε) and truncation (~ε²) noise would otherwise
//! dominate the relative error. Recommended: `ε = 1e-5`, `tol = 1e-6` for whole models and
//! 1e-7 for single smooth layers.
//!
//! Kinks (ReLU at 0) break central differences; keep test inputs away from them or use
//! smooth data where every pre-activation is clearly non-zero.

use super::loss::{weight_sum, weighted_mean_cross_entropy};
use super::{DropoutCtx, Model};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Absolute error below which an entry passes whatever its relative error.
pub const ATOL: f64 = 1e-9;

/// The fixed dropout context [`check_model`] uses for its dropout-on pass.
pub const GRADCHECK_CTX: DropoutCtx = DropoutCtx {
    seed: 12345,
    epoch: 7,
};

/// Reproducible test data: `n` values uniform in `[−scale, scale)` from ChaCha8(`seed`).
pub fn seeded_vec(seed: u64, n: usize, scale: f64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(-scale..scale)).collect()
}

/// `|a − n| / max(1e-8, |a| + |n|)`.
pub fn rel_err(a: f64, n: f64) -> f64 {
    (a - n).abs() / (a.abs() + n.abs()).max(1e-8)
}

/// Central-difference gradient of `f` at `x`, every coordinate.
pub fn numeric_grad(x: &[f64], eps: f64, mut f: impl FnMut(&[f64]) -> f64) -> Vec<f64> {
    let mut xp = x.to_vec();
    (0..x.len())
        .map(|i| {
            xp[i] = x[i] + eps;
            let lp = f(&xp);
            xp[i] = x[i] - eps;
            let lm = f(&xp);
            xp[i] = x[i];
            (lp - lm) / (2.0 * eps)
        })
        .collect()
}

/// Panics with the worst entry when any entry fails (see the module docs). Returns the
/// largest relative error among entries above [`ATOL`].
pub fn assert_grad_close(name: &str, analytic: &[f64], numeric: &[f64], tol: f64) -> f64 {
    assert_eq!(analytic.len(), numeric.len(), "{name}: length mismatch");
    let mut worst = 0.0f64;
    for (i, (&a, &n)) in analytic.iter().zip(numeric).enumerate() {
        assert!(a.is_finite(), "{name}[{i}]: analytic gradient {a}");
        let r = rel_err(a, n);
        assert!(
            r <= tol || (a - n).abs() <= ATOL,
            "{name}[{i}]: analytic {a:e} vs numeric {n:e} (rel {r:e} > {tol:e})"
        );
        if (a - n).abs() > ATOL {
            worst = worst.max(r);
        }
    }
    worst
}

/// Weighted mean cross-entropy of `model` on `rows` and its gradient w.r.t. all parameters
/// (through `Model::backward`, which must ADD into the buffer: the buffer starts at 1 and the
/// 1 is taken off again, so a backward that overwrites fails the check).
pub fn model_loss_and_grad<M: Model<f64>>(
    model: &M,
    p: &[f64],
    x: &M::Input<'_>,
    rows: &[usize],
    labels: &[u32],
    weights: &[f64],
    dropout: Option<DropoutCtx>,
) -> (f64, Vec<f64>) {
    let k = model.n_classes();
    let mut logits = vec![0.0; rows.len() * k];
    let cache = model.forward(p, x, rows, dropout, &mut logits);
    let mut dlogits = vec![0.0; rows.len() * k];
    let loss = weighted_mean_cross_entropy(&logits, labels, k, weights, &mut dlogits);
    let mut grad = vec![1.0; p.len()];
    model.backward(p, x, rows, &cache, &dlogits, &mut grad);
    grad.iter_mut().for_each(|g| *g -= 1.0);
    (loss, grad)
}

/// Loss only (see [`model_loss_and_grad`]).
pub fn model_loss<M: Model<f64>>(
    model: &M,
    p: &[f64],
    x: &M::Input<'_>,
    rows: &[usize],
    labels: &[u32],
    weights: &[f64],
    dropout: Option<DropoutCtx>,
) -> f64 {
    let k = model.n_classes();
    let mut logits = vec![0.0; rows.len() * k];
    model.forward(p, x, rows, dropout, &mut logits);
    let mut d = vec![0.0; rows.len() * k];
    weighted_mean_cross_entropy(&logits, labels, k, weights, &mut d)
}

/// What [`check_model`] checked.
#[derive(Debug, Clone)]
pub struct GradCheckReport {
    /// Parameters compared per pass (the same subset for both passes).
    pub checked: usize,
    /// Largest relative error (entries above ATOL) with dropout on / off.
    pub max_rel_dropout_on: f64,
    pub max_rel_dropout_off: f64,
}

/// Indices checked: all when `n ≤ 300`, else per tensor up to 40 random entries (so every
/// tensor is covered), topped up with random entries to at least 200.
fn subset(layout: &[super::ParamTensor], n: usize) -> Vec<usize> {
    if n <= 300 {
        return (0..n).collect();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(0x97AD_C4EC);
    let mut idx = Vec::new();
    for t in layout {
        if t.len() <= 40 {
            idx.extend(t.offset..t.offset + t.len());
        } else {
            idx.extend((0..40).map(|_| t.offset + rng.random_range(0..t.len())));
        }
    }
    while idx.len() < 200 {
        idx.push(rng.random_range(0..n));
    }
    idx.sort_unstable();
    idx.dedup();
    idx
}

/// Compares the analytic gradient of the weighted mean cross-entropy (labels `labels[i]` for
/// sample `rows[i]`, class weights `weights` `[K]` or empty) with central differences at `p`,
/// once with dropout ON under the fixed [`GRADCHECK_CTX`] (the masks are then a fixed
/// function of the context, so the loss is a deterministic smooth function of θ) and once
/// with dropout off. Every parameter is checked when there are ≤ 300, else a seeded subset
/// covering every tensor (≥ 200 entries). Panics naming the tensor and entry on failure.
#[allow(clippy::too_many_arguments)]
pub fn check_model<M: Model<f64>>(
    model: &M,
    p: &[f64],
    x: &M::Input<'_>,
    rows: &[usize],
    labels: &[u32],
    weights: &[f64],
    eps: f64,
    tol: f64,
) -> GradCheckReport {
    assert_eq!(p.len(), model.n_params(), "check_model: parameter count");
    assert_eq!(rows.len(), labels.len(), "check_model: rows vs labels");
    assert!(
        weight_sum(labels, weights) > 0.0,
        "check_model: zero total weight"
    );
    let layout = model.layout();
    let idx = subset(&layout, p.len());
    let name_of = |i: usize| {
        layout
            .iter()
            .find(|t| i >= t.offset && i < t.offset + t.len())
            .map(|t| format!("{}[{}]", t.name, i - t.offset))
            .unwrap_or_else(|| format!("param[{i}]"))
    };
    let mut worst = [0.0f64; 2];
    for (pass, dropout) in [Some(GRADCHECK_CTX), None].into_iter().enumerate() {
        let (_, grad) = model_loss_and_grad(model, p, x, rows, labels, weights, dropout);
        let mut pp = p.to_vec();
        for &i in &idx {
            pp[i] = p[i] + eps;
            let lp = model_loss(model, &pp, x, rows, labels, weights, dropout);
            pp[i] = p[i] - eps;
            let lm = model_loss(model, &pp, x, rows, labels, weights, dropout);
            pp[i] = p[i];
            let n = (lp - lm) / (2.0 * eps);
            let a = grad[i];
            let r = rel_err(a, n);
            assert!(
                a.is_finite() && (r <= tol || (a - n).abs() <= ATOL),
                "{} (dropout {}): analytic {a:e} vs numeric {n:e} (rel {r:e} > {tol:e})",
                name_of(i),
                if dropout.is_some() { "on" } else { "off" },
            );
            if (a - n).abs() > ATOL {
                worst[pass] = worst[pass].max(r);
            }
        }
    }
    GradCheckReport {
        checked: idx.len(),
        max_rel_dropout_on: worst[0],
        max_rel_dropout_off: worst[1],
    }
}
