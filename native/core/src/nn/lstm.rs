//! One LSTM layer over a batch of sequences, forward and full backpropagation through time.
//!
//! Parameter layout (docs/neural.md, ONNX gate order — NOT PyTorch's i, f, g, o):
//! - `W [4H, I]`, `R [4H, H]`, `b [4H]`, row-major; rows `0..H` are the input gate `i`,
//!   `H..2H` the output gate `o`, `2H..3H` the forget gate `f`, `3H..4H` the cell candidate
//!   `c` (called `g` below). One bias per gate (ONNX's `Rb` half is exported as zeros).
//! - `h0 = c0 = 0`.
//!
//! ```text
//! gates_t = x_t·Wᵀ + h_{t−1}·Rᵀ + b          [B, 4H]
//! i, o, f = σ(gates_t[i|o|f]),  g = tanh(gates_t[c])
//! c_t = f ⊙ c_{t−1} + i ⊙ g,   h_t = o ⊙ tanh(c_t)
//! ```
//!
//! Internally everything is TIME-major (`[T, B, ·]`): then `x_t`, `h_t` and `gates_t` are
//! contiguous `[B, ·]` blocks, the input projection of all steps is one GEMM
//! `[T·B, I]·Wᵀ`, each step adds one `[B, H]·Rᵀ` GEMM, and the backward pass forms
//! `dW`, `dR`, `db` and `dx` with one GEMM each over all steps. The `*_tm` functions take
//! and give time-major data; [`Lstm::forward`] / [`Lstm::backward`] wrap them for
//! batch-major `[B, T, ·]` data.

use super::Real;

/// Layer sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lstm {
    pub input: usize,
    pub hidden: usize,
}

/// What the forward pass keeps for backward, all time-major.
#[derive(Debug, Clone)]
pub struct LstmCache<T> {
    pub batch: usize,
    pub steps: usize,
    /// The input `[T, B, I]`.
    pub x: Vec<T>,
    /// Activated gates `[T, B, 4H]`: `σ(i), σ(o), σ(f), tanh(g)` per row.
    pub gates: Vec<T>,
    /// Cell states `[T, B, H]`.
    pub c: Vec<T>,
    /// `tanh(c)` `[T, B, H]`.
    pub tc: Vec<T>,
    /// Hidden states `[T, B, H]` — the layer's output.
    pub h: Vec<T>,
}

impl<T: Real> LstmCache<T> {
    /// Hidden state of step `t` for the whole batch, `[B, H]`.
    pub fn h_at(&self, t: usize) -> &[T] {
        let bh = self.h.len() / self.steps;
        &self.h[t * bh..(t + 1) * bh]
    }
}

/// `[B, T, D]` → `[T, B, D]`.
pub fn to_time_major<T: Real>(x: &[T], batch: usize, steps: usize, d: usize) -> Vec<T> {
    let mut out = vec![T::zero(); batch * steps * d];
    for b in 0..batch {
        for t in 0..steps {
            out[(t * batch + b) * d..][..d].copy_from_slice(&x[(b * steps + t) * d..][..d]);
        }
    }
    out
}

/// `[T, B, D]` → `[B, T, D]` into `out`.
pub fn to_batch_major<T: Real>(x: &[T], batch: usize, steps: usize, d: usize, out: &mut [T]) {
    for t in 0..steps {
        for b in 0..batch {
            out[(b * steps + t) * d..][..d].copy_from_slice(&x[(t * batch + b) * d..][..d]);
        }
    }
}

impl Lstm {
    /// Number of parameters `4H·I + 4H·H + 4H`.
    pub fn n_params(&self) -> usize {
        4 * self.hidden * (self.input + self.hidden + 1)
    }

