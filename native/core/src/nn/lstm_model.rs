//! The `lstm` classifier of docs/neural.md (vol and trend regimes):
//! LSTM(H1) → attention re-weighting → LSTM(H2) → last hidden state → dropout → dense → logits.
//!
//! Inside a chunk every activation is time-major (`[T, B, ·]`, see `lstm.rs`): the input is
//! gathered straight into that layout, so the only data movement between layers is the
//! attention's element-wise re-weighting.

use super::attention;
use super::dense;
use super::dropout;
use super::lstm::{Lstm, LstmCache};
use super::{layout_of, DropoutCtx, Model, ParamTensor, Real};
use crate::DataError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Dropout site id of the single dropout layer (keys its masks, see `dropout.rs`).
const DROPOUT_SALT: u64 = 1;

/// Architecture of the `lstm` model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LstmSpec {
    /// Input channels per time step (`F`).
    pub features: usize,
    /// Time steps per sample (`T`).
    pub window: usize,
    pub hidden1: usize,
    pub hidden2: usize,
    pub classes: usize,
    /// Dropout probability on the last hidden state, in `[0, 1)`.
    pub dropout: f64,
}

/// A dataset of `n` windows, `x [n, window, features]` row-major. Build it with
/// [`LstmModel::input`], which checks the length.
#[derive(Debug, Clone, Copy)]
pub struct LstmInput<'a, T> {
    pub x: &'a [T],
}

/// Offsets of the tensors in the flat parameter vector (layout order of docs/neural.md).
#[derive(Debug, Clone, Copy)]
struct Offsets {
    w1: usize,
    r1: usize,
    b1: usize,
    q: usize,
    w2: usize,
    r2: usize,
    b2: usize,
    wo: usize,
    bo: usize,
    end: usize,
}

#[derive(Debug, Clone)]
pub struct LstmModel {
    spec: LstmSpec,
    l1: Lstm,
    l2: Lstm,
    off: Offsets,
}

/// What [`LstmModel`]'s forward keeps for backward.
#[derive(Debug, Clone)]
pub struct LstmModelCache<T> {
    l1: LstmCache<T>,
    /// Attention weights `[B, T]`.
    alpha: Vec<T>,
    l2: LstmCache<T>,
    /// Dense input after dropout `[B, H2]`.
    z: Vec<T>,
    /// Dropout mask `[B, H2]` (empty when dropout is off).
    mask: Vec<T>,
}

impl LstmModel {
    pub fn new(spec: LstmSpec) -> Result<Self, DataError> {
        for (name, v) in [
            ("features", spec.features),
            ("window", spec.window),
            ("hidden1", spec.hidden1),
            ("hidden2", spec.hidden2),
            ("classes", spec.classes),
        ] {
            if v == 0 {
                return Err(DataError::arg(format!(
                    "lstm model: {name} must be at least 1"
                )));
            }
        }
        if spec.classes < 2 {
            return Err(DataError::arg(format!(
                "lstm model: classes must be at least 2, got {}",
                spec.classes
            )));
        }
        if !(0.0..1.0).contains(&spec.dropout) {
            return Err(DataError::arg(format!(
                "lstm model: dropout must be in [0, 1), got {}",
                spec.dropout
            )));
        }
        let l1 = Lstm {
            input: spec.features,
            hidden: spec.hidden1,
        };
        let l2 = Lstm {
            input: spec.hidden1,
            hidden: spec.hidden2,
        };
        let mut m = LstmModel {
            spec,
            l1,
            l2,
            off: Offsets {
                w1: 0,
                r1: 0,
                b1: 0,
                q: 0,
                w2: 0,
                r2: 0,
                b2: 0,
                wo: 0,
                bo: 0,
                end: 0,
            },
        };
        let lay = m.layout_vec();
        let o = |i: usize| lay[i].offset;
        m.off = Offsets {
            w1: o(0),
            r1: o(1),
            b1: o(2),
            q: o(3),
            w2: o(4),
            r2: o(5),
            b2: o(6),
            wo: o(7),
            bo: o(8),
            end: o(8) + lay[8].len(),
        };
        Ok(m)
    }

    pub fn spec(&self) -> &LstmSpec {
        &self.spec
    }

