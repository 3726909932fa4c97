//! Mean graph convolution (GraphSAGE-mean with separate self and neighbour weights) over a
//! dense weighted adjacency, batched over graphs (docs/neural.md, model `graph`).
//!
//! Shapes: `B` graphs of `N` nodes; node features `h [B, N, Fin]`, edge weights
//! `adj [B, N, N]` (`a_ij ≥ 0`, diagonal 0), node mask `mask [B, N]` in {0, 1}. With
//! `A'_ij = a_ij·m_i·m_j`:
//!
//! ```text
//! deg_i = max(Σ_j A'_ij, 1e-6)
//! n_i   = Σ_j A'_ij h_j / deg_i          (0 for an isolated or masked node)
//! out_i = ReLU(Ws h_i + Wn n_i + b) · m_i
//! ```
//!
//! The row-normalised adjacency `P_ij = A'_ij / deg_i` depends only on the data, so it is
//! computed once per batch ([`mean_adjacency`]) and shared by every layer. The weight
//! products run as one GEMM over all `B·N` nodes stacked as rows; the `N×N` neighbour
//! averages are short row-axpy loops that skip zero weights (masked nodes, missing edges).
//!
//! Parameters of one layer are contiguous in the order `Ws [Fout, Fin]`, `Wn [Fout, Fin]`,
//! `b [Fout]`, which is the order of `gK.Ws`, `gK.Wn`, `gK.b` in the model layout.

use super::Real;

/// Lower bound of a node's weighted degree (docs/neural.md).
pub const MIN_DEGREE: f64 = 1e-6;

/// Writes `P [B, N, N]` with `P_ij = a_ij·m_i·m_j / max(Σ_k a_ik·m_i·m_k, 1e-6)`.
/// `adj` is `[B, N, N]`, `mask` is `[B, N]`.
pub fn mean_adjacency<T: Real>(adj: &[T], mask: &[T], batch: usize, nodes: usize, out: &mut [T]) {
    let nn = nodes * nodes;
    assert!(adj.len() >= batch * nn && mask.len() >= batch * nodes && out.len() >= batch * nn);
    for g in 0..batch {
        mean_adjacency_one(
            &adj[g * nn..(g + 1) * nn],
            &mask[g * nodes..(g + 1) * nodes],
            &mut out[g * nn..(g + 1) * nn],
        );
    }
}

/// [`mean_adjacency`] of one graph: `adj [N, N]`, `mask [N]`, `out [N, N]`.
pub fn mean_adjacency_one<T: Real>(adj: &[T], mask: &[T], out: &mut [T]) {
    let n = mask.len();
    let min_deg = T::from_f64(MIN_DEGREE);
    for i in 0..n {
        let row = &mut out[i * n..(i + 1) * n];
        let mi = mask[i];
        let mut deg = T::zero();
        for j in 0..n {
            let a = adj[i * n + j] * mi * mask[j];
            row[j] = a;
            deg = deg + a;
        }
        let deg = if deg > min_deg { deg } else { min_deg };
        for v in row.iter_mut() {
            *v = *v / deg;
        }
    }
}

/// One mean graph-convolution layer `Fin → Fout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphConv {
    pub fin: usize,
    pub fout: usize,
}

/// What [`GraphConv::forward`] keeps for the backward pass; `out` is the layer's output.
#[derive(Debug, Clone, Default)]
pub struct GraphConvCache<T> {
    /// Neighbour means `n [B·N, Fin]`.
    pub agg: Vec<T>,
    /// Output `ReLU(Ws h + Wn n + b)·m`, `[B·N, Fout]`.
    pub out: Vec<T>,
}

/// `y[..] += a * x[..]`.
#[inline]
fn axpy<T: Real>(a: T, x: &[T], y: &mut [T]) {
    for (yv, &xv) in y.iter_mut().zip(x) {
        *yv = *yv + a * xv;
    }
}

impl GraphConv {
    pub fn new(fin: usize, fout: usize) -> Self {
        GraphConv { fin, fout }
    }

