//! Viterbi decoding in log space (hmmlearn's `_hmmc.viterbi`).
//!
//!   δ_0(j) = ln π_j + log b_0(j),  δ_t(j) = max_i (δ_{t−1}(i) + ln A_ij) + log b_t(j)
//! The forward sweep stores the arg-max per (t, j) (L × K back-pointers, u32) and only two rows
//! of δ; the path is read back from the last step's arg-max. Ties: the last maximising i in
//! the recursion, the first maximising state at the end, which is the order hmmlearn's
//! `std::max` over (value, index) pairs and `std::max_element` give. Sequences are decoded in
//! parallel; the log-probability is the sum over sequences in order.

use super::emission::Emission;
use super::lattice::Chain;
use super::seqs::{split_rows, Seqs};
use super::{check_x, GaussianHmm};
use crate::error::DataError;
use rayon::prelude::*;

/// The most likely state path and its joint log-probability log p(x, path).
#[derive(Debug, Clone, PartialEq)]
pub struct Viterbi {
    pub path: Vec<usize>,
    pub logprob: f64,
}

/// Viterbi on one sequence's log b (L × K); fills `path` and returns max log p(x, path).
fn viterbi_seq<const KN: usize>(ch: &Chain, logb: &[f64], path: &mut [usize]) -> f64 {
    let k = if KN == 0 { ch.k } else { KN };
    let l = path.len();
    let lt = &ch.log_trans[..k * k];
    let mut back = vec![0u32; l * k];
    let mut prev: Vec<f64> = (0..k).map(|j| ch.log_start[j] + logb[j]).collect();
    let mut cur = vec![0.0; k];
    for t in 1..l {
        let bp = &mut back[t * k..(t + 1) * k];
        let (p, c) = (&prev[..k], &mut cur[..k]);
        let lb = &logb[t * k..(t + 1) * k];
        for j in 0..k {
            let mut best = f64::NEG_INFINITY;
            let mut arg = 0u32;
            for i in 0..k {
                // Selects rather than a branch: which i wins is data-dependent.
                let v = p[i] + lt[i * k + j];
                let ge = v >= best;
                best = if ge { v } else { best };
                arg = if ge { i as u32 } else { arg };
            }
            c[j] = best + lb[j];
            bp[j] = arg;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    let mut s = 0;
    for j in 1..k {
        if prev[j] > prev[s] {
            s = j;
        }
    }
    let logprob = prev[s];
    path[l - 1] = s;
    for t in (1..l).rev() {
        s = back[t * k + s] as usize;
        path[t - 1] = s;
    }
    logprob
}

/// Viterbi over all sequences given T × K log b; the path is concatenated, the log-probability
/// summed over sequences.
pub(crate) fn viterbi_all(ch: &Chain, logb: &[f64], seqs: &Seqs) -> Viterbi {
    let k = ch.k;
    let mut path = vec![0usize; seqs.t];
    let paths = split_rows(&mut path, &seqs.seqs, 1);
    let lps: Vec<f64> = paths
        .into_par_iter()
        .zip(&seqs.seqs)
        .map(|(p, &(s, l))| dispatch!(k, viterbi_seq(ch, &logb[s * k..(s + l) * k], p)))
        .collect();
    Viterbi {
        path,
        logprob: lps.iter().sum(),
    }
}

/// The most likely state path of X (T × D, sequences by `lengths`, None for one) under `model`.
pub fn viterbi(
    model: &GaussianHmm,
    x: &[f64],
    lengths: Option<&[usize]>,
) -> Result<Viterbi, DataError> {
    model.validate()?;
    let seqs = check_x(x, model.d, lengths)?;
    let em = Emission::new(
        model.cov_type,
        model.k,
        model.d,
        &model.means,
        &model.covars,
    )?;
    let mut logb = vec![0.0; seqs.t * model.k];
    em.fill_log(x, &mut logb);
    Ok(viterbi_all(
        &Chain::new(&model.startprob, &model.transmat),
        &logb,
        &seqs,
    ))
}