    /// Wraps `x [n, window, features]`, checking that its length is a multiple of
    /// `window · features`.
    pub fn input<'a, T>(&self, x: &'a [T]) -> Result<LstmInput<'a, T>, DataError> {
        let per = self.spec.window * self.spec.features;
        if !x.len().is_multiple_of(per) {
            return Err(DataError::arg(format!(
                "lstm input: {} values is not a whole number of windows of {} steps × {} features",
                x.len(),
                self.spec.window,
                self.spec.features
            )));
        }
        Ok(LstmInput { x })
    }

    pub fn param_count(&self) -> usize {
        self.off.end
    }

    fn layout_vec(&self) -> Vec<ParamTensor> {
        let (f, h1, h2, k) = (
            self.spec.features,
            self.spec.hidden1,
            self.spec.hidden2,
            self.spec.classes,
        );
        layout_of(&[
            ("lstm1.W", &[4 * h1, f]),
            ("lstm1.R", &[4 * h1, h1]),
            ("lstm1.b", &[4 * h1]),
            ("attn.q", &[h1]),
            ("lstm2.W", &[4 * h2, h1]),
            ("lstm2.R", &[4 * h2, h2]),
            ("lstm2.b", &[4 * h2]),
            ("out.W", &[k, h2]),
            ("out.b", &[k]),
        ])
    }

    /// Gathers samples `rows` of `x` into time-major `[T, B, F]`.
    fn gather<T: Real>(&self, x: &[T], rows: &[usize]) -> Vec<T> {
        let (t_n, f) = (self.spec.window, self.spec.features);
        let b_n = rows.len();
        let n = x.len() / (t_n * f);
        let mut out = vec![T::zero(); t_n * b_n * f];
        for (bi, &row) in rows.iter().enumerate() {
            assert!(
                row < n,
                "lstm model: sample {row} out of range ({n} samples)"
            );
            let src = &x[row * t_n * f..(row + 1) * t_n * f];
            for t in 0..t_n {
                out[(t * b_n + bi) * f..][..f].copy_from_slice(&src[t * f..(t + 1) * f]);
            }
        }
        out
    }

    /// LSTM1 and the attention: returns (LSTM1 cache, α [B, T], h̃ [T, B, H1]).
    fn front<T: Real>(&self, p: &[T], x: &[T], rows: &[usize]) -> (LstmCache<T>, Vec<T>, Vec<T>) {
        let o = &self.off;
        let (t_n, h1) = (self.spec.window, self.spec.hidden1);
        let b_n = rows.len();
        let c1 = self.l1.forward_tm(
            &p[o.w1..o.r1],
            &p[o.r1..o.b1],
            &p[o.b1..o.q],
            self.gather(x, rows),
            b_n,
            t_n,
        );
        let mut alpha = vec![T::zero(); b_n * t_n];
        let mut ht = vec![T::zero(); t_n * b_n * h1];
        attention::forward(&p[o.q..o.w2], &c1.h, b_n, t_n, h1, &mut ht, &mut alpha);
        (c1, alpha, ht)
    }

    /// Attention weights `α [rows.len(), window]` in inference mode, computed over fixed
    /// chunks in parallel.
    pub fn attention<T: Real>(&self, p: &[T], x: &LstmInput<T>, rows: &[usize]) -> Vec<T> {
        assert_eq!(p.len(), self.param_count(), "lstm model: parameter count");
        let parts: Vec<Vec<T>> = rows
            .par_chunks(32)
            .map(|rows| self.front(p, x.x, rows).1)
            .collect();
        parts.concat()
    }

    /// PyTorch-like init from ChaCha8(`seed`), drawn in layout order: LSTM weights and biases
    /// `U(−1/√H, 1/√H)` (as `nn.LSTM`; the forget-gate bias gets no +1 offset — PyTorch's
    /// default does not add one either), the query `U(−1/√H1, 1/√H1)`, the dense layer like
    /// `nn.Linear` (Kaiming-uniform with a = √5, i.e. `U(−1/√H2, 1/√H2)` for weight and bias).
    /// PyTorch's LSTM has two bias vectors whose sum acts as our single `b`; we draw `b`
    /// directly from the one-vector distribution.
    fn init_params<T: Real>(&self, seed: u64) -> Vec<T> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let k1 = 1.0 / (self.spec.hidden1 as f64).sqrt();
        let k2 = 1.0 / (self.spec.hidden2 as f64).sqrt();
        let o = &self.off;
        let mut p = Vec::with_capacity(o.end);
        for (end, k) in [(o.w2, k1), (o.wo, k2), (o.end, k2)] {
            while p.len() < end {
                p.push(T::from_f64(rng.random_range(-k..k)));
            }
        }
        p
    }
}

