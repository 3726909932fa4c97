//! Decoders at fixed parameters: score, smoothed and filtered posteriors, information criteria,
//! and forward-backward / Viterbi on a given emission log-likelihood matrix (T × K).
//!
//! Each runs the scaled passes first; if they lose precision (see `scaled`) the call is rerun
//! in log space, so results are defined whenever the log-space ones are. The `_with` variants
//! choose the implementation (tests hold the two to 1e-9).

use super::emission::{scale_row, Emission};
use super::lattice::{Chain, Lattice};
use super::seqs::Seqs;
use super::stats::zero_likelihood;
use super::viterbi::{viterbi_all, Viterbi};
use super::{check_distribution, check_x, log_space, scaled, GaussianHmm, Implementation, BLOCK};
use crate::error::DataError;
use rayon::prelude::*;

/// Where the emission log-likelihoods come from.
enum Source<'a> {
    Gauss(&'a Emission, &'a [f64]),
    LogB(&'a [f64], usize),
}

impl Source<'_> {
    fn fill_scaled(&self, lat: &mut Lattice) {
        match self {
            Source::Gauss(em, x) => em.fill_scaled(x, &mut lat.b, &mut lat.shift),
            Source::LogB(logb, k) => {
                let k = *k;
                lat.b.copy_from_slice(logb);
                lat.b
                    .par_chunks_mut(BLOCK * k)
                    .zip(lat.shift.par_chunks_mut(BLOCK))
                    .for_each(|(b, sh)| {
                        for (row, s) in b.chunks_exact_mut(k).zip(sh.iter_mut()) {
                            *s = scale_row(row);
                        }
                    });
            }
        }
    }

    fn fill_log(&self, lat: &mut Lattice) {
        match self {
            Source::Gauss(em, x) => em.fill_log(x, &mut lat.b),
            Source::LogB(logb, _) => lat.b.copy_from_slice(logb),
        }
    }
}

/// Run the forward (and backward) passes; returns the lattice and the implementation that
/// produced it.
fn run(
    ch: &Chain,
    src: &Source,
    seqs: &Seqs,
    imp: Implementation,
    backward: bool,
) -> (Lattice, Implementation) {
    let mut lat = Lattice::new(seqs.t, ch.k, seqs.seqs.len(), backward);
    if imp == Implementation::Scaled {
        src.fill_scaled(&mut lat);
        let ok = if backward {
            scaled::forward_backward(ch, seqs, &mut lat)
        } else {
            scaled::forward_lat(ch, seqs, &mut lat)
        };
        if ok {
            return (lat, Implementation::Scaled);
        }
    }
    src.fill_log(&mut lat);
    if backward {
        log_space::forward_backward(ch, seqs, &mut lat);
    } else {
        log_space::forward_lat(ch, seqs, &mut lat);
    }
    (lat, Implementation::Log)
}

fn check_ll(lat: &Lattice) -> Result<(), DataError> {
    match lat.seq_ll.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(zero_likelihood(i)),
        None => Ok(()),
    }
}

/// Apply `f(t, row_out)` to every row of a T × K output in parallel blocks; false if any fails.
fn rows(t: usize, k: usize, f: impl Fn(usize, &mut [f64]) -> bool + Sync) -> Option<Vec<f64>> {
    let mut out = vec![0.0; t * k];
    let ok = out
        .par_chunks_mut(BLOCK * k)
        .enumerate()
        .map(|(bi, chunk)| {
            chunk
                .chunks_exact_mut(k)
                .enumerate()
                .all(|(r, row)| f(bi * BLOCK + r, row))
        })
        .collect::<Vec<bool>>()
        .into_iter()
        .all(|v| v);
    ok.then_some(out)
}

fn smoothed(
    ch: &Chain,
    src: &Source,
    seqs: &Seqs,
    imp: Implementation,
) -> Result<(Lattice, Implementation, Vec<f64>), DataError> {
    let k = ch.k;
    let (lat, used) = run(ch, src, seqs, imp, true);
    if used == Implementation::Log {
        check_ll(&lat)?;
    }
    let (a, b) = (&lat.alpha, &lat.beta);
    let g = match used {
        Implementation::Scaled => rows(seqs.t, k, |t, o| {
            scaled::gamma_row(&a[t * k..(t + 1) * k], &b[t * k..(t + 1) * k], o).is_some()
        }),
        Implementation::Log => rows(seqs.t, k, |t, o| {
            log_space::gamma_row(&a[t * k..(t + 1) * k], &b[t * k..(t + 1) * k], o)
        }),
    };
    match (g, used) {
        (Some(g), _) => Ok((lat, used, g)),
        (None, Implementation::Scaled) => smoothed(ch, src, seqs, Implementation::Log),
        (None, Implementation::Log) => Err(DataError::arg(
            "posterior probabilities are undefined (a row has zero probability under every state)",
        )),
    }
}