    /// Forward over time-major `x [T, B, I]` (taken by value and kept in the cache). The
    /// hidden states are `cache.h [T, B, H]`.
    pub fn forward_tm<T: Real>(
        &self,
        w: &[T],
        r: &[T],
        b: &[T],
        x: Vec<T>,
        batch: usize,
        steps: usize,
    ) -> LstmCache<T> {
        let (i_sz, h) = (self.input, self.hidden);
        let g4 = 4 * h;
        assert!(x.len() == steps * batch * i_sz, "lstm: input length");
        assert!(
            w.len() == g4 * i_sz && r.len() == g4 * h && b.len() == g4,
            "lstm: parameter lengths"
        );
        let bh = batch * h;
        // Every row starts as the bias (the GEMMs below accumulate onto it).
        let mut gates = Vec::with_capacity(steps * batch * g4);
        for _ in 0..steps * batch {
            gates.extend_from_slice(b);
        }
        let mut c = vec![T::zero(); steps * bh];
        let mut tc = vec![T::zero(); steps * bh];
        let mut hs = vec![T::zero(); steps * bh];
        // Input projection of every step at once.
        T::gemm(
            steps * batch,
            i_sz,
            g4,
            T::one(),
            &x,
            false,
            w,
            true,
            T::one(),
            &mut gates,
        );
        for t in 0..steps {
            let gt = &mut gates[t * batch * g4..(t + 1) * batch * g4];
            let (h_prev, h_rest) = hs.split_at_mut(t * bh);
            let (c_prev, c_rest) = c.split_at_mut(t * bh);
            if t > 0 {
                T::gemm(
                    batch,
                    h,
                    g4,
                    T::one(),
                    &h_prev[(t - 1) * bh..],
                    false,
                    r,
                    true,
                    T::one(),
                    gt,
                );
            }
            let c_prev = if t > 0 {
                Some(&c_prev[(t - 1) * bh..])
            } else {
                None
            };
            cell_forward(
                gt,
                c_prev,
                &mut c_rest[..bh],
                &mut tc[t * bh..(t + 1) * bh],
                &mut h_rest[..bh],
                batch,
                h,
            );
        }
        LstmCache {
            batch,
            steps,
            x,
            gates,
            c,
            tc,
            h: hs,
        }
    }

    /// Backward through time. `dh [T, B, H]` is `∂L/∂h_t` from outside the layer for every
    /// step (zeros except the last step when only the final state is used). ADDS into `dw`,
    /// `dr`, `db`; when `dx` is given it is OVERWRITTEN with `∂L/∂x` time-major `[T, B, I]`.
    #[allow(clippy::too_many_arguments)]
    pub fn backward_tm<T: Real>(
        &self,
        w: &[T],
        r: &[T],
        cache: &LstmCache<T>,
        dh: &[T],
        dx: Option<&mut [T]>,
        dw: &mut [T],
        dr: &mut [T],
        db: &mut [T],
    ) {
        let (i_sz, h) = (self.input, self.hidden);
        let (batch, steps) = (cache.batch, cache.steps);
        let g4 = 4 * h;
        let bh = batch * h;
        assert!(dh.len() == steps * bh, "lstm backward: dh length");
        let mut dgates = vec![T::zero(); steps * batch * g4];
        let mut dh_rec = vec![T::zero(); bh];
        let mut dc = vec![T::zero(); bh];
        for t in (0..steps).rev() {
            let c_prev = if t > 0 {
                Some(&cache.c[(t - 1) * bh..t * bh])
            } else {
                None
            };
            let dgt = &mut dgates[t * batch * g4..(t + 1) * batch * g4];
            cell_backward(
                &cache.gates[t * batch * g4..(t + 1) * batch * g4],
                &cache.tc[t * bh..(t + 1) * bh],
                c_prev,
                &dh[t * bh..(t + 1) * bh],
                &dh_rec,
                &mut dc,
                dgt,
                batch,
                h,
            );
            if t > 0 {
                // ∂L/∂h_{t−1} through the recurrence: dgates_t [B, 4H] · R [4H, H].
                T::gemm(
                    batch,
                    g4,
                    h,
                    T::one(),
                    dgt,
                    false,
                    r,
                    false,
                    T::zero(),
                    &mut dh_rec,
                );
            }
        }
        let n = steps * batch;
        T::gemm(
            g4,
            n,
            i_sz,
            T::one(),
            &dgates,
            true,
            &cache.x,
            false,
            T::one(),
            dw,
        );
        if steps > 1 {
            T::gemm(
                g4,
                (steps - 1) * batch,
                h,
                T::one(),
                &dgates[batch * g4..],
                true,
                &cache.h,
                false,
                T::one(),
                dr,
            );
        }
        super::dense::add_column_sums(&dgates, g4, db);
        if let Some(dx) = dx {
            T::gemm(
                n,
                g4,
                i_sz,
                T::one(),
                &dgates,
                false,
                w,
                false,
                T::zero(),
                dx,
            );
        }
    }

