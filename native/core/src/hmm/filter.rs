//! The streaming (online) filter: one observation at a time, P(z_t | x_1..x_t).
//!
//! It runs the batch's per-row emission kernel, its forward step (with the same power-of-two
//! rescaling) and its normalisation, so its probabilities are bit-identical to the batch
//! `filtered` whenever the batch's scaled pass succeeds (everything but extreme underflow). If a
//! step fails, that step is done in log space (ln of the predicted probabilities + log b,
//! log-sum-exp), which matches the batch's log-space rerun to rounding.
//!
//! State: α̃ (K) with p(x_≤t, z_t = j) = α̃(j)·exp(L), and L = Σ shift + (Σ m) ln 2 + the log
//! normalisers of log-space steps; log p(x_≤t) = L + ln Σ α̃.

use super::emission::{scale_row, Emission, Scratch};
use super::lattice::{exp0, logsumexp_by, Chain};
use super::{scaled, GaussianHmm};
use crate::error::DataError;

#[derive(Debug, Clone)]
pub struct Filter {
    em: Emission,
    ch: Chain,
    alpha: Vec<f64>,
    next: Vec<f64>,
    probs: Vec<f64>,
    e: Vec<f64>,
    logb: Vec<f64>,
    odd: Vec<f64>,
    scratch: Scratch,
    steps: usize,
    log_scale: f64,
}

impl Filter {
    pub fn new(model: &GaussianHmm) -> Result<Filter, DataError> {
        model.validate()?;
        let (k, d) = (model.k, model.d);
        Ok(Filter {
            em: Emission::new(model.cov_type, k, d, &model.means, &model.covars)?,
            ch: Chain::new(&model.startprob, &model.transmat),
            alpha: vec![0.0; k],
            next: vec![0.0; k],
            probs: vec![0.0; k],
            e: vec![0.0; k],
            logb: vec![0.0; k],
            odd: vec![0.0; k],
            scratch: Scratch::new(d),
            steps: 0,
            log_scale: 0.0,
        })
    }

    pub fn n_states(&self) -> usize {
        self.ch.k
    }

    pub fn n_features(&self) -> usize {
        self.em.d
    }

    /// Observations seen since construction or the last reset.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// log p(x_1..x_t) of the observations seen (0 before the first).
    pub fn log_likelihood(&self) -> f64 {
        if self.steps == 0 {
            return 0.0;
        }
        self.log_scale + self.alpha.iter().sum::<f64>().ln()
    }

    /// Add observation `x` (D finite values); returns P(z_t | x_1..x_t) (K). On an error the
    /// state is unchanged.
    pub fn update(&mut self, x: &[f64]) -> Result<&[f64], DataError> {
        let d = self.em.d;
        if x.len() != d {
            return Err(DataError::arg(format!(
                "the observation has {} values; expected nFeatures = {d}",
                x.len()
            )));
        }
        if let Some(j) = x.iter().position(|v| !v.is_finite()) {
            return Err(DataError::arg(format!(
                "the observation has a non-finite value at column {j} ({})",
                x[j]
            )));
        }
        self.em.rows(x, &mut self.logb, &mut self.scratch);
        self.e.copy_from_slice(&self.logb);
        let shift = scale_row(&mut self.e);
        let prev = if self.steps == 0 {
            None
        } else {
            Some(&self.alpha[..])
        };
        let inc = match scaled::filter_step(&self.ch, prev, &self.e, &mut self.next, &mut self.odd)
        {
            Some(m) if shift.is_finite() => shift + m as f64 * std::f64::consts::LN_2,
            _ => self.log_step()?,
        };
        if !scaled::normalize(&self.next, &mut self.probs) {
            return Err(DataError::arg(format!(
                "observation {} has zero probability under every state",
                self.steps
            )));
        }
        std::mem::swap(&mut self.alpha, &mut self.next);
        self.steps += 1;
        self.log_scale += inc;
        Ok(&self.probs)
    }

    /// The step in log space: next ∝ exp(ln pred + log b) with Σ next = 1; returns the log
    /// factor of the prefix probability it removed.
    fn log_step(&mut self) -> Result<f64, DataError> {
        let k = self.ch.k;
        for j in 0..k {
            let pred = if self.steps == 0 {
                self.ch.startprob[j]
            } else {
                (0..k)
                    .map(|i| self.alpha[i] * self.ch.transmat[i * k + j])
                    .sum::<f64>()
            };
            self.next[j] = pred.ln() + self.logb[j];
        }
        let w = &self.next;
        let z = logsumexp_by(k, |j| w[j]);
        if !z.is_finite() {
            return Err(DataError::arg(format!(
                "observation {} has zero probability under every state",
                self.steps
            )));
        }
        self.next.iter_mut().for_each(|v| *v = exp0(*v - z));
        Ok(z)
    }

    /// The filtered probabilities after the last update (K zeros before the first).
    pub fn current(&self) -> &[f64] {
        &self.probs
    }

    /// Forget every observation.
    pub fn reset(&mut self) {
        self.alpha.iter_mut().for_each(|v| *v = 0.0);
        self.probs.iter_mut().for_each(|v| *v = 0.0);
        self.steps = 0;
        self.log_scale = 0.0;
    }
}