    /// Length of the layer's parameter block `Ws, Wn, b`.
    pub fn n_params(&self) -> usize {
        2 * self.fout * self.fin + self.fout
    }

    /// Splits a parameter block into `(Ws, Wn, b)`.
    pub fn split<'a, T>(&self, w: &'a [T]) -> (&'a [T], &'a [T], &'a [T]) {
        let k = self.fout * self.fin;
        assert!(
            w.len() >= self.n_params(),
            "graph conv: short parameter block"
        );
        (&w[..k], &w[k..2 * k], &w[2 * k..2 * k + self.fout])
    }

    fn split_mut<'a, T>(&self, w: &'a mut [T]) -> (&'a mut [T], &'a mut [T], &'a mut [T]) {
        let k = self.fout * self.fin;
        assert!(
            w.len() >= self.n_params(),
            "graph conv: short gradient block"
        );
        let (ws, rest) = w.split_at_mut(k);
        let (wn, rest) = rest.split_at_mut(k);
        (ws, wn, &mut rest[..self.fout])
    }

    /// Forward over `batch` graphs of `nodes` nodes. `w` is the block `Ws, Wn, b`;
    /// `h [B·N, Fin]`; `p [B, N, N]` from [`mean_adjacency`]; `mask [B, N]` in {0, 1}.
    /// The output `[B·N, Fout]` is `cache.out`; the cache's buffers are reused.
    #[allow(clippy::too_many_arguments)]
    pub fn forward<T: Real>(
        &self,
        w: &[T],
        h: &[T],
        p: &[T],
        mask: &[T],
        batch: usize,
        nodes: usize,
        cache: &mut GraphConvCache<T>,
    ) {
        let (fin, fout) = (self.fin, self.fout);
        let rows = batch * nodes;
        assert!(h.len() >= rows * fin && p.len() >= batch * nodes * nodes && mask.len() >= rows);
        let (ws, wn, b) = self.split(w);

        cache.agg.clear();
        cache.agg.resize(rows * fin, T::zero());
        for g in 0..batch {
            let pg = &p[g * nodes * nodes..(g + 1) * nodes * nodes];
            let hg = &h[g * nodes * fin..(g + 1) * nodes * fin];
            let ag = &mut cache.agg[g * nodes * fin..(g + 1) * nodes * fin];
            for i in 0..nodes {
                let ai = &mut ag[i * fin..(i + 1) * fin];
                for j in 0..nodes {
                    let pij = pg[i * nodes + j];
                    if pij != T::zero() {
                        axpy(pij, &hg[j * fin..(j + 1) * fin], ai);
                    }
                }
            }
        }

        cache.out.clear();
        cache.out.resize(rows * fout, T::zero());
        for r in 0..rows {
            cache.out[r * fout..(r + 1) * fout].copy_from_slice(b);
        }
        T::gemm(
            rows,
            fin,
            fout,
            T::one(),
            h,
            false,
            ws,
            true,
            T::one(),
            &mut cache.out,
        );
        T::gemm(
            rows,
            fin,
            fout,
            T::one(),
            &cache.agg,
            false,
            wn,
            true,
            T::one(),
            &mut cache.out,
        );
        for (orow, &m) in cache.out.chunks_exact_mut(fout).zip(&mask[..rows]) {
            for v in orow {
                *v = if *v > T::zero() { *v * m } else { T::zero() };
            }
        }
    }

    /// Backward of [`forward`](Self::forward) given `dout = dL/dout [B·N, Fout]`.
    /// ADDS `dL/dWs, dL/dWn, dL/db` into the block `dw`; if `dh` is given it is OVERWRITTEN
    /// with `dL/dh [B·N, Fin]`. `adj`/`mask` are data: no gradient.
    #[allow(clippy::too_many_arguments)]
    pub fn backward<T: Real>(
        &self,
        w: &[T],
        h: &[T],
        p: &[T],
        batch: usize,
        nodes: usize,
        cache: &GraphConvCache<T>,
        dout: &[T],
        dh: Option<&mut [T]>,
        dw: &mut [T],
    ) {
        let (fin, fout) = (self.fin, self.fout);
        let rows = batch * nodes;
        assert!(dout.len() >= rows * fout && cache.out.len() >= rows * fout);
        let (ws, wn, _) = self.split(w);
        let (dws, dwn, db) = self.split_mut(dw);

        // Through ReLU and the 0/1 mask: out > 0 exactly where pre > 0 and m = 1.
        let mut g: Vec<T> = Vec::with_capacity(rows * fout);
        g.extend(
            cache.out[..rows * fout]
                .iter()
                .zip(&dout[..rows * fout])
                .map(|(&o, &d)| if o > T::zero() { d } else { T::zero() }),
        );
        for r in 0..rows {
            for (dbv, &gv) in db.iter_mut().zip(&g[r * fout..(r + 1) * fout]) {
                *dbv = *dbv + gv;
            }
        }
        T::gemm(fout, rows, fin, T::one(), &g, true, h, false, T::one(), dws);
        T::gemm(
            fout,
            rows,
            fin,
            T::one(),
            &g,
            true,
            &cache.agg,
            false,
            T::one(),
            dwn,
        );

        if let Some(dh) = dh {
            assert!(dh.len() >= rows * fin);
            // dh = g·Ws + Pᵀ (g·Wn), per graph for the P part.
            T::gemm(
                rows,
                fout,
                fin,
                T::one(),
                &g,
                false,
                ws,
                false,
                T::zero(),
                dh,
            );
            let mut dn = vec![T::zero(); rows * fin];
            T::gemm(
                rows,
                fout,
                fin,
                T::one(),
                &g,
                false,
                wn,
                false,
                T::zero(),
                &mut dn,
            );
            for gi in 0..batch {
                let pg = &p[gi * nodes * nodes..(gi + 1) * nodes * nodes];
                let dng = &dn[gi * nodes * fin..(gi + 1) * nodes * fin];
                let dhg = &mut dh[gi * nodes * fin..(gi + 1) * nodes * fin];
                for i in 0..nodes {
                    let dni = &dng[i * fin..(i + 1) * fin];
                    for j in 0..nodes {
                        let pij = pg[i * nodes + j];
                        if pij != T::zero() {
                            axpy(pij, dni, &mut dhg[j * fin..(j + 1) * fin]);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    struct Case {
        conv: GraphConv,
        batch: usize,
        nodes: usize,
        w: Vec<f64>,
        h: Vec<f64>,
        adj: Vec<f64>,
        mask: Vec<f64>,
        coef: Vec<f64>,
    }

    fn uniform(rng: &mut ChaCha8Rng, n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n).map(|_| rng.random_range(lo..hi)).collect()
    }

    fn case(seed: u64) -> Case {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (batch, nodes, fin, fout) = (3, 5, 4, 6);
        let conv = GraphConv::new(fin, fout);
        let w = uniform(&mut rng, conv.n_params(), -0.6, 0.6);
        let h = uniform(&mut rng, batch * nodes * fin, -1.0, 1.0);
        let mut adj = vec![0.0; batch * nodes * nodes];
        for g in 0..batch {
            for i in 0..nodes {
                for j in 0..nodes {
                    if i != j && rng.random_bool(0.7) {
                        adj[(g * nodes + i) * nodes + j] = rng.random_range(0.0..2.0);
                    }
                }
            }
        }
        // Graph 0: one masked node; graph 1: full; graph 2: two masked nodes and an isolated one.
        let mut mask = vec![1.0; batch * nodes];
        mask[2] = 0.0;
        mask[2 * nodes] = 0.0;
        mask[2 * nodes + 3] = 0.0;
        for j in 0..nodes {
            adj[(2 * nodes + 1) * nodes + j] = 0.0;
        }
        let coef = uniform(&mut rng, batch * nodes * fout, -1.0, 1.0);
        Case {
            conv,
            batch,
            nodes,
            w,
            h,
            adj,
            mask,
            coef,
        }
    }

    fn loss(c: &Case, w: &[f64], h: &[f64]) -> f64 {
        let mut p = vec![0.0; c.adj.len()];
        mean_adjacency(&c.adj, &c.mask, c.batch, c.nodes, &mut p);
        let mut cache = GraphConvCache::default();
        c.conv
            .forward(w, h, &p, &c.mask, c.batch, c.nodes, &mut cache);
        cache.out.iter().zip(&c.coef).map(|(o, k)| o * k).sum()
    }

    /// Straight transcription of the docs/neural.md formula, one node at a time.
    fn reference(c: &Case) -> Vec<f64> {
        let (n, fin, fout) = (c.nodes, c.conv.fin, c.conv.fout);
        let (ws, wn, b) = c.conv.split(&c.w);
        let mut out = vec![0.0; c.batch * n * fout];
        for g in 0..c.batch {
            let m = &c.mask[g * n..(g + 1) * n];
            for i in 0..n {
                let a = |j: usize| c.adj[(g * n + i) * n + j] * m[i] * m[j];
                let deg = (0..n).map(a).sum::<f64>().max(1e-6);
                for o in 0..fout {
                    let mut pre = b[o];
                    for f in 0..fin {
                        let hi = c.h[(g * n + i) * fin + f];
                        let ni = (0..n)
                            .map(|j| a(j) * c.h[(g * n + j) * fin + f])
                            .sum::<f64>()
                            / deg;
                        pre += ws[o * fin + f] * hi + wn[o * fin + f] * ni;
                    }
                    out[(g * n + i) * fout + o] = pre.max(0.0) * m[i];
                }
            }
        }
        out
    }

    #[test]
    fn forward_matches_the_documented_formula() {
        let c = case(1);
        let mut p = vec![0.0; c.adj.len()];
        mean_adjacency(&c.adj, &c.mask, c.batch, c.nodes, &mut p);
        let mut cache = GraphConvCache::default();
        c.conv
            .forward(&c.w, &c.h, &p, &c.mask, c.batch, c.nodes, &mut cache);
        let want = reference(&c);
        for (k, (a, b)) in cache.out.iter().zip(&want).enumerate() {
            assert!((a - b).abs() < 1e-12, "out[{k}] {a} vs {b}");
        }
        // Masked nodes output exactly 0; some unit is active.
        for r in [2, 2 * c.nodes, 2 * c.nodes + 3] {
            assert!(cache.out[r * c.conv.fout..(r + 1) * c.conv.fout]
                .iter()
                .all(|&v| v == 0.0));
        }
        assert!(cache.out.iter().any(|&v| v > 0.0));
    }

    #[test]
    fn zero_adjacency_gives_zero_neighbour_mean() {
        let mut c = case(2);
        c.adj.iter_mut().for_each(|a| *a = 0.0);
        let mut p = vec![1.0; c.adj.len()];
        mean_adjacency(&c.adj, &c.mask, c.batch, c.nodes, &mut p);
        assert!(p.iter().all(|&v| v == 0.0));
        let mut cache = GraphConvCache::default();
        c.conv
            .forward(&c.w, &c.h, &p, &c.mask, c.batch, c.nodes, &mut cache);
        assert!(cache.agg.iter().all(|&v| v == 0.0));
        // out = ReLU(Ws h + b)·m
        let (ws, _, b) = c.conv.split(&c.w);
        let (fin, fout) = (c.conv.fin, c.conv.fout);
        for r in 0..c.batch * c.nodes {
            for o in 0..fout {
                let pre = b[o]
                    + (0..fin)
                        .map(|f| ws[o * fin + f] * c.h[r * fin + f])
                        .sum::<f64>();
                let want = pre.max(0.0) * c.mask[r];
                assert!((cache.out[r * fout + o] - want).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn mean_adjacency_rows_sum_to_one_or_zero() {
        let c = case(3);
        let mut p = vec![0.0; c.adj.len()];
        mean_adjacency(&c.adj, &c.mask, c.batch, c.nodes, &mut p);
        let n = c.nodes;
        for g in 0..c.batch {
            for i in 0..n {
                let row = &p[(g * n + i) * n..(g * n + i + 1) * n];
                let s: f64 = row.iter().sum();
                let masked = c.mask[g * n + i] == 0.0;
                let isolated = (g, i) == (2, 1);
                if masked || isolated {
                    assert_eq!(s, 0.0, "graph {g} node {i}");
                } else {
                    assert!((s - 1.0).abs() < 1e-12, "graph {g} node {i}: {s}");
                }
                for (j, &pij) in row.iter().enumerate() {
                    if c.mask[g * n + j] == 0.0 {
                        assert_eq!(pij, 0.0);
                    }
                }
            }
        }
    }

    /// Central differences (ε = 1e-5) of `L = Σ coef ⊙ out` against the analytic dh, dWs,
    /// dWn, db. Tolerance: |num − ana| ≤ 1e-7 + 1e-6·|num| (f64). Along any one coordinate
    /// the loss is piecewise linear (ReLU kinks only), so away from a kink the central
    /// difference is exact up to rounding (~1e-10).
    #[test]
    fn gradients_match_central_differences() {
        for seed in [4, 5, 6] {
            let c = case(seed);
            let mut p = vec![0.0; c.adj.len()];
            mean_adjacency(&c.adj, &c.mask, c.batch, c.nodes, &mut p);
            let mut cache = GraphConvCache::default();
            c.conv
                .forward(&c.w, &c.h, &p, &c.mask, c.batch, c.nodes, &mut cache);
            // Start dw at a non-zero value to check that backward adds.
            let mut dw = vec![0.25; c.conv.n_params()];
            let mut dh = vec![9.0; c.h.len()];
            c.conv.backward(
                &c.w,
                &c.h,
                &p,
                c.batch,
                c.nodes,
                &cache,
                &c.coef,
                Some(&mut dh),
                &mut dw,
            );
            dw.iter_mut().for_each(|v| *v -= 0.25);

            let eps = 1e-5;
            let check = |name: &str, k: usize, num: f64, ana: f64| {
                assert!(
                    (num - ana).abs() <= 1e-7 + 1e-6 * num.abs(),
                    "seed {seed} {name}[{k}]: numeric {num} analytic {ana}"
                );
            };
            let k = c.conv.fout * c.conv.fin;
            for i in 0..c.w.len() {
                let mut wp = c.w.clone();
                wp[i] += eps;
                let lp = loss(&c, &wp, &c.h);
                wp[i] -= 2.0 * eps;
                let lm = loss(&c, &wp, &c.h);
                let name = if i < k {
                    "dWs"
                } else if i < 2 * k {
                    "dWn"
                } else {
                    "db"
                };
                check(name, i, (lp - lm) / (2.0 * eps), dw[i]);
            }
            for i in 0..c.h.len() {
                let mut hp = c.h.clone();
                hp[i] += eps;
                let lp = loss(&c, &c.w, &hp);
                hp[i] -= 2.0 * eps;
                let lm = loss(&c, &c.w, &hp);
                check("dh", i, (lp - lm) / (2.0 * eps), dh[i]);
            }
            // A masked node's features get no gradient.
            let fin = c.conv.fin;
            assert!(dh[2 * fin..3 * fin].iter().all(|&v| v == 0.0));
        }
    }

    #[test]
    fn f32_matches_f64() {
        let c = case(7);
        let mut p = vec![0.0; c.adj.len()];
        mean_adjacency(&c.adj, &c.mask, c.batch, c.nodes, &mut p);
        let mut c64 = GraphConvCache::default();
        c.conv
            .forward(&c.w, &c.h, &p, &c.mask, c.batch, c.nodes, &mut c64);
        let to32 = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
        let (w, h, adj, mask) = (to32(&c.w), to32(&c.h), to32(&c.adj), to32(&c.mask));
        let mut p32 = vec![0.0f32; adj.len()];
        mean_adjacency(&adj, &mask, c.batch, c.nodes, &mut p32);
        let mut c32 = GraphConvCache::default();
        c.conv
            .forward(&w, &h, &p32, &mask, c.batch, c.nodes, &mut c32);
        for (a, b) in c32.out.iter().zip(&c64.out) {
            assert!((*a as f64 - b).abs() < 1e-5);
        }
    }
}
