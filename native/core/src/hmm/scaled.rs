//! Scaled forward-backward: probabilities instead of logarithms, kept in range by exact
//! power-of-two rescaling (a variant of Rabiner 1989, §V.A).
//!
//! Shapes per sequence of length L: e (L × K) = exp(log b − shift_t) with max_k e_t(k) = 1;
//! α̃, β̃ (L × K); f (L) backward rescale factors.
//!   α̃_0 = π ⊙ e_0,   α̃_t = (α̃_{t−1} A) ⊙ e_t · 2^{−m_t}
//!   β̃_{L−1} = 1,     β̃_t = A (e_{t+1} ⊙ β̃_{t+1}) · f_t,  f_t = 2^{−n_t}
//! m_t, n_t are 0 except when a message's sum falls below 2^−100; then the message is
//! multiplied by the power of two that brings its sum into [1, 2). Multiplying by a power of
//! two is exact, so these α̃ are the unnormalised forward probabilities up to a known factor:
//!   P(z_t | x_≤t) = α̃_t / Σ α̃_t   (the filtered probabilities)
//!   log p(x) = Σ_t shift_t + ln Σ α̃_{L−1} + (Σ_t m_t) ln 2
//!   γ_t = α̃_t ⊙ β̃_t / g_t,  g_t = Σ_i α̃_t(i) β̃_t(i)
//!   ξ_t(i, j) = α̃_t(i) A_ij e_{t+1}(j) β̃_{t+1}(j) f_t / g_t
//! (γ and ξ are ratios, so any per-step factor of α̃ or β̃ cancels; f_t enters ξ because β̃_t
//! carries it but e_{t+1} β̃_{t+1} does not.)
//!
//! Why not Rabiner's normalisation at every step: it puts a sum and a division on the critical
//! path of a recursion that cannot be parallelised in t. Here a step is K² multiply-adds (two
//! interleaved partial sums per state) and a multiplication; the sum only feeds a rarely taken
//! branch. The backward messages do not use the forward's normalisers, so the two passes are
//! independent and run at the same time on two threads.
//!
//! Sequences run in parallel; kernels are unrolled for K ≤ 8 (`dispatch!`). A pass fails
//! (false) when a step multiplies a message's sum by less than about 2^−900 (its sum falls
//! below 2^−1000) or produces a non-finite value: precision would be lost to underflow, and the
//! caller reruns the whole call in log space.

use super::lattice::{Chain, Lattice};
use super::seqs::{split_rows, Seqs};
use super::BLOCK;
use rayon::prelude::*;

/// 2^−100: rescale a message whose sum falls below this.
const LOW: f64 = f64::from_bits((1023 - 100) << 52);
/// 2^−1000: below this the step lost precision.
const FLOOR: f64 = f64::from_bits((1023 - 1000) << 52);

/// Check a message's sum `s`; if it is below LOW multiply `v` by the power of two that brings
/// the sum into [1, 2). Returns the binary exponent removed (0 if none), or None on failure.
#[inline(always)]
fn settle(v: &mut [f64], s: f64) -> Option<i64> {
    if !(s >= FLOOR && s.is_finite()) {
        return None;
    }
    if s >= LOW {
        return Some(0);
    }
    // s is normal here: its exponent field gives ⌊log2 s⌋ exactly.
    let e = ((s.to_bits() >> 52) & 0x7ff) as i64 - 1023;
    let f = f64::from_bits(((1023 - e) as u64) << 52);
    for x in v.iter_mut() {
        *x *= f;
    }
    Some(e)
}

/// out = π ⊙ e; returns its sum.
#[inline(always)]
fn first_k<const KN: usize>(k: usize, startprob: &[f64], e: &[f64], out: &mut [f64]) -> f64 {
    let k = if KN == 0 { k } else { KN };
    let (startprob, e, out) = (&startprob[..k], &e[..k], &mut out[..k]);
    let mut s = 0.0;
    for j in 0..k {
        out[j] = startprob[j] * e[j];
        s += out[j];
    }
    s
}

