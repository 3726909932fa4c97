//! Log-space forward-backward (hmmlearn's `implementation='log'`, `_hmmc.cpp`).
//!
//! Shapes per sequence of length L: log b (L × K), log α (L × K), log β (L × K).
//!   log α_0(j) = ln π_j + log b_0(j)
//!   log α_t(j) = logsumexp_i(log α_{t−1}(i) + ln A_ij) + log b_t(j)
//!   log β_{L−1} = 0,  log β_t(i) = logsumexp_j(ln A_ij + log b_{t+1}(j) + log β_{t+1}(j))
//!   log p(x) = logsumexp(log α_{L−1}),  log γ_t = log α_t + log β_t − logsumexp(·)
//!   log ξ_t(i, j) = log α_t(i) + ln A_ij + log b_{t+1}(j) + log β_{t+1}(j) − log p(x)
//! Zero probabilities are −∞ throughout; logsumexp of all −∞ is −∞, never NaN. K² exp per
//! step in each direction: several times slower than the scaled form, but it cannot underflow.

use super::lattice::{exp0, logsumexp_by, Chain, Lattice};
use super::seqs::{split_rows, Seqs};
use super::BLOCK;
use rayon::prelude::*;

/// Forward pass of one sequence; returns log p(x) of the sequence.
fn forward_seq<const KN: usize>(ch: &Chain, logb: &[f64], alpha: &mut [f64]) -> f64 {
    let k = if KN == 0 { ch.k } else { KN };
    let l = logb.len() / k;
    let lt = &ch.log_trans[..k * k];
    for j in 0..k {
        alpha[j] = ch.log_start[j] + logb[j];
    }
    for t in 1..l {
        let (done, rest) = alpha.split_at_mut(t * k);
        let prev = &done[(t - 1) * k..t * k];
        let cur = &mut rest[..k];
        let lb = &logb[t * k..(t + 1) * k];
        for j in 0..k {
            cur[j] = logsumexp_by(k, |i| prev[i] + lt[i * k + j]) + lb[j];
        }
    }
    let last = &alpha[(l - 1) * k..l * k];
    logsumexp_by(k, |i| last[i])
}

/// Backward pass of one sequence.
fn backward_seq<const KN: usize>(ch: &Chain, logb: &[f64], beta: &mut [f64]) {
    let k = if KN == 0 { ch.k } else { KN };
    let l = logb.len() / k;
    let lt = &ch.log_trans[..k * k];
    beta[(l - 1) * k..l * k].iter_mut().for_each(|v| *v = 0.0);
    let mut w = vec![0.0; k];
    let w = &mut w[..k];
    for t in (0..l - 1).rev() {
        let (head, tail) = beta.split_at_mut((t + 1) * k);
        let lb = &logb[(t + 1) * k..(t + 2) * k];
        for j in 0..k {
            w[j] = lb[j] + tail[j];
        }
        let out = &mut head[t * k..(t + 1) * k];
        for i in 0..k {
            let row = &lt[i * k..(i + 1) * k];
            out[i] = logsumexp_by(k, |j| row[j] + w[j]);
        }
    }
}

/// Forward pass of every sequence (parallel across sequences); fills `alpha` and `seq_ll`.
pub(crate) fn forward(
    ch: &Chain,
    seqs: &Seqs,
    logb: &[f64],
    alpha: &mut [f64],
    seq_ll: &mut [f64],
) {
    let k = ch.k;
    let alphas = split_rows(alpha, &seqs.seqs, k);
    let out: Vec<f64> = alphas
        .into_par_iter()
        .zip(&seqs.seqs)
        .map(|(a, &(s, l))| dispatch!(k, forward_seq(ch, &logb[s * k..(s + l) * k], a)))
        .collect();
    seq_ll.copy_from_slice(&out);
}

/// Backward pass of every sequence (parallel across sequences); fills `beta`.
pub(crate) fn backward(ch: &Chain, seqs: &Seqs, logb: &[f64], beta: &mut [f64]) {
    let k = ch.k;
    let betas = split_rows(beta, &seqs.seqs, k);
    betas
        .into_par_iter()
        .zip(&seqs.seqs)
        .for_each(|(b, &(s, l))| dispatch!(k, backward_seq(ch, &logb[s * k..(s + l) * k], b)));
}

/// The forward pass on the lattice.
pub(crate) fn forward_lat(ch: &Chain, seqs: &Seqs, lat: &mut Lattice) {
    forward(ch, seqs, &lat.b, &mut lat.alpha, &mut lat.seq_ll)
}

/// Both passes on the lattice at the same time (they are independent).
pub(crate) fn forward_backward(ch: &Chain, seqs: &Seqs, lat: &mut Lattice) {
    let Lattice {
        b,
        alpha,
        beta,
        seq_ll,
        ..
    } = lat;
    let logb: &[f64] = b;
    if seqs.t < BLOCK {
        forward(ch, seqs, logb, alpha, seq_ll);
        backward(ch, seqs, logb, beta);
        return;
    }
    rayon::join(
        || forward(ch, seqs, logb, alpha, seq_ll),
        || backward(ch, seqs, logb, beta),
    );
}

/// exp(v − logsumexp(v)) of a row of log-probabilities (hmmlearn's `log_normalize` + exp);
/// false if every value is −∞.
#[inline]
pub(crate) fn normalize_row(v: &[f64], out: &mut [f64]) -> bool {
    let z = logsumexp_by(v.len(), |i| v[i]);
    if !z.is_finite() {
        return false;
    }
    for i in 0..v.len() {
        out[i] = exp0(v[i] - z);
    }
    true
}

/// γ_t from log α_t and log β_t.
#[inline]
pub(crate) fn gamma_row(alpha: &[f64], beta: &[f64], out: &mut [f64]) -> bool {
    for i in 0..out.len() {
        out[i] = alpha[i] + beta[i];
    }
    let z = logsumexp_by(out.len(), |i| out[i]);
    if !z.is_finite() {
        return false;
    }
    out.iter_mut().for_each(|v| *v = exp0(*v - z));
    true
}
