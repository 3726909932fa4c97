//! Tests of the HMM kernels: naive references (path enumeration, dense Gaussian densities),
//! scaled = log space, EM monotonicity, parameter recovery, T = 10^6 without underflow,
//! errors, causality of the filter, thread-count independence, streaming = batch.
//! Every random case prints its seed on failure.

use super::emission::Emission;
use super::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

const TYPES: [CovType; 4] = [
    CovType::Full,
    CovType::Diag,
    CovType::Tied,
    CovType::Spherical,
];

fn dist(rng: &mut ChaCha8Rng, k: usize, boost: usize) -> Vec<f64> {
    let mut p: Vec<f64> = (0..k).map(|_| 0.05 + rng.random::<f64>()).collect();
    if boost < k {
        p[boost] += 2.0 * k as f64;
    }
    let s: f64 = p.iter().sum();
    p.iter().map(|v| v / s).collect()
}

fn spd(rng: &mut ChaCha8Rng, d: usize, scale: f64) -> Vec<f64> {
    let a: Vec<f64> = (0..d * d)
        .map(|_| rng.sample::<f64, _>(StandardNormal) * 0.5)
        .collect();
    let mut c = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            let s: f64 = (0..d).map(|m| a[i * d + m] * a[j * d + m]).sum();
            c[i * d + j] = scale * (s + if i == j { 0.3 } else { 0.0 });
        }
    }
    c
}

/// A random model: persistent transitions, means spread by `sep`, covariances of scale ~1.
fn random_model(k: usize, d: usize, c: CovType, sep: f64, seed: u64) -> GaussianHmm {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let startprob = dist(&mut rng, k, usize::MAX);
    let mut transmat = Vec::new();
    for i in 0..k {
        transmat.extend(dist(&mut rng, k, i));
    }
    let means: Vec<f64> = (0..k * d)
        .map(|_| sep * rng.sample::<f64, _>(StandardNormal))
        .collect();
    let covars = match c {
        CovType::Full => (0..k).flat_map(|_| spd(&mut rng, d, 1.0)).collect(),
        CovType::Tied => spd(&mut rng, d, 1.0),
        CovType::Diag => (0..k * d).map(|_| 0.3 + rng.random::<f64>()).collect(),
        CovType::Spherical => (0..k).map(|_| 0.3 + rng.random::<f64>()).collect(),
    };
    let m = GaussianHmm {
        k,
        d,
        cov_type: c,
        startprob,
        transmat,
        means,
        covars,
    };
    m.validate().unwrap();
    m
}

