//! The scalar type of the network kernels. Training runs in `f32`; every kernel is generic so
//! the same code runs in `f64` for the central-difference gradient checks.

use num_traits::Float;

/// A float the nn kernels can run on, with a dense matrix product.
pub trait Real:
    Float + Default + Send + Sync + std::fmt::Debug + std::iter::Sum + 'static
{
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
                assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n, "gemm: short buffer");
                if m == 0 || n == 0 {
                    return;
                }
                // Row-major strides; a transposed operand is the same buffer with swapped strides.
                let (rsa, csa) = if trans_a { (1, m as isize) } else { (k as isize, 1) };
                let (rsb, csb) = if trans_b { (1, k as isize) } else { (n as isize, 1) };
                // SAFETY: the asserts above bound every index the strides can reach.
                unsafe {
                    $gemm(
                        m, k, n, alpha, a.as_ptr(), rsa, csa, b.as_ptr(), rsb, csb, beta,
                        c.as_mut_ptr(), n as isize, 1,
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
        let (m, k, n) = (3, 4, 5);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.91).cos()).collect();
        let at: Vec<f64> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
        let bt: Vec<f64> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
        let mut want = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                want[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum::<f64>() + 1.0;
            }
        }
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let mut c = vec![1.0; m * n];
            let aa = if ta { &at } else { &a };
            let bb = if tb { &bt } else { &b };
            f64::gemm(m, k, n, 1.0, aa, ta, bb, tb, 1.0, &mut c);
            for (x, y) in c.iter().zip(&want) {
                assert!((x - y).abs() < 1e-12, "ta={ta} tb={tb}");
            }
        }
    }
}