    /// Batch-major forward: `x [B, T, I]` → hidden states `h_out [B, T, H]`.
    #[allow(clippy::too_many_arguments)]
    pub fn forward<T: Real>(
        &self,
        w: &[T],
        r: &[T],
        b: &[T],
        x: &[T],
        batch: usize,
        steps: usize,
        h_out: &mut [T],
    ) -> LstmCache<T> {
        let cache = self.forward_tm(
            w,
            r,
            b,
            to_time_major(x, batch, steps, self.input),
            batch,
            steps,
        );
        to_batch_major(&cache.h, batch, steps, self.hidden, h_out);
        cache
    }

    /// Batch-major backward: `dh [B, T, H]`, `dx [B, T, I]` (overwritten when given).
    #[allow(clippy::too_many_arguments)]
    pub fn backward<T: Real>(
        &self,
        w: &[T],
        r: &[T],
        cache: &LstmCache<T>,
        dh: &[T],
        dx: Option<&mut [T]>,
        dw: &mut [T],
        dr: &mut [T],
        db: &mut [T],
    ) {
        let (batch, steps) = (cache.batch, cache.steps);
        let dh_tm = to_time_major(dh, batch, steps, self.hidden);
        match dx {
            Some(dx) => {
                let mut dx_tm = vec![T::zero(); dx.len()];
                self.backward_tm(w, r, cache, &dh_tm, Some(&mut dx_tm), dw, dr, db);
                to_batch_major(&dx_tm, batch, steps, self.input, dx);
            }
            None => self.backward_tm(w, r, cache, &dh_tm, None, dw, dr, db),
        }
    }
}

/// Gate nonlinearities and state update of one step for the whole batch. `gt [B, 4H]` holds
/// pre-activations on entry and activated gates on exit.
fn cell_forward<T: Real>(
    gt: &mut [T],
    c_prev: Option<&[T]>,
    c: &mut [T],
    tc: &mut [T],
    h_out: &mut [T],
    batch: usize,
    h: usize,
) {
    for bi in 0..batch {
        let g = &mut gt[bi * 4 * h..(bi + 1) * 4 * h];
        let (ifo, gg) = g.split_at_mut(3 * h);
        super::activation::sigmoid_inplace(ifo);
        super::activation::tanh_inplace(gg);
        let (ig, rest) = ifo.split_at(h);
        let (og, fg) = rest.split_at(h);
        let cr = &mut c[bi * h..(bi + 1) * h];
        match c_prev {
            Some(cp) => {
                let cp = &cp[bi * h..(bi + 1) * h];
                for j in 0..h {
                    cr[j] = fg[j] * cp[j] + ig[j] * gg[j];
                }
            }
            None => {
                for j in 0..h {
                    cr[j] = ig[j] * gg[j];
                }
            }
        }
        let tr = &mut tc[bi * h..(bi + 1) * h];
        tr.copy_from_slice(cr);
        super::activation::tanh_inplace(tr);
        let hr = &mut h_out[bi * h..(bi + 1) * h];
        for j in 0..h {
            hr[j] = og[j] * tr[j];
        }
    }
}