fn max_abs(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn bits(a: &[f64]) -> Vec<u64> {
    a.iter().map(|v| v.to_bits()).collect()
}

fn full_cov(m: &GaussianHmm, s: usize) -> Vec<f64> {
    let d = m.d;
    match m.cov_type {
        CovType::Full => m.covars[s * d * d..(s + 1) * d * d].to_vec(),
        CovType::Tied => m.covars.clone(),
        CovType::Diag => (0..d * d)
            .map(|i| {
                if i / d == i % d {
                    m.covars[s * d + i / d]
                } else {
                    0.0
                }
            })
            .collect(),
        CovType::Spherical => (0..d * d)
            .map(|i| if i / d == i % d { m.covars[s] } else { 0.0 })
            .collect(),
    }
}

/// log N(x | μ, Σ) from a dense inverse and determinant (nalgebra LU): the naive reference.
fn naive_logpdf(m: &GaussianHmm, s: usize, x: &[f64]) -> f64 {
    let d = m.d;
    let c = nalgebra::DMatrix::from_row_slice(d, d, &full_cov(m, s));
    let det = c.clone().lu().determinant();
    let inv = c.try_inverse().unwrap();
    let diff = nalgebra::DVector::from_iterator(d, (0..d).map(|j| x[j] - m.means[s * d + j]));
    let q = (diff.transpose() * inv * &diff)[(0, 0)];
    -0.5 * (d as f64 * (2.0 * std::f64::consts::PI).ln() + det.ln() + q)
}

/// Brute force over all K^L paths of one sequence: (log p(x), posteriors, best path, its log p).
fn enumerate(m: &GaussianHmm, x: &[f64]) -> (f64, Vec<f64>, Vec<usize>, f64) {
    let (k, d) = (m.k, m.d);
    let l = x.len() / d;
    let logb: Vec<f64> = (0..l)
        .flat_map(|t| (0..k).map(move |s| (t, s)))
        .map(|(t, s)| naive_logpdf(m, s, &x[t * d..(t + 1) * d]))
        .collect();
    let mut total = 0.0;
    let mut post = vec![0.0; l * k];
    let mut best = (f64::NEG_INFINITY, vec![]);
    let n = k.pow(l as u32);
    for code in 0..n {
        let path: Vec<usize> = (0..l).map(|t| (code / k.pow(t as u32)) % k).collect();
        let mut lp = m.startprob[path[0]].ln() + logb[path[0]];
        for t in 1..l {
            lp += m.transmat[path[t - 1] * k + path[t]].ln() + logb[t * k + path[t]];
        }
        let p = lp.exp();
        total += p;
        for t in 0..l {
            post[t * k + path[t]] += p;
        }
        if lp > best.0 {
            best = (lp, path);
        }
    }
    post.iter_mut().for_each(|v| *v /= total);
    (total.ln(), post, best.1, best.0)
}

#[test]
fn emission_matches_dense_reference() {
    for (ci, &c) in TYPES.iter().enumerate() {
        for d in [1, 2, 5] {
            let seed = 100 + ci as u64 * 10 + d as u64;
            let m = random_model(3, d, c, 2.0, seed);
            let em = Emission::new(c, 3, d, &m.means, &m.covars).unwrap();
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let (mut out, mut sc) = (vec![0.0; 3], super::emission::Scratch::new(d));
            for _ in 0..20 {
                let x: Vec<f64> = (0..d)
                    .map(|_| 3.0 * rng.sample::<f64, _>(StandardNormal))
                    .collect();
                em.rows(&x, &mut out, &mut sc);
                for (s, &o) in out.iter().enumerate() {
                    let r = naive_logpdf(&m, s, &x);
                    assert!(
                        (o - r).abs() <= 1e-11 * r.abs().max(1.0),
                        "seed {seed} {c:?} d={d}: {o} vs {r}"
                    );
                }
            }
        }
    }
}

#[test]
fn forward_backward_and_viterbi_match_path_enumeration() {
    for (ci, &c) in TYPES.iter().enumerate() {
        for (k, l) in [(1, 4), (2, 6), (3, 5), (9, 3)] {
            let seed = 200 + ci as u64 * 10 + k as u64;
            let m = random_model(k, 2, c, 1.0, seed);
            let (x, _) = sample(&m, l, seed).unwrap();
            let (ll, post, path, lp) = enumerate(&m, &x);
            for imp in [Implementation::Scaled, Implementation::Log] {
                let s = score_with(&m, &x, None, imp).unwrap();
                assert!(
                    (s - ll).abs() < 1e-11 * ll.abs().max(1.0),
                    "seed {seed} {imp:?}: {s} vs {ll}"
                );
                let p = posteriors_with(&m, &x, None, imp).unwrap();
                assert!(max_abs(&p, &post) < 1e-12, "seed {seed} {imp:?}");
            }
            let v = viterbi(&m, &x, None).unwrap();
            assert_eq!(v.path, path, "seed {seed}");
            assert!(
                (v.logprob - lp).abs() < 1e-11 * lp.abs().max(1.0),
                "seed {seed}"
            );
            // Filtered row t = smoothed posterior of the prefix x_0..x_t at its last step.
            let f = filtered(&m, &x, None).unwrap();
            for t in 0..l {
                let (_, pp, _, _) = enumerate(&m, &x[..(t + 1) * 2]);
                assert!(
                    max_abs(&f[t * k..(t + 1) * k], &pp[t * k..(t + 1) * k]) < 1e-12,
                    "seed {seed} t {t}"
                );
            }
        }
    }
}

#[test]
fn scaled_equals_log_space() {
    let lengths = [1usize, 2, 7, 17, 300, 5000];
    let t: usize = lengths.iter().sum();
    for (ci, &c) in TYPES.iter().enumerate() {
        for (k, d) in [(1, 1), (2, 3), (4, 5), (6, 2), (9, 2)] {
            let seed = 300 + ci as u64 * 100 + (k * 10 + d) as u64;
            let m = random_model(k, d, c, 1.5, seed);
            let (x, _) = sample(&m, t, seed).unwrap();
            let l = Some(&lengths[..]);
            let (a, b) = (
                score_with(&m, &x, l, Implementation::Scaled).unwrap(),
                score_with(&m, &x, l, Implementation::Log).unwrap(),
            );
            assert!(
                (a - b).abs() <= 1e-9 * a.abs().max(1.0),
                "seed {seed}: {a} vs {b}"
            );
            let (p, q) = (
                posteriors_with(&m, &x, l, Implementation::Scaled).unwrap(),
                posteriors_with(&m, &x, l, Implementation::Log).unwrap(),
            );
            assert!(
                max_abs(&p, &q) < 1e-9,
                "seed {seed}: posteriors {}",
                max_abs(&p, &q)
            );
            let (p, q) = (
                filtered_with(&m, &x, l, Implementation::Scaled).unwrap(),
                filtered_with(&m, &x, l, Implementation::Log).unwrap(),
            );
            assert!(
                max_abs(&p, &q) < 1e-9,
                "seed {seed}: filtered {}",
                max_abs(&p, &q)
            );
            // EM: same history and parameters from the same start.
            let mut o = FitOptions::new(k);
            o.cov_type = c;
            o.n_iter = 8;
            o.tol = 0.0;
            o.init = Init::Model(random_model(k, d, c, 1.5, seed + 1));
            let fs = fit(&x, d, l, &o, &|_| true).unwrap();
            o.implementation = Implementation::Log;
            let fl = fit(&x, d, l, &o, &|_| true).unwrap();
            // K = 1 reaches its fixed point at once; rounding then decides when a "decrease" stops it.
            if k > 1 {
                assert_eq!(fs.n_iter, fl.n_iter, "seed {seed}");
            }
            for (a, b) in fs.loglik_history.iter().zip(&fl.loglik_history) {
                assert!(
                    (a - b).abs() <= 1e-9 * a.abs().max(1.0),
                    "seed {seed}: history {a} vs {b}"
                );
            }
            assert!(
                max_abs(&fs.model.means, &fl.model.means) < 1e-9,
                "seed {seed}"
            );
            assert!(
                max_abs(&fs.model.covars, &fl.model.covars) < 1e-9,
                "seed {seed}"
            );
            assert!(
                max_abs(&fs.model.transmat, &fl.model.transmat) < 1e-9,
                "seed {seed}"
            );
        }
    }
}

/// θ_{i+1} from θ_i by one EM iteration; returns (log p(X | θ_i), θ_{i+1}).
fn em_step(
    m: &GaussianHmm,
    x: &[f64],
    lengths: Option<&[usize]>,
    prior: f64,
    min_covar: f64,
) -> (f64, GaussianHmm) {
    let mut o = FitOptions::new(m.k);
    o.cov_type = m.cov_type;
    o.n_iter = 1;
    o.covars_prior = prior;
    o.min_covar = min_covar;
    o.init = Init::Model(m.clone());
    let r = fit(x, m.d, lengths, &o, &|_| true).unwrap();
    (r.loglik_history[0], r.model)
}

#[test]
fn em_is_monotone_in_the_penalised_objective() {
    let lengths = [400usize, 250, 350];
    for (ci, &c) in TYPES.iter().enumerate() {
        let seed = 400 + ci as u64;
        let truth = random_model(3, 3, c, 1.5, seed);
        let (x, _) = sample(&truth, 1000, seed).unwrap();
        let l = Some(&lengths[..]);
        // With hmmlearn's prior: log p + log prior never decreases (floor on and off).
        for min_covar in [0.0, 0.05] {
            let mut m = random_model(3, 3, c, 1.5, seed + 50);
            let mut last = f64::NEG_INFINITY;
            for i in 0..30 {
                let before = log_prior(&m, 1e-2);
                let (ll, next) = em_step(&m, &x, l, 1e-2, min_covar);
                let obj = ll + before;
                assert!(
                    obj >= last - 1e-9 * obj.abs(),
                    "seed {seed} {c:?} floor {min_covar} iter {i}: {obj} < {last}"
                );
                last = obj;
                m = next;
            }
        }
        // Without the prior the likelihood itself never decreases.
        let mut o = FitOptions::new(3);
        o.cov_type = c;
        o.covars_prior = 0.0;
        o.n_iter = 40;
        o.tol = 0.0;
        o.init = Init::Model(random_model(3, 3, c, 1.5, seed + 60));
        let r = fit(&x, 3, l, &o, &|_| true).unwrap();
        for w in r.loglik_history.windows(2) {
            assert!(
                w[1] >= w[0] - 1e-9 * w[0].abs(),
                "seed {seed} {c:?}: {} < {}",
                w[1],
                w[0]
            );
        }
    }
}

/// Best permutation of fitted states to true states by squared distance of means (K ≤ 4).
fn match_states(truth: &[f64], fitted: &[f64], k: usize, d: usize) -> Vec<usize> {
    let mut best = (f64::INFINITY, vec![]);
    let mut perm: Vec<usize> = (0..k).collect();
    fn permute(p: &mut Vec<usize>, i: usize, f: &mut dyn FnMut(&[usize])) {
        if i == p.len() {
            f(p);
            return;
        }
        for j in i..p.len() {
            p.swap(i, j);
            permute(p, i + 1, f);
            p.swap(i, j);
        }
    }
    permute(&mut perm, 0, &mut |p| {
        let cost: f64 = (0..k)
            .map(|s| {
                (0..d)
                    .map(|a| (truth[s * d + a] - fitted[p[s] * d + a]).powi(2))
                    .sum::<f64>()
            })
            .sum();
        if cost < best.0 {
            best = (cost, p.to_vec());
        }
    });
    best.1
}

fn check_recovery(truth: &GaussianHmm, fitted: &GaussianHmm, seed: u64, what: &str) {
    let (k, d) = (truth.k, truth.d);
    let p = match_states(&truth.means, &fitted.means, k, d);
    for s in 0..k {
        for a in 0..d {
            let (t, f) = (truth.means[s * d + a], fitted.means[p[s] * d + a]);
            assert!(
                (t - f).abs() < 0.05,
                "seed {seed} {what}: mean[{s}][{a}] {f} vs {t}"
            );
        }
        for j in 0..k {
            let (t, f) = (truth.transmat[s * k + j], fitted.transmat[p[s] * k + p[j]]);
            assert!(
                (t - f).abs() < 0.03,
                "seed {seed} {what}: transmat[{s}][{j}] {f} vs {t}"
            );
        }
    }
}

fn recovery_truth(c: CovType) -> GaussianHmm {
    let covars = match c {
        CovType::Full => vec![0.5, 0.1, 0.1, 0.3, 0.4, -0.1, -0.1, 0.6, 0.3, 0.0, 0.0, 0.3],
        CovType::Diag => vec![0.5, 0.3, 0.4, 0.6, 0.3, 0.3],
        CovType::Tied => vec![0.4, 0.05, 0.05, 0.3],
        CovType::Spherical => vec![0.5, 0.4, 0.3],
    };
    GaussianHmm {
        k: 3,
        d: 2,
        cov_type: c,
        startprob: vec![0.5, 0.3, 0.2],
        transmat: vec![0.9, 0.05, 0.05, 0.1, 0.85, 0.05, 0.05, 0.1, 0.85],
        means: vec![0.0, 0.0, 3.0, 1.0, -1.0, 3.0],
        covars,
    }
}

#[test]
fn recovers_parameters_from_a_perturbed_start() {
    for (ci, &c) in TYPES.iter().enumerate() {
        let seed = 500 + ci as u64;
        let truth = recovery_truth(c);
        let (x, _) = sample(&truth, 20_000, seed).unwrap();
        let mut init = truth.clone();
        init.means
            .iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v += if i % 2 == 0 { 0.6 } else { -0.5 });
        init.transmat = vec![1.0 / 3.0; 9];
        let mut o = FitOptions::new(3);
        o.cov_type = c;
        o.tol = 1e-4;
        o.init = Init::Model(init);
        let r = fit(&x, 2, None, &o, &|_| true).unwrap();
        assert!(r.converged, "seed {seed}");
        check_recovery(
            &truth,
            &r.model,
            seed,
            &format!("{c:?} from a perturbed start"),
        );
    }
}