/// out = (prev A) ⊙ e; returns its sum. The sum over i runs as two interleaved partial sums
/// (even and odd i, each ascending), added at the end: half the dependency chain. `odd` is
/// scratch of length ≥ K.
#[inline(always)]
fn step_k<const KN: usize>(
    k: usize,
    prev: &[f64],
    transmat: &[f64],
    e: &[f64],
    out: &mut [f64],
    odd: &mut [f64],
) -> f64 {
    let k = if KN == 0 { k } else { KN };
    let (prev, a, e, out, odd) = (
        &prev[..k],
        &transmat[..k * k],
        &e[..k],
        &mut out[..k],
        &mut odd[..k],
    );
    for j in 0..k {
        out[j] = 0.0;
        odd[j] = 0.0;
    }
    let mut i = 0;
    while i + 1 < k {
        let (p0, p1) = (prev[i], prev[i + 1]);
        let (r0, r1) = (&a[i * k..(i + 1) * k], &a[(i + 1) * k..(i + 2) * k]);
        for j in 0..k {
            out[j] += p0 * r0[j];
            odd[j] += p1 * r1[j];
        }
        i += 2;
    }
    if i < k {
        let p = prev[i];
        let r = &a[i * k..(i + 1) * k];
        for j in 0..k {
            out[j] += p * r[j];
        }
    }
    let mut s = 0.0;
    for j in 0..k {
        out[j] = (out[j] + odd[j]) * e[j];
        s += out[j];
    }
    s
}

/// One step of the forward recursion (t = 0 when `prev` is None) into `out`, rescaled; returns
/// the binary exponent removed, or None on failure. The batch and the streaming filter both
/// call this, so their messages are identical bit for bit.
#[inline(always)]
fn forward_step<const KN: usize>(
    ch: &Chain,
    prev: Option<&[f64]>,
    e: &[f64],
    out: &mut [f64],
    odd: &mut [f64],
) -> Option<i64> {
    let k = if KN == 0 { ch.k } else { KN };
    let s = match prev {
        None => first_k::<KN>(k, &ch.startprob, e, out),
        Some(p) => step_k::<KN>(k, p, &ch.transmat, e, out, odd),
    };
    settle(&mut out[..k], s)
}

/// The streaming filter's step (see `forward_step`).
pub(crate) fn filter_step(
    ch: &Chain,
    prev: Option<&[f64]>,
    e: &[f64],
    out: &mut [f64],
    odd: &mut [f64],
) -> Option<i64> {
    dispatch!(ch.k, forward_step(ch, prev, e, out, odd))
}

/// Forward pass of one sequence; returns (Σ α̃_{L−1}, Σ_t m_t), or None on failure.
fn forward_seq<const KN: usize>(ch: &Chain, e: &[f64], alpha: &mut [f64]) -> Option<(f64, i64)> {
    let k = if KN == 0 { ch.k } else { KN };
    let l = alpha.len() / k;
    let mut odd = vec![0.0; k];
    let mut m = forward_step::<KN>(ch, None, &e[..k], &mut alpha[..k], &mut odd)?;
    for t in 1..l {
        let (done, rest) = alpha.split_at_mut(t * k);
        m += forward_step::<KN>(
            ch,
            Some(&done[(t - 1) * k..]),
            &e[t * k..(t + 1) * k],
            &mut rest[..k],
            &mut odd,
        )?;
    }
    Some((alpha[(l - 1) * k..].iter().sum(), m))
}

/// Backward pass of one sequence; fills β̃ and f; false on failure.
fn backward_seq<const KN: usize>(ch: &Chain, e: &[f64], beta: &mut [f64], f: &mut [f64]) -> bool {
    let k = if KN == 0 { ch.k } else { KN };
    let l = f.len();
    let a = &ch.transmat[..k * k];
    beta[(l - 1) * k..l * k].iter_mut().for_each(|v| *v = 1.0);
    f[l - 1] = 1.0;
    let mut tmp = vec![0.0; k];
    let tmp = &mut tmp[..k];
    for t in (0..l - 1).rev() {
        let (head, tail) = beta.split_at_mut((t + 1) * k);
        let next = &tail[..k];
        let et = &e[(t + 1) * k..(t + 2) * k];
        for j in 0..k {
            tmp[j] = et[j] * next[j];
        }
        let out = &mut head[t * k..(t + 1) * k];
        let mut s = 0.0;
        for i in 0..k {
            let row = &a[i * k..(i + 1) * k];
            let (mut even, mut odd) = (0.0, 0.0);
            let mut j = 0;
            while j + 1 < k {
                even += row[j] * tmp[j];
                odd += row[j + 1] * tmp[j + 1];
                j += 2;
            }
            if j < k {
                even += row[j] * tmp[j];
            }
            out[i] = even + odd;
            s += out[i];
        }
        match settle(out, s) {
            Some(n) => f[t] = f64::from_bits(((1023 - n) as u64) << 52),
            None => return false,
        }
    }
    true
}

