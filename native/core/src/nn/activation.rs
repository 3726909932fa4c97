//! Element-wise activations and a numerically stable softmax.
//!
//! Forwards work in place; backwards take the activation's OUTPUT `y` (not its input), which
//! is all ReLU, tanh and sigmoid need, so callers keep one buffer per activation instead of
//! two. Backwards multiply `dy` in place by the local derivative.
//!
//! Speed: in f32, the slice forms of tanh and sigmoid use branch-free polynomial
//! approximations (Cephes `expf`/`tanhf`, max error ≈ 2e-7 absolute, checked against f64 in
//! the tests) that the compiler vectorises, with an AVX2 build of the loop chosen at run
//! time. libm's scalar `tanhf`/`expf` were ~40% of LSTM training time. The f64 path (used by
//! the gradient checks) keeps the exact std functions. No FMA contraction is used, so the
//! AVX2 and baseline loops give identical bits.

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
    if let Some(x) = fast::as_f32(x) {
        return fast::tanh_slice(x);
    }
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
    if let Some(x) = fast::as_f32(x) {
        return fast::sigmoid_slice(x);
    }
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
    for ((y, dy), dx) in y
        .chunks_exact(cols)
        .zip(dy.chunks_exact(cols))
        .zip(dx.chunks_exact_mut(cols))
    {
        let dot: T = y.iter().zip(dy).map(|(&a, &b)| a * b).sum();
        for ((d, &y), &g) in dx.iter_mut().zip(y).zip(dy) {
            *d = y * (g - dot);
        }
    }
}

/// Vectorisable f32 exp, sigmoid and tanh.
mod fast {
    use std::any::TypeId;