#[test]
fn recovers_parameters_with_seeded_initialisation() {
    for (ci, &c) in [CovType::Full, CovType::Diag].iter().enumerate() {
        let seed = 600 + ci as u64;
        let truth = recovery_truth(c);
        let (x, _) = sample(&truth, 20_000, seed).unwrap();
        for init in [Init::KMeansPP, Init::Gmm] {
            let mut o = FitOptions::new(3);
            o.cov_type = c;
            o.tol = 1e-4;
            o.init = init.clone();
            o.n_restarts = 3;
            o.seed = seed;
            let r = fit(&x, 2, None, &o, &|_| true)
                .unwrap_or_else(|e| panic!("seed {seed} {init:?}: {e}"));
            assert_eq!(r.restarts.len(), 3);
            assert_eq!(r.restarts[1].seed, seed + 1);
            assert_eq!(r.final_score, r.restarts[r.best_restart].loglik);
            assert!(r.restarts.iter().all(|s| s.loglik <= r.final_score));
            check_recovery(&truth, &r.model, seed, &format!("{c:?} {init:?}"));
            // A restart is the same fit as a single run with its seed.
            let mut one = o.clone();
            one.n_restarts = 1;
            one.seed = r.restarts[2].seed;
            let single = fit(&x, 2, None, &one, &|_| true).unwrap();
            assert_eq!(
                single.restarts[0].loglik.to_bits(),
                r.restarts[2].loglik.to_bits(),
                "seed {seed}"
            );
        }
    }
}

