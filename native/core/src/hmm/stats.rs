//! The E-step: forward-backward over all sequences and the sufficient statistics of the M-step,
//! summed over fixed blocks of time steps (in parallel) and then over the blocks in order.
//!
//! Statistics per state k (γ the posteriors, ξ the pair posteriors, m_k a shift):
//!   post_k = Σ_t γ_tk,  start_k = Σ_sequences γ_first,k,  trans_ij = Σ_t ξ_t(i, j),
//!   s_k = Σ_t γ_tk (x_t − m_k),  S_k = Σ_t γ_tk (x_t − m_k)(x_t − m_k)ᵀ (full/tied, lower
//!   triangle packed) or its diagonal (diag/spherical).
//! The shift m_k is the current mean of state k: the M-step gets Σ γ (x − μ)(x − μ)ᵀ for the new
//! mean μ = m + s/N as S − s sᵀ/N without the cancellation of raw second moments.

use super::emission::Emission;
use super::lattice::{exp0, Chain, Lattice};
use super::seqs::{Block, Seqs};
use super::simd::multiversion;
use super::{log_space, scaled, Implementation, SUB};
use crate::error::DataError;
use rayon::prelude::*;

#[derive(Debug, Clone)]
pub(crate) struct Stats {
    pub k: usize,
    pub d: usize,
    pub full: bool,
    pub post: Vec<f64>,
    pub start: Vec<f64>,
    pub trans: Vec<f64>,
    /// K × D.
    pub s: Vec<f64>,
    /// Full: K × D(D+1)/2 packed lower triangle; diag: K × D.
    pub ss: Vec<f64>,
}

impl Stats {
    pub fn new(k: usize, d: usize, full: bool) -> Stats {
        let w = if full { d * (d + 1) / 2 } else { d };
        Stats {
            k,
            d,
            full,
            post: vec![0.0; k],
            start: vec![0.0; k],
            trans: vec![0.0; k * k],
            s: vec![0.0; k * d],
            ss: vec![0.0; k * w],
        }
    }

    fn clear(&mut self) {
        for v in [
            &mut self.post,
            &mut self.start,
            &mut self.trans,
            &mut self.s,
            &mut self.ss,
        ] {
            v.iter_mut().for_each(|x| *x = 0.0);
        }
    }

    fn add(&mut self, o: &Stats) {
        let pairs = [
            (&mut self.post, &o.post),
            (&mut self.start, &o.start),
            (&mut self.trans, &o.trans),
            (&mut self.s, &o.s),
            (&mut self.ss, &o.ss),
        ];
        for (a, b) in pairs {
            a.iter_mut().zip(b.iter()).for_each(|(x, y)| *x += *y);
        }
    }
}

/// Reusable buffers of an E-step: the lattice and one statistics record per block.
pub(crate) struct Workspace {
    pub lat: Lattice,
    partials: Vec<Stats>,
}

impl Workspace {
    pub fn new(seqs: &Seqs, k: usize, d: usize, full: bool) -> Workspace {
        Workspace {
            lat: Lattice::new(seqs.t, k, seqs.seqs.len(), true),
            partials: vec![Stats::new(k, d, full); seqs.blocks.len()],
        }
    }
}

/// Per-thread work space of the statistics kernels (one sub-block).
struct Scratch {
    gamma: Vec<f64>,
    tmp: Vec<f64>,
    xi: Vec<f64>,
    acc: AccScratch,
}

/// Work space of `accumulate`: transposed rows, their deviations and weighted deviations.
struct AccScratch {
    xt: Vec<f64>,
    dt: Vec<f64>,
    w: Vec<f64>,
    gc: Vec<f64>,
}

impl Scratch {
    fn new(k: usize, d: usize) -> Scratch {
        Scratch {
            gamma: vec![0.0; SUB * k],
            tmp: vec![0.0; k],
            xi: vec![0.0; k * k],
            acc: AccScratch {
                xt: vec![0.0; SUB * d],
                dt: vec![0.0; SUB * d],
                w: vec![0.0; SUB * d],
                gc: vec![0.0; SUB],
            },
        }
    }
}

