//! Gaussian hidden Markov models: Baum-Welch (EM) in a scaled and a log-space form, Viterbi,
//! smoothed and filtered (causal) posteriors, a streaming filter, sampling, scores and
//! information criteria. Conventions are hmmlearn 0.3.3's `GaussianHMM` (see docs/hmm.md).
//!
//! Shapes (all row-major): X is T × D with the sequences of `lengths` concatenated; startprob K;
//! transmat K × K (row i: from state i); means K × D; covars per `CovType`: Full K × D × D,
//! Diag K × D variances, Tied D × D, Spherical K.
//!
//! Layout of the module:
//! - `emission`: per-state Cholesky factors / inverse variances and log-determinants, emission
//!   log-densities for all t in fixed-size parallel blocks (vectorised over time, with an AVX2
//!   copy chosen at run time by `simd`), the covariance floor;
//! - `scaled` and `log_space`: the two forward-backward implementations (same inputs, same
//!   outputs, agree to ~1e-12); `stats`: the E-step and its sufficient statistics;
//! - `viterbi`, `decode` (score, posteriors, filtered, information criteria, forward-backward on
//!   a given emission matrix), `filter` (streaming), `sample`, `fit` (EM, M-step, restarts).
//!
//! Determinism: every parallel loop works on fixed blocks of `BLOCK` time steps (never sized by
//! the thread count) and reductions add the block results in block order; the AVX2 and baseline
//! kernels perform the same IEEE operations. Results are bit-identical at any thread count and
//! with or without AVX2.

/// Call `f::<N>(args)` with N = the runtime value `n` for 1..=8 and N = 0 (the generic loop)
/// otherwise. Kernels read their size as `if N == 0 { n } else { N }`, so each small size gets
/// an unrolled, bounds-check-free instance. Every instance runs the same loops in the same
/// order, and the instance depends on the size alone.
macro_rules! dispatch {
    ($n:expr, $f:ident ( $($arg:expr),* $(,)? )) => {
        match $n {
            1 => $f::<1>($($arg),*),
            2 => $f::<2>($($arg),*),
            3 => $f::<3>($($arg),*),
            4 => $f::<4>($($arg),*),
            5 => $f::<5>($($arg),*),
            6 => $f::<6>($($arg),*),
            7 => $f::<7>($($arg),*),
            8 => $f::<8>($($arg),*),
            _ => $f::<0>($($arg),*),
        }
    };
}

mod decode;
mod emission;
mod filter;
mod fit;
mod lattice;
mod log_space;
mod sample;
mod scaled;
mod seqs;
mod simd;
mod stats;
mod viterbi;

#[cfg(test)]
mod tests;

pub use crate::cluster::CovType;
use crate::error::DataError;
pub use decode::{
    filtered, filtered_with, forward_backward_log_b, information_criteria, posteriors,
    posteriors_with, score, score_with, viterbi_log_b, ForwardBackward, InformationCriteria,
};
pub use filter::Filter;
pub use fit::{
    fit, log_prior, FitOptions, FitResult, Init, Params, Progress, RestartReport, StopReason,
};
pub use sample::sample;
pub use simd::{set_simd, simd_active};
pub use viterbi::{viterbi, Viterbi};

/// Time steps per parallel block. Fixed, so that block boundaries (and hence every sum) do not
/// depend on the number of threads.
pub(crate) const BLOCK: usize = 4096;

/// Rows per cache-sized sub-block inside a block (emission and statistics kernels work on the
/// transposed sub-block so their inner loops run over time and vectorise).
pub(crate) const SUB: usize = 256;

/// Which forward-backward implementation runs the E-step (and the decoders).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Implementation {
    /// Probabilities kept in range by exact power-of-two rescaling (see `scaled`). Fast; falls
    /// back to the log-space pass for a whole call (or E-step) when a step would lose precision.
    Scaled,
    /// Log-probabilities with log-sum-exp (hmmlearn's `implementation='log'`).
    Log,
}

impl Implementation {
    pub fn name(self) -> &'static str {
        match self {
            Implementation::Scaled => "scaled",
            Implementation::Log => "log",
        }
    }

    pub fn from_name(s: &str) -> Option<Implementation> {
        match s {
            "scaled" => Some(Implementation::Scaled),
            "log" => Some(Implementation::Log),
            _ => None,
        }
    }
}

/// The name of a covariance type across the boundary ("full", "diag", "tied", "spherical").
pub fn cov_type_name(c: CovType) -> &'static str {
    match c {
        CovType::Full => "full",
        CovType::Diag => "diag",
        CovType::Tied => "tied",
        CovType::Spherical => "spherical",
    }
}

pub fn cov_type_from_name(s: &str) -> Option<CovType> {
    match s {
        "full" => Some(CovType::Full),
        "diag" => Some(CovType::Diag),
        "tied" => Some(CovType::Tied),
        "spherical" => Some(CovType::Spherical),
        _ => None,
    }
}