#[test]
fn no_underflow_at_a_million_steps() {
    let seed = 700;
    let m = random_model(4, 5, CovType::Full, 1.0, seed);
    let (x, _) = sample(&m, 1_000_000, seed).unwrap();
    let s = score(&m, &x, None).unwrap();
    assert!(s.is_finite() && s < -1e6, "seed {seed}: {s}");
    let l = score_with(&m, &x, None, Implementation::Log).unwrap();
    assert!((s - l).abs() <= 1e-9 * s.abs(), "seed {seed}: {s} vs {l}");
    let p = posteriors(&m, &x, None).unwrap();
    for row in p.chunks_exact(4) {
        let sum: f64 = row.iter().sum();
        assert!(
            (sum - 1.0).abs() < 1e-12 && row.iter().all(|v| v.is_finite()),
            "seed {seed}: {row:?}"
        );
    }
    let f = filtered(&m, &x, None).unwrap();
    assert!(f
        .chunks_exact(4)
        .all(|r| (r.iter().sum::<f64>() - 1.0).abs() < 1e-12));
    let v = viterbi(&m, &x, None).unwrap();
    assert!(v.logprob.is_finite() && v.logprob <= s);
}

#[test]
fn zero_probabilities_give_no_nan() {
    let mut m = random_model(3, 2, CovType::Full, 2.0, 800);
    m.startprob = vec![1.0, 0.0, 0.0];
    m.transmat = vec![0.9, 0.1, 0.0, 0.0, 0.9, 0.1, 0.1, 0.0, 0.9];
    let (x, _) = sample(&m, 500, 800).unwrap();
    for imp in [Implementation::Scaled, Implementation::Log] {
        let s = score_with(&m, &x, Some(&[200, 300]), imp).unwrap();
        assert!(s.is_finite());
        let p = posteriors_with(&m, &x, Some(&[200, 300]), imp).unwrap();
        assert!(p.iter().all(|v| v.is_finite()));
        assert_eq!(p[1], 0.0);
        assert_eq!(p[2], 0.0);
    }
    let v = viterbi(&m, &x, None).unwrap();
    assert_eq!(v.path[0], 0);
    assert!(v.logprob.is_finite());
    // A startprob of 1e-300 on the only state that can emit x_0: scaled would underflow and
    // falls back to log space.
    let mut m2 = m.clone();
    m2.startprob = vec![1.0 - 1e-300, 1e-300, 0.0];
    let mut x2 = x.clone();
    x2[0] = m2.means[2];
    x2[1] = m2.means[3];
    x2[0] += 40.0 * (m2.means[2] - m2.means[0]).signum();
    let a = score_with(&m2, &x2, None, Implementation::Scaled).unwrap();
    let b = score_with(&m2, &x2, None, Implementation::Log).unwrap();
    assert!(
        a.is_finite() && (a - b).abs() <= 1e-9 * b.abs(),
        "{a} vs {b}"
    );
    // No path at all: −∞, not NaN.
    let mut m3 = m.clone();
    m3.transmat = vec![0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0];
    m3.startprob = vec![0.0, 0.0, 1.0];
    assert!(score(&m3, &x, None).unwrap().is_finite());
}

