//! Softmax cross-entropy with class weights, mean-reduced like PyTorch's
//! `CrossEntropyLoss(weight=w)`:
//!
//! `L = Σ_i w_{y_i}·(−log p_{i,y_i}) / Σ_i w_{y_i}`,  `∂L/∂z_i = w_{y_i}·(p_i − e_{y_i}) / Σ w`.
//!
//! The denominator is a parameter of [`softmax_cross_entropy`] so that a mini-batch split
//! into chunks can pass the WHOLE batch's `Σ w`: each row's gradient then depends only on
//! that row and the shared denominator, and the chunk gradients add up to exactly the
//! full-batch gradient (what makes chunked training thread-count independent).

use super::Real;

/// Weight of class `c`; an empty `weights` means all ones.
#[inline]
pub fn class_weight(weights: &[f64], c: u32) -> f64 {
    if weights.is_empty() {
        1.0
    } else {
        weights[c as usize]
    }
}

/// `Σ_i w_{labels[i]}`: the denominator of the mean reduction.
pub fn weight_sum(labels: &[u32], weights: &[f64]) -> f64 {
    labels.iter().map(|&c| class_weight(weights, c)).sum()
}

/// Weighted cross-entropy of `logits [n, k]` against `labels [n]` with an explicit
/// denominator. Returns `Σ_i w_{y_i}·(−log p_{i,y_i}) / denom` (this chunk's share of the
/// batch loss, accumulated in f64) and OVERWRITES `dlogits [n, k]` with its gradient
/// `w_{y_i}·(p_i − e_{y_i}) / denom`. `weights` is `[k]` or empty (all ones). `denom` must be
/// positive (callers skip batches whose weight sum is 0).
pub fn softmax_cross_entropy<T: Real>(
    logits: &[T],
    labels: &[u32],
    k: usize,
    weights: &[f64],
    denom: f64,
    dlogits: &mut [T],
) -> f64 {
    debug_assert!(denom > 0.0);
    let mut total = 0.0f64;
    for ((z, &y), d) in logits
        .chunks_exact(k)
        .zip(labels)
        .zip(dlogits.chunks_exact_mut(k))
    {
        let y = y as usize;
        let m = z.iter().fold(T::neg_infinity(), |m, &v| m.max(v));
        let mut s = T::zero();
        for (d, &v) in d.iter_mut().zip(z) {
            *d = (v - m).exp();
            s = s + *d;
        }
        // −log p_y = log Σ exp(z − m) − (z_y − m)
        let nll = s.ln() - (z[y] - m);
        let w = class_weight(weights, y as u32);
        total += w * nll.to_f64();
        let scale = T::from_f64(w / denom) / s;
        for v in d.iter_mut() {
            *v = *v * scale;
        }
        d[y] = d[y] - T::from_f64(w / denom);
    }
    total / denom
}

/// The plain mean-reduced loss over the rows given (denominator = their own weight sum).
/// Returns 0 with a zero gradient when that sum is 0.
pub fn weighted_mean_cross_entropy<T: Real>(
    logits: &[T],
    labels: &[u32],
    k: usize,
    weights: &[f64],
    dlogits: &mut [T],
) -> f64 {
    let denom = weight_sum(labels, weights);
    if denom <= 0.0 {
        dlogits.fill(T::zero());
        return 0.0;
    }
    softmax_cross_entropy(logits, labels, k, weights, denom, dlogits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{assert_grad_close, numeric_grad, seeded_vec};

    #[test]
    fn value_matches_hand_computation() {
        // Row 0: logits (1, 2, 3), label 2: −log(e³/(e+e²+e³)) = 0.40760596444
        // Row 1: logits (0, 0, 0), label 0: log 3 = 1.09861228867
        // weights (1, 2, 0.5): L = (0.5·0.40760596444 + 1·1.09861228867) / 1.5
        let logits = [1.0, 2.0, 3.0, 0.0, 0.0, 0.0];
        let mut d = [0.0; 6];
        let l = weighted_mean_cross_entropy(&logits, &[2, 0], 3, &[1.0, 2.0, 0.5], &mut d);
        let want = (0.5 * 0.407_605_964_44 + 1.098_612_288_67) / 1.5;
        assert!((l - want).abs() < 1e-10, "{l} vs {want}");
        // Unweighted: plain mean, like CrossEntropyLoss().
        let l = weighted_mean_cross_entropy(&logits, &[2, 0], 3, &[], &mut d);
        assert!((l - (0.407_605_964_44 + 1.098_612_288_67) / 2.0).abs() < 1e-10);
        // Huge logits stay finite.
        let mut d32 = [0.0f32; 2];
        let l = weighted_mean_cross_entropy(&[1000.0f32, -1000.0], &[1], 2, &[], &mut d32);
        assert!((l - 2000.0).abs() < 1e-3 && d32.iter().all(|v| v.is_finite()));
    }

    /// Central differences of the weighted loss w.r.t. the logits (relative error ≤ 1e-7).
    #[test]
    fn gradient_with_class_weights() {
        let (n, k) = (6, 4);
        let logits = seeded_vec(1, n * k, 2.0);
        let labels = [0u32, 3, 1, 1, 2, 3];
        let w = [0.5, 2.0, 1.5, 0.25];
        let mut d = vec![0.0; n * k];
        weighted_mean_cross_entropy(&logits, &labels, k, &w, &mut d);
        let mut scratch = vec![0.0; n * k];
        let num = numeric_grad(&logits, 1e-5, |z| {
            weighted_mean_cross_entropy(z, &labels, k, &w, &mut scratch)
        });
        assert_grad_close("ce dlogits", &d, &num, 1e-7);
    }

    /// Chunks with the whole batch's denominator sum to the full-batch loss and gradient.
    #[test]
    fn chunks_sum_to_full_batch() {
        let (n, k) = (7, 3);
        let logits = seeded_vec(2, n * k, 1.0);
        let labels = [0u32, 1, 2, 2, 1, 0, 2];
        let w = [1.0, 3.0, 0.5];
        let mut full = vec![0.0; n * k];
        let l = weighted_mean_cross_entropy(&logits, &labels, k, &w, &mut full);
        let denom = weight_sum(&labels, &w);
        let mut parts = vec![0.0; n * k];
        let mut lp = 0.0;
        for s in [0..3, 3..5, 5..7] {
            lp += softmax_cross_entropy(
                &logits[s.start * k..s.end * k],
                &labels[s.clone()],
                k,
                &w,
                denom,
                &mut parts[s.start * k..s.end * k],
            );
        }
        assert!((l - lp).abs() < 1e-14);
        assert_eq!(full, parts);
    }
}