/// Σ v with four interleaved partial sums (fixed order: vectorises, deterministic).
#[inline(always)]
fn sum4(v: &[f64]) -> f64 {
    let mut a = [0.0f64; 4];
    let mut it = v.chunks_exact(4);
    for c in &mut it {
        for i in 0..4 {
            a[i] += c[i];
        }
    }
    let mut s = (a[0] + a[1]) + (a[2] + a[3]);
    for &x in it.remainder() {
        s += x;
    }
    s
}

/// Σ u·v with four interleaved partial sums.
#[inline(always)]
fn dot4(u: &[f64], v: &[f64]) -> f64 {
    let n = u.len().min(v.len());
    let (u, v) = (&u[..n], &v[..n]);
    let mut a = [0.0f64; 4];
    let m = n / 4 * 4;
    for b in (0..m).step_by(4) {
        for i in 0..4 {
            a[i] += u[b + i] * v[b + i];
        }
    }
    let mut s = (a[0] + a[1]) + (a[2] + a[3]);
    for b in m..n {
        s += u[b] * v[b];
    }
    s
}

/// Posterior-weighted sums of the rows xs (n × D) with posteriors g (n × K), shift means m:
/// post, s and S (see the module comment). Works on the transposed rows so that every inner
/// loop runs over the n rows.
#[inline(always)]
fn accumulate_body<const DN: usize>(
    st: &mut Stats,
    g: &[f64],
    xs: &[f64],
    m: &[f64],
    sc: &mut AccScratch,
) {
    let d = if DN == 0 { st.d } else { DN };
    let k = st.k;
    let n = xs.len() / d;
    let wdt = if st.full { d * (d + 1) / 2 } else { d };
    super::emission::transpose(xs, n, d, &mut sc.xt);
    let (xt, dt, w, gc) = (
        &sc.xt[..d * n],
        &mut sc.dt[..d * n],
        &mut sc.w[..d * n],
        &mut sc.gc[..n],
    );
    for s in 0..k {
        for b in 0..n {
            gc[b] = g[b * k + s];
        }
        st.post[s] += sum4(gc);
        let mu = &m[s * d..(s + 1) * d];
        for j in 0..d {
            let (src, dj, wj) = (
                &xt[j * n..(j + 1) * n],
                &mut dt[j * n..(j + 1) * n],
                &mut w[j * n..(j + 1) * n],
            );
            let mj = mu[j];
            for b in 0..n {
                dj[b] = src[b] - mj;
                wj[b] = gc[b] * dj[b];
            }
        }
        let ss = &mut st.ss[s * wdt..(s + 1) * wdt];
        let sv = &mut st.s[s * d..(s + 1) * d];
        let mut p = 0;
        for j in 0..d {
            let wj = &w[j * n..(j + 1) * n];
            sv[j] += sum4(wj);
            if st.full {
                for l in 0..=j {
                    ss[p + l] += dot4(wj, &dt[l * n..(l + 1) * n]);
                }
                p += j + 1;
            } else {
                ss[j] += dot4(wj, &dt[j * n..(j + 1) * n]);
            }
        }
    }
}

multiversion!(accumulate, accumulate_avx2, accumulate_body, (st: &mut Stats, g: &[f64], xs: &[f64], m: &[f64], sc: &mut AccScratch));