/// Splits `buf` into consecutive mutable pieces of the given lengths.
fn split_lens<'a, T>(mut buf: &'a mut [T], lens: &[usize]) -> Vec<&'a mut [T]> {
    let mut out = Vec::with_capacity(lens.len());
    for &l in lens {
        let (a, b) = buf.split_at_mut(l);
        out.push(a);
        buf = b;
    }
    out
}

impl<T: Real> Model<T> for LstmModel {
    type Input<'a> = LstmInput<'a, T>;
    type Cache = LstmModelCache<T>;

    fn layout(&self) -> Vec<ParamTensor> {
        self.layout_vec()
    }

    fn n_params(&self) -> usize {
        self.off.end
    }

    fn n_classes(&self) -> usize {
        self.spec.classes
    }

    fn n_samples(&self, x: &Self::Input<'_>) -> usize {
        x.x.len() / (self.spec.window * self.spec.features)
    }

    fn init(&self, seed: u64) -> Vec<T> {
        self.init_params(seed)
    }

    fn forward(
        &self,
        p: &[T],
        x: &Self::Input<'_>,
        rows: &[usize],
        dropout: Option<DropoutCtx>,
        logits: &mut [T],
    ) -> Self::Cache {
        assert_eq!(p.len(), self.off.end, "lstm model: parameter count");
        let o = &self.off;
        let (t_n, h2, k) = (self.spec.window, self.spec.hidden2, self.spec.classes);
        let b_n = rows.len();
        let (l1, alpha, ht) = self.front(p, x.x, rows);
        let l2 = self
            .l2
            .forward_tm(&p[o.w2..o.r2], &p[o.r2..o.b2], &p[o.b2..o.wo], ht, b_n, t_n);
        let mut z = l2.h_at(t_n - 1).to_vec();
        let mask = dropout::forward(dropout, rows, DROPOUT_SALT, self.spec.dropout, h2, &mut z);
        dense::forward(&z, &p[o.wo..o.bo], &p[o.bo..o.end], b_n, h2, k, logits);
        LstmModelCache {
            l1,
            alpha,
            l2,
            z,
            mask,
        }
    }

    fn backward(
        &self,
        p: &[T],
        _x: &Self::Input<'_>,
        rows: &[usize],
        cache: &Self::Cache,
        dlogits: &[T],
        grad: &mut [T],
    ) {
        let o = &self.off;
        let (t_n, h1, h2, k) = (
            self.spec.window,
            self.spec.hidden1,
            self.spec.hidden2,
            self.spec.classes,
        );
        let b_n = rows.len();
        let g = split_lens(
            &mut grad[..o.end],
            &[
                o.r1 - o.w1,
                o.b1 - o.r1,
                o.q - o.b1,
                o.w2 - o.q,
                o.r2 - o.w2,
                o.b2 - o.r2,
                o.wo - o.b2,
                o.bo - o.wo,
                o.end - o.bo,
            ],
        );
        let [gw1, gr1, gb1, gq, gw2, gr2, gb2, gwo, gbo]: [&mut [T]; 9] =
            g.try_into().expect("nine tensors");

        // Dense and dropout: the gradient reaches only LSTM2's last step.
        let mut dh2 = vec![T::zero(); t_n * b_n * h2];
        let dz = &mut dh2[(t_n - 1) * b_n * h2..];
        dense::backward(
            &cache.z,
            &p[o.wo..o.bo],
            dlogits,
            b_n,
            h2,
            k,
            Some(&mut *dz),
            gwo,
            gbo,
        );
        dropout::backward(&cache.mask, dz);

        let mut dht = vec![T::zero(); t_n * b_n * h1];
        self.l2.backward_tm(
            &p[o.w2..o.r2],
            &p[o.r2..o.b2],
            &cache.l2,
            &dh2,
            Some(&mut dht),
            gw2,
            gr2,
            gb2,
        );
        let mut dh1 = vec![T::zero(); t_n * b_n * h1];
        attention::backward(
            &p[o.q..o.w2],
            &cache.l1.h,
            &cache.alpha,
            &dht,
            b_n,
            t_n,
            h1,
            &mut dh1,
            gq,
        );
        // The input is data: no dx.
        self.l1.backward_tm(
            &p[o.w1..o.r1],
            &p[o.r1..o.b1],
            &cache.l1,
            &dh1,
            None,
            gw1,
            gr1,
            gb1,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{check_model, seeded_vec};
    use crate::nn::train::{macro_f1, predict_proba, train, TrainConfig, TrainOutcome};

    fn small_spec(dropout: f64) -> LstmSpec {
        LstmSpec {
            features: 3,
            window: 5,
            hidden1: 4,
            hidden2: 3,
            classes: 3,
            dropout,
        }
    }

    #[test]
    fn layout_follows_the_contract() {
        let m = LstmModel::new(LstmSpec {
            features: 6,
            window: 30,
            hidden1: 64,
            hidden2: 32,
            classes: 4,
            dropout: 0.3,
        })
        .unwrap();
        let lay = <LstmModel as Model<f32>>::layout(&m);
        let names: Vec<&str> = lay.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "lstm1.W", "lstm1.R", "lstm1.b", "attn.q", "lstm2.W", "lstm2.R", "lstm2.b",
                "out.W", "out.b"
            ]
        );
        let shapes: Vec<Vec<usize>> = lay.iter().map(|t| t.shape.clone()).collect();
        assert_eq!(
            shapes,
            vec![
                vec![256, 6],
                vec![256, 64],
                vec![256],
                vec![64],
                vec![128, 64],
                vec![128, 32],
                vec![128],
                vec![4, 32],
                vec![4]
            ]
        );
        assert_eq!(
            m.param_count(),
            256 * 6 + 256 * 64 + 256 + 64 + 128 * 64 + 128 * 32 + 128 + 4 * 32 + 4
        );
        assert_eq!(<LstmModel as Model<f32>>::n_params(&m), m.param_count());
        let p: Vec<f32> = m.init(3);
        assert_eq!(p.len(), m.param_count());
        assert_eq!(p, m.init(3));
        assert_ne!(p, <LstmModel as Model<f32>>::init(&m, 4));
        let k1 = 1.0 / 8.0;
        assert!(p[..lay[4].offset].iter().all(|v| v.abs() <= k1));
        let k2 = 1.0 / 32f32.sqrt();
        assert!(p[lay[4].offset..].iter().all(|v| v.abs() <= k2));
    }

