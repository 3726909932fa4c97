//! The Markov chain's parameters in the two forms the passes use, and the T × K work buffers
//! (allocated once per call or per fit, reused across EM iterations).

/// startprob and transmat with their logarithms (ln 0 = −∞, never NaN).
#[derive(Debug, Clone)]
pub(crate) struct Chain {
    pub k: usize,
    pub startprob: Vec<f64>,
    pub transmat: Vec<f64>,
    pub log_start: Vec<f64>,
    pub log_trans: Vec<f64>,
}

impl Chain {
    pub fn new(startprob: &[f64], transmat: &[f64]) -> Chain {
        Chain {
            k: startprob.len(),
            startprob: startprob.to_vec(),
            transmat: transmat.to_vec(),
            log_start: startprob.iter().map(|p| p.ln()).collect(),
            log_trans: transmat.iter().map(|p| p.ln()).collect(),
        }
    }
}

/// Work buffers of the forward-backward passes. In the scaled form `b` holds
/// exp(log b − shift), `alpha`/`beta` the rescaled messages α̃/β̃ and `bscale` the backward
/// rescale factors (see `scaled`); in the log form `b`, `alpha` and `beta` hold logarithms and
/// `shift`/`bscale` are unused.
#[derive(Debug, Default)]
pub(crate) struct Lattice {
    pub b: Vec<f64>,
    pub shift: Vec<f64>,
    pub alpha: Vec<f64>,
    pub beta: Vec<f64>,
    pub bscale: Vec<f64>,
    /// Log-likelihood of each sequence.
    pub seq_ll: Vec<f64>,
}

impl Lattice {
    /// Buffers for T rows of K states and `nseq` sequences; `beta` only when `backward`.
    pub fn new(t: usize, k: usize, nseq: usize, backward: bool) -> Lattice {
        Lattice {
            b: vec![0.0; t * k],
            shift: vec![0.0; t],
            alpha: vec![0.0; t * k],
            beta: if backward {
                vec![0.0; t * k]
            } else {
                Vec::new()
            },
            bscale: if backward { vec![0.0; t] } else { Vec::new() },
            seq_ll: vec![0.0; nseq],
        }
    }
}

/// exp(x), with 0 returned directly below −746 (where exp underflows to +0 anyway): glibc's
/// exp takes a slow path (errno) there, and emissions of distant states land there often.
/// Identical results, NaN included.
#[inline(always)]
pub(crate) fn exp0(x: f64) -> f64 {
    if x < -746.0 {
        0.0
    } else {
        x.exp()
    }
}

/// log Σ exp(v) over values given by `f(i)`, i < n; −∞ when all are −∞ (never NaN).
#[inline(always)]
pub(crate) fn logsumexp_by(n: usize, f: impl Fn(usize) -> f64) -> f64 {
    let mut m = f64::NEG_INFINITY;
    for i in 0..n {
        let v = f(i);
        if v > m {
            m = v;
        }
    }
    if m == f64::NEG_INFINITY {
        return m;
    }
    let mut s = 0.0;
    for i in 0..n {
        s += exp0(f(i) - m);
    }
    m + s.ln()
}
