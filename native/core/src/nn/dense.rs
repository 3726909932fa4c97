//! Fully connected layer on a batch of rows: `y[B, out] = x[B, in] · Wᵀ + b`, with
//! `W [out, in]` row-major and `b [out]` (docs/neural.md, "Dense"; ONNX `Gemm(transB=1)`).
//!
//! Backward passes never overwrite parameter gradients: `dW`, `db` are ADDED to, so several
//! uses of one layer (or several chunks) can share one gradient buffer. Input gradients are
//! overwritten or added to, as the caller asks, because a layer input often feeds more than
//! one consumer (e.g. GraphSAGE's self and neighbour paths).

use super::Real;

/// `y = x · Wᵀ + b` (overwrites `y`). `x [batch, n_in]`, `w [n_out, n_in]`, `b [n_out]`,
/// `y [batch, n_out]`.
pub fn forward<T: Real>(
    x: &[T],
    w: &[T],
    b: &[T],
    batch: usize,
    n_in: usize,
    n_out: usize,
    y: &mut [T],
) {
    debug_assert_eq!(b.len(), n_out);
    let y = &mut y[..batch * n_out];
    for row in y.chunks_exact_mut(n_out) {
        row.copy_from_slice(b);
    }
    T::gemm(batch, n_in, n_out, T::one(), x, false, w, true, T::one(), y);
}

/// `y += x · Wᵀ` (no bias): for a second weight matrix feeding the same pre-activation.
pub fn forward_add<T: Real>(
    x: &[T],
    w: &[T],
    batch: usize,
    n_in: usize,
    n_out: usize,
    y: &mut [T],
) {
    T::gemm(batch, n_in, n_out, T::one(), x, false, w, true, T::one(), y);
}

/// Parameter gradients: `dW += dyᵀ · x`, and `db += Σ_rows dy` when `db` is given.
pub fn backward_params<T: Real>(
    x: &[T],
    dy: &[T],
    batch: usize,
    n_in: usize,
    n_out: usize,
    dw: &mut [T],
    db: Option<&mut [T]>,
) {
    T::gemm(
        n_out,
        batch,
        n_in,
        T::one(),
        dy,
        true,
        x,
        false,
        T::one(),
        dw,
    );
    if let Some(db) = db {
        add_column_sums(dy, n_out, db);
    }
}

/// Input gradient `dx = dy · W` (`accumulate = false`) or `dx += dy · W` (`true`).
pub fn backward_input<T: Real>(
    dy: &[T],
    w: &[T],
    batch: usize,
    n_in: usize,
    n_out: usize,
    dx: &mut [T],
    accumulate: bool,
) {
    let beta = if accumulate { T::one() } else { T::zero() };
    T::gemm(batch, n_out, n_in, T::one(), dy, false, w, false, beta, dx);
}

/// Full backward of [`forward`]: adds `dW`, `db`; overwrites `dx` when given (pass `None`
/// for a layer whose input is data, which saves a GEMM).
#[allow(clippy::too_many_arguments)]
pub fn backward<T: Real>(
    x: &[T],
    w: &[T],
    dy: &[T],
    batch: usize,
    n_in: usize,
    n_out: usize,
    dx: Option<&mut [T]>,
    dw: &mut [T],
    db: &mut [T],
) {
    backward_params(x, dy, batch, n_in, n_out, dw, Some(db));
    if let Some(dx) = dx {
        backward_input(dy, w, batch, n_in, n_out, dx, false);
    }
}