/// One step of BPTT for the whole batch: from `∂L/∂h_t = dh_ext + dh_rec` and the running
/// `dc` (= `∂L/∂c_t` from step t+1, updated in place to `∂L/∂c_{t−1}`), writes the gate
/// pre-activation gradients `dgt [B, 4H]`.
#[allow(clippy::too_many_arguments)]
fn cell_backward<T: Real>(
    gates: &[T],
    tc: &[T],
    c_prev: Option<&[T]>,
    dh_ext: &[T],
    dh_rec: &[T],
    dc: &mut [T],
    dgt: &mut [T],
    batch: usize,
    h: usize,
) {
    let one = T::one();
    // c_{−1} = 0: the forget gate gets no gradient at the first step.
    let zeros = if c_prev.is_none() {
        vec![T::zero(); h]
    } else {
        Vec::new()
    };
    for bi in 0..batch {
        let g = &gates[bi * 4 * h..(bi + 1) * 4 * h];
        let d = &mut dgt[bi * 4 * h..(bi + 1) * 4 * h];
        let (di, rest) = d.split_at_mut(h);
        let (dout, rest) = rest.split_at_mut(h);
        let (df, dg) = rest.split_at_mut(h);
        let (ig, og, fg, gg) = (&g[..h], &g[h..2 * h], &g[2 * h..3 * h], &g[3 * h..]);
        let r = bi * h..(bi + 1) * h;
        let (tcr, dhe, dhr) = (&tc[r.clone()], &dh_ext[r.clone()], &dh_rec[r.clone()]);
        let dcr = &mut dc[r.clone()];
        let cp = match c_prev {
            Some(cp) => &cp[r],
            None => &zeros[..],
        };
        for j in 0..h {
            let dhj = dhe[j] + dhr[j];
            let (i, o, f, gv, t) = (ig[j], og[j], fg[j], gg[j], tcr[j]);
            let dcj = dcr[j] + dhj * o * (one - t * t);
            dout[j] = dhj * t * o * (one - o);
            di[j] = dcj * gv * i * (one - i);
            df[j] = dcj * cp[j] * f * (one - f);
            dg[j] = dcj * i * (one - gv * gv);
            dcr[j] = dcj * f;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{assert_grad_close, numeric_grad, seeded_vec};

    const EPS: f64 = 1e-5;
    const TOL: f64 = 1e-6;

    /// Straightforward per-sample, per-step reference of the equations in docs/neural.md.
    fn reference(
        l: Lstm,
        w: &[f64],
        r: &[f64],
        b: &[f64],
        x: &[f64],
        batch: usize,
        steps: usize,
    ) -> Vec<f64> {
        let (ni, h) = (l.input, l.hidden);
        let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
        let mut out = vec![0.0; batch * steps * h];
        for s in 0..batch {
            let (mut hp, mut cp) = (vec![0.0; h], vec![0.0; h]);
            for t in 0..steps {
                let xt = &x[(s * steps + t) * ni..][..ni];
                let pre = |gate: usize, j: usize| {
                    let row = gate * h + j;
                    b[row]
                        + (0..ni).map(|k| w[row * ni + k] * xt[k]).sum::<f64>()
                        + (0..h).map(|k| r[row * h + k] * hp[k]).sum::<f64>()
                };
                let mut hn = vec![0.0; h];
                let mut cn = vec![0.0; h];
                for j in 0..h {
                    let (i, o, f, g) = (
                        sig(pre(0, j)),
                        sig(pre(1, j)),
                        sig(pre(2, j)),
                        pre(3, j).tanh(),
                    );
                    cn[j] = f * cp[j] + i * g;
                    hn[j] = o * cn[j].tanh();
                }
                out[(s * steps + t) * h..][..h].copy_from_slice(&hn);
                hp = hn;
                cp = cn;
            }
        }
        out
    }

    #[test]
    fn forward_matches_reference_equations() {
        let l = Lstm {
            input: 3,
            hidden: 4,
        };
        let (batch, steps) = (2, 5);
        let w = seeded_vec(1, 16 * 3, 0.6);
        let r = seeded_vec(2, 16 * 4, 0.6);
        let b = seeded_vec(3, 16, 0.6);
        let x = seeded_vec(4, batch * steps * 3, 1.0);
        let mut h = vec![0.0; batch * steps * 4];
        l.forward(&w, &r, &b, &x, batch, steps, &mut h);
        let want = reference(l, &w, &r, &b, &x, batch, steps);
        for (a, b) in h.iter().zip(&want) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
    }

    /// BPTT with a loss on every step's hidden state, `L = Σ_t Σ h_t ⊙ r_t`: dx, dW, dR, db
    /// against central differences (relative error ≤ 1e-6, ε = 1e-5).
    #[test]
    fn bptt_gradients_match_central_differences() {
        let l = Lstm {
            input: 3,
            hidden: 4,
        };
        let (batch, steps) = (3, 6);
        let w = seeded_vec(11, 16 * 3, 0.7);
        let r = seeded_vec(12, 16 * 4, 0.7);
        let b = seeded_vec(13, 16, 0.7);
        let x = seeded_vec(14, batch * steps * 3, 1.0);
        let proj = seeded_vec(15, batch * steps * 4, 1.0);
        let loss = |w: &[f64], r: &[f64], b: &[f64], x: &[f64]| {
            let mut h = vec![0.0; batch * steps * 4];
            l.forward(w, r, b, x, batch, steps, &mut h);
            h.iter().zip(&proj).map(|(a, b)| a * b).sum::<f64>()
        };
        let mut h = vec![0.0; batch * steps * 4];
        let cache = l.forward(&w, &r, &b, &x, batch, steps, &mut h);
        let mut dx = vec![0.0; x.len()];
        let (mut dw, mut dr, mut db) = (vec![0.0; w.len()], vec![0.0; r.len()], vec![0.0; b.len()]);
        l.backward(
            &w,
            &r,
            &cache,
            &proj,
            Some(&mut dx),
            &mut dw,
            &mut dr,
            &mut db,
        );
        assert_grad_close(
            "lstm dx",
            &dx,
            &numeric_grad(&x, EPS, |x| loss(&w, &r, &b, x)),
            TOL,
        );
        assert_grad_close(
            "lstm dW",
            &dw,
            &numeric_grad(&w, EPS, |w| loss(w, &r, &b, &x)),
            TOL,
        );
        assert_grad_close(
            "lstm dR",
            &dr,
            &numeric_grad(&r, EPS, |r| loss(&w, r, &b, &x)),
            TOL,
        );
        assert_grad_close(
            "lstm db",
            &db,
            &numeric_grad(&b, EPS, |b| loss(&w, &r, b, &x)),
            TOL,
        );
    }

    /// Only the last hidden state carries loss (the LSTM2 case), and gradients ADD.
    #[test]
    fn last_state_only_and_accumulation() {
        let l = Lstm {
            input: 2,
            hidden: 3,
        };
        let (batch, steps) = (2, 4);
        let w = seeded_vec(21, 12 * 2, 0.8);
        let r = seeded_vec(22, 12 * 3, 0.8);
        let b = seeded_vec(23, 12, 0.8);
        let x = seeded_vec(24, batch * steps * 2, 1.0);
        let proj = seeded_vec(25, batch * 3, 1.0);
        let loss = |w: &[f64], r: &[f64], x: &[f64]| {
            let mut h = vec![0.0; batch * steps * 3];
            l.forward(w, r, &b, x, batch, steps, &mut h);
            (0..batch)
                .map(|s| {
                    (0..3)
                        .map(|j| h[(s * steps + steps - 1) * 3 + j] * proj[s * 3 + j])
                        .sum::<f64>()
                })
                .sum::<f64>()
        };
        let mut h = vec![0.0; batch * steps * 3];
        let cache = l.forward(&w, &r, &b, &x, batch, steps, &mut h);
        let mut dh = vec![0.0; batch * steps * 3];
        for s in 0..batch {
            dh[(s * steps + steps - 1) * 3..][..3].copy_from_slice(&proj[s * 3..][..3]);
        }
        let mut dx = vec![0.0; x.len()];
        let (mut dw, mut dr, mut db) = (vec![0.5; w.len()], vec![0.5; r.len()], vec![0.5; b.len()]);
        l.backward(
            &w,
            &r,
            &cache,
            &dh,
            Some(&mut dx),
            &mut dw,
            &mut dr,
            &mut db,
        );
        dw.iter_mut().chain(dr.iter_mut()).for_each(|v| *v -= 0.5);
        assert_grad_close(
            "lstm last dx",
            &dx,
            &numeric_grad(&x, EPS, |x| loss(&w, &r, x)),
            TOL,
        );
        assert_grad_close(
            "lstm last dW",
            &dw,
            &numeric_grad(&w, EPS, |w| loss(w, &r, &x)),
            TOL,
        );
        assert_grad_close(
            "lstm last dR",
            &dr,
            &numeric_grad(&r, EPS, |r| loss(&w, r, &x)),
            TOL,
        );
    }

    #[test]
    fn single_step_has_no_recurrent_gradient() {
        let l = Lstm {
            input: 2,
            hidden: 2,
        };
        let w = seeded_vec(31, 16, 0.5);
        let r = seeded_vec(32, 16, 0.5);
        let b = seeded_vec(33, 8, 0.5);
        let x = seeded_vec(34, 2, 1.0);
        let mut h = vec![0.0; 2];
        let cache = l.forward(&w, &r, &b, &x, 1, 1, &mut h);
        let (mut dw, mut dr, mut db) = (vec![0.0; 16], vec![0.0; 16], vec![0.0; 8]);
        l.backward(&w, &r, &cache, &[1.0, 1.0], None, &mut dw, &mut dr, &mut db);
        assert!(dr.iter().all(|&v| v == 0.0));
        assert!(dw.iter().any(|&v| v != 0.0));
    }
}
