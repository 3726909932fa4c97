//! The cross-sectional graph classifier (docs/neural.md, model `graph`): two mean graph
//! convolutions over a dense weighted adjacency, a masked mean pool over nodes, the market
//! features appended, one ReLU readout layer and a linear output.
//!
//! ```text
//! h1     = dropout(GraphConv1(x))            [N, Hg]     salt DROPOUT_SALT_NODES
//! h2     = GraphConv2(h1)                    [N, Hg]
//! pooled = Σ_i m_i h2_i / max(Σ_i m_i, 1)    [Hg]
//! z      = dropout(ReLU(mlp1.W·[pooled, market] + mlp1.b))   [Hr]   salt DROPOUT_SALT_READOUT
//! logits = out.W·z + out.b                   [K]
//! ```
//!
//! A chunk of samples runs as one batch: every weight product is one GEMM over the chunk's
//! `B·N` nodes (graph layers) or `B` rows (dense layers). Dropout masks are keyed by the
//! sample's dataset row and the site salt, so they do not depend on batching or threads.

use super::activation::{relu_backward, relu_inplace};
use super::dense;
use super::dropout;
use super::graph::{mean_adjacency_one, GraphConv, GraphConvCache};
use super::{layout_of, DropoutCtx, Model, ParamTensor, Real};
use crate::DataError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Dropout site after graph layer 1 (units `N·Hg` per sample).
pub const DROPOUT_SALT_NODES: u64 = 0x6772_6170_685f_6731; // "graph_g1"
/// Dropout site after the readout layer (units `Hr` per sample).
pub const DROPOUT_SALT_READOUT: u64 = 0x6772_6170_685f_6d31; // "graph_m1"

/// Sizes of a [`GraphModel`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GraphSpec {
    /// `N`: nodes (assets) per graph.
    pub nodes: usize,
    /// `F`: features per node.
    pub features: usize,
    /// `G`: market-level features per sample (may be 0).
    pub market: usize,
    /// `Hg`: width of both graph layers.
    pub hidden: usize,
    /// `Hr`: width of the readout layer.
    pub readout: usize,
    /// `K`: classes.
    pub classes: usize,
    /// Dropout probability in `[0, 1)` at both sites.
    pub dropout: f64,
}

/// A dataset of graphs, row-major: `x [n, N, F]`, `adj [n, N, N]` (`a_ij ≥ 0`, diagonal 0),
/// `mask [n, N]` in {0, 1}, `market [n, G]`.
#[derive(Debug, Clone, Copy)]
pub struct GraphInput<'a, T> {
    pub x: &'a [T],
    pub adj: &'a [T],
    pub mask: &'a [T],
    pub market: &'a [T],
}

/// The graph classifier; parameters live in a flat vector laid out by [`Model::layout`].
#[derive(Debug, Clone)]
pub struct GraphModel {
    spec: GraphSpec,
    g1: GraphConv,
    g2: GraphConv,
    off: Offsets,
}

#[derive(Debug, Clone, Copy)]
struct Offsets {
    g1: usize,
    g2: usize,
    mlp_w: usize,
    mlp_b: usize,
    out_w: usize,
    out_b: usize,
    total: usize,
}

/// What [`GraphModel::forward`] keeps for the backward pass (one chunk of samples).
#[derive(Debug, Clone, Default)]
pub struct GraphCache<T> {
    batch: usize,
    /// Gathered node features `[B·N, F]`.
    x: Vec<T>,
    /// Gathered mask `[B, N]`.
    mask: Vec<T>,
    /// Row-normalised masked adjacency `[B, N, N]`.
    p: Vec<T>,
    /// Layer 1; its `out` holds the output AFTER dropout (the input of layer 2).
    l1: GraphConvCache<T>,
    /// Dropout mask after layer 1 `[B, N·Hg]` (empty when off).
    d1: Vec<T>,
    l2: GraphConvCache<T>,
    /// `1 / max(Σ_i m_i, 1)` per sample.
    inv_count: Vec<T>,
    /// `[pooled, market]`, `[B, Hg + G]`.
    zin: Vec<T>,
    /// Readout after ReLU and dropout, `[B, Hr]`.
    z: Vec<T>,
    /// Dropout mask after the readout `[B, Hr]` (empty when off).
    d2: Vec<T>,
}

impl GraphModel {
    pub fn new(spec: GraphSpec) -> Result<Self, DataError> {
        let GraphSpec {
            nodes,
            features,
            market: _,
            hidden,
            readout,
            classes,
            dropout,
        } = spec;
        if nodes == 0 {
            return Err(DataError::arg("graph model: nodes must be at least 1"));
        }
        if features == 0 {
            return Err(DataError::arg("graph model: features must be at least 1"));
        }
        if hidden == 0 || readout == 0 {
            return Err(DataError::arg(format!(
                "graph model: hidden ({hidden}) and readout ({readout}) widths must be at least 1"
            )));
        }
        if classes < 2 {
            return Err(DataError::arg(format!(
                "graph model: classes must be at least 2, got {classes}"
            )));
        }
        if !(0.0..1.0).contains(&dropout) {
            return Err(DataError::arg(format!(
                "graph model: dropout must be in [0, 1), got {dropout}"
            )));
        }
        let g1 = GraphConv::new(features, hidden);
        let g2 = GraphConv::new(hidden, hidden);
        let mut m = GraphModel {
            spec,
            g1,
            g2,
            off: Offsets {
                g1: 0,
                g2: 0,
                mlp_w: 0,
                mlp_b: 0,
                out_w: 0,
                out_b: 0,
                total: 0,
            },
        };
        let lay = Model::<f64>::layout(&m);
        let at = |name: &str| {
            lay.iter()
                .find(|t| t.name == name)
                .map(|t| t.offset)
                .unwrap()
        };
        m.off = Offsets {
            g1: at("g1.Ws"),
            g2: at("g2.Ws"),
            mlp_w: at("mlp1.W"),
            mlp_b: at("mlp1.b"),
            out_w: at("out.W"),
            out_b: at("out.b"),
            total: lay.iter().map(|t| t.len()).sum(),
        };
        Ok(m)
    }

