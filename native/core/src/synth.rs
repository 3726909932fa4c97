//! A seeded multi-asset Markov-switching market with known regimes.
//!
//! The regime follows a daily Markov chain. Within regime k every asset's base-bar log return is
//! `(μ_k − σ_k²/2)·dt + σ_k·s_i·√dt·z_i`, with `z_i = √ρ_k·f + √(1−ρ_k)·e_i` where the common
//! factor `f` and idiosyncratic `e_i` are unit-variance Student-t draws (fat tails), so the
//! cross-asset correlation is ρ_k. Bars carry open = previous close, a high/low envelope, and
//! volume that rises with |z|. Assets may list late: before its listing day an asset has no bars.
//!
//! Determinism: day d draws from its own ChaCha8 stream (seed, d + 1), so the output is the
//! same for any thread count.

use crate::bars::GridBars;
use crate::error::DataError;
use crate::DAY_MS;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal, StudentT};
use rayon::prelude::*;

#[derive(Debug, Clone, PartialEq)]
pub struct RegimeSpec {
    pub drift_annual: f64,
    pub vol_annual: f64,
    pub corr: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SynthSpec {
    pub n_assets: usize,
    /// UTC midnight of the first day, in ms.
    pub start_ms: i64,
    pub n_days: usize,
    /// Base bar interval; must divide a day.
    pub base_interval_ms: i64,
    pub regimes: Vec<RegimeSpec>,
    /// Daily transition matrix, rows sum to 1.
    pub transition: Vec<Vec<f64>>,
    /// Student-t degrees of freedom (> 2).
    pub dof: f64,
    pub seed: u64,
    /// First day (index) on which each asset trades.
    pub listing_day: Vec<usize>,
    /// Per-asset volatility multiplier s_i.
    pub vol_scale: Vec<f64>,
    pub start_price: Vec<f64>,
    /// Expected exchange maintenance windows per year: 30 to 180 minutes during which no asset
    /// has bars (prices keep moving, so the first bar after a window gaps). 0 disables.
    pub maintenance_per_year: f64,
}

pub struct SynthMarket {
    pub assets: Vec<GridBars>,
    /// Regime index per day.
    pub regime: Vec<u8>,
}

impl SynthSpec {
    /// The embedded default: four regimes (calm, normal, stressed, crisis) with rising volatility
    /// and correlation, sticky daily transitions, t(4) innovations, and the last assets listing late.
    pub fn default_market(
        n_assets: usize,
        n_days: usize,
        base_interval_ms: i64,
        seed: u64,
    ) -> SynthSpec {
        let regimes = vec![
            RegimeSpec {
                drift_annual: 0.6,
                vol_annual: 0.35,
                corr: 0.35,
            },
            RegimeSpec {
                drift_annual: 0.2,
                vol_annual: 0.6,
                corr: 0.5,
            },
            RegimeSpec {
                drift_annual: -0.5,
                vol_annual: 0.9,
                corr: 0.7,
            },
            RegimeSpec {
                drift_annual: -1.5,
                vol_annual: 1.6,
                corr: 0.85,
            },
        ];
        let transition = vec![
            vec![0.97, 0.02, 0.01, 0.0],
            vec![0.02, 0.96, 0.015, 0.005],
            vec![0.01, 0.03, 0.95, 0.01],
            vec![0.0, 0.03, 0.07, 0.90],
        ];
        let late = (n_assets / 4).min(3);
        let listing_day = (0..n_assets)
            .map(|i| {
                if i + late >= n_assets && n_assets > 1 {
                    (n_days / 5) * (i + late + 1 - n_assets)
                } else {
                    0
                }
            })
            .collect();
        SynthSpec {
            n_assets,
            start_ms: 1_577_836_800_000, // 2020-01-01
            n_days,
            base_interval_ms,
            regimes,
            transition,
            dof: 4.0,
            seed,
            listing_day,
            vol_scale: (0..n_assets).map(|i| 1.0 + 0.08 * i as f64).collect(),
            start_price: (0..n_assets)
                .map(|i| 20_000.0 / 3f64.powi(i as i32))
                .collect(),
            maintenance_per_year: 4.0,
        }
    }