    #[test]
    fn rejects_bad_specs_and_inputs() {
        assert!(LstmModel::new(LstmSpec {
            hidden1: 0,
            ..small_spec(0.0)
        })
        .is_err());
        assert!(LstmModel::new(LstmSpec {
            classes: 1,
            ..small_spec(0.0)
        })
        .is_err());
        assert!(LstmModel::new(small_spec(1.0)).is_err());
        assert!(LstmModel::new(small_spec(-0.1)).is_err());
        assert!(LstmModel::new(small_spec(f64::NAN)).is_err());
        let m = LstmModel::new(small_spec(0.2)).unwrap();
        assert!(m.input(&[0.0f32; 31]).is_err());
        let x = [0.0f32; 30];
        assert_eq!(
            <LstmModel as Model<f32>>::n_samples(&m, &m.input(&x).unwrap()),
            2
        );
    }

    /// The whole model against central differences (f64, ε = 1e-5, relative error ≤ 1e-6),
    /// with dropout on (fixed context) and off, class weights not all equal.
    #[test]
    fn whole_model_gradient_check() {
        let m = LstmModel::new(small_spec(0.4)).unwrap();
        let p: Vec<f64> = m.init(5).iter().map(|v: &f64| v * 3.0).collect();
        let x = seeded_vec(6, 7 * 5 * 3, 1.0);
        let input = m.input(&x).unwrap();
        let rows = [6usize, 0, 3, 4, 1];
        let labels = [0u32, 2, 1, 2, 0];
        let rep = check_model(&m, &p, &input, &rows, &labels, &[1.0, 2.5, 0.5], 1e-5, 1e-6);
        assert_eq!(rep.checked, m.param_count());
    }

    /// The SPEC-sized model (more parameters than the full check): subset check.
    #[test]
    fn larger_model_gradient_check_on_subset() {
        let m = LstmModel::new(LstmSpec {
            features: 4,
            window: 8,
            hidden1: 12,
            hidden2: 6,
            classes: 4,
            dropout: 0.3,
        })
        .unwrap();
        let p: Vec<f64> = m.init(8).iter().map(|v: &f64| v * 2.0).collect();
        let x = seeded_vec(9, 6 * 8 * 4, 1.0);
        let input = m.input(&x).unwrap();
        let rep = check_model(
            &m,
            &p,
            &input,
            &[0, 1, 2, 3, 4, 5],
            &[0, 1, 2, 3, 1, 0],
            &[],
            1e-5,
            1e-6,
        );
        assert!(rep.checked >= 200);
    }