#[test]
fn errors_name_the_problem() {
    let m = random_model(2, 2, CovType::Diag, 2.0, 900);
    let (mut x, _) = sample(&m, 50, 900).unwrap();
    let mut o = FitOptions::new(2);
    o.cov_type = CovType::Diag;
    o.init = Init::Model(m.clone());
    // Non-finite input.
    x[2 * 7 + 1] = f64::NAN;
    let e = fit(&x, 2, None, &o, &|_| true).unwrap_err().to_string();
    assert!(e.contains("non-finite value at row 7, column 1"), "{e}");
    assert!(score(&m, &x, None)
        .unwrap_err()
        .to_string()
        .contains("row 7"));
    x[2 * 7 + 1] = f64::INFINITY;
    assert!(posteriors(&m, &x, None).is_err());
    x[2 * 7 + 1] = 0.0;
    // T < K.
    let mut o3 = FitOptions::new(3);
    o3.init = Init::KMeansPP;
    let e = fit(&x[..4], 2, None, &o3, &|_| true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("T < K"), "{e}");
    // A constant column without a floor; with the floor the fit runs and respects it.
    let mut xc = x.clone();
    xc.chunks_exact_mut(2).for_each(|r| r[1] = 0.25);
    let mut oc = o.clone();
    oc.min_covar = 0.0;
    let e = fit(&xc, 2, None, &oc, &|_| true).unwrap_err().to_string();
    assert!(e.contains("column 1 of X is constant"), "{e}");
    oc.min_covar = 1e-3;
    oc.covars_prior = 0.0;
    let r = fit(&xc, 2, None, &oc, &|_| true).unwrap();
    assert!(
        r.model.covars.iter().all(|&v| v >= 1e-3),
        "{:?}",
        r.model.covars
    );
    let mut of = oc.clone();
    of.cov_type = CovType::Full;
    of.init = Init::Model(GaussianHmm {
        cov_type: CovType::Full,
        covars: vec![
            m.covars[0],
            0.0,
            0.0,
            m.covars[1],
            m.covars[2],
            0.0,
            0.0,
            m.covars[3],
        ],
        ..m.clone()
    });
    let r = fit(&xc, 2, None, &of, &|_| true).unwrap();
    for s in 0..2 {
        let c = &r.model.covars[s * 4..s * 4 + 4];
        let e = nalgebra::Matrix2::new(c[0], c[1], c[2], c[3]).symmetric_eigenvalues();
        assert!(e.min() >= 1e-3 * (1.0 - 1e-12), "{e:?}");
    }
    // Bad lengths, shapes, params, models.
    assert!(score(&m, &x, Some(&[10, 10]))
        .unwrap_err()
        .to_string()
        .contains("sum to 20"));
    assert!(score(&m, &x[..5], None)
        .unwrap_err()
        .to_string()
        .contains("multiple"));
    assert!(Params::parse("stx").is_err());
    assert!(Params::parse("ss").is_err());
    let mut bad = m.clone();
    bad.transmat[0] = 0.5;
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("transmat row 0"));
    let mut bad = random_model(2, 2, CovType::Full, 1.0, 901);
    bad.covars[1] = 10.0;
    bad.covars[2] = 10.0;
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("not positive definite"));
    let mut o2 = o.clone();
    o2.n_restarts = 2;
    assert!(fit(&x, 2, None, &o2, &|_| true)
        .unwrap_err()
        .to_string()
        .contains("nRestarts"));
    // Cancellation through the progress callback.
    let e = fit(&x, 2, None, &o, &|p| p.iteration < 2)
        .unwrap_err()
        .to_string();
    assert!(e.contains("cancelled"), "{e}");
    // The streaming filter rejects bad observations and keeps its state.
    let mut f = Filter::new(&m).unwrap();
    f.update(&[0.0, 0.0]).unwrap();
    assert!(f.update(&[f64::NAN, 0.0]).is_err());
    assert!(f.update(&[0.0]).is_err());
    assert_eq!(f.steps(), 1);
}

