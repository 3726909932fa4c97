//! Adam with PyTorch-style L2 weight decay, and global-norm gradient clipping.
//!
//! Both follow PyTorch's arithmetic (`torch.optim.Adam`, single-tensor path, and
//! `clip_grad_norm_`) so hyper-parameters carry over; the moments are kept in the parameter
//! type like PyTorch keeps them in the parameter dtype.

use super::Real;

/// Adam state for one flat parameter vector.
#[derive(Debug, Clone)]
pub struct Adam<T> {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// L2 penalty: `wd·θ` is added to the gradient BEFORE the moments (Adam, not AdamW).
    pub weight_decay: f64,
    m: Vec<T>,
    v: Vec<T>,
    t: u64,
}

impl<T: Real> Adam<T> {
    /// PyTorch defaults β1 0.9, β2 0.999, ε 1e-8.
    pub fn new(n_params: usize, lr: f64, weight_decay: f64) -> Self {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay,
            m: vec![T::zero(); n_params],
            v: vec![T::zero(); n_params],
            t: 0,
        }
    }

    /// Number of steps taken.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// One update of `params` with `grad` (same length as at construction).
    pub fn step(&mut self, params: &mut [T], grad: &[T]) {
        assert!(
            params.len() == self.m.len() && grad.len() == self.m.len(),
            "adam: length mismatch"
        );
        self.t += 1;
        let t = self.t as i32;
        // PyTorch computes the bias corrections in double precision and applies them as
        // `θ -= (lr/bc1) · m / (√v/√bc2 + ε)`.
        let bc1 = 1.0 - self.beta1.powi(t);
        let bc2_sqrt = (1.0 - self.beta2.powi(t)).sqrt();
        let step_size = T::from_f64(self.lr / bc1);
        let inv_bc2 = T::from_f64(1.0 / bc2_sqrt);
        let (b1, b2) = (T::from_f64(self.beta1), T::from_f64(self.beta2));
        let (omb1, omb2) = (T::from_f64(1.0 - self.beta1), T::from_f64(1.0 - self.beta2));
        let eps = T::from_f64(self.eps);
        let wd = T::from_f64(self.weight_decay);
        for (((p, &g), m), v) in params
            .iter_mut()
            .zip(grad)
            .zip(self.m.iter_mut())
            .zip(self.v.iter_mut())
        {
            let g = g + wd * *p;
            *m = b1 * *m + omb1 * g;
            *v = b2 * *v + omb2 * g * g;
            let denom = v.sqrt() * inv_bc2 + eps;
            *p = *p - step_size * *m / denom;
        }
    }
}

/// L2 norm of the whole gradient, accumulated in f64 in index order (deterministic).
pub fn grad_norm<T: Real>(grad: &[T]) -> f64 {
    grad.iter()
        .map(|&g| {
            let g = g.to_f64();
            g * g
        })
        .sum::<f64>()
        .sqrt()
}

/// `clip_grad_norm_`: if the global norm exceeds `max_norm`, scales the gradient by
/// `max_norm / (norm + 1e-6)`. Returns the norm before clipping. `max_norm ≤ 0` or
/// non-finite disables clipping.
pub fn clip_grad_norm<T: Real>(grad: &mut [T], max_norm: f64) -> f64 {
    let norm = grad_norm(grad);
    if max_norm > 0.0 && max_norm.is_finite() && norm > max_norm {
        let s = T::from_f64(max_norm / (norm + 1e-6));
        for g in grad {
            *g = *g * s;
        }
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;

    /// First Adam step from zero moments: m̂ = g, v̂ = g², so θ₁ = θ₀ − lr·g/(|g| + ε) with
    /// g = grad + wd·θ₀. Second step checked against the formula written out by hand.
    #[test]
    fn adam_steps_match_hand_computation() {
        let mut p = vec![1.0f64, -2.0, 0.5];
        let g = vec![0.1, 0.3, -4.0];
        let (lr, wd) = (1e-2, 0.1);
        let mut opt = Adam::new(3, lr, wd);
        opt.step(&mut p, &g);
        let p0 = [1.0, -2.0, 0.5];
        let mut want = [0.0; 3];
        for i in 0..3 {
            let gg = g[i] + wd * p0[i];
            want[i] = p0[i] - lr * gg / (gg.abs() + 1e-8);
            assert!(
                (p[i] - want[i]).abs() < 1e-12,
                "step1 {i}: {} vs {}",
                p[i],
                want[i]
            );
        }
        // Second step: the moments and bias corrections written out.
        let p1 = p.clone();
        opt.step(&mut p, &g);
        for i in 0..3 {
            let ga = g[i] + wd * p0[i];
            let gb = g[i] + wd * p1[i];
            let m = 0.9 * 0.1 * ga + 0.1 * gb;
            let v = 0.999 * 0.001 * ga * ga + 0.001 * gb * gb;
            let mhat = m / (1.0 - 0.81);
            let vhat = v / (1.0 - 0.998_001);
            let w = p1[i] - lr * mhat / (vhat.sqrt() + 1e-8);
            assert!((p[i] - w).abs() < 1e-12, "step2 {i}");
        }
        // First coordinate after step 1: g = 0.1 + 0.1·1 = 0.2, θ = 1 − 0.01·0.2/0.2 = 0.99.
        assert!((want[0] - 0.99).abs() < 1e-9);
        assert_eq!(opt.steps(), 2);
    }

    #[test]
    fn clipping_scales_only_above_the_threshold() {
        let mut g = vec![3.0f32, 4.0];
        let n = clip_grad_norm(&mut g, 1.0);
        assert!((n - 5.0).abs() < 1e-12);
        let s = (1.0 / (5.0 + 1e-6)) as f32;
        assert_eq!(g, vec![3.0 * s, 4.0 * s]);
        assert!((grad_norm(&g) - 1.0).abs() < 1e-6);
        let mut g = vec![0.3f32, 0.4];
        assert!((clip_grad_norm(&mut g, 1.0) - 0.5).abs() < 1e-7);
        assert_eq!(g, vec![0.3, 0.4]);
        let mut g = vec![30.0f32, 40.0];
        clip_grad_norm(&mut g, 0.0);
        assert_eq!(g, vec![30.0, 40.0]);
    }
}