    #[test]
    fn attention_output_and_inference_determinism() {
        let m = LstmModel::new(small_spec(0.5)).unwrap();
        let p: Vec<f32> = m.init(1);
        let x: Vec<f32> = seeded_vec(2, 70 * 5 * 3, 1.0)
            .into_iter()
            .map(|v| v as f32)
            .collect();
        let input = m.input(&x).unwrap();
        let rows: Vec<usize> = (0..70).collect();
        let a = m.attention(&p, &input, &rows);
        assert_eq!(a.len(), 70 * 5);
        for r in a.chunks(5) {
            assert!((r.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
        // Inference output of a sample does not depend on which other samples share its chunk.
        let mut l_all = vec![0.0f32; 70 * 3];
        m.forward(&p, &input, &rows, None, &mut l_all);
        let mut l_one = vec![0.0f32; 3];
        m.forward(&p, &input, &[37], None, &mut l_one);
        for (a, b) in l_one.iter().zip(&l_all[37 * 3..38 * 3]) {
            assert!((a - b).abs() < 1e-6);
        }
        let probs = predict_proba(&m, &p, &input);
        assert_eq!(probs.len(), 70 * 3);
        assert!(probs
            .chunks(3)
            .all(|r| (r.iter().sum::<f32>() - 1.0).abs() < 1e-5));
    }

    /// Synthetic task: class = sign of the mean of channel 0 over the window (noisy input).
    fn synthetic(n: usize, seed: u64, window: usize, features: usize) -> (Vec<f32>, Vec<u32>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut x = Vec::with_capacity(n * window * features);
        let mut y = Vec::with_capacity(n);
        for _ in 0..n {
            let shift: f32 = if rng.random::<bool>() { 0.1 } else { -0.1 };
            let mut s = 0.0;
            for _ in 0..window {
                for f in 0..features {
                    let v: f32 = rng.random_range(-1.0..1.0) + if f == 0 { shift } else { 0.0 };
                    if f == 0 {
                        s += v;
                    }
                    x.push(v);
                }
            }
            y.push(u32::from(s > 0.0));
        }
        (x, y)
    }

    fn determinism_run(threads: usize) -> (Vec<f32>, Vec<(f64, f64, f64)>) {
        let spec = LstmSpec {
            features: 3,
            window: 10,
            hidden1: 8,
            hidden2: 6,
            classes: 2,
            dropout: 0.3,
        };
        let m = LstmModel::new(spec).unwrap();
        let (x, y) = synthetic(150, 1, 10, 3);
        let (vx, vy) = synthetic(40, 2, 10, 3);
        let cfg = TrainConfig {
            max_epochs: 3,
            batch_size: 32,
            chunk: 8,
            lr: 3e-3,
            seed: 9,
            class_weights: vec![1.0, 1.3],
            ..TrainConfig::default()
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let out = pool
            .install(|| {
                train(
                    &m,
                    m.init(9),
                    &m.input(&x).unwrap(),
                    &y,
                    &m.input(&vx).unwrap(),
                    &vy,
                    &cfg,
                    &mut |_| true,
                )
            })
            .unwrap();
        let hist = out
            .history
            .iter()
            .map(|r| (r.train_loss, r.val_loss, r.val_macro_f1))
            .collect();
        (out.params, hist)
    }

    #[test]
    fn training_is_bit_identical_across_thread_counts() {
        let (p1, h1) = determinism_run(1);
        let (p4, h4) = determinism_run(4);
        assert_eq!(h1, h4);
        assert!(p1.iter().zip(&p4).all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn learns_a_synthetic_task() {
        let spec = LstmSpec {
            features: 2,
            window: 12,
            hidden1: 16,
            hidden2: 8,
            classes: 2,
            dropout: 0.2,
        };
        let m = LstmModel::new(spec).unwrap();
        let (x, y) = synthetic(800, 11, 12, 2);
        let (vx, vy) = synthetic(200, 12, 12, 2);
        let out = learns(&m, (&x, &y), (&vx, &vy), 1);
        // The returned parameters are the best epoch's.
        let probs = predict_proba(&m, &out.params, &m.input(&vx).unwrap());
        let pred: Vec<u32> = probs.chunks(2).map(crate::nn::train::argmax).collect();
        assert!((macro_f1(&vy, &pred, 2) - out.best_val_macro_f1).abs() < 1e-12);
    }

    /// Trains a small model for up to 40 epochs and asserts validation macro-F1 > 0.9.
    fn learns(
        m: &LstmModel,
        tr: (&[f32], &[u32]),
        va: (&[f32], &[u32]),
        seed: u64,
    ) -> TrainOutcome {
        let cfg = TrainConfig {
            max_epochs: 40,
            patience: 8,
            lr: 5e-3,
            seed,
            ..TrainConfig::default()
        };
        let out = train(
            m,
            m.init(seed),
            &m.input(tr.0).unwrap(),
            tr.1,
            &m.input(va.0).unwrap(),
            va.1,
            &cfg,
            &mut |_| true,
        )
        .unwrap();
        assert!(
            out.best_val_macro_f1 > 0.9,
            "best val macro-F1 {}",
            out.best_val_macro_f1
        );
        out
    }

    /// Which half of the window is more volatile (needs the sequence, not a running mean).
    #[test]
    fn learns_which_half_is_more_volatile() {
        let gen = |n: usize, seed: u64| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let (mut x, mut y) = (Vec::new(), Vec::new());
            for _ in 0..n {
                let c = rng.random_range(0..2u32);
                for t in 0..16 {
                    let loud = (t < 8) == (c == 0);
                    let v: f32 = rng.random_range(-1.0..1.0) * if loud { 1.0 } else { 0.3 };
                    x.push(v);
                }
                y.push(c);
            }
            (x, y)
        };
        let m = LstmModel::new(LstmSpec {
            features: 1,
            window: 16,
            hidden1: 16,
            hidden2: 8,
            classes: 2,
            dropout: 0.1,
        })
        .unwrap();
        let (x, y) = gen(800, 21);
        let (vx, vy) = gen(200, 22);
        learns(&m, (&x, &y), (&vx, &vy), 3);
    }

    /// The f32 path (fast tanh/sigmoid, f32 GEMMs) stays within 1e-5 of the f64 reference on
    /// the probabilities at the SPEC size — the budget of the ONNX parity tests.
    #[test]
    fn f32_forward_matches_f64() {
        let spec = LstmSpec {
            features: 6,
            window: 30,
            hidden1: 64,
            hidden2: 32,
            classes: 4,
            dropout: 0.3,
        };
        let m = LstmModel::new(spec).unwrap();
        // Weights scaled up so gates saturate sometimes and both tanh branches are exercised.
        let p64: Vec<f64> = m.init(17).iter().map(|v: &f64| v * 4.0).collect();
        let p32: Vec<f32> = p64.iter().map(|&v| v as f32).collect();
        let p64: Vec<f64> = p32.iter().map(|&v| v as f64).collect();
        let x32: Vec<f32> = seeded_vec(18, 40 * 30 * 6, 2.0)
            .into_iter()
            .map(|v| v as f32)
            .collect();
        let x64: Vec<f64> = x32.iter().map(|&v| v as f64).collect();
        let rows: Vec<usize> = (0..40).collect();
        let mut l32 = vec![0.0f32; 40 * 4];
        let mut l64 = vec![0.0f64; 40 * 4];
        m.forward(&p32, &m.input(&x32).unwrap(), &rows, None, &mut l32);
        m.forward(&p64, &m.input(&x64).unwrap(), &rows, None, &mut l64);
        let mut worst = 0.0f64;
        for (a, b) in l32.chunks(4).zip(l64.chunks(4)) {
            let mut pa: Vec<f64> = a.iter().map(|&v| v as f64).collect();
            let mut pb = b.to_vec();
            crate::nn::activation::softmax_inplace(&mut pa);
            crate::nn::activation::softmax_inplace(&mut pb);
            for (u, v) in pa.iter().zip(&pb) {
                worst = worst.max((u - v).abs());
            }
        }
        assert!(worst < 1e-5, "max |p32 − p64| = {worst:e}");
        let a32 = m.attention(&p32, &m.input(&x32).unwrap(), &rows);
        let a64 = m.attention(&p64, &m.input(&x64).unwrap(), &rows);
        assert!(a32
            .iter()
            .zip(&a64)
            .all(|(&u, &v)| (u as f64 - v).abs() < 1e-5));
    }
}