/// Number of covariance values for a type: Full K·D·D, Diag K·D, Tied D·D, Spherical K.
pub fn covars_len(c: CovType, k: usize, d: usize) -> usize {
    match c {
        CovType::Full => k * d * d,
        CovType::Diag => k * d,
        CovType::Tied => d * d,
        CovType::Spherical => k,
    }
}

/// A Gaussian HMM with K states over D features.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianHmm {
    pub k: usize,
    pub d: usize,
    pub cov_type: CovType,
    /// K: P(z_0 = i).
    pub startprob: Vec<f64>,
    /// K × K: P(z_t = j | z_{t−1} = i) at [i·K + j].
    pub transmat: Vec<f64>,
    /// K × D.
    pub means: Vec<f64>,
    /// See `covars_len`.
    pub covars: Vec<f64>,
}

/// Tolerance on the sum of startprob and of each transmat row (hmmlearn: `np.allclose`).
pub const SUM_TOL: f64 = 1e-6;

impl GaussianHmm {
    /// Check shapes, probabilities (non-negative, finite, sums within `SUM_TOL` of 1), means
    /// (finite) and covariances (finite, symmetric to 1e-8 relative, positive definite).
    pub fn validate(&self) -> Result<(), DataError> {
        let (k, d) = (self.k, self.d);
        if k == 0 {
            return Err(DataError::arg("the model needs at least 1 state"));
        }
        if d == 0 {
            return Err(DataError::arg("the model needs at least 1 feature"));
        }
        let want = |name: &str, got: usize, n: usize, what: &str| -> Result<(), DataError> {
            if got != n {
                return Err(DataError::arg(format!(
                    "{name} has {got} values; expected {n} ({what})"
                )));
            }
            Ok(())
        };
        want("startprob", self.startprob.len(), k, "K")?;
        want("transmat", self.transmat.len(), k * k, "K×K")?;
        want("means", self.means.len(), k * d, "K×D")?;
        let shape = match self.cov_type {
            CovType::Full => "K×D×D",
            CovType::Diag => "K×D",
            CovType::Tied => "D×D",
            CovType::Spherical => "K",
        };
        want(
            "covars",
            self.covars.len(),
            covars_len(self.cov_type, k, d),
            shape,
        )?;
        check_distribution("startprob", &self.startprob)?;
        for i in 0..k {
            check_distribution(
                &format!("transmat row {i}"),
                &self.transmat[i * k..(i + 1) * k],
            )?;
        }
        if let Some(i) = self.means.iter().position(|v| !v.is_finite()) {
            return Err(DataError::arg(format!(
                "means[{}][{}] is not finite ({})",
                i / d,
                i % d,
                self.means[i]
            )));
        }
        emission::check_covars(self.cov_type, k, d, &self.covars)
    }

    /// hmmlearn's count of free scalars (`_get_n_fit_scalars_per_param`, all of 's', 't', 'm',
    /// 'c'): (K−1) + K(K−1) + K·D + {full K·D(D+1)/2, diag K·D, tied D(D+1)/2, spherical K}.
    pub fn n_parameters(&self) -> usize {
        let (k, d) = (self.k, self.d);
        let c = match self.cov_type {
            CovType::Full => k * d * (d + 1) / 2,
            CovType::Diag => k * d,
            CovType::Tied => d * (d + 1) / 2,
            CovType::Spherical => k,
        };
        (k - 1) + k * (k - 1) + k * d + c
    }
}

fn check_distribution(name: &str, p: &[f64]) -> Result<(), DataError> {
    if let Some(i) = p.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
        return Err(DataError::arg(format!(
            "{name}[{i}] must be a finite probability, got {}",
            p[i]
        )));
    }
    let s: f64 = p.iter().sum();
    if (s - 1.0).abs() > SUM_TOL {
        return Err(DataError::arg(format!(
            "{name} must sum to 1 (within {SUM_TOL}), sums to {s}"
        )));
    }
    Ok(())
}

/// Check X (T·D finite values) and turn `lengths` into sequence bounds. `None` means one
/// sequence. Errors name the row and column of a non-finite value.
pub(crate) fn check_x(
    x: &[f64],
    d: usize,
    lengths: Option<&[usize]>,
) -> Result<seqs::Seqs, DataError> {
    if d == 0 {
        return Err(DataError::arg("nFeatures must be at least 1"));
    }
    if !x.len().is_multiple_of(d) {
        return Err(DataError::arg(format!(
            "X has {} values, not a multiple of nFeatures = {d}",
            x.len()
        )));
    }
    let t = x.len() / d;
    if t == 0 {
        return Err(DataError::arg("X has no observations"));
    }
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(DataError::arg(format!(
            "X has a non-finite value at row {}, column {} ({})",
            i / d,
            i % d,
            x[i]
        )));
    }
    seqs::Seqs::new(t, lengths)
}