    pub fn spec(&self) -> &GraphSpec {
        &self.spec
    }

    /// Width of the readout input `Hg + G`.
    fn zin_width(&self) -> usize {
        self.spec.hidden + self.spec.market
    }

    /// Checks a dataset against the spec and returns its number of samples: consistent
    /// lengths, every value finite, `mask` in {0, 1}, `adj ≥ 0` with a zero diagonal.
    pub fn check_input<T: Real>(&self, x: &GraphInput<T>) -> Result<usize, DataError> {
        let GraphSpec {
            nodes: n,
            features: f,
            market: g,
            ..
        } = self.spec;
        if !x.mask.len().is_multiple_of(n) {
            return Err(DataError::arg(format!(
                "graph input: mask has {} values, not a multiple of nodes = {n}",
                x.mask.len()
            )));
        }
        let samples = x.mask.len() / n;
        let want = |name: &str, len: usize, per: usize, shape: &str| {
            if len == samples * per {
                Ok(())
            } else {
                Err(DataError::arg(format!(
                    "graph input: {name} has {len} values, expected {} = {samples} samples × {shape} (from mask)",
                    samples * per
                )))
            }
        };
        want("x", x.x.len(), n * f, &format!("{n} nodes × {f} features"))?;
        want("adj", x.adj.len(), n * n, &format!("{n} × {n} nodes"))?;
        want("market", x.market.len(), g, &format!("{g} market features"))?;

        if let Some(k) = x.mask.iter().position(|&v| v != T::zero() && v != T::one()) {
            return Err(DataError::arg(format!(
                "graph input: mask[{k}] (sample {}, node {}) = {:?}, must be 0 or 1",
                k / n,
                k % n,
                x.mask[k]
            )));
        }
        if let Some(k) = x.x.iter().position(|v| !v.is_finite()) {
            return Err(DataError::arg(format!(
                "graph input: x[{k}] (sample {}, node {}, feature {}) = {:?}, must be finite \
                 (fill masked nodes with 0)",
                k / (n * f),
                (k / f) % n,
                k % f,
                x.x[k]
            )));
        }
        if let Some(k) = x.adj.iter().position(|&v| !v.is_finite() || v < T::zero()) {
            return Err(DataError::arg(format!(
                "graph input: adj[{k}] (sample {}, edge {} → {}) = {:?}, must be finite and ≥ 0",
                k / (n * n),
                (k / n) % n,
                k % n,
                x.adj[k]
            )));
        }
        if let Some(k) = (0..samples * n)
            .map(|r| (r / n) * n * n + (r % n) * (n + 1))
            .find(|&k| x.adj[k] != T::zero())
        {
            return Err(DataError::arg(format!(
                "graph input: adj[{k}] (sample {}, diagonal entry of node {}) = {:?}, the diagonal must be 0",
                k / (n * n),
                (k % (n * n)) / n,
                x.adj[k]
            )));
        }
        if let Some(k) = x.market.iter().position(|v| !v.is_finite()) {
            return Err(DataError::arg(format!(
                "graph input: market[{k}] (sample {}, feature {}) = {:?}, must be finite",
                k / g.max(1),
                k % g.max(1),
                x.market[k]
            )));
        }
        Ok(samples)
    }
}

/// `bound = 1/√fan_in`, as PyTorch's `nn.Linear` (Kaiming-uniform with a = √5 for `W`, and
/// its bias rule for `b`).
fn fan_in_of(name: &str, spec: &GraphSpec) -> usize {
    match name {
        "g1.Ws" | "g1.Wn" | "g1.b" => spec.features,
        "g2.Ws" | "g2.Wn" | "g2.b" => spec.hidden,
        "mlp1.W" | "mlp1.b" => spec.hidden + spec.market,
        _ => spec.readout,
    }
}

impl<T: Real> Model<T> for GraphModel {
    type Input<'a> = GraphInput<'a, T>;
    type Cache = GraphCache<T>;

    fn layout(&self) -> Vec<ParamTensor> {
        let GraphSpec {
            features: f,
            market: g,
            hidden: hg,
            readout: hr,
            classes: k,
            ..
        } = self.spec;
        layout_of(&[
            ("g1.Ws", &[hg, f]),
            ("g1.Wn", &[hg, f]),
            ("g1.b", &[hg]),
            ("g2.Ws", &[hg, hg]),
            ("g2.Wn", &[hg, hg]),
            ("g2.b", &[hg]),
            ("mlp1.W", &[hr, hg + g]),
            ("mlp1.b", &[hr]),
            ("out.W", &[k, hr]),
            ("out.b", &[k]),
        ])
    }

    fn n_params(&self) -> usize {
        self.off.total
    }

    fn n_classes(&self) -> usize {
        self.spec.classes
    }

    fn n_samples(&self, x: &GraphInput<'_, T>) -> usize {
        x.mask.len() / self.spec.nodes
    }