#[test]
fn filtered_is_causal() {
    let m = random_model(3, 2, CovType::Full, 1.5, 1000);
    let (x, _) = sample(&m, 3000, 1000).unwrap();
    let lengths = [1200usize, 1800];
    let f = filtered(&m, &x, Some(&lengths)).unwrap();
    for cut in [0usize, 1, 700, 1199, 1200, 2500] {
        let mut y = x.clone();
        let mut rng = ChaCha8Rng::seed_from_u64(cut as u64);
        y[(cut + 1) * 2..]
            .iter_mut()
            .for_each(|v| *v = 5.0 * rng.sample::<f64, _>(StandardNormal));
        let g = filtered(&m, &y, Some(&lengths)).unwrap();
        assert_eq!(
            bits(&f[..(cut + 1) * 3]),
            bits(&g[..(cut + 1) * 3]),
            "cut {cut}"
        );
        assert_ne!(bits(&f), bits(&g));
    }
}

#[test]
fn streaming_filter_equals_batch() {
    for (ci, (&c, k)) in TYPES.iter().zip([4, 9, 4, 2]).enumerate() {
        let seed = 1100 + ci as u64;
        let m = random_model(k, 3, c, 1.5, seed);
        let lengths = [1usize, 17, 5000];
        let (x, _) = sample(&m, 5018, seed).unwrap();
        let batch = filtered(&m, &x, Some(&lengths)).unwrap();
        let ll = score(&m, &x, Some(&lengths)).unwrap();
        let mut f = Filter::new(&m).unwrap();
        let mut t = 0;
        let mut total = 0.0;
        for &l in &lengths {
            f.reset();
            for _ in 0..l {
                let p = f.update(&x[t * 3..(t + 1) * 3]).unwrap().to_vec();
                assert_eq!(
                    bits(&p),
                    bits(&batch[t * k..(t + 1) * k]),
                    "seed {seed} t {t}"
                );
                t += 1;
            }
            total += f.log_likelihood();
        }
        assert!(
            (total - ll).abs() <= 1e-10 * ll.abs(),
            "seed {seed}: {total} vs {ll}"
        );
    }
}