/// Forward pass of every sequence (in parallel across sequences); fills `alpha` and `seq_ll`
/// (Σ shift_t summed per block in parallel, then over blocks in order, plus the last step's
/// terms). False if any sequence failed.
pub(crate) fn forward(
    ch: &Chain,
    seqs: &Seqs,
    e: &[f64],
    shift: &[f64],
    alpha: &mut [f64],
    seq_ll: &mut [f64],
) -> bool {
    let k = ch.k;
    let alphas = split_rows(alpha, &seqs.seqs, k);
    let ends: Vec<Option<(f64, i64)>> = alphas
        .into_par_iter()
        .zip(&seqs.seqs)
        .map(|(a, &(s, l))| dispatch!(k, forward_seq(ch, &e[s * k..(s + l) * k], a)))
        .collect();
    let parts: Vec<f64> = seqs
        .blocks
        .par_iter()
        .map(|b| shift[b.start..b.end].iter().sum::<f64>())
        .collect();
    seq_ll.iter_mut().for_each(|v| *v = 0.0);
    for (b, p) in seqs.blocks.iter().zip(parts) {
        seq_ll[b.seq] += p;
    }
    for (ll, end) in seq_ll.iter_mut().zip(ends) {
        match end {
            Some((s, m)) => *ll += s.ln() + m as f64 * std::f64::consts::LN_2,
            None => return false,
        }
    }
    true
}

/// Backward pass of every sequence (parallel across sequences); fills `beta` and `bscale`.
pub(crate) fn backward(
    ch: &Chain,
    seqs: &Seqs,
    e: &[f64],
    beta: &mut [f64],
    bscale: &mut [f64],
) -> bool {
    let k = ch.k;
    let betas = split_rows(beta, &seqs.seqs, k);
    let fs = split_rows(bscale, &seqs.seqs, 1);
    betas
        .into_par_iter()
        .zip(fs)
        .zip(&seqs.seqs)
        .map(|((b, f), &(st, l))| dispatch!(k, backward_seq(ch, &e[st * k..(st + l) * k], b, f)))
        .collect::<Vec<bool>>()
        .into_iter()
        .all(|ok| ok)
}

/// The forward pass on the lattice.
pub(crate) fn forward_lat(ch: &Chain, seqs: &Seqs, lat: &mut Lattice) -> bool {
    let Lattice {
        b,
        shift,
        alpha,
        seq_ll,
        ..
    } = lat;
    forward(ch, seqs, b, shift, alpha, seq_ll)
}

/// Both passes on the lattice, the forward and the backward at the same time.
pub(crate) fn forward_backward(ch: &Chain, seqs: &Seqs, lat: &mut Lattice) -> bool {
    let Lattice {
        b,
        shift,
        alpha,
        beta,
        bscale,
        seq_ll,
    } = lat;
    let (e, shift): (&[f64], &[f64]) = (b, shift);
    if seqs.t < BLOCK {
        // Waking a second thread costs more than the whole pass here.
        return forward(ch, seqs, e, shift, alpha, seq_ll) && backward(ch, seqs, e, beta, bscale);
    }
    let (f, g) = rayon::join(
        || forward(ch, seqs, e, shift, alpha, seq_ll),
        || backward(ch, seqs, e, beta, bscale),
    );
    f && g
}

/// v / Σ v (sum in index order) into `out`; false if the sum is not positive and finite. The
/// filtered probabilities of the batch and of the streaming filter both come from this.
#[inline(always)]
pub(crate) fn normalize(v: &[f64], out: &mut [f64]) -> bool {
    let s: f64 = v.iter().sum();
    if !(s > 0.0 && s.is_finite()) {
        return false;
    }
    for (o, x) in out.iter_mut().zip(v) {
        *o = x / s;
    }
    true
}

/// γ_t = α̃_t ⊙ β̃_t / g_t (hmmlearn normalises every row); returns g_t, or None if the
/// product underflows to zero.
#[inline(always)]
pub(crate) fn gamma_row(alpha: &[f64], beta: &[f64], out: &mut [f64]) -> Option<f64> {
    let k = out.len();
    let (alpha, beta) = (&alpha[..k], &beta[..k]);
    let mut g = 0.0;
    for i in 0..k {
        out[i] = alpha[i] * beta[i];
        g += out[i];
    }
    if !(g >= f64::MIN_POSITIVE && g.is_finite()) {
        return None;
    }
    for v in out.iter_mut() {
        *v /= g;
    }
    Some(g)
}