    /// Every tensor `U(−1/√fan_in, 1/√fan_in)` in layout order from one ChaCha8 stream
    /// seeded by `seed`; values are drawn in f64 so f32 and f64 models start alike.
    fn init(&self, seed: u64) -> Vec<T> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut p = Vec::with_capacity(self.off.total);
        for t in <Self as Model<T>>::layout(self) {
            let bound = 1.0 / (fan_in_of(&t.name, &self.spec) as f64).sqrt();
            p.extend((0..t.len()).map(|_| T::from_f64(rng.random_range(-bound..bound))));
        }
        p
    }

    fn forward(
        &self,
        p: &[T],
        x: &GraphInput<'_, T>,
        rows: &[usize],
        dropout: Option<DropoutCtx>,
        logits: &mut [T],
    ) -> GraphCache<T> {
        let GraphSpec {
            nodes: n,
            features: f,
            market: g,
            hidden: hg,
            readout: hr,
            classes: k,
            ..
        } = self.spec;
        let b = rows.len();
        let o = self.off;
        assert!(p.len() >= o.total && logits.len() >= b * k);
        let mut c = GraphCache {
            batch: b,
            ..GraphCache::default()
        };

        // Gather the chunk's graphs and normalise their adjacencies once for both layers.
        c.x.reserve_exact(b * n * f);
        c.mask.reserve_exact(b * n);
        c.p.resize(b * n * n, T::zero());
        for (i, &r) in rows.iter().enumerate() {
            c.x.extend_from_slice(&x.x[r * n * f..(r + 1) * n * f]);
            c.mask.extend_from_slice(&x.mask[r * n..(r + 1) * n]);
            mean_adjacency_one(
                &x.adj[r * n * n..(r + 1) * n * n],
                &x.mask[r * n..(r + 1) * n],
                &mut c.p[i * n * n..(i + 1) * n * n],
            );
        }

        let w1 = &p[o.g1..o.g1 + self.g1.n_params()];
        let w2 = &p[o.g2..o.g2 + self.g2.n_params()];
        self.g1.forward(w1, &c.x, &c.p, &c.mask, b, n, &mut c.l1);
        // In place: a kept unit stays > 0 exactly where it was, so layer 1's backward can
        // still read its ReLU pattern from the dropped-out output.
        c.d1 = dropout::forward(
            dropout,
            rows,
            DROPOUT_SALT_NODES,
            self.spec.dropout,
            n * hg,
            &mut c.l1.out,
        );
        self.g2
            .forward(w2, &c.l1.out, &c.p, &c.mask, b, n, &mut c.l2);

        // Masked mean pool, then the market features.
        let zw = hg + g;
        c.zin = vec![T::zero(); b * zw];
        c.inv_count = Vec::with_capacity(b);
        for (i, &r) in rows.iter().enumerate() {
            let m = &c.mask[i * n..(i + 1) * n];
            let count = m.iter().fold(T::zero(), |s, &v| s + v);
            let inv = T::one() / if count > T::one() { count } else { T::one() };
            c.inv_count.push(inv);
            let zi = &mut c.zin[i * zw..(i + 1) * zw];
            let pooled = &mut zi[..hg];
            for (j, &mj) in m.iter().enumerate() {
                if mj != T::zero() {
                    for (acc, &h) in pooled
                        .iter_mut()
                        .zip(&c.l2.out[(i * n + j) * hg..(i * n + j + 1) * hg])
                    {
                        *acc = *acc + mj * h;
                    }
                }
            }
            for v in pooled.iter_mut() {
                *v = *v * inv;
            }
            zi[hg..].copy_from_slice(&x.market[r * g..(r + 1) * g]);
        }

        c.z = vec![T::zero(); b * hr];
        dense::forward(
            &c.zin,
            &p[o.mlp_w..o.mlp_b],
            &p[o.mlp_b..o.out_w],
            b,
            zw,
            hr,
            &mut c.z,
        );
        relu_inplace(&mut c.z);
        c.d2 = dropout::forward(
            dropout,
            rows,
            DROPOUT_SALT_READOUT,
            self.spec.dropout,
            hr,
            &mut c.z,
        );
        dense::forward(
            &c.z,
            &p[o.out_w..o.out_b],
            &p[o.out_b..o.total],
            b,
            hr,
            k,
            logits,
        );
        c
    }

    fn backward(
        &self,
        p: &[T],
        _x: &GraphInput<'_, T>,
        rows: &[usize],
        c: &GraphCache<T>,
        dlogits: &[T],
        grad: &mut [T],
    ) {
        let GraphSpec {
            nodes: n,
            hidden: hg,
            readout: hr,
            classes: k,
            ..
        } = self.spec;
        let b = rows.len();
        assert_eq!(b, c.batch, "graph model: backward rows differ from forward");
        let o = self.off;
        assert!(grad.len() >= o.total && dlogits.len() >= b * k);
        let zw = self.zin_width();
        let (g_graph, g_rest) = grad.split_at_mut(o.mlp_w);
        let (g_mlp, g_out) = g_rest[..o.total - o.mlp_w].split_at_mut(o.out_w - o.mlp_w);
        let (g_mlp_w, g_mlp_b) = g_mlp.split_at_mut(o.mlp_b - o.mlp_w);
        let (g_out_w, g_out_b) = g_out.split_at_mut(o.out_b - o.out_w);

        // Output layer, readout dropout and ReLU.
        let mut dz = vec![T::zero(); b * hr];
        dense::backward(
            &c.z,
            &p[o.out_w..o.out_b],
            dlogits,
            b,
            hr,
            k,
            Some(&mut dz),
            g_out_w,
            g_out_b,
        );
        dropout::backward(&c.d2, &mut dz);
        relu_backward(&c.z, &mut dz);

        // Readout layer.
        let mut dzin = vec![T::zero(); b * zw];
        dense::backward(
            &c.zin,
            &p[o.mlp_w..o.mlp_b],
            &dz,
            b,
            zw,
            hr,
            Some(&mut dzin),
            g_mlp_w,
            g_mlp_b,
        );

        // Masked mean pool: dh2_i = m_i · dpooled / max(Σ m, 1).
        let mut dh2 = vec![T::zero(); b * n * hg];
        for i in 0..b {
            let dpooled = &dzin[i * zw..i * zw + hg];
            let inv = c.inv_count[i];
            for j in 0..n {
                let s = c.mask[i * n + j] * inv;
                if s != T::zero() {
                    for (d, &v) in dh2[(i * n + j) * hg..(i * n + j + 1) * hg]
                        .iter_mut()
                        .zip(dpooled)
                    {
                        *d = s * v;
                    }
                }
            }
        }

        // Graph layers.
        let (g_w1, g_w2) = g_graph.split_at_mut(o.g2 - o.g1);
        let w1 = &p[o.g1..o.g1 + self.g1.n_params()];
        let w2 = &p[o.g2..o.g2 + self.g2.n_params()];
        let mut dh1 = vec![T::zero(); b * n * hg];
        self.g2
            .backward(w2, &c.l1.out, &c.p, b, n, &c.l2, &dh2, Some(&mut dh1), g_w2);
        dropout::backward(&c.d1, &mut dh1);
        self.g1
            .backward(w1, &c.x, &c.p, b, n, &c.l1, &dh1, None, g_w1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn spec(dropout: f64) -> GraphSpec {
        GraphSpec {
            nodes: 5,
            features: 3,
            market: 2,
            hidden: 6,
            readout: 4,
            classes: 3,
            dropout,
        }
    }

    /// A random dataset with some masked nodes (features left random: the mask must hide them).
    pub(super) struct Data {
        pub x: Vec<f64>,
        pub adj: Vec<f64>,
        pub mask: Vec<f64>,
        pub market: Vec<f64>,
    }

    impl Data {
        pub fn input(&self) -> GraphInput<'_, f64> {
            GraphInput {
                x: &self.x,
                adj: &self.adj,
                mask: &self.mask,
                market: &self.market,
            }
        }
    }

    pub(super) fn data(s: &GraphSpec, samples: usize, seed: u64) -> Data {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = s.nodes;
        let x = (0..samples * n * s.features)
            .map(|_| rng.random_range(-1.5..1.5))
            .collect();
        let market = (0..samples * s.market)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let mut adj = vec![0.0; samples * n * n];
        let mut mask = vec![1.0; samples * n];
        for q in 0..samples {
            for i in 0..n {
                if rng.random_bool(0.2) {
                    mask[q * n + i] = 0.0;
                }
                for j in 0..n {
                    if i != j && rng.random_bool(0.6) {
                        adj[(q * n + i) * n + j] = rng.random_range(0.0..1.0);
                    }
                }
            }
        }
        Data {
            x,
            adj,
            mask,
            market,
        }
    }

    fn logits(
        m: &GraphModel,
        p: &[f64],
        x: &GraphInput<f64>,
        rows: &[usize],
        d: Option<DropoutCtx>,
    ) -> Vec<f64> {
        let mut out = vec![0.0; rows.len() * m.spec.classes];
        Model::<f64>::forward(m, p, x, rows, d, &mut out);
        out
    }

    #[test]
    fn layout_follows_the_contract() {
        let m = GraphModel::new(spec(0.0)).unwrap();
        let lay = Model::<f32>::layout(&m);
        let names: Vec<&str> = lay.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "g1.Ws", "g1.Wn", "g1.b", "g2.Ws", "g2.Wn", "g2.b", "mlp1.W", "mlp1.b", "out.W",
                "out.b"
            ]
        );
        let shapes: Vec<Vec<usize>> = lay.iter().map(|t| t.shape.clone()).collect();
        assert_eq!(
            shapes,
            vec![
                vec![6, 3],
                vec![6, 3],
                vec![6],
                vec![6, 6],
                vec![6, 6],
                vec![6],
                vec![4, 8],
                vec![4],
                vec![3, 4],
                vec![3]
            ]
        );
        let n = Model::<f32>::n_params(&m);
        assert_eq!(n, 18 * 2 + 6 + 36 * 2 + 6 + 32 + 4 + 12 + 3);
        assert_eq!(Model::<f32>::init(&m, 1).len(), n);
        // The production size named in the brief: 13 nodes, 64 hidden → about 20k params.
        let big = GraphModel::new(GraphSpec {
            nodes: 13,
            features: 8,
            market: 6,
            hidden: 64,
            readout: 32,
            classes: 3,
            dropout: 0.2,
        })
        .unwrap();
        let nb = Model::<f32>::n_params(&big);
        assert!(nb > 10_000 && nb < 30_000, "{nb}");
    }

    #[test]
    fn init_is_deterministic_and_bounded() {
        let m = GraphModel::new(spec(0.0)).unwrap();
        let a: Vec<f32> = m.init(7);
        let b: Vec<f32> = m.init(7);
        let c: Vec<f32> = m.init(8);
        assert_eq!(a, b);
        assert_ne!(a, c);
        let d: Vec<f64> = m.init(7);
        for (x, y) in a.iter().zip(&d) {
            assert_eq!(*x, *y as f32);
        }
        for t in Model::<f32>::layout(&m) {
            let bound = 1.0 / (fan_in_of(&t.name, &m.spec) as f32).sqrt();
            assert!(
                a[t.offset..t.offset + t.len()]
                    .iter()
                    .all(|v| v.abs() <= bound),
                "{}",
                t.name
            );
        }
    }

    #[test]
    fn forward_matches_a_direct_transcription() {
        let s = spec(0.0);
        let m = GraphModel::new(s).unwrap();
        let d = data(&s, 4, 3);
        let x = d.input();
        let p: Vec<f64> = m.init(5);
        let got = logits(&m, &p, &x, &[2, 0, 3], None);
        let lay = Model::<f64>::layout(&m);
        let t = |name: &str| {
            let t = lay.iter().find(|t| t.name == name).unwrap();
            &p[t.offset..t.offset + t.len()]
        };
        let n = s.nodes;
        let conv = |h: &Vec<Vec<f64>>,
                    adj: &[f64],
                    mask: &[f64],
                    pre: &str,
                    fin: usize|
         -> Vec<Vec<f64>> {
            let (ws, wn, b) = (
                t(&format!("{pre}.Ws")),
                t(&format!("{pre}.Wn")),
                t(&format!("{pre}.b")),
            );
            (0..n)
                .map(|i| {
                    let a = |j: usize| adj[i * n + j] * mask[i] * mask[j];
                    let deg = (0..n).map(a).sum::<f64>().max(1e-6);
                    let nb: Vec<f64> = (0..fin)
                        .map(|f| (0..n).map(|j| a(j) * h[j][f]).sum::<f64>() / deg)
                        .collect();
                    (0..s.hidden)
                        .map(|o| {
                            let v = b[o]
                                + (0..fin)
                                    .map(|f| ws[o * fin + f] * h[i][f] + wn[o * fin + f] * nb[f])
                                    .sum::<f64>();
                            v.max(0.0) * mask[i]
                        })
                        .collect()
                })
                .collect()
        };
        for (bi, &r) in [2usize, 0, 3].iter().enumerate() {
            let adj = &d.adj[r * n * n..(r + 1) * n * n];
            let mask = &d.mask[r * n..(r + 1) * n];
            let h0: Vec<Vec<f64>> = (0..n)
                .map(|i| d.x[(r * n + i) * s.features..(r * n + i + 1) * s.features].to_vec())
                .collect();
            let h1 = conv(&h0, adj, mask, "g1", s.features);
            let h2 = conv(&h1, adj, mask, "g2", s.hidden);
            let cnt = mask.iter().sum::<f64>().max(1.0);
            let mut zin: Vec<f64> = (0..s.hidden)
                .map(|f| (0..n).map(|i| mask[i] * h2[i][f]).sum::<f64>() / cnt)
                .collect();
            zin.extend_from_slice(&d.market[r * s.market..(r + 1) * s.market]);
            let zw = zin.len();
            let (w, b) = (t("mlp1.W"), t("mlp1.b"));
            let z: Vec<f64> = (0..s.readout)
                .map(|o| (b[o] + (0..zw).map(|q| w[o * zw + q] * zin[q]).sum::<f64>()).max(0.0))
                .collect();
            let (w, b) = (t("out.W"), t("out.b"));
            for c in 0..s.classes {
                let want = b[c]
                    + (0..s.readout)
                        .map(|q| w[c * s.readout + q] * z[q])
                        .sum::<f64>();
                let g = got[bi * s.classes + c];
                assert!(
                    (g - want).abs() < 1e-12,
                    "sample {r} class {c}: {g} vs {want}"
                );
            }
        }
    }

    /// `L = Σ logits ⊙ coef`; its gradient w.r.t. the parameters by central differences.
    fn numeric(
        m: &GraphModel,
        p: &[f64],
        x: &GraphInput<f64>,
        rows: &[usize],
        d: Option<DropoutCtx>,
        coef: &[f64],
        eps: f64,
    ) -> Vec<f64> {
        let mut q = p.to_vec();
        (0..p.len())
            .map(|i| {
                q[i] = p[i] + eps;
                let lp: f64 = logits(m, &q, x, rows, d)
                    .iter()
                    .zip(coef)
                    .map(|(a, b)| a * b)
                    .sum();
                q[i] = p[i] - eps;
                let lm: f64 = logits(m, &q, x, rows, d)
                    .iter()
                    .zip(coef)
                    .map(|(a, b)| a * b)
                    .sum();
                q[i] = p[i];
                (lp - lm) / (2.0 * eps)
            })
            .collect()
    }

    /// Whole-model central differences, ε = 1e-5, |num − ana| ≤ 1e-7 + 1e-6·|num|, with
    /// dropout off and on (fixed context: the masks are constants of the check).
    #[test]
    fn model_gradient_matches_central_differences() {
        for (p_drop, ctx) in [
            (0.0, None),
            (0.3, Some(DropoutCtx { seed: 11, epoch: 2 })),
            (0.3, None),
        ] {
            let s = spec(p_drop);
            let m = GraphModel::new(s).unwrap();
            let d = data(&s, 6, 21);
            let x = d.input();
            let p: Vec<f64> = m.init(4);
            let rows = [4, 1, 5, 0];
            let mut rng = ChaCha8Rng::seed_from_u64(99);
            let coef: Vec<f64> = (0..rows.len() * s.classes)
                .map(|_| rng.random_range(-1.0..1.0))
                .collect();
            let mut out = vec![0.0; rows.len() * s.classes];
            let cache = Model::<f64>::forward(&m, &p, &x, &rows, ctx, &mut out);
            let mut grad = vec![0.5; p.len()];
            Model::<f64>::backward(&m, &p, &x, &rows, &cache, &coef, &mut grad);
            grad.iter_mut().for_each(|v| *v -= 0.5);
            let num = numeric(&m, &p, &x, &rows, ctx, &coef, 1e-5);
            for t in Model::<f64>::layout(&m) {
                for i in t.offset..t.offset + t.len() {
                    assert!(
                        (num[i] - grad[i]).abs() <= 1e-7 + 1e-6 * num[i].abs(),
                        "dropout {ctx:?} {}[{}]: numeric {} analytic {}",
                        t.name,
                        i - t.offset,
                        num[i],
                        grad[i]
                    );
                }
                // Every tensor receives some gradient.
                assert!(
                    grad[t.offset..t.offset + t.len()].iter().any(|&g| g != 0.0),
                    "{} has no gradient",
                    t.name
                );
            }
        }
    }

    #[test]
    fn dropout_masks_depend_on_the_row_not_the_batch() {
        let s = spec(0.4);
        let m = GraphModel::new(s).unwrap();
        let d = data(&s, 6, 5);
        let x = d.input();
        let p: Vec<f64> = m.init(1);
        let ctx = Some(DropoutCtx { seed: 3, epoch: 1 });
        let a = logits(&m, &p, &x, &[1, 3, 5], ctx);
        let b = logits(&m, &p, &x, &[3], ctx);
        assert_eq!(&a[3..6], &b[..]);
        // Dropout changes the output; inference is deterministic and differs from training.
        let inf = logits(&m, &p, &x, &[1, 3, 5], None);
        assert_ne!(a, inf);
        let other = logits(
            &m,
            &p,
            &x,
            &[1, 3, 5],
            Some(DropoutCtx { seed: 3, epoch: 2 }),
        );
        assert_ne!(a, other);
    }

    #[test]
    fn node_permutation_leaves_logits_unchanged() {
        let s = spec(0.0);
        let m = GraphModel::new(s).unwrap();
        let d = data(&s, 3, 8);
        let p: Vec<f64> = m.init(2);
        let n = s.nodes;
        let perm = [3usize, 0, 4, 1, 2]; // new node i is old node perm[i]
        let mut e = Data {
            x: d.x.clone(),
            adj: d.adj.clone(),
            mask: d.mask.clone(),
            market: d.market.clone(),
        };
        for q in 0..3 {
            for i in 0..n {
                e.mask[q * n + i] = d.mask[q * n + perm[i]];
                for f in 0..s.features {
                    e.x[(q * n + i) * s.features + f] = d.x[(q * n + perm[i]) * s.features + f];
                }
                for j in 0..n {
                    e.adj[(q * n + i) * n + j] = d.adj[(q * n + perm[i]) * n + perm[j]];
                }
            }
        }
        let a = logits(&m, &p, &d.input(), &[0, 1, 2], None);
        let b = logits(&m, &p, &e.input(), &[0, 1, 2], None);
        for (u, v) in a.iter().zip(&b) {
            assert!((u - v).abs() < 1e-12, "{u} vs {v}");
        }
    }

    #[test]
    fn masked_node_features_and_edges_do_not_matter() {
        let s = spec(0.3);
        let m = GraphModel::new(s).unwrap();
        let mut d = data(&s, 2, 9);
        let n = s.nodes;
        d.mask[1] = 0.0;
        d.mask[n + 4] = 0.0;
        let p: Vec<f64> = m.init(6);
        let ctx = Some(DropoutCtx { seed: 1, epoch: 0 });
        let a = logits(&m, &p, &d.input(), &[0, 1], ctx);
        for f in 0..s.features {
            d.x[s.features + f] = 1e3 * (f as f64 + 1.0);
            d.x[(n + 4) * s.features + f] = -7e2;
        }
        for j in 0..n {
            if j != 1 {
                d.adj[n + j] = 5.0; // edges 1 → j
                d.adj[j * n + 1] = 9.0; // edges j → 1
            }
        }
        let b = logits(&m, &p, &d.input(), &[0, 1], ctx);
        assert_eq!(a, b);
        // A fully masked graph pools to zero: its logits depend on the market features only.
        let mut e = data(&s, 1, 10);
        e.mask.iter_mut().for_each(|v| *v = 0.0);
        let l1 = logits(&m, &p, &e.input(), &[0], None);
        e.x.iter_mut().for_each(|v| *v += 3.0);
        let l2 = logits(&m, &p, &e.input(), &[0], None);
        assert_eq!(l1, l2);
    }

    #[test]
    fn zero_adjacency_uses_self_features_only() {
        // With no edges, n_i = 0, so g1.Wn and g2.Wn do not matter.
        let s = spec(0.0);
        let m = GraphModel::new(s).unwrap();
        let mut d = data(&s, 3, 12);
        d.adj.iter_mut().for_each(|v| *v = 0.0);
        let p: Vec<f64> = m.init(3);
        let a = logits(&m, &p, &d.input(), &[0, 1, 2], None);
        let mut q = p.clone();
        for t in Model::<f64>::layout(&m) {
            if t.name.ends_with(".Wn") {
                q[t.offset..t.offset + t.len()]
                    .iter_mut()
                    .for_each(|v| *v = 123.0);
            }
        }
        let b = logits(&m, &q, &d.input(), &[0, 1, 2], None);
        assert_eq!(a, b);
    }

    #[test]
    fn bad_inputs_are_reported() {
        let s = spec(0.0);
        let m = GraphModel::new(s).unwrap();
        let d = data(&s, 3, 13);
        assert_eq!(m.check_input(&d.input()), Ok(3));
        let err = |e: &Data| m.check_input(&e.input()).unwrap_err().to_string();
        let base = || Data {
            x: d.x.clone(),
            adj: d.adj.clone(),
            mask: d.mask.clone(),
            market: d.market.clone(),
        };

        let mut e = base();
        e.mask.pop();
        assert!(err(&e).contains("not a multiple of nodes"), "{}", err(&e));
        let mut e = base();
        e.x.pop();
        assert!(
            err(&e).contains("x has 44 values, expected 45"),
            "{}",
            err(&e)
        );
        let mut e = base();
        e.adj.push(0.0);
        assert!(
            err(&e).starts_with("graph input: adj has 76"),
            "{}",
            err(&e)
        );
        let mut e = base();
        e.market.push(0.0);
        assert!(
            err(&e).starts_with("graph input: market has 7"),
            "{}",
            err(&e)
        );
        let mut e = base();
        e.mask[7] = 0.5;
        assert!(
            err(&e).contains("mask[7] (sample 1, node 2)"),
            "{}",
            err(&e)
        );
        let mut e = base();
        e.mask[8] = f64::NAN;
        assert!(err(&e).contains("mask[8]"), "{}", err(&e));
        let mut e = base();
        e.x[20] = f64::NAN;
        e.x[30] = f64::NAN;
        assert!(
            err(&e).contains("x[20] (sample 1, node 1, feature 2) = NaN"),
            "{}",
            err(&e)
        );
        let mut e = base();
        e.adj[26] = -0.1;
        assert!(
            err(&e).contains("adj[26] (sample 1, edge 0 → 1)"),
            "{}",
            err(&e)
        );
        let mut e = base();
        e.adj[27] = f64::INFINITY;
        assert!(err(&e).contains("adj[27]"), "{}", err(&e));
        let mut e = base();
        e.adj[25 + 2 * 6] = 0.5;
        assert!(
            err(&e).contains("adj[37] (sample 1, diagonal entry of node 2)"),
            "{}",
            err(&e)
        );
        let mut e = base();
        e.market[3] = f64::NEG_INFINITY;
        assert!(
            err(&e).contains("market[3] (sample 1, feature 1)"),
            "{}",
            err(&e)
        );

        for bad in [
            GraphSpec { nodes: 0, ..s },
            GraphSpec { features: 0, ..s },
            GraphSpec { hidden: 0, ..s },
            GraphSpec { readout: 0, ..s },
            GraphSpec { classes: 1, ..s },
            GraphSpec { dropout: 1.0, ..s },
            GraphSpec { dropout: -0.1, ..s },
            GraphSpec {
                dropout: f64::NAN,
                ..s
            },
        ] {
            assert!(GraphModel::new(bad).is_err(), "{bad:?}");
        }
        assert!(GraphModel::new(GraphSpec { market: 0, ..s }).is_ok());
    }

    #[test]
    fn f32_forward_matches_f64() {
        let s = spec(0.25);
        let m = GraphModel::new(s).unwrap();
        let d = data(&s, 5, 14);
        let p64: Vec<f64> = m.init(9);
        let p32: Vec<f32> = m.init(9);
        let ctx = Some(DropoutCtx { seed: 2, epoch: 5 });
        let rows = [0, 2, 4, 1];
        let a = logits(&m, &p64, &d.input(), &rows, ctx);
        let to32 = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
        let (x, adj, mask, market) = (to32(&d.x), to32(&d.adj), to32(&d.mask), to32(&d.market));
        let x32 = GraphInput {
            x: &x,
            adj: &adj,
            mask: &mask,
            market: &market,
        };
        let mut b = vec![0.0f32; rows.len() * s.classes];
        Model::<f32>::forward(&m, &p32, &x32, &rows, ctx, &mut b);
        for (u, v) in a.iter().zip(&b) {
            assert!((u - *v as f64).abs() < 1e-5, "{u} vs {v}");
        }
    }

    /// The shared checker: weighted cross-entropy, every parameter (171 ≤ 300), ε = 1e-5,
    /// rel ≤ 1e-6 (or |a − n| ≤ 1e-9), dropout on (fixed context) and off.
    #[test]
    fn gradcheck_check_model() {
        use crate::nn::gradcheck::check_model;
        for p_drop in [0.0, 0.35] {
            let s = spec(p_drop);
            let m = GraphModel::new(s).unwrap();
            let d = data(&s, 8, 31);
            let p: Vec<f64> = m.init(17);
            let rows = [7, 2, 0, 5, 3];
            let labels = [0u32, 2, 1, 1, 0];
            let r = check_model(
                &m,
                &p,
                &d.input(),
                &rows,
                &labels,
                &[0.5, 2.0, 1.0],
                1e-5,
                1e-6,
            );
            assert_eq!(r.checked, Model::<f64>::n_params(&m));
            assert!(
                r.max_rel_dropout_on < 1e-6 && r.max_rel_dropout_off < 1e-6,
                "{r:?}"
            );
        }
    }

    /// `(x, adj, mask, market, labels)`.
    pub(super) type Synthetic = (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>, Vec<u32>);

    /// Synthetic task whose label needs the graph: node signal `x_0 ∝ z ± 1.5·P z` (P the
    /// row-normalised masked adjacency, `z` uniform noise, standardised over the present
    /// nodes), i.e. node values positively (class 1) or negatively (class 0) correlated with
    /// their neighbours' mean; class 2 whenever the first market feature exceeds 0.5.
    /// Features 1 and 2 are noise; masked nodes carry garbage.
    pub(super) fn synthetic(s: &GraphSpec, samples: usize, seed: u64) -> Synthetic {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (n, f, g) = (s.nodes, s.features, s.market);
        let (mut x, mut adj, mut mask, mut market, mut y) =
            (vec![], vec![], vec![], vec![], vec![]);
        let mut pa = vec![0.0f64; n * n];
        for _ in 0..samples {
            let mut a = vec![0.0f64; n * n];
            for i in 0..n {
                for j in 0..n {
                    if i != j && rng.random_bool(0.3) {
                        a[i * n + j] = rng.random_range(0.2..1.0);
                    }
                }
            }
            let m: Vec<f64> = (0..n)
                .map(|_| if rng.random_bool(0.15) { 0.0 } else { 1.0 })
                .collect();
            mean_adjacency_one(&a, &m, &mut pa);
            let z: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
            let homophily = rng.random_bool(0.5);
            let sign = if homophily { 1.5 } else { -1.5 };
            let mk: Vec<f64> = (0..g).map(|_| rng.random_range(-1.0..1.0)).collect();
            // Standardised over the present nodes, so the values alone (mean, spread) say
            // nothing about the class: only their arrangement on the graph does.
            let v0: Vec<f64> = (0..n)
                .map(|i| z[i] + sign * (0..n).map(|j| pa[i * n + j] * z[j]).sum::<f64>())
                .collect();
            let cnt = m.iter().sum::<f64>().max(1.0);
            let mean = (0..n).map(|i| m[i] * v0[i]).sum::<f64>() / cnt;
            let sd = ((0..n).map(|i| m[i] * (v0[i] - mean).powi(2)).sum::<f64>() / cnt)
                .sqrt()
                .max(1e-9);
            for i in 0..n {
                for q in 0..f {
                    let v = if m[i] == 0.0 {
                        rng.random_range(-3.0..3.0)
                    } else if q == 0 {
                        (v0[i] - mean) / sd
                    } else {
                        rng.random_range(-1.0..1.0)
                    };
                    x.push(v as f32);
                }
            }
            y.push(if mk[0] > 0.5 { 2 } else { homophily as u32 });
            adj.extend(a.iter().map(|&v| v as f32));
            mask.extend(m.iter().map(|&v| v as f32));
            market.extend(mk.iter().map(|&v| v as f32));
        }
        (x, adj, mask, market, y)
    }

    #[test]
    fn learns_a_graph_dependent_task_deterministically() {
        use crate::nn::train::{argmax, macro_f1, predict_proba, train, TrainConfig};
        let s = GraphSpec {
            nodes: 13,
            features: 3,
            market: 2,
            hidden: 16,
            readout: 16,
            classes: 3,
            dropout: 0.1,
        };
        let m = GraphModel::new(s).unwrap();
        let (tx, ta, tm, tg, ty) = synthetic(&s, 2000, 1);
        let (vx, va, vm, vg, vy) = synthetic(&s, 500, 2);
        let tin = GraphInput {
            x: &tx,
            adj: &ta,
            mask: &tm,
            market: &tg,
        };
        let vin = GraphInput {
            x: &vx,
            adj: &va,
            mask: &vm,
            market: &vg,
        };
        assert_eq!(m.check_input(&tin), Ok(2000));
        assert_eq!(m.check_input(&vin), Ok(500));
        let cfg = TrainConfig {
            lr: 3e-3,
            max_epochs: 40,
            patience: 0,
            batch_size: 32,
            seed: 5,
            ..TrainConfig::default()
        };
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                train(
                    &m,
                    Model::<f32>::init(&m, 5),
                    &tin,
                    &ty,
                    &vin,
                    &vy,
                    &cfg,
                    &mut |_| true,
                )
                .unwrap()
            })
        };
        let one = run(1);
        let four = run(4);
        assert_eq!(one.params, four.params, "1 and 4 threads differ");
        assert_eq!(
            one.history.iter().map(|h| h.train_loss).collect::<Vec<_>>(),
            four.history
                .iter()
                .map(|h| h.train_loss)
                .collect::<Vec<_>>()
        );
        let probs = predict_proba(&m, &one.params, &vin);
        let pred: Vec<u32> = probs.chunks_exact(3).map(argmax).collect();
        let f1 = macro_f1(&vy, &pred, 3);
        eprintln!(
            "graph synthetic: val macro-F1 {f1:.3} (best epoch {}, reported {:.3})",
            one.best_epoch, one.best_val_macro_f1
        );
        assert!((f1 - one.best_val_macro_f1).abs() < 1e-12);
        assert!(f1 > 0.8, "val macro-F1 {f1}");

        // Control: the same data with the edges removed is not separable (class 2 from the
        // market feature stays learnable, classes 0/1 become coin flips: macro-F1 ≈ 0.67).
        let (ta0, va0) = (vec![0.0f32; ta.len()], vec![0.0f32; va.len()]);
        let tin0 = GraphInput { adj: &ta0, ..tin };
        let vin0 = GraphInput { adj: &va0, ..vin };
        let blind = train(
            &m,
            Model::<f32>::init(&m, 5),
            &tin0,
            &ty,
            &vin0,
            &vy,
            &cfg,
            &mut |_| true,
        )
        .unwrap();
        eprintln!(
            "graph synthetic without edges: val macro-F1 {:.3}",
            blind.best_val_macro_f1
        );
        assert!(
            blind.best_val_macro_f1 < 0.75,
            "task leaks: {}",
            blind.best_val_macro_f1
        );
    }
}
