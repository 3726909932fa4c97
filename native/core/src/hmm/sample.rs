//! Sampling from a model: z_0 ~ startprob, z_t ~ transmat[z_{t−1}], x_t = μ_{z_t} + L_{z_t} ε,
//! ε ~ N(0, I). One ChaCha8 stream seeded by `seed`, drawn in a fixed order (per step: one
//! uniform for the state, then D standard normals), so a seed gives the same sample on every
//! machine and thread count.

use super::emission::cholesky;
use super::{CovType, GaussianHmm};
use crate::error::DataError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// Index drawn from the distribution `p` with the uniform `u` ∈ [0, 1) (inverse CDF; if the
/// cumulative sum stays below u by rounding, the last state with positive probability).
fn categorical(p: &[f64], u: f64) -> usize {
    let mut acc = 0.0;
    let mut last = 0;
    for (i, &v) in p.iter().enumerate() {
        if v > 0.0 {
            last = i;
            acc += v;
            if u < acc {
                return i;
            }
        }
    }
    last
}

/// n observations (n × D, row-major) and their states.
pub fn sample(
    model: &GaussianHmm,
    n: usize,
    seed: u64,
) -> Result<(Vec<f64>, Vec<usize>), DataError> {
    model.validate()?;
    let (k, d) = (model.k, model.d);
    // Per state: a lower-triangular factor (full/tied) or standard deviations (diag/spherical).
    let mut fac: Vec<Vec<f64>> = Vec::with_capacity(k);
    for s in 0..k {
        fac.push(match model.cov_type {
            CovType::Full => {
                cholesky(&model.covars[s * d * d..(s + 1) * d * d], d).expect("validated")
            }
            CovType::Tied => cholesky(&model.covars, d).expect("validated"),
            CovType::Diag => model.covars[s * d..(s + 1) * d]
                .iter()
                .map(|v| v.sqrt())
                .collect(),
            CovType::Spherical => vec![model.covars[s].sqrt(); d],
        });
    }
    let tri = matches!(model.cov_type, CovType::Full | CovType::Tied);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut x = vec![0.0; n * d];
    let mut z = vec![0usize; n];
    let mut eps = vec![0.0; d];
    let mut s = 0;
    for t in 0..n {
        let u: f64 = rng.random();
        s = if t == 0 {
            categorical(&model.startprob, u)
        } else {
            categorical(&model.transmat[s * k..(s + 1) * k], u)
        };
        z[t] = s;
        for e in eps.iter_mut() {
            *e = rng.sample(StandardNormal);
        }
        let mu = &model.means[s * d..(s + 1) * d];
        let row = &mut x[t * d..(t + 1) * d];
        let f = &fac[s];
        for i in 0..d {
            row[i] = mu[i]
                + if tri {
                    (0..=i).map(|j| f[i * d + j] * eps[j]).sum::<f64>()
                } else {
                    f[i] * eps[i]
                };
        }
    }
    Ok((x, z))
}