    /// `x` as `&mut [f32]` when `T` is `f32`.
    pub(super) fn as_f32<T: 'static>(x: &mut [T]) -> Option<&mut [f32]> {
        if TypeId::of::<T>() == TypeId::of::<f32>() {
            // SAFETY: T is f32, so the slice is already an f32 slice.
            Some(unsafe { std::slice::from_raw_parts_mut(x.as_mut_ptr() as *mut f32, x.len()) })
        } else {
            None
        }
    }

    /// Cephes `expf`: round-to-nearest range reduction `x = n·ln2 + r`, `|r| ≤ ln2/2`, a
    /// degree-7 polynomial for `e^r`, and `2^n` built in the exponent bits. The input is
    /// clamped to `[−87, 88]` so `2^n` stays a normal float (σ and tanh saturate long before).
    #[inline(always)]
    pub(super) fn exp(x: f32) -> f32 {
        const MAGIC: f32 = 12_582_912.0; // 1.5·2^23: adding it rounds to an integer.
        let x = x.clamp(-87.0, 88.0);
        let t = x * std::f32::consts::LOG2_E + MAGIC;
        let n_bits = t.to_bits();
        let n = t - MAGIC;
        let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
        let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2)
            * r
            + 1.666_666_5e-1)
            * r
            + 0.5;
        let y = p * (r * r) + r + 1.0;
        // t's low mantissa bits hold n (t = 1.5·2^23 + n exactly).
        let pow2 = f32::from_bits(n_bits.wrapping_sub(0x4B40_0000).wrapping_add(127) << 23);
        y * pow2
    }

    #[inline(always)]
    pub(super) fn sigmoid(x: f32) -> f32 {
        1.0 / (1.0 + exp(-x))
    }

    /// Cephes `tanhf`: an odd polynomial below 0.625 (where `1 − 2/(e^{2x}+1)` would cancel),
    /// the exp form above; both computed and selected so the loop has no branch.
    #[inline(always)]
    pub(super) fn tanh(x: f32) -> f32 {
        let a = x.abs();
        let big = 1.0 - 2.0 / (exp(2.0 * a) + 1.0);
        let z = a * a;
        let small = ((((-5.704_988_7e-3 * z + 2.063_909e-2) * z - 5.373_971_6e-2) * z
            + 1.333_144_2e-1)
            * z
            - 3.333_328e-1)
            * z
            * a
            + a;
        let r = if a < 0.625 { small } else { big };
        r.copysign(x)
    }

    #[inline(always)]
    fn sigmoid_body(x: &mut [f32]) {
        for v in x {
            *v = sigmoid(*v);
        }
    }

    #[inline(always)]
    fn tanh_body(x: &mut [f32]) {
        for v in x {
            *v = tanh(*v);
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn sigmoid_avx2(x: &mut [f32]) {
        sigmoid_body(x)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn tanh_avx2(x: &mut [f32]) {
        tanh_body(x)
    }

    pub(super) fn sigmoid_slice(x: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { sigmoid_avx2(x) };
        }
        sigmoid_body(x)
    }

    pub(super) fn tanh_slice(x: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { tanh_avx2(x) };
        }
        tanh_body(x)
    }

    #[cfg(test)]
    pub(super) fn sigmoid_body_for_test(x: &mut [f32]) {
        sigmoid_body(x)
    }

    #[cfg(test)]
    pub(super) fn tanh_body_for_test(x: &mut [f32]) {
        tanh_body(x)
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
        let x: Vec<f64> = seeded_vec(1, 40, 2.0)
            .into_iter()
            .map(|v| if v.abs() < 0.05 { v + 0.1 } else { v })
            .collect();
        check("relu", &x, relu_inplace, relu_backward);
    }

    #[test]
    fn tanh_gradient() {
        check("tanh", &seeded_vec(2, 40, 3.0), tanh_inplace, tanh_backward);
    }

    #[test]
    fn sigmoid_gradient() {
        check(
            "sigmoid",
            &seeded_vec(3, 40, 6.0),
            sigmoid_inplace,
            sigmoid_backward,
        );
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
        let mut v = vec![
            -1e4f32,
            1e4,
            -100.0,
            100.0,
            f32::NEG_INFINITY,
            f32::INFINITY,
        ];
        sigmoid_inplace(&mut v);
        assert!(v[0] < 1e-37 && v[2] < 1e-37 && v[4] < 1e-37, "{v:?}");
        assert!(v[1] == 1.0 && v[3] == 1.0 && v[5] == 1.0);
        let mut t = vec![-1e4f32, 1e4, 0.0, -0.0, f32::INFINITY];
        tanh_inplace(&mut t);
        assert_eq!(t, vec![-1.0, 1.0, 0.0, -0.0, 1.0]);
    }

    /// The fast f32 paths against f64 std on a dense grid over [−20, 20] plus tiny values:
    /// absolute error ≤ 3e-7, and relative error ≤ 1e-6 for sigmoid and for tanh.
    #[test]
    fn fast_f32_matches_f64() {
        let mut xs: Vec<f32> = (-400_000..=400_000).map(|i| i as f32 * 5e-5).collect();
        xs.extend([
            1e-30f32, -1e-20, 1e-8, 3e-4, 0.6249, 0.6251, 9.0, 44.0, 45.0, -87.5, 87.9,
        ]);
        for (name, simd, body, exact) in [
            (
                "sigmoid",
                sigmoid_inplace::<f32> as fn(&mut [f32]),
                fast::sigmoid_body_for_test as fn(&mut [f32]),
                (|x: f64| 1.0 / (1.0 + (-x).exp())) as fn(f64) -> f64,
            ),
            (
                "tanh",
                tanh_inplace::<f32>,
                fast::tanh_body_for_test,
                f64::tanh,
            ),
        ] {
            let mut a = xs.clone();
            simd(&mut a);
            let mut b = xs.clone();
            body(&mut b);
            // The runtime-dispatched (AVX2) and baseline loops give the same bits.
            assert!(
                a.iter().zip(&b).all(|(u, v)| u.to_bits() == v.to_bits()),
                "{name}: dispatch changes bits"
            );
            for (&x, &y) in xs.iter().zip(&a) {
                let want = exact(x as f64);
                let err = (y as f64 - want).abs();
                assert!(err <= 3e-7, "{name}({x}) = {y}, want {want}");
                assert!(
                    err <= 1e-6 * want.abs() || want.abs() < 1e-30,
                    "{name}({x}) = {y}, want {want} (relative)"
                );
            }
        }
    }
}
