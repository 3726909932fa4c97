//! Element-wise activations and a numerically stable softmax.
//!
//! Forwards work in place; backwards take the activation's OUTPUT `y` (not its input), which
//! is all ReLU, tanh and sigmoid need, so callers keep one buffer per activation instead of
//! two. Backwards multiply `dy` in place by the local derivative.

use super::Real;

/// Logistic function `1 / (1 + e^{−x})`. For very negative `x`, `e^{−x}` overflows to +∞ and
/// the result is exactly 0, never NaN, so no branch is needed.
#[inline(always)]
pub fn sigmoid<T: Real>(x: T) -> T {
    T::one() / (T::one() + (-x).exp())
}

/// `x ← max(x, 0)`.
pub fn relu_inplace<T: Real>(x: &mut [T]) {
    for v in x {
        *v = v.max(T::zero());
    }
}

/// `dy ← dy · [y > 0]` (the subgradient at 0 is 0, as in PyTorch).
pub fn relu_backward<T: Real>(y: &[T], dy: &mut [T]) {
    for (d, &y) in dy.iter_mut().zip(y) {
        if y <= T::zero() {
            *d = T::zero();
        }
    }
}

/// `x ← tanh(x)`.
pub fn tanh_inplace<T: Real>(x: &mut [T]) {
    for v in x {
        *v = v.tanh();
    }
}

/// `dy ← dy · (1 − y²)` with `y = tanh(x)`.
pub fn tanh_backward<T: Real>(y: &[T], dy: &mut [T]) {
    for (d, &y) in dy.iter_mut().zip(y) {
        *d = *d * (T::one() - y * y);
    }
}

/// `x ← σ(x)`.
pub fn sigmoid_inplace<T: Real>(x: &mut [T]) {
    for v in x {
        *v = sigmoid(*v);
    }
}

/// `dy ← dy · y(1 − y)` with `y = σ(x)`.
pub fn sigmoid_backward<T: Real>(y: &[T], dy: &mut [T]) {
    for (d, &y) in dy.iter_mut().zip(y) {
        *d = *d * y * (T::one() - y);
    }
}

/// Softmax of each row of a row-major `x` with `cols` columns, in place. The row maximum is
/// subtracted first so `exp` cannot overflow.
pub fn softmax_rows<T: Real>(x: &mut [T], cols: usize) {
    for row in x.chunks_exact_mut(cols) {
        softmax_inplace(row);
    }
}

/// Softmax of one vector, in place (stable).
pub fn softmax_inplace<T: Real>(x: &mut [T]) {
    let m = x.iter().fold(T::neg_infinity(), |m, &v| m.max(v));
    let mut s = T::zero();
    for v in x.iter_mut() {
        *v = (*v - m).exp();
        s = s + *v;
    }
    let inv = T::one() / s;
    for v in x.iter_mut() {
        *v = *v * inv;
    }
}

/// Backward of a row-wise softmax: `dx = y ⊙ (dy − Σ_j y_j dy_j)` per row (overwrites `dx`).
pub fn softmax_backward_rows<T: Real>(y: &[T], dy: &[T], dx: &mut [T], cols: usize) {
    for ((y, dy), dx) in y.chunks_exact(cols).zip(dy.chunks_exact(cols)).zip(dx.chunks_exact_mut(cols)) {
        let dot: T = y.iter().zip(dy).map(|(&a, &b)| a * b).sum();
        for ((d, &y), &g) in dx.iter_mut().zip(y).zip(dy) {
            *d = y * (g - dot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{assert_grad_close, numeric_grad, seeded_vec};

    const EPS: f64 = 1e-5;
    const TOL: f64 = 1e-7;

    /// `L = Σ f(x) ⊙ r` for an in-place activation `f`; checks `backward(y, r)` against
    /// central differences.
    fn check(name: &str, x: &[f64], f: fn(&mut [f64]), b: fn(&[f64], &mut [f64])) {
        let r = seeded_vec(99, x.len(), 1.0);
        let mut y = x.to_vec();
        f(&mut y);
        let mut g = r.clone();
        b(&y, &mut g);
        let n = numeric_grad(x, EPS, |x| {
            let mut y = x.to_vec();
            f(&mut y);
            y.iter().zip(&r).map(|(a, b)| a * b).sum()
        });
        assert_grad_close(name, &g, &n, TOL);
    }

    #[test]
    fn relu_gradient() {
        // Keep inputs away from the kink at 0, where central differences are meaningless.
        let x: Vec<f64> = seeded_vec(1, 40, 2.0).into_iter().map(|v| if v.abs() < 0.05 { v + 0.1 } else { v }).collect();
        check("relu", &x, relu_inplace, relu_backward);
    }

    #[test]
    fn tanh_gradient() {
        check("tanh", &seeded_vec(2, 40, 3.0), tanh_inplace, tanh_backward);
    }

    #[test]
    fn sigmoid_gradient() {
        check("sigmoid", &seeded_vec(3, 40, 6.0), sigmoid_inplace, sigmoid_backward);
    }

    #[test]
    fn softmax_gradient_and_stability() {
        let cols = 5;
        let x = seeded_vec(4, 3 * cols, 3.0);
        let r = seeded_vec(5, 3 * cols, 1.0);
        let mut y = x.clone();
        softmax_rows(&mut y, cols);
        let mut dx = vec![0.0; x.len()];
        softmax_backward_rows(&y, &r, &mut dx, cols);
        let n = numeric_grad(&x, EPS, |x| {
            let mut y = x.to_vec();
            softmax_rows(&mut y, cols);
            y.iter().zip(&r).map(|(a, b)| a * b).sum()
        });
        assert_grad_close("softmax", &dx, &n, TOL);

        let mut big = vec![1000.0f32, 1001.0, -1000.0];
        softmax_inplace(&mut big);
        assert!(big.iter().all(|v| v.is_finite()));
        assert!((big.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!((big[1] / big[0] - std::f32::consts::E).abs() < 1e-4);
    }

    #[test]
    fn sigmoid_saturates_without_nan() {
        for x in [-1e4f32, -100.0, -88.0, 0.0, 88.0, 100.0, 1e4] {
            let s = sigmoid(x);
            assert!(s.is_finite() && (0.0..=1.0).contains(&s), "{x} -> {s}");
        }
        let mut v = vec![-1e4f32, 1e4, -100.0, 100.0];
        sigmoid_inplace(&mut v);
        assert_eq!(v, vec![0.0, 1.0, 0.0, 1.0]);
        let mut t = vec![-1e4f32, 1e4, 0.0];
        tanh_inplace(&mut t);
        assert_eq!(t, vec![-1.0, 1.0, 0.0]);
    }
}
