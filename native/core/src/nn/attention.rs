//! Attention re-weighting of a sequence by a learnable query (docs/neural.md):
//!
//! ```text
//! s_t = q·h_t / √H,   α = softmax_t(s),   h̃_t = T · α_t · h_t
//! ```
//!
//! This is the "re-weighted, not pooled" reading of SPEC B5. A pooled attention would return
//! the single vector `Σ_t α_t h_t`, but SPEC B5 stacks a second LSTM(32) after the attention,
//! and an LSTM needs a sequence: so the attention only re-weights the time steps and the
//! second LSTM reads `h̃`. The factor `T` keeps the scale of the sequence: with uniform
//! attention (`α_t = 1/T`) `h̃ = h`, so initialisation starts from the plain stacked LSTM.
//!
//! Data are TIME-major like the LSTM internals (`h [T, B, H]`); `α` is `[B, T]`, which is
//! also the layout of the model's `attention` output.

use super::Real;

/// `out [T, B, H]` = re-weighted sequence, `alpha [B, T]` = attention weights, for
/// time-major `h [T, B, H]` and `q [H]`.
pub fn forward<T: Real>(
    q: &[T],
    h: &[T],
    batch: usize,
    steps: usize,
    hidden: usize,
    out: &mut [T],
    alpha: &mut [T],
) {
    assert!(
        q.len() == hidden && h.len() == steps * batch * hidden,
        "attention: lengths"
    );
    let inv_sqrt = T::from_f64(1.0 / (hidden as f64).sqrt());
    let tt = T::from_f64(steps as f64);
    for b in 0..batch {
        let a = &mut alpha[b * steps..(b + 1) * steps];
        for (t, s) in a.iter_mut().enumerate() {
            let ht = &h[(t * batch + b) * hidden..][..hidden];
            *s = q.iter().zip(ht).map(|(&u, &v)| u * v).sum::<T>() * inv_sqrt;
        }
        super::activation::softmax_inplace(a);
        for (t, &at) in a.iter().enumerate() {
            let o = (t * batch + b) * hidden;
            let scale = tt * at;
            for (y, &v) in out[o..o + hidden].iter_mut().zip(&h[o..o + hidden]) {
                *y = scale * v;
            }
        }
    }
}

/// Backward: from `dout [T, B, H]`, OVERWRITES `dh [T, B, H]` and ADDS into `dq [H]`.
///
/// `∂L/∂α_t = T·h_t·dout_t`, `∂L/∂s = α ⊙ (∂L/∂α − Σ α·∂L/∂α)`,
/// `dh_t = T·α_t·dout_t + ∂L/∂s_t·q/√H`, `dq += Σ_{b,t} ∂L/∂s_t·h_t/√H`.
#[allow(clippy::too_many_arguments)]
pub fn backward<T: Real>(
    q: &[T],
    h: &[T],
    alpha: &[T],
    dout: &[T],
    batch: usize,
    steps: usize,
    hidden: usize,
    dh: &mut [T],
    dq: &mut [T],
) {
    let inv_sqrt = T::from_f64(1.0 / (hidden as f64).sqrt());
    let tt = T::from_f64(steps as f64);
    let mut ds = vec![T::zero(); steps];
    for b in 0..batch {
        let a = &alpha[b * steps..(b + 1) * steps];
        let mut dot = T::zero();
        for (t, d) in ds.iter_mut().enumerate() {
            let o = (t * batch + b) * hidden;
            *d = tt
                * h[o..o + hidden]
                    .iter()
                    .zip(&dout[o..o + hidden])
                    .map(|(&u, &v)| u * v)
                    .sum::<T>();
            dot = dot + a[t] * *d;
        }
        for (d, &at) in ds.iter_mut().zip(a) {
            *d = at * (*d - dot) * inv_sqrt;
        }
        for t in 0..steps {
            let o = (t * batch + b) * hidden;
            let scale = tt * a[t];
            let dst = ds[t];
            for ((g, &go), &qj) in dh[o..o + hidden]
                .iter_mut()
                .zip(&dout[o..o + hidden])
                .zip(q)
            {
                *g = scale * go + dst * qj;
            }
            for (dqj, &hv) in dq.iter_mut().zip(&h[o..o + hidden]) {
                *dqj = *dqj + dst * hv;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{assert_grad_close, numeric_grad, seeded_vec};

    #[test]
    fn uniform_attention_is_identity() {
        let (b, t, h) = (2, 5, 3);
        let hs = seeded_vec(1, t * b * h, 1.0);
        let mut out = vec![0.0; hs.len()];
        let mut alpha = vec![0.0; b * t];
        forward(&[0.0; 3], &hs, b, t, h, &mut out, &mut alpha);
        assert!(alpha.iter().all(|&a| (a - 0.2).abs() < 1e-15));
        for (x, y) in out.iter().zip(&hs) {
            assert!((x - y).abs() < 1e-14);
        }
    }

    #[test]
    fn matches_per_sample_formula() {
        let (b, t, h) = (2, 4, 3);
        let hs = seeded_vec(2, t * b * h, 1.0);
        let q = seeded_vec(3, h, 1.0);
        let mut out = vec![0.0; hs.len()];
        let mut alpha = vec![0.0; b * t];
        forward(&q, &hs, b, t, h, &mut out, &mut alpha);
        for s in 0..b {
            let sc: Vec<f64> = (0..t)
                .map(|k| {
                    (0..h).map(|j| q[j] * hs[(k * b + s) * h + j]).sum::<f64>() / (h as f64).sqrt()
                })
                .collect();
            let z: f64 = sc.iter().map(|v| v.exp()).sum();
            for k in 0..t {
                let a = sc[k].exp() / z;
                assert!((alpha[s * t + k] - a).abs() < 1e-14);
                for j in 0..h {
                    assert!(
                        (out[(k * b + s) * h + j] - t as f64 * a * hs[(k * b + s) * h + j]).abs()
                            < 1e-13
                    );
                }
            }
        }
    }

    /// `L = Σ h̃ ⊙ r`: dh and dq against central differences (relative error ≤ 1e-7).
    #[test]
    fn gradients_match_central_differences() {
        let (b, t, h) = (3, 5, 4);
        let hs = seeded_vec(4, t * b * h, 1.0);
        let q = seeded_vec(5, h, 1.5);
        let r = seeded_vec(6, t * b * h, 1.0);
        let loss = |q: &[f64], hs: &[f64]| {
            let mut out = vec![0.0; hs.len()];
            let mut alpha = vec![0.0; b * t];
            forward(q, hs, b, t, h, &mut out, &mut alpha);
            out.iter().zip(&r).map(|(a, b)| a * b).sum::<f64>()
        };
        let mut out = vec![0.0; hs.len()];
        let mut alpha = vec![0.0; b * t];
        forward(&q, &hs, b, t, h, &mut out, &mut alpha);
        let mut dh = vec![0.0; hs.len()];
        let mut dq = vec![0.25; h];
        backward(&q, &hs, &alpha, &r, b, t, h, &mut dh, &mut dq);
        dq.iter_mut().for_each(|v| *v -= 0.25);
        assert_grad_close(
            "attention dh",
            &dh,
            &numeric_grad(&hs, 1e-5, |x| loss(&q, x)),
            1e-7,
        );
        assert_grad_close(
            "attention dq",
            &dq,
            &numeric_grad(&q, 1e-5, |x| loss(x, &hs)),
            1e-7,
        );
    }
}