/// Scaled form: γ of rows [t0, t1) into g, the start counts, and ξ of the pairs (t, t+1) inside
/// the sequence added to `xi` as Σ_t α̃_t(i)·e_{t+1}(j) β̃_{t+1}(j) f_t / g_t (A_ij is applied
/// once at the end).
#[allow(clippy::too_many_arguments)]
fn gamma_xi_scaled<const KN: usize>(
    k: usize,
    lat: &Lattice,
    blk: &Block,
    t0: usize,
    t1: usize,
    g: &mut [f64],
    start: &mut [f64],
    xi: &mut [f64],
    tmp: &mut [f64],
) -> bool {
    let k = if KN == 0 { k } else { KN };
    let (tmp, xi) = (&mut tmp[..k], &mut xi[..k * k]);
    for t in t0..t1 {
        let a = &lat.alpha[t * k..(t + 1) * k];
        let gt = &mut g[(t - t0) * k..(t - t0 + 1) * k];
        let Some(g_t) = scaled::gamma_row(a, &lat.beta[t * k..(t + 1) * k], gt) else {
            return false;
        };
        if t == blk.seq_start {
            for i in 0..k {
                start[i] += gt[i];
            }
        }
        if t + 1 < blk.seq_end {
            // ξ_t = α̃_t(i) A_ij e_{t+1}(j) β̃_{t+1}(j) f_t / g_t
            let r = lat.bscale[t] / g_t;
            let (e, b) = (
                &lat.b[(t + 1) * k..(t + 2) * k],
                &lat.beta[(t + 1) * k..(t + 2) * k],
            );
            for j in 0..k {
                tmp[j] = e[j] * b[j] * r;
            }
            for i in 0..k {
                let ai = a[i];
                let row = &mut xi[i * k..(i + 1) * k];
                for j in 0..k {
                    row[j] += ai * tmp[j];
                }
            }
        }
    }
    true
}

/// Log form: γ of rows [t0, t1) into g, the start counts, and Σ_t ξ_t(i, j) added to `trans`.
#[allow(clippy::too_many_arguments)]
fn gamma_xi_log<const KN: usize>(
    k: usize,
    ch: &Chain,
    lat: &Lattice,
    blk: &Block,
    t0: usize,
    t1: usize,
    g: &mut [f64],
    start: &mut [f64],
    trans: &mut [f64],
    w: &mut [f64],
) -> bool {
    let k = if KN == 0 { k } else { KN };
    let (w, trans, lt) = (&mut w[..k], &mut trans[..k * k], &ch.log_trans[..k * k]);
    let ll = lat.seq_ll[blk.seq];
    for t in t0..t1 {
        let a = &lat.alpha[t * k..(t + 1) * k];
        let gt = &mut g[(t - t0) * k..(t - t0 + 1) * k];
        if !log_space::gamma_row(a, &lat.beta[t * k..(t + 1) * k], gt) {
            return false;
        }
        if t == blk.seq_start {
            for i in 0..k {
                start[i] += gt[i];
            }
        }
        if t + 1 < blk.seq_end {
            let (lb, nb) = (
                &lat.b[(t + 1) * k..(t + 2) * k],
                &lat.beta[(t + 1) * k..(t + 2) * k],
            );
            for (wj, (b, n)) in w.iter_mut().zip(lb.iter().zip(nb)) {
                *wj = b + n - ll;
            }
            for i in 0..k {
                let ai = a[i];
                for j in 0..k {
                    trans[i * k + j] += exp0(ai + lt[i * k + j] + w[j]);
                }
            }
        }
    }
    true
}

