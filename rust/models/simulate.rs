//! Seeded simulators of each model's data-generating process (xoshiro256** generator,
//! Marsaglia–Tsang gamma variates). Used for parameter-recovery tests and benchmarks. Each
//! model's own process is its `BtydModel::simulate`; this module holds the generator and the
//! per-customer drivers.

use rayon::prelude::*;

use super::model::BtydModel;
// The generator has a room of its own (the model trait names it; this module drives it).
pub use super::rng::Rng;

/// Repeat purchase times of one customer, floored to the period grid (None: continuous
/// time) and merged per period, as a summary with that period would count them.
pub struct Purchases {
    times: Vec<f64>,
    last: f64,
    resolution: Option<f64>,
}

impl Purchases {
    pub fn new(resolution: Option<f64>) -> Self {
        Purchases {
            times: Vec::new(),
            last: 0.0,
            resolution,
        }
    }
    pub fn push(&mut self, tau: f64) {
        let g = match self.resolution {
            Some(r) => (tau / r).floor() * r,
            None => tau,
        };
        if g > self.last {
            self.times.push(g);
            self.last = g;
        }
    }
    pub fn into_times(self) -> Vec<f64> {
        self.times
    }
    /// Poisson(λ) purchase times up to `end` (a death or the window's end, whichever first):
    /// the purchase process that Pareto/NBD and GGom/NBD share while a customer is alive.
    pub fn poisson_until(
        lambda: f64,
        end: f64,
        resolution: Option<f64>,
        rng: &mut Rng,
    ) -> Vec<f64> {
        let mut out = Purchases::new(resolution);
        let mut t = 0.0;
        loop {
            t += rng.exponential(lambda);
            if t > end {
                break;
            }
            out.push(t);
        }
        out.into_times()
    }
}

/// Customer i's generator: independent of the others and of the thread schedule.
pub fn rng_for(seed: u64, i: usize) -> Rng {
    Rng::new(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Simulated (frequency, recency) of customers observed for t[i] from their first purchase.
pub fn summaries<M: BtydModel>(
    m: &M,
    p: M::Params,
    t: &[f64],
    seed: u64,
    resolution: Option<f64>,
) -> (Vec<f64>, Vec<f64>) {
    let out: Vec<(f64, f64)> = t
        .par_iter()
        .enumerate()
        .with_min_len(4096)
        .map(|(i, &te)| {
            let times = m.simulate(p, te, resolution, &mut rng_for(seed, i));
            (times.len() as f64, times.last().copied().unwrap_or(0.0))
        })
        .collect();
    out.into_iter().unzip()
}

/// Simulated repeat purchase times of customers observed for t[i] (same draws as
/// `summaries` with the same seed).
pub fn purchase_times<M: BtydModel>(
    m: &M,
    p: M::Params,
    t: &[f64],
    seed: u64,
    resolution: Option<f64>,
) -> Vec<Vec<f64>> {
    t.par_iter()
        .enumerate()
        .map(|(i, &te)| m.simulate(p, te, resolution, &mut rng_for(seed, i)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_and_beta_moments() {
        let mut rng = Rng::new(42);
        let n = 200_000;
        for &(shape, rate) in &[(0.3, 2.0), (4.0, 0.5)] {
            let xs: Vec<f64> = (0..n).map(|_| rng.gamma(shape, rate)).collect();
            let mean = xs.iter().sum::<f64>() / n as f64;
            assert!(
                (mean - shape / rate).abs() < 0.02 * shape / rate,
                "{shape} {mean}"
            );
        }
        let m = (0..n).map(|_| rng.beta(0.8, 2.4)).sum::<f64>() / n as f64;
        assert!((m - 0.25).abs() < 0.005);
    }
}