fn filtered_rows(
    ch: &Chain,
    src: &Source,
    seqs: &Seqs,
    imp: Implementation,
) -> Result<(Lattice, Implementation, Vec<f64>), DataError> {
    let k = ch.k;
    let (lat, used) = run(ch, src, seqs, imp, false);
    match used {
        Implementation::Scaled => {
            let a = &lat.alpha;
            let f = rows(seqs.t, k, |t, o| {
                scaled::normalize(&a[t * k..(t + 1) * k], o)
            })
            .ok_or_else(|| {
                DataError::arg(
                    "filtered probabilities are undefined (a prefix has zero probability)",
                )
            })?;
            Ok((lat, used, f))
        }
        Implementation::Log => {
            check_ll(&lat)?;
            let a = &lat.alpha;
            let f = rows(seqs.t, k, |t, o| {
                log_space::normalize_row(&a[t * k..(t + 1) * k], o)
            })
            .ok_or_else(|| {
                DataError::arg(
                    "filtered probabilities are undefined (a prefix has zero probability)",
                )
            })?;
            Ok((lat, used, f))
        }
    }
}

fn prepare(
    model: &GaussianHmm,
    x: &[f64],
    lengths: Option<&[usize]>,
) -> Result<(Seqs, Emission, Chain), DataError> {
    model.validate()?;
    let seqs = check_x(x, model.d, lengths)?;
    let em = Emission::new(
        model.cov_type,
        model.k,
        model.d,
        &model.means,
        &model.covars,
    )?;
    Ok((seqs, em, Chain::new(&model.startprob, &model.transmat)))
}

/// log p(X | model), summed over sequences (hmmlearn's `score`). −∞ if X is impossible.
pub fn score(model: &GaussianHmm, x: &[f64], lengths: Option<&[usize]>) -> Result<f64, DataError> {
    score_with(model, x, lengths, Implementation::Scaled)
}

pub fn score_with(
    model: &GaussianHmm,
    x: &[f64],
    lengths: Option<&[usize]>,
    imp: Implementation,
) -> Result<f64, DataError> {
    let (seqs, em, ch) = prepare(model, x, lengths)?;
    let (lat, _) = run(&ch, &Source::Gauss(&em, x), &seqs, imp, false);
    Ok(lat.seq_ll.iter().sum())
}

/// Smoothed posteriors P(z_t | x_1..x_L) of every row (T × K), within each sequence
/// (hmmlearn's `predict_proba`).
pub fn posteriors(
    model: &GaussianHmm,
    x: &[f64],
    lengths: Option<&[usize]>,
) -> Result<Vec<f64>, DataError> {
    posteriors_with(model, x, lengths, Implementation::Scaled)
}

pub fn posteriors_with(
    model: &GaussianHmm,
    x: &[f64],
    lengths: Option<&[usize]>,
    imp: Implementation,
) -> Result<Vec<f64>, DataError> {
    let (seqs, em, ch) = prepare(model, x, lengths)?;
    Ok(smoothed(&ch, &Source::Gauss(&em, x), &seqs, imp)?.2)
}

/// Filtered posteriors P(z_t | x_1..x_t) (T × K), each row from data up to t of its sequence
/// only: the normalised forward messages. Causal: a row never changes when later rows do.
pub fn filtered(
    model: &GaussianHmm,
    x: &[f64],
    lengths: Option<&[usize]>,
) -> Result<Vec<f64>, DataError> {
    filtered_with(model, x, lengths, Implementation::Scaled)
}

