//! Inverted dropout with masks that depend only on `(seed, epoch, sample, site)`.
//!
//! The mask of one sample at one dropout site comes from its own ChaCha8 stream whose 256-bit
//! key is the four words `(ctx.seed, ctx.epoch, row, salt)`. Nothing about the batch, the
//! chunk or the thread that runs the sample enters the key, so training is reproducible at
//! any thread count and under any batching; distinct tuples give distinct keys (no hashing,
//! so no collisions). `salt` tells apart several dropout sites of one model.
//!
//! Kept units are scaled by `1/(1−p)` in training so inference (dropout off) needs no
//! rescaling.

use super::{DropoutCtx, Real};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn rng_for(ctx: DropoutCtx, row: usize, salt: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    for (i, w) in [ctx.seed, ctx.epoch, row as u64, salt]
        .into_iter()
        .enumerate()
    {
        key[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    ChaCha8Rng::from_seed(key)
}

/// Writes the mask of sample `row` at site `salt` into `out`: each entry is `0` (dropped,
/// probability `p`) or `1/(1−p)`. `p = 0` gives all ones without touching the RNG.
pub fn fill_mask<T: Real>(ctx: DropoutCtx, row: usize, salt: u64, p: f64, out: &mut [T]) {
    debug_assert!((0.0..1.0).contains(&p));
    if p <= 0.0 {
        out.fill(T::one());
        return;
    }
    let keep = T::from_f64(1.0 / (1.0 - p));
    let mut rng = rng_for(ctx, row, salt);
    for m in out {
        *m = if rng.random::<f64>() < p {
            T::zero()
        } else {
            keep
        };
    }
}

/// The mask of sample `row` at site `salt`, `n` units (see [`fill_mask`]).
pub fn mask<T: Real>(ctx: DropoutCtx, row: usize, salt: u64, n: usize, p: f64) -> Vec<T> {
    let mut m = vec![T::zero(); n];
    fill_mask(ctx, row, salt, p, &mut m);
    m
}

/// Dropout over a batch `x [rows.len(), n]` in place. `rows[i]` is the dataset index of
/// batch row `i` (it keys the mask). Returns the mask `[rows.len(), n]` for [`backward`];
/// with `ctx = None` (inference) or `p = 0` it returns an empty mask and leaves `x` alone.
pub fn forward<T: Real>(
    ctx: Option<DropoutCtx>,
    rows: &[usize],
    salt: u64,
    p: f64,
    n: usize,
    x: &mut [T],
) -> Vec<T> {
    let Some(ctx) = ctx else { return Vec::new() };
    if p <= 0.0 {
        return Vec::new();
    }
    let mut m = vec![T::zero(); rows.len() * n];
    for ((&row, mr), xr) in rows
        .iter()
        .zip(m.chunks_exact_mut(n))
        .zip(x.chunks_exact_mut(n))
    {
        fill_mask(ctx, row, salt, p, mr);
        for (v, &k) in xr.iter_mut().zip(mr.iter()) {
            *v = *v * k;
        }
    }
    m
}

/// `dx ← dx ⊙ mask` for a mask returned by [`forward`] (an empty mask is the identity).
pub fn backward<T: Real>(mask: &[T], dx: &mut [T]) {
    if mask.is_empty() {
        return;
    }
    for (d, &k) in dx.iter_mut().zip(mask) {
        *d = *d * k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{assert_grad_close, numeric_grad, seeded_vec};

    const CTX: DropoutCtx = DropoutCtx { seed: 7, epoch: 3 };

    #[test]
    fn mask_depends_only_on_key() {
        let a: Vec<f32> = mask(CTX, 12, 1, 64, 0.3);
        let b: Vec<f32> = mask(CTX, 12, 1, 64, 0.3);
        assert_eq!(a, b);
        assert_ne!(a, mask::<f32>(CTX, 13, 1, 64, 0.3));
        assert_ne!(a, mask::<f32>(CTX, 12, 2, 64, 0.3));
        assert_ne!(
            a,
            mask::<f32>(DropoutCtx { seed: 7, epoch: 4 }, 12, 1, 64, 0.3)
        );
        let keep = 1.0 / 0.7f32;
        assert!(a.iter().all(|&v| v == 0.0 || v == keep));
        // Batch position does not matter: row 12 gets the same mask wherever it sits.
        let mut x = vec![1.0f32; 3 * 64];
        let m = forward(Some(CTX), &[5, 12, 40], 1, 0.3, 64, &mut x);
        assert_eq!(&m[64..128], &a[..]);
        assert_eq!(&x[64..128], &a[..]);
    }

    #[test]
    fn drop_rate_and_identity_cases() {
        let m: Vec<f64> = (0..200)
            .flat_map(|r| mask::<f64>(CTX, r, 0, 100, 0.3))
            .collect();
        let dropped = m.iter().filter(|&&v| v == 0.0).count() as f64 / m.len() as f64;
        assert!((dropped - 0.3).abs() < 0.02, "{dropped}");
        let mean = m.iter().sum::<f64>() / m.len() as f64;
        assert!((mean - 1.0).abs() < 0.03, "{mean}");
        assert!(mask::<f32>(CTX, 0, 0, 10, 0.0).iter().all(|&v| v == 1.0));
        let mut x = vec![2.0f32; 6];
        assert!(forward(None, &[0, 1], 0, 0.5, 3, &mut x).is_empty());
        assert!(forward(Some(CTX), &[0, 1], 0, 0.0, 3, &mut x).is_empty());
        assert_eq!(x, vec![2.0; 6]);
    }

    /// With the mask fixed by the context, dropout is linear in x; central differences of
    /// `L = Σ dropout(x) ⊙ r` must match `backward` (relative error ≤ 1e-7).
    #[test]
    fn gradient() {
        let (rows, n) = ([3usize, 9, 1], 8);
        let x = seeded_vec(1, rows.len() * n, 1.0);
        let r = seeded_vec(2, rows.len() * n, 1.0);
        let mut y = x.clone();
        let m = forward(Some(CTX), &rows, 4, 0.4, n, &mut y);
        let mut g = r.clone();
        backward(&m, &mut g);
        let num = numeric_grad(&x, 1e-5, |x| {
            let mut y = x.to_vec();
            forward(Some(CTX), &rows, 4, 0.4, n, &mut y);
            y.iter().zip(&r).map(|(a, b)| a * b).sum()
        });
        assert_grad_close("dropout", &g, &num, 1e-7);
    }
}