/// `acc[j] += Σ_r m[r, j]` for a row-major `m` with `cols` columns. Rows are added in order,
/// so the result does not depend on anything but the data.
pub fn add_column_sums<T: Real>(m: &[T], cols: usize, acc: &mut [T]) {
    let acc = &mut acc[..cols];
    for row in m.chunks_exact(cols) {
        for (a, &v) in acc.iter_mut().zip(row) {
            *a = *a + v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{assert_grad_close, numeric_grad, seeded_vec};

    const EPS: f64 = 1e-5;
    const TOL: f64 = 1e-7;

    fn loss(
        x: &[f64],
        w: &[f64],
        b: &[f64],
        r: &[f64],
        batch: usize,
        n_in: usize,
        n_out: usize,
    ) -> f64 {
        let mut y = vec![0.0; batch * n_out];
        forward(x, w, b, batch, n_in, n_out, &mut y);
        y.iter().zip(r).map(|(a, b)| a * b).sum()
    }

    #[test]
    fn forward_matches_naive() {
        let (batch, n_in, n_out) = (3, 4, 2);
        let x = seeded_vec(1, batch * n_in, 1.0);
        let w = seeded_vec(2, n_out * n_in, 1.0);
        let b = seeded_vec(3, n_out, 1.0);
        let mut y = vec![0.0; batch * n_out];
        forward(&x, &w, &b, batch, n_in, n_out, &mut y);
        for r in 0..batch {
            for o in 0..n_out {
                let want = b[o]
                    + (0..n_in)
                        .map(|i| w[o * n_in + i] * x[r * n_in + i])
                        .sum::<f64>();
                assert!((y[r * n_out + o] - want).abs() < 1e-12);
            }
        }
    }

    /// Central differences of `L = Σ y ⊙ r` w.r.t. x, W and b (relative error ≤ 1e-7).
    #[test]
    fn gradients_match_central_differences() {
        let (batch, n_in, n_out) = (5, 7, 3);
        let x = seeded_vec(11, batch * n_in, 1.0);
        let w = seeded_vec(12, n_out * n_in, 0.5);
        let b = seeded_vec(13, n_out, 0.5);
        let r = seeded_vec(14, batch * n_out, 1.0);
        let mut dx = vec![0.0; batch * n_in];
        // Parameter grads start non-zero to check that backward adds.
        let mut dw = vec![1.0; n_out * n_in];
        let mut db = vec![1.0; n_out];
        backward(
            &x,
            &w,
            &r,
            batch,
            n_in,
            n_out,
            Some(&mut dx),
            &mut dw,
            &mut db,
        );
        dw.iter_mut().for_each(|v| *v -= 1.0);
        db.iter_mut().for_each(|v| *v -= 1.0);
        let nx = numeric_grad(&x, EPS, |x| loss(x, &w, &b, &r, batch, n_in, n_out));
        let nw = numeric_grad(&w, EPS, |w| loss(&x, w, &b, &r, batch, n_in, n_out));
        let nb = numeric_grad(&b, EPS, |b| loss(&x, &w, b, &r, batch, n_in, n_out));
        assert_grad_close("dense dx", &dx, &nx, TOL);
        assert_grad_close("dense dW", &dw, &nw, TOL);
        assert_grad_close("dense db", &db, &nb, TOL);

        // accumulate = true adds onto what is there.
        let mut dx2 = vec![1.0; batch * n_in];
        backward_input(&r, &w, batch, n_in, n_out, &mut dx2, true);
        for (a, b) in dx2.iter().zip(&dx) {
            assert!((a - 1.0 - b).abs() < 1e-12);
        }
    }

    #[test]
    fn forward_add_accumulates_without_bias() {
        let (batch, n_in, n_out) = (2, 3, 2);
        let x = seeded_vec(21, batch * n_in, 1.0);
        let w = seeded_vec(22, n_out * n_in, 1.0);
        let zero = vec![0.0; n_out];
        let mut y = vec![0.0; batch * n_out];
        forward(&x, &w, &zero, batch, n_in, n_out, &mut y);
        let mut y2 = vec![2.0; batch * n_out];
        forward_add(&x, &w, batch, n_in, n_out, &mut y2);
        for (a, b) in y2.iter().zip(&y) {
            assert!((a - 2.0 - b).abs() < 1e-12);
        }
    }
}