pub fn filtered_with(
    model: &GaussianHmm,
    x: &[f64],
    lengths: Option<&[usize]>,
    imp: Implementation,
) -> Result<Vec<f64>, DataError> {
    let (seqs, em, ch) = prepare(model, x, lengths)?;
    Ok(filtered_rows(&ch, &Source::Gauss(&em, x), &seqs, imp)?.2)
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InformationCriteria {
    pub log_likelihood: f64,
    pub n_parameters: usize,
    /// −2 log L + 2 p.
    pub aic: f64,
    /// −2 log L + p ln T (T = rows of X over all sequences).
    pub bic: f64,
}

/// AIC and BIC with hmmlearn's parameter count (`GaussianHmm::n_parameters`).
pub fn information_criteria(
    model: &GaussianHmm,
    x: &[f64],
    lengths: Option<&[usize]>,
) -> Result<InformationCriteria, DataError> {
    let ll = score(model, x, lengths)?;
    let p = model.n_parameters();
    let t = (x.len() / model.d) as f64;
    Ok(InformationCriteria {
        log_likelihood: ll,
        n_parameters: p,
        aic: -2.0 * ll + 2.0 * p as f64,
        bic: -2.0 * ll + p as f64 * t.ln(),
    })
}

/// Forward-backward on a given emission matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct ForwardBackward {
    pub log_likelihood: f64,
    /// T × K normalised forward messages, P(z_t | x_≤t).
    pub forward: Vec<f64>,
    /// T × K backward messages p(x_>t | z_t), each row normalised to sum 1.
    pub backward: Vec<f64>,
    /// T × K smoothed posteriors.
    pub posteriors: Vec<f64>,
}

fn check_chain_logb(startprob: &[f64], transmat: &[f64], logb: &[f64]) -> Result<usize, DataError> {
    let k = startprob.len();
    if k == 0 {
        return Err(DataError::arg("startprob is empty"));
    }
    if transmat.len() != k * k {
        return Err(DataError::arg(format!(
            "transmat has {} values; expected K×K = {}",
            transmat.len(),
            k * k
        )));
    }
    check_distribution("startprob", startprob)?;
    for i in 0..k {
        check_distribution(&format!("transmat row {i}"), &transmat[i * k..(i + 1) * k])?;
    }
    if logb.is_empty() || !logb.len().is_multiple_of(k) {
        return Err(DataError::arg(format!(
            "logB has {} values; expected a positive multiple of K = {k}",
            logb.len()
        )));
    }
    if let Some(i) = logb.iter().position(|v| v.is_nan() || *v == f64::INFINITY) {
        return Err(DataError::arg(format!(
            "logB[{}][{}] is {} (log-likelihoods are finite or −Infinity)",
            i / k,
            i % k,
            logb[i]
        )));
    }
    Ok(k)
}

/// Forward-backward on an emission log-likelihood matrix log b (T × K), e.g. of a categorical
/// or any other emission model. `lengths` splits the rows into sequences.
pub fn forward_backward_log_b(
    startprob: &[f64],
    transmat: &[f64],
    logb: &[f64],
    lengths: Option<&[usize]>,
    imp: Implementation,
) -> Result<ForwardBackward, DataError> {
    let k = check_chain_logb(startprob, transmat, logb)?;
    let seqs = Seqs::new(logb.len() / k, lengths)?;
    let ch = Chain::new(startprob, transmat);
    let src = Source::LogB(logb, k);
    let (lat, used, post) = smoothed(&ch, &src, &seqs, imp)?;
    let (a, b) = (&lat.alpha, &lat.beta);
    let (forward, backward) = match used {
        Implementation::Scaled => (
            rows(seqs.t, k, |t, o| {
                scaled::normalize(&a[t * k..(t + 1) * k], o)
            })
            .unwrap_or_default(),
            rows(seqs.t, k, |t, o| {
                scaled::normalize(&b[t * k..(t + 1) * k], o)
            }),
        ),
        Implementation::Log => (
            rows(seqs.t, k, |t, o| {
                log_space::normalize_row(&a[t * k..(t + 1) * k], o)
            })
            .unwrap_or_default(),
            rows(seqs.t, k, |t, o| {
                log_space::normalize_row(&b[t * k..(t + 1) * k], o)
            }),
        ),
    };
    let backward = backward.ok_or_else(|| {
        DataError::arg("backward messages are undefined (a row has zero probability)")
    })?;
    Ok(ForwardBackward {
        log_likelihood: lat.seq_ll.iter().sum(),
        forward,
        backward,
        posteriors: post,
    })
}

/// Viterbi on an emission log-likelihood matrix log b (T × K).
pub fn viterbi_log_b(
    startprob: &[f64],
    transmat: &[f64],
    logb: &[f64],
    lengths: Option<&[usize]>,
) -> Result<Viterbi, DataError> {
    let k = check_chain_logb(startprob, transmat, logb)?;
    let seqs = Seqs::new(logb.len() / k, lengths)?;
    Ok(viterbi_all(&Chain::new(startprob, transmat), logb, &seqs))
}