    fn check(&self) -> Result<(), DataError> {
        let k = self.regimes.len();
        if self.n_assets == 0 || self.n_days == 0 {
            return Err(DataError::arg(
                "synthetic market needs at least one asset and one day",
            ));
        }
        if self.base_interval_ms <= 0 || DAY_MS % self.base_interval_ms != 0 {
            return Err(DataError::arg(format!(
                "base interval {} ms does not divide a day",
                self.base_interval_ms
            )));
        }
        if self.start_ms.rem_euclid(DAY_MS) != 0 {
            return Err(DataError::arg(
                "synthetic market must start at UTC midnight",
            ));
        }
        if k == 0
            || k > 255
            || self.transition.len() != k
            || self.transition.iter().any(|r| r.len() != k)
        {
            return Err(DataError::arg(format!(
                "transition matrix must be {k}x{k} for {k} regimes"
            )));
        }
        for (i, row) in self.transition.iter().enumerate() {
            let s: f64 = row.iter().sum();
            if row.iter().any(|p| !(0.0..=1.0).contains(p)) || (s - 1.0).abs() > 1e-9 {
                return Err(DataError::arg(format!(
                    "transition row {i} must be probabilities summing to 1 (sum {s})"
                )));
            }
        }
        for (i, r) in self.regimes.iter().enumerate() {
            if r.vol_annual.is_nan()
                || r.vol_annual <= 0.0
                || !(0.0..1.0).contains(&r.corr)
                || !r.drift_annual.is_finite()
            {
                return Err(DataError::arg(format!(
                    "regime {i}: need vol > 0, 0 <= corr < 1, finite drift"
                )));
            }
        }
        if !(0.0..=365.0).contains(&self.maintenance_per_year) {
            return Err(DataError::arg(format!(
                "maintenance_per_year must be in [0, 365] but received {}",
                self.maintenance_per_year
            )));
        }
        if self.dof.is_nan() || self.dof <= 2.0 {
            return Err(DataError::arg(format!(
                "Student-t dof must exceed 2 but received {}",
                self.dof
            )));
        }
        for (name, len) in [
            ("listing_day", self.listing_day.len()),
            ("vol_scale", self.vol_scale.len()),
            ("start_price", self.start_price.len()),
        ] {
            if len != self.n_assets {
                return Err(DataError::arg(format!(
                    "{name} must have one entry per asset ({}), got {len}",
                    self.n_assets
                )));
            }
        }
        Ok(())
    }
}

/// Per-day draws, scattered into the asset grids afterwards.
struct DayDraws {
    /// [bar][asset] log return, high noise, low noise, volume, taker fraction
    v: Vec<[f64; 5]>,
}

pub fn generate(spec: &SynthSpec) -> Result<SynthMarket, DataError> {
    spec.check()?;
    let n = spec.n_assets;
    let bars_per_day = (DAY_MS / spec.base_interval_ms) as usize;
    let dt = spec.base_interval_ms as f64 / (365.0 * DAY_MS as f64);

    // Regime path: stream 0.
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    rng.set_stream(0);
    let mut regime = Vec::with_capacity(spec.n_days);
    let mut s = 0usize;
    for d in 0..spec.n_days {
        if d > 0 {
            let u: f64 = rng.random();
            let mut acc = 0.0;
            let row = &spec.transition[s];
            let mut next = row.len() - 1;
            for (j, p) in row.iter().enumerate() {
                acc += p;
                if u < acc {
                    next = j;
                    break;
                }
            }
            s = next;
        }
        regime.push(s as u8);
    }

    // Maintenance windows: per day, with probability rate/365, a window [start, end) in ms of the
    // day. Drawn from the regime stream so they depend on the seed only.
    let mut maintenance: Vec<Option<(i64, i64)>> = Vec::with_capacity(spec.n_days);
    for _ in 0..spec.n_days {
        let u: f64 = rng.random();
        if u < spec.maintenance_per_year / 365.0 {
            let start_min = rng.random_range(0..(24 * 60 - 180)) as i64;
            let len_min = rng.random_range(30..=180) as i64;
            maintenance.push(Some((start_min * 60_000, (start_min + len_min) * 60_000)));
        } else {
            maintenance.push(None);
        }
    }

    let t_dist = StudentT::new(spec.dof).map_err(|e| DataError::arg(format!("bad dof: {e}")))?;
    let t_scale = ((spec.dof - 2.0) / spec.dof).sqrt();
    let total = spec.n_days * bars_per_day;
    let mut assets: Vec<GridBars> = (0..n)
        .map(|_| {
            let mut g = GridBars::missing(spec.base_interval_ms, spec.start_ms, total);
            g.n_expected.iter_mut().for_each(|e| *e = 1);
            g
        })
        .collect();
    let mut last_close: Vec<f64> = spec.start_price.clone();

    // Days in blocks so the draws of only one block are held at a time.
    let block = 32usize;
    let mut d0 = 0;
    while d0 < spec.n_days {
        let d1 = (d0 + block).min(spec.n_days);
        let draws: Vec<DayDraws> = (d0..d1)
            .into_par_iter()
            .map(|d| {
                let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
                rng.set_stream(d as u64 + 1);
                let reg = &spec.regimes[regime[d] as usize];
                let (sr, sq) = (reg.corr.sqrt(), (1.0 - reg.corr).sqrt());
                let mut v = Vec::with_capacity(bars_per_day * n);
                for _ in 0..bars_per_day {
                    let f: f64 = t_dist.sample(&mut rng) * t_scale;
                    for i in 0..n {
                        let e: f64 = t_dist.sample(&mut rng) * t_scale;
                        let z = sr * f + sq * e;
                        let sig = reg.vol_annual * spec.vol_scale[i];
                        let r = (reg.drift_annual - 0.5 * sig * sig) * dt + sig * dt.sqrt() * z;
                        let hn: f64 = StandardNormal.sample(&mut rng);
                        let ln: f64 = StandardNormal.sample(&mut rng);
                        let vn: f64 = StandardNormal.sample(&mut rng);
                        let tu: f64 = rng.random();
                        let bar_sig = sig * dt.sqrt();
                        v.push([
                            r,
                            0.6 * bar_sig * hn.abs(),
                            0.6 * bar_sig * ln.abs(),
                            (0.4 * vn).exp() * (1.0 + z.abs()),
                            0.35 + 0.3 * tu,
                        ]);
                    }
                }
                DayDraws { v }
            })
            .collect();
        // Scatter and integrate prices, one asset at a time in time order.
        assets
            .par_iter_mut()
            .zip(last_close.par_iter_mut())
            .enumerate()
            .for_each(|(i, (g, lc))| {
                for (k, day) in draws.iter().enumerate() {
                    let d = d0 + k;
                    if d < spec.listing_day[i] {
                        continue;
                    }
                    let base_volume = 1e6 / spec.start_price[i];
                    for b in 0..bars_per_day {
                        let [r, hn, lnn, vm, tf] = day.v[b * n + i];
                        let j = d * bars_per_day + b;
                        let o = *lc;
                        let c = o * r.exp();
                        if let Some((ms0, ms1)) = maintenance[d] {
                            // A bar overlapping the window is absent; the price still moves.
                            let b0 = b as i64 * spec.base_interval_ms;
                            if b0 < ms1 && b0 + spec.base_interval_ms > ms0 {
                                *lc = c;
                                continue;
                            }
                        }
                        let vol = base_volume * vm / bars_per_day as f64;
                        g.open[j] = o;
                        g.close[j] = c;
                        g.high[j] = o.max(c) * hn.exp();
                        g.low[j] = o.min(c) * (-lnn).exp();
                        g.volume[j] = vol;
                        g.quote_volume[j] = vol * c;
                        g.trades[j] = (vol * 50.0).round().max(1.0);
                        g.taker_buy_base[j] = vol * tf;
                        g.taker_buy_quote[j] = vol * tf * c;
                        g.n_sub[j] = 1;
                        g.present[j] = 1;
                        *lc = c;
                    }
                }
            });
        d0 = d1;
    }
    Ok(SynthMarket { assets, regime })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maintenance_windows_remove_bars_of_every_asset() {
        let mut spec = SynthSpec::default_market(3, 400, 60_000, 2);
        spec.maintenance_per_year = 30.0;
        spec.listing_day = vec![0; 3];
        let m = generate(&spec).unwrap();
        let missing: Vec<usize> = (0..m.assets[0].len())
            .filter(|&j| m.assets[0].present[j] == 0)
            .collect();
        assert!(
            missing.len() > 30 * 20,
            "expected ~33 windows of 30..180 minutes, got {} missing minutes",
            missing.len()
        );
        for &j in &missing {
            assert!(m.assets.iter().all(|g| g.present[j] == 0));
        }
        // Bars stay valid klines and the first bar after a window opens at the moved price.
        let k0 = missing[0];
        let mut j = k0;
        while m.assets[0].present[j] == 0 {
            j += 1;
        }
        assert_ne!(m.assets[0].open[j], m.assets[0].close[k0 - 1]);
    }

    #[test]
    fn deterministic_and_thread_independent() {
        let spec = SynthSpec::default_market(4, 40, 3_600_000, 7);
        let a = generate(&spec).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let b = pool.install(|| generate(&spec).unwrap());
        assert_eq!(a.regime, b.regime);
        for i in 0..4 {
            assert!(
                a.assets[i].same_bits(&b.assets[i]),
                "asset {i} differs between 1 and N threads"
            );
        }
        let c = generate(&SynthSpec {
            seed: 8,
            ..spec.clone()
        })
        .unwrap();
        assert_ne!(a.assets[0].close, c.assets[0].close);
    }

    #[test]
    fn regime_vol_and_correlation_are_recovered() {
        // Long sample, one regime at a time: realized vol and correlation per regime match the spec.
        let mut spec = SynthSpec::default_market(3, 3000, 3_600_000, 11);
        spec.listing_day = vec![0; 3];
        spec.vol_scale = vec![1.0; 3];
        spec.maintenance_per_year = 0.0;
        let m = generate(&spec).unwrap();
        let bpd = 24;
        for (k, reg) in spec.regimes.iter().enumerate() {
            let mut r0 = Vec::new();
            let mut r1 = Vec::new();
            for d in 1..spec.n_days {
                if m.regime[d] as usize != k {
                    continue;
                }
                for b in 0..bpd {
                    let j = d * bpd + b;
                    r0.push((m.assets[0].close[j] / m.assets[0].open[j]).ln());
                    r1.push((m.assets[1].close[j] / m.assets[1].open[j]).ln());
                }
            }
            if r0.len() < 24 * 100 {
                continue;
            }
            let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64;
            let (m0, m1) = (mean(&r0), mean(&r1));
            let var0 = r0.iter().map(|x| (x - m0).powi(2)).sum::<f64>() / r0.len() as f64;
            let var1 = r1.iter().map(|x| (x - m1).powi(2)).sum::<f64>() / r1.len() as f64;
            let cov = r0
                .iter()
                .zip(&r1)
                .map(|(a, b)| (a - m0) * (b - m1))
                .sum::<f64>()
                / r0.len() as f64;
            let vol = (var0 * 365.0 * 24.0).sqrt();
            let corr = cov / (var0 * var1).sqrt();
            assert!(
                (vol / reg.vol_annual - 1.0).abs() < 0.08,
                "regime {k}: vol {vol} vs {}",
                reg.vol_annual
            );
            assert!(
                (corr - reg.corr).abs() < 0.06,
                "regime {k}: corr {corr} vs {}",
                reg.corr
            );
        }
        // Bars are valid klines.
        let g = &m.assets[2];
        for j in 0..g.len() {
            assert!(
                g.low[j] <= g.open[j].min(g.close[j])
                    && g.high[j] >= g.open[j].max(g.close[j])
                    && g.low[j] > 0.0
            );
        }
    }

    #[test]
    fn late_listing_leaves_no_bars() {
        let mut spec = SynthSpec::default_market(8, 50, 3_600_000, 1);
        spec.maintenance_per_year = 0.0;
        let m = generate(&spec).unwrap();
        let last = &m.assets[7];
        let first = spec.listing_day[7] * 24;
        assert!(first > 0);
        assert!(last.present[..first].iter().all(|&p| p == 0));
        assert!(last.present[first..].iter().all(|&p| p == 1));
    }
}