#[test]
fn one_and_two_threads_are_bit_identical() {
    let m = random_model(4, 3, CovType::Full, 1.0, 1200);
    let lengths = [3 * BLOCK + 17, 2 * BLOCK - 5, 11];
    let t: usize = lengths.iter().sum();
    let (x, _) = sample(&m, t, 1200).unwrap();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut out = Vec::new();
            for (c, imp) in [
                (CovType::Full, Implementation::Scaled),
                (CovType::Diag, Implementation::Log),
            ] {
                let mut o = FitOptions::new(4);
                o.cov_type = c;
                o.n_iter = 5;
                o.implementation = imp;
                o.init = Init::Model(random_model(4, 3, c, 1.0, 1201));
                let r = fit(&x, 3, Some(&lengths), &o, &|_| true).unwrap();
                out.push(bits(&r.loglik_history));
                out.push(bits(&r.model.means));
                out.push(bits(&r.model.covars));
                out.push(bits(&r.model.transmat));
                out.push(bits(&[r.final_score]));
            }
            out.push(bits(&posteriors(&m, &x, Some(&lengths)).unwrap()));
            out.push(bits(&filtered(&m, &x, Some(&lengths)).unwrap()));
            let v = viterbi(&m, &x, Some(&lengths)).unwrap();
            out.push(v.path.iter().map(|&s| s as u64).collect());
            out.push(bits(&[v.logprob]));
            out
        })
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn restarts_are_bit_identical_across_thread_counts() {
    let truth = recovery_truth(CovType::Full);
    let (x, _) = sample(&truth, 3 * BLOCK, 1300).unwrap();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut o = FitOptions::new(3);
            o.n_restarts = 3;
            o.seed = 1300;
            o.n_iter = 10;
            let r = fit(&x, 2, Some(&[BLOCK, 2 * BLOCK]), &o, &|_| true)
                .unwrap_or_else(|e| panic!("{e}"));
            (
                bits(&r.model.means),
                bits(&r.restarts.iter().map(|s| s.loglik).collect::<Vec<_>>()),
                r.best_restart,
            )
        })
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn progress_reports_every_iteration() {
    let m = random_model(2, 2, CovType::Diag, 2.0, 1400);
    let (x, _) = sample(&m, 400, 1400).unwrap();
    let mut o = FitOptions::new(2);
    o.cov_type = CovType::Diag;
    o.init = Init::Model(random_model(2, 2, CovType::Diag, 2.0, 1401));
    o.tol = 1e-6;
    let seen = std::sync::Mutex::new(Vec::new());
    let r = fit(&x, 2, None, &o, &|p| {
        seen.lock().unwrap().push(p);
        true
    })
    .unwrap();
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.len(), r.n_iter);
    for (i, p) in seen.iter().enumerate() {
        assert_eq!((p.restart, p.iteration), (0, i + 1));
        assert_eq!(p.loglik.to_bits(), r.loglik_history[i].to_bits());
    }
    let last = r.loglik_history[r.n_iter - 1] - r.loglik_history[r.n_iter - 2];
    assert!(last < 1e-6 && r.converged);
    assert_eq!(
        r.reason,
        if last < 0.0 {
            StopReason::Decrease
        } else {
            StopReason::Tol
        }
    );
    // max-iter
    o.n_iter = 2;
    o.tol = 0.0;
    let r = fit(&x, 2, None, &o, &|_| true).unwrap();
    assert_eq!(
        (r.n_iter, r.reason, r.converged),
        (2, StopReason::MaxIter, false)
    );
    assert!((r.final_score - score(&r.model, &x, None).unwrap()).abs() < 1e-9);
}

#[test]
fn fixed_parameters_stay_fixed() {
    let m = random_model(3, 2, CovType::Full, 1.5, 1500);
    let (x, _) = sample(&m, 2000, 1500).unwrap();
    let init = random_model(3, 2, CovType::Full, 1.5, 1501);
    for p in ["", "s", "t", "m", "c", "mc", "st", "stmc"] {
        let mut o = FitOptions::new(3);
        o.params = Params::parse(p).unwrap();
        o.n_iter = 3;
        o.init = Init::Model(init.clone());
        let r = fit(&x, 2, None, &o, &|_| true).unwrap();
        assert_eq!(
            r.model.startprob == init.startprob,
            !p.contains('s'),
            "params '{p}'"
        );
        assert_eq!(
            r.model.transmat == init.transmat,
            !p.contains('t'),
            "params '{p}'"
        );
        assert_eq!(
            r.model.means == init.means,
            !p.contains('m'),
            "params '{p}'"
        );
        assert_eq!(
            r.model.covars == init.covars,
            !p.contains('c'),
            "params '{p}'"
        );
    }
}

#[test]
fn sampling_is_seeded_and_follows_the_model() {
    let m = recovery_truth(CovType::Diag);
    let (x, z) = sample(&m, 60_000, 7).unwrap();
    assert_eq!(sample(&m, 60_000, 7).unwrap().0, x);
    assert_ne!(sample(&m, 100, 8).unwrap().0, x[..200].to_vec());
    for s in 0..3 {
        let rows: Vec<&[f64]> = x
            .chunks_exact(2)
            .zip(&z)
            .filter(|(_, &q)| q == s)
            .map(|(r, _)| r)
            .collect();
        let n = rows.len() as f64;
        for a in 0..2 {
            let mean = rows.iter().map(|r| r[a]).sum::<f64>() / n;
            let var = rows.iter().map(|r| (r[a] - mean).powi(2)).sum::<f64>() / n;
            assert!(
                (mean - m.means[s * 2 + a]).abs() < 0.03,
                "state {s}: mean {mean}"
            );
            assert!(
                (var / m.covars[s * 2 + a] - 1.0).abs() < 0.05,
                "state {s}: var {var}"
            );
        }
        let from: Vec<usize> = (0..z.len() - 1).filter(|&t| z[t] == s).collect();
        for j in 0..3 {
            let f = from.iter().filter(|&&t| z[t + 1] == j).count() as f64 / from.len() as f64;
            assert!(
                (f - m.transmat[s * 3 + j]).abs() < 0.02,
                "transmat[{s}][{j}] {f}"
            );
        }
    }
}