/// The statistics of one block, sub-block by sub-block.
#[allow(clippy::too_many_arguments)]
fn block_stats(
    ch: &Chain,
    lat: &Lattice,
    x: &[f64],
    m: &[f64],
    blk: &Block,
    st: &mut Stats,
    sc: &mut Scratch,
    imp: Implementation,
    simd: bool,
) -> bool {
    let (k, d) = (st.k, st.d);
    st.clear();
    sc.xi.iter_mut().for_each(|v| *v = 0.0);
    let mut t0 = blk.start;
    while t0 < blk.end {
        let t1 = (t0 + SUB).min(blk.end);
        let g = &mut sc.gamma[..(t1 - t0) * k];
        let ok = match imp {
            Implementation::Scaled => {
                dispatch!(
                    k,
                    gamma_xi_scaled(
                        k,
                        lat,
                        blk,
                        t0,
                        t1,
                        g,
                        &mut st.start,
                        &mut sc.xi,
                        &mut sc.tmp
                    )
                )
            }
            Implementation::Log => {
                dispatch!(
                    k,
                    gamma_xi_log(
                        k,
                        ch,
                        lat,
                        blk,
                        t0,
                        t1,
                        g,
                        &mut st.start,
                        &mut st.trans,
                        &mut sc.tmp
                    )
                )
            }
        };
        if !ok {
            return false;
        }
        dispatch!(
            d,
            accumulate(
                simd,
                st,
                &sc.gamma[..(t1 - t0) * k],
                &x[t0 * d..t1 * d],
                m,
                &mut sc.acc
            )
        );
        t0 = t1;
    }
    if imp == Implementation::Scaled {
        for (dst, (x, a)) in st.trans.iter_mut().zip(sc.xi.iter().zip(&ch.transmat)) {
            *dst = x * a;
        }
    }
    true
}

fn reduce(partials: &[Stats], k: usize, d: usize, full: bool) -> Stats {
    let mut tot = Stats::new(k, d, full);
    for p in partials {
        tot.add(p);
    }
    tot
}

/// Statistics of every block in parallel (per-thread scratch), then reduced in block order.
#[allow(clippy::too_many_arguments)]
fn all_stats(
    ch: &Chain,
    x: &[f64],
    seqs: &Seqs,
    ws: &mut Workspace,
    m: &[f64],
    imp: Implementation,
    k: usize,
    d: usize,
    simd: bool,
) -> Option<Stats> {
    let lat = &ws.lat;
    let ok = ws
        .partials
        .par_iter_mut()
        .zip(&seqs.blocks)
        .map_init(
            || Scratch::new(k, d),
            |sc, (st, blk)| block_stats(ch, lat, x, m, blk, st, sc, imp, simd),
        )
        .collect::<Vec<bool>>()
        .into_iter()
        .all(|v| v);
    let full = ws.partials.first().map(|p| p.full).unwrap_or(false);
    ok.then(|| reduce(&ws.partials, k, d, full))
}

/// One E-step at (chain, emission): returns log p(X) and the statistics (shift means `m`).
/// The scaled implementation reruns the whole E-step in log space if it loses precision.
pub(crate) fn estep(
    ch: &Chain,
    em: &Emission,
    x: &[f64],
    seqs: &Seqs,
    ws: &mut Workspace,
    imp: Implementation,
    m: &[f64],
) -> Result<(f64, Stats), DataError> {
    let (k, d) = (em.k, em.d);
    if imp == Implementation::Scaled {
        em.fill_scaled(x, &mut ws.lat.b, &mut ws.lat.shift);
        if scaled::forward_backward(ch, seqs, &mut ws.lat) {
            if let Some(st) = all_stats(ch, x, seqs, ws, m, Implementation::Scaled, k, d, em.simd) {
                return Ok((ws.lat.seq_ll.iter().sum(), st));
            }
        }
    }
    em.fill_log(x, &mut ws.lat.b);
    log_space::forward_backward(ch, seqs, &mut ws.lat);
    if let Some(i) = ws.lat.seq_ll.iter().position(|v| !v.is_finite()) {
        return Err(zero_likelihood(i));
    }
    let st = all_stats(ch, x, seqs, ws, m, Implementation::Log, k, d, em.simd).ok_or_else(|| {
        DataError::arg("posterior probabilities are undefined (a row has zero probability under every state)")
    })?;
    Ok((ws.lat.seq_ll.iter().sum(), st))
}

pub(crate) fn zero_likelihood(seq: usize) -> DataError {
    DataError::arg(format!(
        "sequence {seq} has zero likelihood under the model (no state path can emit it: check startprob/transmat zeros or extreme values)"
    ))
}
