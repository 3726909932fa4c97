//! The scalar type of the network kernels. Training runs in `f32`; every kernel is generic so
//! the same code runs in `f64` for the central-difference gradient checks.

use num_traits::Float;

/// A float the nn kernels can run on, with a dense matrix product.
pub trait Real: Float + Default + Send + Sync + std::fmt::Debug + std::iter::Sum + 'static {
    /// `c = alpha * op(a) * op(b) + beta * c` on row-major matrices.
    /// `op(a)` is `m x k`, `op(b)` is `k x n`, `c` is `m x n`. `trans_a`/`trans_b` say whether
    /// `a`/`b` are stored transposed (`a` stored `k x m`, `b` stored `n x k`).
    #[allow(clippy::too_many_arguments)]
    fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: &[Self],
        trans_a: bool,
        b: &[Self],
        trans_b: bool,
        beta: Self,
        c: &mut [Self],
    );

    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
}

/// Rows up to which `gemm` uses plain loops: one inference window (m = 1) would otherwise pay
/// matrixmultiply's packing of the whole weight matrix at every LSTM step (~4× ORT's latency).
const SMALL_M: usize = 4;

/// `c = alpha·op(a)·op(b) + beta·c` for a few rows, with the inner loop over contiguous memory:
/// dot products along rows of a transposed `b`, row updates (axpy) otherwise. As with
/// matrixmultiply, `beta == 0` means `c` is not read.
#[allow(clippy::too_many_arguments)]
fn small_m_gemm<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    alpha: T,
    a: &[T],
    trans_a: bool,
    b: &[T],
    trans_b: bool,
    beta: T,
    c: &mut [T],
) {
    let at = |i: usize, p: usize| if trans_a { a[p * m + i] } else { a[i * k + p] };
    for i in 0..m {
        let row = &mut c[i * n..(i + 1) * n];
        if beta == T::zero() {
            row.iter_mut().for_each(|v| *v = T::zero());
        } else if beta != T::one() {
            row.iter_mut().for_each(|v| *v = *v * beta);
        }
        if trans_b {
            // The row of op(a) once, contiguous, so each output is a dot product of two slices.
            let ai: Vec<T> = (0..k).map(|p| at(i, p)).collect();
            for (j, v) in row.iter_mut().enumerate() {
                *v = *v + alpha * dot(&ai, &b[j * k..(j + 1) * k]);
            }
        } else {
            for p in 0..k {
                let f = alpha * at(i, p);
                for (v, &bv) in row.iter_mut().zip(&b[p * n..(p + 1) * n]) {
                    *v = *v + f * bv;
                }
            }
        }
    }
}

/// Dot product with eight independent accumulators: a single running sum is one long chain of
/// dependent adds that the compiler may not reorder (IEEE), so it can neither pipeline nor
/// vectorise it. The summation order is fixed, so results are deterministic.
#[inline]
fn dot<T: Float>(x: &[T], y: &[T]) -> T {
    let mut acc = [T::zero(); 8];
    let xs = x.chunks_exact(8);
    let ys = y.chunks_exact(8);
    let (xr, yr) = (xs.remainder(), ys.remainder());
    for (a, b) in xs.zip(ys) {
        for l in 0..8 {
            acc[l] = acc[l] + a[l] * b[l];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (a, b) in xr.iter().zip(yr) {
        s = s + *a * *b;
    }
    s
}

macro_rules! impl_real {
    ($t:ty, $gemm:path) => {
        impl Real for $t {
            #[inline]
            fn gemm(
                m: usize,
                k: usize,
                n: usize,
                alpha: Self,
                a: &[Self],
                trans_a: bool,
                b: &[Self],
                trans_b: bool,
                beta: Self,
                c: &mut [Self],
            ) {
                assert!(
                    a.len() >= m * k && b.len() >= k * n && c.len() >= m * n,
                    "gemm: short buffer"
                );
                if m == 0 || n == 0 {
                    return;
                }
                if m <= SMALL_M {
                    small_m_gemm(m, k, n, alpha, a, trans_a, b, trans_b, beta, c);
                    return;
                }
                // Row-major strides; a transposed operand is the same buffer with swapped strides.
                let (rsa, csa) = if trans_a {
                    (1, m as isize)
                } else {
                    (k as isize, 1)
                };
                let (rsb, csb) = if trans_b {
                    (1, k as isize)
                } else {
                    (n as isize, 1)
                };
                // SAFETY: the asserts above bound every index the strides can reach.
                unsafe {
                    $gemm(
                        m,
                        k,
                        n,
                        alpha,
                        a.as_ptr(),
                        rsa,
                        csa,
                        b.as_ptr(),
                        rsb,
                        csb,
                        beta,
                        c.as_mut_ptr(),
                        n as isize,
                        1,
                    );
                }
            }
            #[inline]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }
        }
    };
}

impl_real!(f32, matrixmultiply::sgemm);
impl_real!(f64, matrixmultiply::dgemm);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemm_all_transpose_combinations_match_naive() {
        for (m, k, n) in [(3, 4, 5), (9, 7, 6), (1, 70, 256)] {
            let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
            let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.91).cos()).collect();
            let at: Vec<f64> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
            let bt: Vec<f64> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
            let mut want = vec![0.0; m * n];
            for i in 0..m {
                for j in 0..n {
                    want[i * n + j] =
                        (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum::<f64>() + 1.0;
                }
            }
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let mut c = vec![1.0; m * n];
                let aa = if ta { &at } else { &a };
                let bb = if tb { &bt } else { &b };
                f64::gemm(m, k, n, 1.0, aa, ta, bb, tb, 1.0, &mut c);
                for (x, y) in c.iter().zip(&want) {
                    assert!((x - y).abs() < 1e-12, "m={m} ta={ta} tb={tb}");
                }
                // beta = 0 must not read c (it may hold garbage such as NaN).
                let mut c0 = vec![f64::NAN; m * n];
                f64::gemm(m, k, n, 1.0, aa, ta, bb, tb, 0.0, &mut c0);
                for (x, y) in c0.iter().zip(&want) {
                    assert!(
                        (x - (y - 1.0)).abs() < 1e-12,
                        "beta 0, m={m} ta={ta} tb={tb}"
                    );
                }
            }
        }
    }
}