#[test]
fn information_criteria_use_hmmlearns_count() {
    let x: Vec<f64> = (0..200).map(|i| (i as f64 * 0.37).sin()).collect();
    for (c, n) in [
        (CovType::Full, 3 + 12 + 8 + 4 * 3),
        (CovType::Diag, 3 + 12 + 8 + 8),
        (CovType::Tied, 3 + 12 + 8 + 3),
        (CovType::Spherical, 3 + 12 + 8 + 4),
    ] {
        let m = random_model(4, 2, c, 1.0, 1600);
        assert_eq!(m.n_parameters(), n);
        let ic = information_criteria(&m, &x, None).unwrap();
        assert_eq!(ic.n_parameters, n);
        assert_eq!(ic.aic, -2.0 * ic.log_likelihood + 2.0 * n as f64);
        assert_eq!(ic.bic, -2.0 * ic.log_likelihood + n as f64 * 100f64.ln());
    }
}

#[test]
fn forward_backward_on_a_given_emission_matrix_matches_the_umbrella_example() {
    // Wikipedia's umbrella world; a leading uninformative row (log b = 0) stands for day 0.
    let e = [[0.9f64, 0.1], [0.2, 0.8]];
    let obs = [0usize, 0, 1, 0, 0];
    let mut logb = vec![0.0, 0.0];
    for &o in &obs {
        logb.extend([e[0][o].ln(), e[1][o].ln()]);
    }
    let a = [0.7, 0.3, 0.3, 0.7];
    for imp in [Implementation::Scaled, Implementation::Log] {
        let fb = forward_backward_log_b(&[0.5, 0.5], &a, &logb, None, imp).unwrap();
        assert!((fb.log_likelihood - (-3.3725020443321747f64)).abs() < 1e-12);
        assert!((fb.forward[2] - 0.8181818181818181).abs() < 1e-12);
        assert!((fb.backward[0] - 0.6469355558301939).abs() < 1e-12);
        assert!((fb.posteriors[2 * 3] - 0.3074835760066177).abs() < 1e-12);
    }
    let v = viterbi_log_b(&[0.5, 0.5], &a, &logb[2..], None).unwrap();
    assert_eq!(v.path, vec![0, 0, 1, 0, 0]);
    assert!((v.logprob - (-4.459028291034797f64)).abs() < 1e-12);
    assert!(forward_backward_log_b(
        &[0.5, 0.5],
        &a,
        &[f64::NAN, 0.0],
        None,
        Implementation::Scaled
    )
    .is_err());
}

#[test]
fn simd_and_scalar_kernels_are_bit_identical() {
    use super::lattice::Chain;
    use super::stats::{estep, Workspace};
    // Every D instance (1..=8 unrolled, 9 generic), row counts that are not multiples of the
    // vector width, and both E-step implementations.
    for (ci, &c) in [CovType::Full, CovType::Diag].iter().enumerate() {
        for d in 1..=9 {
            let seed = 1700 + ci as u64 * 10 + d as u64;
            let m = random_model(3, d, c, 1.5, seed);
            let (x, _) = sample(&m, 2 * SUB + 37, seed).unwrap();
            let mut em = Emission::new(c, 3, d, &m.means, &m.covars).unwrap();
            for n in [1usize, 2, 7, 17, 300] {
                let mut out = [vec![0.0; n * 3], vec![0.0; n * 3]];
                for (o, simd) in out.iter_mut().zip([true, false]) {
                    em.simd = simd;
                    em.rows(&x[..n * d], o, &mut super::emission::Scratch::new(d));
                }
                assert_eq!(
                    bits(&out[0]),
                    bits(&out[1]),
                    "seed {seed} {c:?} d={d} n={n}"
                );
            }
            let seqs = check_x(&x, d, Some(&[SUB + 5, SUB + 32])).unwrap();
            let ch = Chain::new(&m.startprob, &m.transmat);
            for imp in [Implementation::Scaled, Implementation::Log] {
                let mut res = Vec::new();
                for simd in [true, false] {
                    em.simd = simd;
                    let mut ws = Workspace::new(&seqs, 3, d, c == CovType::Full);
                    let (ll, st) = estep(&ch, &em, &x, &seqs, &mut ws, imp, &m.means).unwrap();
                    res.push((
                        ll.to_bits(),
                        bits(&st.post),
                        bits(&st.s),
                        bits(&st.ss),
                        bits(&st.trans),
                        bits(&st.start),
                    ));
                }
                assert_eq!(res[0], res[1], "seed {seed} {c:?} d={d} {imp:?}");
            }
        }
    }
    assert!(!set_simd(false));
    let m = random_model(2, 2, CovType::Full, 1.0, 1800);
    let (x, _) = sample(&m, 100, 1800).unwrap();
    let scalar = posteriors(&m, &x, None).unwrap();
    set_simd(true);
    assert_eq!(bits(&scalar), bits(&posteriors(&m, &x, None).unwrap()));
}
